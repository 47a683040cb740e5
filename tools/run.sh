#!/usr/bin/env bash
# The README's main command: install what is missing, build, and run the main job.
# Until the teacher/student trainer lands this is `mimic info` and the benchmark suite, whose
# Google Benchmark JSON goes to results/<arch>/<cpu-model>/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIMIC_BUILD_TESTS=ON -DMIMIC_BUILD_BENCH=ON
cmake --build build -j"$(nproc)"

./build/mimic info
arch=$(uname -m)
cpu=$(./build/mimic info --json | sed -n 's/.*"cpu_model": "\([^"]*\)".*/\1/p' |
  tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo nogit)
out="results/$arch/${cpu:-unknown}"
mkdir -p "$out"
json="$out/$(date -u +%Y%m%d)-$commit.json"
# Written to a temp file and renamed, so an interrupted run leaves no half-written result.
./build/bench/mimic_bench --benchmark_out="$json.tmp" --benchmark_out_format=json "$@"
mv "$json.tmp" "$json"
echo "results: $json"
