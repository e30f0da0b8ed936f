#!/usr/bin/env bash
# Set up the PyTorch reference benchmark (../shared/tools/ref-bench.py) on this machine, idempotently: Debian's
# python3-torch, and OpenBLAS as the system BLAS (without it Debian's torch multiplies with the netlib reference
# BLAS, ~20x slower, and the comparison would flatter kdqat). The reference checkout itself is fetched separately
# (see docs/benchmarks.md); this script only installs packages.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
/usr/bin/python3 -c "import torch; print('torch', torch.__version__)"
update-alternatives --display libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 2p
