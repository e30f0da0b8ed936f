#!/usr/bin/env bash
# System packages the project needs (idempotent): the DejaVu font, without which PNG plots would have
# no text (resvg drops text silently when no font is found).
set -euo pipefail
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  echo "installing fonts-dejavu-core (plot text)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-dejavu-core >/dev/null
fi

# oneDNN headers and library for the native kernel addon (native/, built by node-gyp during npm ci/install). Without
# them the addon's build fails, npm skips it (an optional dependency) and kdqat falls back to wasm, saying why.
if ! dpkg -s libdnnl-dev >/dev/null 2>&1; then
  echo "installing libdnnl-dev (oneDNN, native kernels)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libdnnl-dev >/dev/null
fi
