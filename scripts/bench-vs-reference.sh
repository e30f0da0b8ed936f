#!/usr/bin/env bash
# kdqat's KD-QAT step beside the original PyTorch code's, in one sitting, same configs and thread counts:
#   bash scripts/bench-vs-reference.sh REF_CHECKOUT [threads...]        (default threads: 1 2)
# REF_CHECKOUT is a checkout of the reference (kd-qat-large-enc); scripts/setup-ref-bench.sh installs torch and
# OpenBLAS. Each (config, threads) pair runs kdqat (native backend), then the reference, then kdqat again, and prints
# one line per pair with both medians and the ratio (kdqat / reference, tokens/s). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:?usage: bench-vs-reference.sh REF_CHECKOUT [threads...]}; shift || true
if [ $# -gt 0 ]; then threads=("$@"); else threads=(1 2); fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
REFBENCH=${REFBENCH:-../shared/tools/ref-bench.py}
declare -A shape=([tiny]="2 128 2 512 32 128" [mini]="4 256 4 1024 16 128")
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ); git $(git rev-parse --short HEAD)"
for t in "${threads[@]}"; do
  for cfg in tiny mini; do
    ours() { npx tsx src/cli/bench.ts --backend native --threads "$t" --configs "$cfg" --only qat --reps 5 --warmup 2 --out "$tmp/bench.json" 2>/dev/null \
      | awk -v c="$cfg" '$1 == c && $2 == "qat" { print $6 }'; }
    a=$(ours)
    r=$(THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 "$REFBENCH" "$ref" ${shape[$cfg]} 7 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
    b=$(ours)
    python3 -c "a,b,r=$a,$b,$r; m=(a+b)/2; print(f'$cfg threads=$t  kdqat native {a:.0f} / {b:.0f} tok/s  reference {r:.0f} tok/s  ratio {m/r:.2f}x')"
  done
done
