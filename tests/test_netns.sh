#!/bin/bash
# `dbx train` across 3 simulated hosts (scripts/netns-cluster.sh: network namespaces with
# their own host names h1..h3 and addresses 10.78.0.1..3, MPI over TCP between them):
#  * 20 steps with 3 ranks, one per host (--map-by node), with --check-replicas 1, succeed;
#  * the topology lines at start name 3 different hosts ("[r0/3] h1: ...", "[r1/3] h2: ...");
#  * the saved parameters equal those of a 1-host run (dbx compare --rtol 1e-5);
#  * the gradient all-reduce across hosts: rabenseifner in small buckets started during the
#    backward pass gives the bits of one rd all-reduce; with 2 ranks on each of 2 hosts the
#    all-reduce is hierarchical by default and agrees with the flat one within 1e-6.
# Needs root, `ip netns` and `unshare --uts`; otherwise prints the reason and exits 77
# (skipped). The namespaces are always torn down (trap).
# Usage: test_netns.sh DBX SOURCE_DIR
set -u
dbx=$(realpath "${1:?usage: test_netns.sh DBX SOURCE_DIR}")
src=$(cd "${2:?usage: test_netns.sh DBX SOURCE_DIR}" && pwd)
cluster=$src/scripts/netns-cluster.sh

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no 'ip' command (apt-get install iproute2)"
command -v unshare >/dev/null || skip "no 'unshare' command (util-linux)"
command -v mpirun >/dev/null || skip "no mpirun (apt-get install openmpi-bin)"
probe=dbxprobe$$
if ! ip netns add "$probe" 2>/dev/null; then skip "ip netns is not supported here ('ip netns add' fails)"; fi
if ! ip netns exec "$probe" unshare --uts /bin/sh -c 'hostname probe' 2>/dev/null; then
    ip netns del "$probe" 2>/dev/null
    skip "'unshare --uts' inside a network namespace fails"
fi
ip netns del "$probe"

tmp=$(mktemp -d /tmp/dbx-netns-test.XXXXXX)
export DBX_NETNS_DIR=$tmp/cluster
export OPENBLAS_NUM_THREADS=1
cleanup() {
    "$cluster" down || echo "test_netns: teardown failed" >&2
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"

rc=0
run() { # NAME CMD...: under timeout 120, output to $tmp/NAME.out/.err; sets rc
    local name=$1 t0 t
    shift
    t0=$(date +%s%N)
    timeout -k 5 120 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
    rc=$?
    t=$(( ($(date +%s%N) - t0) / 100000000 ))
    echo "  $name: exit $rc after $((t / 10)).$((t % 10)) s"
    [ "$rc" -eq 0 ] || sed 's/^/  | /' "$tmp/$name.err" | tail -20
}

echo "== bringing up 3 hosts"
if ! "$cluster" up 3; then
    bad "netns-cluster.sh up 3 failed"
    echo "$passed passed, $failed failed"
    exit 1
fi

args=(--steps 20 --embed 16 --hidden 16 --synthetic 300 --batch 24 --seed 5 --log-every 0)

echo "== 3 ranks on 3 hosts"
run three "$cluster" run -np 3 --map-by node -x OPENBLAS_NUM_THREADS \
    "$dbx" train "${args[@]}" --check-replicas 1 --save "$tmp/three.bin"
sed -n '/^ *\[r[0-9]*\/3\]/p' "$tmp/three.err" | sed 's/^/  | /'
if [ "$rc" -eq 0 ] && grep -q '^train: 3 ranks,' "$tmp/three.out"; then
    ok "3 ranks on 3 hosts train 20 steps, replicas identical every step"
else
    bad "3-host run: exit $rc, summary '$(grep '^train:' "$tmp/three.out")'"
fi
# topology lines "  [r0/3] h1: 1 package, ...": one distinct host per rank
hosts=$(sed -n 's/^ *\[r\([0-9]*\)\/3\] \([^:]*\):.*/\2/p' "$tmp/three.err" | sort -u)
nhosts=$(echo "$hosts" | grep -c .)
if [ "$nhosts" -eq 3 ] && [ "$(echo $hosts)" = "h1 h2 h3" ]; then
    ok "the ranks run on 3 different hosts: $(echo $hosts)"
else
    bad "expected ranks on h1 h2 h3, the topology lines name: '$(echo $hosts)'"
fi

echo "== 1 rank on 1 host"
run one "$cluster" run -np 1 -x OPENBLAS_NUM_THREADS "$dbx" train "${args[@]}" --save "$tmp/one.bin"
if [ "$rc" -eq 0 ] && grep -q '^train: 1 rank,' "$tmp/one.out"; then
    ok "1 rank on h1 trains 20 steps"
else
    bad "1-host run: exit $rc"
fi
if [ -s "$tmp/one.bin" ] && [ -s "$tmp/three.bin" ]; then
    if msg=$("$dbx" compare --rtol 1e-5 "$tmp/one.bin" "$tmp/three.bin" 2>&1); then
        ok "3 hosts = 1 host ($msg)"
    else
        bad "3 hosts != 1 host ($msg)"
    fi
else
    bad "a parameter file is missing"
fi

echo "== the gradient all-reduce across hosts"
# rabenseifner in 1 KiB buckets started during the backward pass = rd in one operation per
# run of parameters: the same bits (a deterministic partition, so both runs share samples)
det=(--partition round-robin --check-replicas 1)
run rd1 "$cluster" run -np 3 --map-by node -x OPENBLAS_NUM_THREADS "$dbx" train "${args[@]}" \
    "${det[@]}" --allreduce rd --overlap off --bucket-mb 0 --save "$tmp/rd1.bin"
run rabov "$cluster" run -np 3 --map-by node -x OPENBLAS_NUM_THREADS "$dbx" train "${args[@]}" \
    "${det[@]}" --allreduce rabenseifner --overlap on --bucket-mb 0.001 --save "$tmp/rabov.bin"
if [ -s "$tmp/rd1.bin" ] && cmp -s "$tmp/rd1.bin" "$tmp/rabov.bin"; then
    ok "3 hosts: bucketed, overlapped rabenseifner = one rd all-reduce, bit for bit"
else
    bad "3 hosts: bucketed, overlapped rabenseifner differs from one rd all-reduce"
fi
# 4 ranks on 2 hosts (2 slots each): hierarchical (auto) = flat within 1e-6
run hier "$cluster" run -np 4 --map-by slot -x OPENBLAS_NUM_THREADS "$dbx" train "${args[@]}" \
    "${det[@]}" --bucket-mb 0.001 --metrics "$tmp/hier.jsonl" --save "$tmp/hier.bin"
run flat "$cluster" run -np 4 --map-by slot -x OPENBLAS_NUM_THREADS "$dbx" train "${args[@]}" \
    "${det[@]}" --bucket-mb 0.001 --hier off --save "$tmp/flat.bin"
h=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["allreduce_hier"], r["allreduce_participants"])' "$tmp/hier.jsonl" 2>/dev/null)
if [ "$h" = "True 2" ]; then ok "2 ranks on each of 2 hosts: hierarchical by default, 2 leaders"
else bad "2 ranks on each of 2 hosts: the config record says '$h' (want 'True 2')"; fi
if [ -s "$tmp/hier.bin" ] && msg=$("$dbx" compare --rtol 1e-6 "$tmp/flat.bin" "$tmp/hier.bin" 2>&1); then
    ok "hierarchical = flat across hosts ($msg)"
else
    bad "hierarchical != flat across hosts (${msg:-a run failed})"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
