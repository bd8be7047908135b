#!/bin/bash
# Installs dbx into a temporary prefix with `cmake --install` and uses it as a program outside
# the tree would: the shared library's files, soname and exported symbols (the public API
# exactly: what include/dbx/*.h declares, no dbx__*); tests/install/train.c built (a) through
# pkg-config against libdbx.so, (b) through pkg-config against libdbx.a (dbx-static), (c)
# through find_package(dbx) with dbx::dbx and dbx::dbx_static, each run (it exits 0 when its
# loss falls); the examples linked against libdbx.so; the installed `dbx` program.
# Programs run under `ld.so --inhibit-cache`: the loader searches only their run paths and
# the system directories, as on a machine whose ld.so.cache knows no CUDA or other extra
# directory (the CI machine: CUDA in /usr/local/cuda/lib64).
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

P=$tmp/prefix
cmake --install "$build" --prefix "$P" >/dev/null
pc=$(find "$P" -name dbx.pc)
[ -n "$pc" ] || { echo "FAIL: no dbx.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(cd "$(pkg-config --variable=libdir dbx)" && pwd)
[ -d "$P/include/dbx" ] || { echo "FAIL: no headers in $P/include/dbx"; exit 1; }

# Runs a program with the loader's cache ignored (see above); plain where ld.so lacks the option.
echo 'int main(void) { return 0; }' | "$cc" -x c -o "$tmp/true" -
interp=$(readelf -l "$tmp/true" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
nocache=()
if [ -n "$interp" ] && "$interp" --inhibit-cache "$tmp/true" 2>/dev/null; then
    nocache=("$interp" --inhibit-cache)
else
    echo "note: $interp has no --inhibit-cache; programs run with the loader's cache"
fi
run() { "${nocache[@]}" "$@"; }
libs() { if [ ${#nocache[@]} -gt 0 ]; then "${nocache[@]}" --list "$1"; else ldd "$1"; fi; }
needs() { readelf -d "$1" | grep -q "NEEDED.*\[$2"; }  # needs PROGRAM LIBRARY-PREFIX

# ---- the shared library: files, soname, dependencies --------------------------------------
ver=$(pkg-config --modversion dbx) major=${ver%%.*}
so=$libdir/libdbx.so.$ver
if [ -f "$so" ] && [ "$(readlink "$libdir/libdbx.so.$major")" = "libdbx.so.$ver" ] &&
   [ "$(readlink "$libdir/libdbx.so")" = "libdbx.so.$major" ] && [ -f "$libdir/libdbx.a" ]; then
    ok "libdbx.a and libdbx.so -> libdbx.so.$major -> libdbx.so.$ver"
else
    bad "library files in $libdir:"; ls -l "$libdir"
fi
soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libdbx.so.$major" ] && ok "soname $soname" || bad "soname '$soname'"
# The shared library has the CPU backend only (CMakeLists.txt: no CUDA dependency).
if readelf -d "$so" | grep -E "NEEDED.*(cuda|cublas|nccl|stdc\+\+)"; then
    bad "libdbx.so depends on CUDA or C++ libraries"
else
    ok "libdbx.so needs no CUDA library"
fi

# ---- exported symbols == the functions and variables declared in include/dbx/*.h ------------
# Exported: defined dynamic symbols, less the version node (type A); "name@@DBX_0" -> name.
nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u \
    > "$tmp/exported"
# Declared: the installed headers preprocessed (no comments, no macros), joined into one line;
# a function is a dbx_ name before "(" that is not "(*"; a variable an extern declaration;
# static (inline) functions are not the library's to export.
for h in "$P"/include/dbx/*.h; do echo "#include \"dbx/$(basename "$h")\""; done |
    "$cc" -std=c11 -E -P -I"$P/include" -x c - | tr '\n' ' ' > "$tmp/headers.i"
{ grep -oE 'dbx_[A-Za-z0-9_]+[[:space:]]*\([[:space:]]*[^*[:space:]]' "$tmp/headers.i" || true
  grep -oE 'extern[^;(){}]*[ *]dbx_[A-Za-z0-9_]+[[:space:]]*(\[[^]]*\])?[[:space:]]*;' \
      "$tmp/headers.i" | grep -oE 'dbx_[A-Za-z0-9_]+[[:space:]]*(\[[^]]*\])?[[:space:]]*;$' \
      || true; } | grep -oE '^dbx_[A-Za-z0-9_]+' | sort -u > "$tmp/declared"
{ grep -oE 'static[^;{}()]*[ *]dbx_[A-Za-z0-9_]+[[:space:]]*\(' "$tmp/headers.i" || true; } |
    grep -oE 'dbx_[A-Za-z0-9_]+' | sort -u > "$tmp/static"
comm -23 "$tmp/declared" "$tmp/static" > "$tmp/api"
n_exp=$(wc -l < "$tmp/exported") n_api=$(wc -l < "$tmp/api")
if grep -n '^dbx__' "$tmp/exported"; then
    bad "libdbx.so exports internal dbx__ symbols (above)"
else
    ok "no dbx__ symbol exported"
fi
if grep -v '^dbx_' "$tmp/exported"; then
    bad "libdbx.so exports symbols outside the dbx_ namespace (above)"
fi
if comm -23 "$tmp/exported" "$tmp/api" | grep .; then
    bad "exported but declared in no include/dbx/*.h header (above): internal, lacking dbx__?"
else
    ok "all $n_exp exported symbols are declared in include/dbx/*.h"
fi
if comm -13 "$tmp/exported" "$tmp/api" | grep .; then
    bad "declared in include/dbx/*.h but not exported (above): undefined, or hidden by mistake"
else
    ok "all $n_api declared functions are exported"
fi

# ---- (a) pkg-config, shared library ----------------------------------------------------------
# Where the loader finds libdbx.so.0: a run path recorded at link time ...
flags=$(pkg-config --cflags --libs dbx)
echo "pkg-config --cflags --libs dbx: $flags"
"$cc" -std=c11 -o "$tmp/train_shared" "$src/tests/install/train.c" $flags -Wl,-rpath,"$libdir"
if needs "$tmp/train_shared" libdbx.so.$major &&
   ! nm "$tmp/train_shared" | grep -q ' T dbx_model_new$' &&
   libs "$tmp/train_shared" | grep -q "libdbx.so.$major => $libdir/"; then
    ok "(a) pkg-config dbx: the program needs libdbx.so.$major, found in $libdir by its run path"
else
    bad "(a) pkg-config dbx: the program does not use $libdir/libdbx.so.$major"
    readelf -d "$tmp/train_shared" | grep -E 'NEEDED|RUNPATH'; libs "$tmp/train_shared"
fi
run "$tmp/train_shared" && ok "(a) runs, loss falls" || bad "(a) train (shared) failed"
# ... or LD_LIBRARY_PATH; with neither, this prefix is not found.
"$cc" -std=c11 -o "$tmp/train_norpath" "$src/tests/install/train.c" $flags
if run "$tmp/train_norpath" >/dev/null 2>&1; then
    bad "(a) a program without a run path found libdbx.so.$major (expected the loader not to)"
elif LD_LIBRARY_PATH=$libdir run "$tmp/train_norpath" >/dev/null; then
    ok "(a) without a run path: LD_LIBRARY_PATH=$libdir"
else
    bad "(a) without a run path, LD_LIBRARY_PATH=$libdir did not help"
fi

# ---- (b) pkg-config, static library -------------------------------------------------------------
# -u dbx_train pulls the training loop (worker/, comm/: MPI, hwloc) out of the archive too, so
# that the link checks all of libdbx.a's dependencies, not only those train.c reaches.
flags=$(pkg-config --cflags --libs --static dbx-static)
echo "pkg-config --cflags --libs --static dbx-static: $flags"
"$cc" -std=c11 -o "$tmp/train_static" -Wl,-u,dbx_train "$src/tests/install/train.c" $flags
if ! needs "$tmp/train_static" libdbx && needs "$tmp/train_static" libmpi &&
   nm "$tmp/train_static" | grep -q ' T dbx_train$'; then
    ok "(b) pkg-config dbx-static: libdbx.a linked in (with MPI), no libdbx.so"
else
    bad "(b) pkg-config dbx-static: not linked against libdbx.a"
    readelf -d "$tmp/train_static" | grep NEEDED
fi
run "$tmp/train_static" && ok "(b) runs, loss falls" || bad "(b) train (static) failed"

# ---- (c) CMake: find_package(dbx) ----------------------------------------------------------------
if CMAKE_PREFIX_PATH=$P cmake -S "$src/tests/install" -B "$tmp/cmake" -DCMAKE_C_COMPILER="$cc" \
       >"$tmp/cmake.log" 2>&1 &&
   cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1; then
    ok "(c) find_package(dbx): configured and built"
    if needs "$tmp/cmake/train" libdbx.so.$major && ! needs "$tmp/cmake/train_static" libdbx &&
       needs "$tmp/cmake/train_static" libmpi; then
        ok "(c) dbx::dbx links libdbx.so.$major, dbx::dbx_static libdbx.a (with MPI)"
    else
        bad "(c) dbx::dbx / dbx::dbx_static link the wrong library"
        readelf -d "$tmp/cmake/train" "$tmp/cmake/train_static" | grep -E 'File|NEEDED'
    fi
    run "$tmp/cmake/train" && ok "(c) dbx::dbx runs (CMake's run path)" || bad "(c) train failed"
    run "$tmp/cmake/train_static" && ok "(c) dbx::dbx_static runs" || bad "(c) train_static failed"
else
    bad "(c) find_package(dbx) project failed:"; cat "$tmp/cmake.log"
fi

# ---- the examples link against the installed shared library; the installed program runs -------
for ex in "$src"/examples/*.c; do
    [ -e "$ex" ] || continue
    name=$(basename "$ex" .c)
    if "$cc" -std=c11 -o "$tmp/ex_$name" "$ex" $(pkg-config --cflags --libs dbx) -lm; then
        ok "examples/$name.c links against libdbx.so"
    else
        bad "examples/$name.c does not build against the installed dbx"
    fi
done
if [ -x "$P/bin/dbx" ] && run "$P/bin/dbx" --version; then
    ok "installed dbx runs (its run path finds the libraries it links)"
else
    bad "installed dbx does not run:"; libs "$P/bin/dbx" || true
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
