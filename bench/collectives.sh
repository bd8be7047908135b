#!/bin/bash
# Collective sweep on simulated hosts: the all-reduce (and dbx's all-gather) per algorithm, on
# N = 2, 3, 4, 6, 8 network-namespace hosts (one rank each, scripts/netns-cluster.sh) over
# plain veth links and links rate-limited by tc tbf (1 Gbit/s and 10 Gbit/s per host and
# direction). One bench_allreduce run (sizes 4 B .. 4 MiB by powers of 4 plus the sizes dbx
# sends) per configuration:
#   tuned-K     blocking MPI_Allreduce with Open MPI's coll tuned algorithm K forced
#               (--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm K):
#               0 its fixed decision rules, 1 basic linear, 2 nonoverlapping (reduce + bcast),
#               3 recursive doubling, 4 ring, 5 segmented ring, 6 Rabenseifner
#   libnbc-K    dbx's own call as training makes it (an in-place MPI_Iallreduce per bucket,
#               coll libnbc) with --mca coll_libnbc_iallreduce_algorithm K: 0 its default
#               (binomial tree for in-place calls), 1 ring, 3 Rabenseifner, 4 recursive doubling
#   dbx-A       dbx's own all-reduce algorithms (DBX_ALLREDUCE=A: ring, rd, rabenseifner, mpi,
#               auto), run only when the build knows DBX_ALLREDUCE
#   allgather   dbx's all-gather (MPI_Allgatherv) of the sparse embedding exchange
# All N ranks share this machine's cores: from 3 hosts on (on 2 cores) the ranks are
# oversubscribed, which the fit (bench/allreduce_fit.py) states. Output: one JSON and one text
# file per run, LINK-nN-KIND.json / .txt, in OUT, and env.txt (what ran where).
# Usage: bench/collectives.sh
# Environment: BUILD_DIR (build), OUT (bench/results/collectives), NS ("2 3 4 6 8"),
#   LINKS ("veth 1gbit 10gbit"; a tc rate or veth), TUNED ("0 1 2 3 4 5 6"), LIBNBC ("0 1 3 4")
#   (TUNED= and LIBNBC= empty: none of those, e.g. for dbx's own algorithms only),
#   DBX_ALGS ("ring rd rabenseifner mpi auto" when the build has DBX_ALLREDUCE), REPS (10),
#   ALLGATHER (1; 0: none), MAX_BYTES (4194304), BUDGET_S (840: links not started by then are skipped, and said so),
#   DBX_NETNS_PREFIX (dbxb-), DBX_NETNS_DIR (/tmp/dbxb-netns).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
ar=$build/bench_allreduce
out=${OUT:-$root/bench/results/collectives}
ns_list=${NS:-2 3 4 6 8}
links=${LINKS:-veth 1gbit 10gbit}
tuned=${TUNED-0 1 2 3 4 5 6}
libnbc=${LIBNBC-0 1 3 4}
reps=${REPS:-10}
maxb=${MAX_BYTES:-4194304}
budget=${BUDGET_S:-840}
export DBX_NETNS_PREFIX=${DBX_NETNS_PREFIX:-dbxb-} DBX_NETNS_DIR=${DBX_NETNS_DIR:-/tmp/dbxb-netns}
export DBX_NETNS_SLOTS=1
cluster=$root/scripts/netns-cluster.sh

[ -x "$ar" ] || { echo "collectives: missing $ar (build the project first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "collectives: needs root (network namespaces, tc)" >&2; exit 1; }
ip netns list >/dev/null 2>&1 || { echo "collectives: no 'ip netns' here" >&2; exit 1; }
if [ -z "${DBX_ALGS+x}" ]; then
    if grep -aq DBX_ALLREDUCE "$build"/libdbx.so* "$build/libdbx.a" 2>/dev/null; then
        DBX_ALGS="ring rd rabenseifner mpi auto"
    else
        DBX_ALGS=""
        echo "collectives: this build has no DBX_ALLREDUCE: dbx's own algorithms skipped" >&2
    fi
fi
mkdir -p "$out"
trap '"$cluster" down >/dev/null 2>&1' EXIT
{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -srm), $(nproc) cores"
    echo "git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
    echo "mpi: $(ompi_info --version 2>/dev/null | head -1)"
    echo "ns: $ns_list; links: $links; tuned: $tuned; libnbc: $libnbc; dbx: ${DBX_ALGS:-none}"
    echo "reps: $reps; max bytes: $maxb"
} > "$out/env.txt"

start=$SECONDS
status=0
one() { # NAME N MPIRUN_ARGS... -- BENCH_ARGS...
    local name=$1 n=$2 margs=() bargs=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do margs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    bargs=("$@")
    if ! timeout 300 "$cluster" run -np "$n" "${margs[@]}" "$ar" --reps "$reps" \
            --max-bytes "$maxb" --label "$name" --json "$out/$name.json" "${bargs[@]}" \
            > "$out/$name.txt" 2>&1; then
        echo "collectives: $name failed (see $out/$name.txt)" >&2
        status=1
    fi
}

for link in $links; do
    if [ $((SECONDS - start)) -ge "$budget" ]; then
        echo "collectives: time budget ($budget s) spent: link $link skipped" >&2
        echo "skipped: $link (budget)" >> "$out/env.txt"
        continue
    fi
    for n in $ns_list; do
        rate=()
        [ "$link" = veth ] || rate=(--rate "$link")
        if ! "$cluster" up "$n" "${rate[@]}" >/dev/null; then
            echo "collectives: could not bring up $n hosts ($link)" >&2
            status=1
            continue
        fi
        echo "collectives: $link, $n hosts ($((SECONDS - start)) s)" >&2
        for k in $tuned; do
            one "$link-n$n-tuned-$k" "$n" --mca coll_tuned_use_dynamic_rules 1 \
                --mca coll_tuned_allreduce_algorithm "$k" -- --api mpi
        done
        for k in $libnbc; do
            one "$link-n$n-libnbc-$k" "$n" --mca coll_libnbc_iallreduce_algorithm "$k" -- --api dbx
        done
        for a in $DBX_ALGS; do
            DBX_ALLREDUCE=$a one "$link-n$n-dbx-$a" "$n" -x DBX_ALLREDUCE -- --api dbx
        done
        if [ "${ALLGATHER:-1}" = 1 ]; then
            one "$link-n$n-allgather" "$n" -- --op allgather --max-bytes 1048576
        fi
    done
    "$cluster" down >/dev/null 2>&1
done
echo "collectives: done in $((SECONDS - start)) s, results in $out" >&2
exit $status
