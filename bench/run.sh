#!/bin/sh
# Runs the dbx-versus-DyNet benchmarks (bench_treelstm, bench_tagger, then bench_lattice)
# with their default settings on one CPU core, building the project first if needed.
# Results: bench/results/{treelstm,tagger,lattice}.{json,md}. Extra arguments go to all three
# (e.g. bench/run.sh --sizes 128 --max-seconds 60).
# Environment: BUILD_DIR (default build), CORE (the CPU to pin to, default 0).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
core=${CORE:-0}

if [ ! -x "$build/bench_treelstm" ] || [ ! -x "$build/bench_lattice" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
# always let the build system bring the programs up to date (a no-op when they are)
cmake --build "$build" --target bench_treelstm bench_tagger bench_lattice

export OPENBLAS_NUM_THREADS=1
export OMP_NUM_THREADS=1
pin=""
if command -v taskset >/dev/null 2>&1; then
    pin="taskset -c $core"
else
    echo "run.sh: taskset not found: not pinned to one core" >&2
fi

cd "$root"
status=0
$pin "$build/bench_treelstm" "$@" || status=$?
$pin "$build/bench_tagger" "$@" || status=$?
$pin "$build/bench_lattice" "$@" || status=$?
exit $status
