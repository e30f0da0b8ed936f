#!/usr/bin/env bash
# Debian's chromium, for looking at the HTML reports headless (a manual check, not a test dependency):
#   bash scripts/setup-chromium.sh            # as root; does nothing when chromium is installed already
#   chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-dev-shm-usage \
#     --enable-logging=stderr --v=0 --screenshot=/tmp/report.png --window-size=1400,5000 file://$PWD/<report>/index.html
# A console error of the page shows up in stderr as "CONSOLE(...)"; --dump-dom prints the page after its scripts ran.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium is installed: $(chromium --version 2>/dev/null)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-chromium: run as root (apt-get install chromium)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
echo "installed: $(chromium --version 2>/dev/null)"
