#!/bin/bash
# Scaling benchmark of distributed training (weak scaling: a fixed number of samples per
# worker, so the global batch grows with the worker count). Measures, on this machine,
# W = 1, 2 workers (one per core) and W = 3, 4 (oversubscribed, labelled as such), and,
# when network namespaces are available (root), 3 simulated hosts over TCP; plus the
# all-reduce speed at each configuration (bench_allreduce). bench/scaling_report.py then
# writes the tables (CSV, JSON, Markdown) with a projection to 8-256 nodes from the measured
# cost model and an alpha-beta all-reduce model, and `dbx plot` draws scaling.json as PNGs
# (throughput and efficiency; measured points as points, the projection as dashed lines).
# Usage: bench/scaling.sh   Environment: BUILD_DIR (build), DATA (SST train), PER_WORKER (64),
#        STEPS (40), SIZE (128), OUT (bench/results/scaling).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
dbx=$build/dbx
ar=$build/bench_allreduce
out=${OUT:-$root/bench/results/scaling}
per=${PER_WORKER:-64}
steps=${STEPS:-40}
size=${SIZE:-128}
data=${DATA:-$root/../shared/data/sst/train.txt}
for f in "$dbx" "$ar"; do
    [ -x "$f" ] || { echo "scaling: missing $f (build the project first)" >&2; exit 1; }
done
if [ -f "$data" ]; then src=(--data "$data"); else
    echo "scaling: $data not found: using the embedded synthetic treebank" >&2
    src=(--synthetic 8544)
fi
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
ncores=$(nproc)
train_args=("${src[@]}" --steps "$steps" --embed "$size" --hidden "$size" --quiet)

run_local() { # W
    local W=$1 label=local bind=core
    if [ "$W" -gt "$ncores" ]; then label=local-oversubscribed; bind=none; fi
    echo "scaling: $label W=$W (global batch $((W * per)))" >&2
    mpirun -np "$W" "$dbx" train "${train_args[@]}" --batch $((W * per)) --bind "$bind" \
        --metrics "$out/$label-$W.jsonl" > /dev/null || return 1
    mpirun -np "$W" "$ar" --max-bytes $((16 << 20)) --json "$out/allreduce-$label-$W.json" \
        > "$out/allreduce-$label-$W.txt" || return 1
}

status=0
for W in 1 2 3 4; do run_local "$W" || status=1; done

# 3 hosts in network namespaces, one rank each, TCP between them
if [ "$(id -u)" = 0 ] && [ -x "$root/scripts/netns-cluster.sh" ] && ip netns list >/dev/null 2>&1; then
    echo "scaling: 3 namespace hosts" >&2
    trap '"$root/scripts/netns-cluster.sh" down >/dev/null 2>&1' EXIT
    if "$root/scripts/netns-cluster.sh" up 3 >/dev/null; then
        "$root/scripts/netns-cluster.sh" run -np 3 "$dbx" train "${train_args[@]}" \
            --batch $((3 * per)) --bind none --metrics "$out/netns-3.jsonl" > /dev/null || status=1
        "$root/scripts/netns-cluster.sh" run -np 3 "$ar" --max-bytes $((16 << 20)) \
            --json "$out/allreduce-netns-3.json" > "$out/allreduce-netns-3.txt" || status=1
    else
        echo "scaling: could not bring up the namespace hosts" >&2; status=1
    fi
    "$root/scripts/netns-cluster.sh" down >/dev/null 2>&1
else
    echo "scaling: skipping namespace hosts (needs root, ip netns and scripts/netns-cluster.sh)" >&2
fi

python3 "$root/bench/scaling_report.py" "$out" --per-worker "$per" || status=1
"$dbx" plot "$out/scaling.json" --out "$out" || status=1
exit $status
