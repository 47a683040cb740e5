#!/usr/bin/env bash
# Run the benchmark suite (`mimic bench`, arguments passed on) under the machine-wide benchmark
# lock, so that two benchmarks never share the cores. It writes
# results/<arch>/<cpu-model>/<date>-<commit>.json (temp file, then rename); see docs/benchmarks.md.
# Examples: bash tools/bench.sh --quick; bash tools/bench.sh --filter=sgemm --threads=1
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/mimic && -x build/bench/mimic_bench ]] || {
  echo "bench: build first (bash tools/run.sh, or cmake -B build -DMIMIC_BUILD_BENCH=ON)" >&2
  exit 1
}
exec flock /tmp/mimic-bench.lock ./build/mimic bench "$@"
