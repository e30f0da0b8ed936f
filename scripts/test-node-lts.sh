#!/usr/bin/env bash
# Run unit tests under another Node release line than the machine's, taken from the npm registry (the
# node-<platform>-<arch> package holds the official binary; the `node` package's own preinstall that would fetch it
# is blocked by npm's install-script policy). The binary is cached in ${KDQAT_NODE_CACHE:-$HOME/.cache/kdqat-node}.
#
#   scripts/test-node-lts.sh [MAJOR] [test files...]     e.g. scripts/test-node-lts.sh 24
#
# MAJOR defaults to 22; the files default to a quick subset (config, flags, plots). Exit status: ava's.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:-22}"; shift || true
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/config.test.ts test/cli-manners.test.ts test/report-charts.test.ts)
case "$(uname -s)" in Linux) plat=linux ;; Darwin) plat=darwin ;; *) echo "test-node-lts: unsupported platform $(uname -s)" >&2; exit 2 ;; esac
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "test-node-lts: unsupported machine $(uname -m)" >&2; exit 2 ;; esac
pkg="node-$plat-$arch"
version=$(npm view "$pkg@$major" version --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(Array.isArray(v)?v[v.length-1]:v)})')
prefix="${KDQAT_NODE_CACHE:-$HOME/.cache/kdqat-node}/$pkg-$version"
bin="$prefix/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ]; then
  echo "test-node-lts: installing $pkg@$version from the npm registry into $prefix" >&2
  npm install --no-audit --no-fund --no-save --prefix "$prefix" "$pkg@$version" >&2
fi
echo "test-node-lts: $("$bin/node" --version) on ${files[*]}" >&2
PATH="$bin:$PATH" exec "$bin/node" node_modules/ava/entrypoints/cli.mjs "${files[@]}"
