#!/usr/bin/env bash
# Install every Debian package mimic needs that is missing (idempotent; run as root).
# Native: compilers, CMake, oneDNN, Google Benchmark, CMocka, hwloc, cpu_features, OpenBLAS,
# zlib, the Fashion-MNIST data set; for the benchmark tools: SciPy (compare.py's U-test) and
# Chromium (the dashboard's browser test). AArch64: the cross compiler, qemu-user and the :arm64
# multiarch libraries the cross-built tests link.
set -euo pipefail

native=(
  cmake make gcc g++ pkg-config hwloc
  libdnnl-dev opencl-c-headers ocl-icd-opencl-dev
  libbenchmark-dev libbenchmark-tools python3 python3-scipy chromium
  libcmocka-dev libhwloc-dev libcpu-features-dev libopenblas-dev zlib1g-dev
  dataset-fashion-mnist
)
cross=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  libc6:arm64 libgomp1:arm64 libcmocka-dev:arm64 libcpu-features-dev:arm64 libhwloc-dev:arm64 zlib1g-dev:arm64
)

want=("${native[@]}")
if [[ "$(dpkg --print-architecture)" == amd64 ]]; then
  want+=("${cross[@]}")
fi

# A package installed for two architectures must be named with its architecture.
installed() {
  local status
  local name=$1
  [[ "$name" == *:* ]] || name="$1:$(dpkg --print-architecture)"
  # Architecture-independent packages (data, headers) answer only to the plain name.
  status=$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null) ||
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == installed ]]
}

missing=()
for p in "${want[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or install them) to continue" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
if [[ " ${missing[*]} " == *":arm64 "* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
# A third-party source that cannot be reached must not stop the install from Debian's.
apt-get update || echo "setup: apt-get update reported errors; continuing with what it fetched" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
