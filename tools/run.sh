#!/usr/bin/env bash
# The README's main command: install what is missing, build, and run the main job:
# `mimic distill` (Ba & Caruana on Fashion-MNIST). Arguments go to `mimic distill`, e.g.
# `bash tools/run.sh --quick`. Results: results/distill-seed<seed>.json.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIMIC_BUILD_TESTS=ON -DMIMIC_BUILD_BENCH=ON
cmake --build build -j"$(nproc)"

./build/mimic info
mkdir -p results
./build/mimic distill --out results "$@"
