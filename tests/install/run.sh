#!/bin/sh
# Install test: install the build tree into a scratch prefix, then build and run an
# out-of-tree consumer twice: with find_package(mimic) and with pkg-config.
# Usage: run.sh <cmake> <build dir> <consumer source dir> <scratch dir> <libdir> <cc> [cflags]
set -eu
CMAKE=$1 BUILD=$2 SRC=$3 WORK=$4 LIBDIR=$5 CC=$6 EXTRA=${7:-}
PREFIX=$WORK/prefix
rm -rf "$WORK"
mkdir -p "$WORK"

"$CMAKE" --install "$BUILD" --prefix "$PREFIX"
test -f "$PREFIX/include/mimic/mimic.h"
test -x "$PREFIX/bin/mimic"
test -f "$PREFIX/$LIBDIR/pkgconfig/mimic.pc"

# 1. CMake package.
"$CMAKE" -S "$SRC" -B "$WORK/build" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$EXTRA" -DCMAKE_EXE_LINKER_FLAGS="$EXTRA"
"$CMAKE" --build "$WORK/build"
"$WORK/build/consumer"

# 2. pkg-config.
export PKG_CONFIG_PATH="$PREFIX/$LIBDIR/pkgconfig"
FLAGS=$(pkg-config --cflags --libs mimic)
echo "pkg-config --cflags --libs mimic: $FLAGS"
# shellcheck disable=SC2086 # word splitting of the flags is intended
"$CC" -std=c11 -Wall -Wextra -Wpedantic -Werror $EXTRA "$SRC/main.c" -o "$WORK/consumer_pc" $FLAGS
LD_LIBRARY_PATH="$PREFIX/$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$WORK/consumer_pc"
echo "install test ok"
