#!/bin/bash
# Scaling benchmark of distributed training (weak scaling: a fixed number of samples per
# worker, so the global batch grows with the worker count). Measures, on this machine,
# W = 1, 2 workers (one per core) and W = 3, 4 (oversubscribed, labelled as such), and,
# when network namespaces are available (root), 2, 3, 4, 6 and 8 simulated hosts over TCP
# (scripts/netns-cluster.sh; from 3 hosts on oversubscribed too); plus the all-reduce speed at
# each configuration (bench_allreduce). bench/scaling_report.py then writes the tables (CSV,
# JSON, Markdown): the model of each step's gradient synchronisation against every
# namespace-host measurement, and a projection to 8-1,024 nodes from the measured compute and
# the per-algorithm collective models that bench/allreduce_fit.py fitted to the runs of
# bench/collectives.sh (run that first; its fit is made here when only the runs are there).
# `dbx plot` draws scaling.json as PNGs (throughput and efficiency; measured points as
# points, the projections as dashed labelled lines).
# Usage: bench/scaling.sh   Environment: BUILD_DIR (build), DATA (SST train), PER_WORKER (64),
#        STEPS (40), SIZE (128), OUT (bench/results/scaling), HOSTS ("2 3 4 6 8"),
#        COLL (bench/results/collectives), DBX_NETNS_PREFIX (dbxs-), DBX_NETNS_DIR
#        (/tmp/dbxs-netns). Takes about 5 minutes on 2 cores.
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
hosts=${HOSTS:-2 3 4 6 8}
coll=${COLL:-$root/bench/results/collectives}
export DBX_NETNS_PREFIX=${DBX_NETNS_PREFIX:-dbxs-} DBX_NETNS_DIR=${DBX_NETNS_DIR:-/tmp/dbxs-netns}
export DBX_NETNS_SLOTS=1
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
    mpirun -np "$W" "$ar" --max-bytes $((4 << 20)) --reps 10 --json "$out/allreduce-$label-$W.json" \
        > "$out/allreduce-$label-$W.txt" || return 1
}

status=0
for W in 1 2 3 4; do run_local "$W" || status=1; done

# namespace hosts, one rank each, TCP between them
if [ "$(id -u)" = 0 ] && [ -x "$root/scripts/netns-cluster.sh" ] && ip netns list >/dev/null 2>&1; then
    cluster=$root/scripts/netns-cluster.sh
    trap '"$cluster" down >/dev/null 2>&1' EXIT
    rm -f "$out"/netns-*.jsonl "$out"/allreduce-netns-*
    for n in $hosts; do
        echo "scaling: $n namespace hosts" >&2
        if "$cluster" up "$n" >/dev/null; then
            "$cluster" run -np "$n" "$dbx" train "${train_args[@]}" --batch $((n * per)) \
                --bind none --metrics "$out/netns-$n.jsonl" > /dev/null || status=1
            "$cluster" run -np "$n" "$ar" --max-bytes $((4 << 20)) --reps 10 \
                --json "$out/allreduce-netns-$n.json" > "$out/allreduce-netns-$n.txt" || status=1
        else
            echo "scaling: could not bring up $n namespace hosts" >&2; status=1
        fi
    done
    "$cluster" down >/dev/null 2>&1
else
    echo "scaling: skipping namespace hosts (needs root, ip netns and scripts/netns-cluster.sh)" >&2
fi

if [ ! -f "$coll/fit.json" ] && ls "$coll"/*-n*-*.json >/dev/null 2>&1; then
    python3 "$root/bench/allreduce_fit.py" "$coll" > /dev/null || status=1
fi
python3 "$root/bench/scaling_report.py" "$out" --per-worker "$per" --fit "$coll/fit.json" || status=1
"$dbx" plot "$out/scaling.json" --out "$out" || status=1
exit $status
