#!/bin/bash
# Installs dbx into a temporary prefix with `cmake --install`, then builds and runs
# examples/treegru.c against the installed headers and library through pkg-config.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name dbx.pc)
[ -n "$pc" ] || { echo "FAIL: no dbx.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs --static dbx)
echo "pkg-config: $flags"
${CC:-cc} -std=c11 -o "$tmp/treegru" "$src/examples/treegru.c" $flags
"$tmp/treegru" 128 2
[ -x "$tmp/prefix/bin/dbx" ] && "$tmp/prefix/bin/dbx" --version
echo "1 passed, 0 failed"
