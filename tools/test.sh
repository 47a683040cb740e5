#!/usr/bin/env bash
# The README's test command: install what is missing, then build and run every test:
# the native suite (every x86 ISA the host runs, the regression gate's and the dashboard's
# tests), the quick benchmark suite with the gate, the suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer, and the AArch64 cross build under qemu-aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

bash tools/setup.sh

step() { printf '\n=== %s ===\n' "$*"; }

step "native build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIMIC_BUILD_TESTS=ON -DMIMIC_BUILD_BENCH=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

step "quick benchmark suite and regression gate against the committed baseline"
bash tools/bench_gate.sh

step "AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIMIC_SANITIZE=ON -DMIMIC_BUILD_TESTS=ON \
  -DMIMIC_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

if [[ "$(uname -m)" == x86_64 ]]; then
  step "AArch64 cross build, tests under qemu-aarch64"
  cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DMIMIC_BUILD_TESTS=ON -DMIMIC_BUILD_BENCH=OFF
  cmake --build build-arm64 -j"$jobs"
  ctest --test-dir build-arm64 --output-on-failure -j"$jobs"
fi
step "all test suites passed"
