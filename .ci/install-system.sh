#!/usr/bin/env bash
# System packages the project needs, installed idempotently (one apt-get update, only when something is missing):
#   fonts-dejavu-core  PNG plots: without a font resvg drops all text silently
#   libdnnl-dev        oneDNN for the native kernel addon (native/, built by node-gyp during npm ci): without it the
#                      addon's build fails, npm skips it (an optional dependency) and kdqat falls back to wasm, saying why
#   slurm-wlm munge    `sweep --launcher slurm` and test/slurm.test.ts, which starts a real single-node cluster on
#                      127.0.0.1 in a temporary directory
set -euo pipefail
missing=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
dpkg -s libdnnl-dev >/dev/null 2>&1 || missing+=(libdnnl-dev)
for c in slurmctld slurmd sbatch; do command -v "$c" >/dev/null || { missing+=(slurm-wlm); break; }; done
command -v munged >/dev/null || missing+=(munge)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
