#!/usr/bin/env bash
# Run the benchmark binary and keep its Google Benchmark JSON under
# results/<arch>/<cpu-model>/<date>-<commit>.json (written to a temp file, then renamed).
# Arguments go to mimic_bench, e.g. --benchmark_filter=sgemm --threads=1.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/bench/mimic_bench ]] || { echo "bench: build first (bash tools/run.sh)" >&2; exit 1; }
arch=$(uname -m)
cpu=$(./build/mimic info --json | sed -n 's/.*"cpu_model": "\([^"]*\)".*/\1/p' |
  tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo nogit)
out="results/$arch/${cpu:-unknown}"
mkdir -p "$out"
json="$out/$(date -u +%Y%m%d)-$commit.json"
./build/bench/mimic_bench --benchmark_out="$json.tmp" --benchmark_out_format=json "$@"
mv "$json.tmp" "$json"
echo "results: $json"
