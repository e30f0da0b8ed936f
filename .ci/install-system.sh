#!/usr/bin/env bash
# System packages the project needs at run time (idempotent): the DejaVu font, without which PNG plots would have
# no text (resvg drops text silently when no font is found).
set -euo pipefail
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  echo "installing fonts-dejavu-core (plot text)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
