#!/bin/bash
# slurm/train.sbatch on a throw-away 2-node Slurm cluster on this machine
# (scripts/slurm-cluster.sh: munged, slurmctld, slurmd -N node1 / node2, all under a
# temporary directory): `sbatch --wait --nodes=2` with an env file (DBX_ENV) that points
# at this build's dbx and asks for a 10-step run must
#  * complete with exit status 0,
#  * show both nodes in its output (the "task K: node nodeK ..." lines),
#  * carry dbx's summary line "train: N ranks, ..." with N >= 2.
# Needs slurmctld, slurmd, munged (apt-get install slurm-wlm munge) and root; otherwise it
# prints the reason and exits 77 (skipped). The cluster is always torn down (trap).
# Environment: DBX_SLURM_PORT (first port tried, default 28817; the test moves on to a
# free one).
# Usage: test_slurm.sh DBX SOURCE_DIR
set -u
dbx=$(realpath "${1:?usage: test_slurm.sh DBX SOURCE_DIR}")
src=$(cd "${2:?usage: test_slurm.sh DBX SOURCE_DIR}" && pwd)

for b in slurmctld slurmd munged sbatch; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || { echo "SKIP: slurm-wlm not installed (no $b)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (slurmd, munged)"; exit 77; }
export PATH=$PATH:/usr/sbin

# clusters left by an earlier run of this test that was killed outright (SIGKILL skips the
# trap): their owner (the test's pid, in DIR/owner) is gone
for d in /tmp/dbx-slurm-test.*; do
    [ -d "$d/cluster" ] || continue
    owner=$(cat "$d/owner" 2>/dev/null || true)
    if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
    echo "removing a stale test cluster in $d"
    "$src/scripts/slurm-cluster.sh" down "$d/cluster" || true
    rm -rf "$d"
done

tmp=$(mktemp -d /tmp/dbx-slurm-test.XXXXXX)
echo $$ > "$tmp/owner"
export SLURM_CONF=$tmp/cluster/slurm.conf
cleanup() {
    "$src/scripts/slurm-cluster.sh" down "$tmp/cluster" || echo "test_slurm: teardown failed" >&2
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }

# a free port pair for slurmctld/slurmd and two for the nodes (PORT, PORT+1, PORT+101..102)
in_use() { ss -Htln 2>/dev/null | awk '{print $4}' | grep -Eq ":($1|$(($1 + 1))|$(($1 + 101))|$(($1 + 102)))\$"; }
port=${DBX_SLURM_PORT:-28817}
for _ in 1 2 3 4 5; do in_use "$port" || break; port=$((port + 200)); done
export DBX_SLURM_PORT=$port

step "bringing up a 2-node cluster in $tmp/cluster (slurmctld port $port)"
if ! "$src/scripts/slurm-cluster.sh" up "$tmp/cluster" 2; then
    bad "slurm-cluster.sh up failed"
    tail -20 "$tmp"/cluster/log/*.log 2>/dev/null
    echo "$passed passed, $failed failed"
    exit 1
fi

cat > "$tmp/test.env" <<EOF
# env file of tests/test_slurm.sh
DBX=$dbx
DBX_ARGS="--steps 10 --embed 16 --hidden 16 --synthetic 200 --batch 16 --log-every 5 --check-replicas 1"
export OPENBLAS_NUM_THREADS=1
# the fake nodes share one host name: TCP over loopback, no shared memory
export OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_mpi_yield_when_idle=1
EOF
export DBX_ENV=$tmp/test.env

step "sbatch --wait --nodes=2 slurm/train.sbatch"
cd "$src" || exit 1
timeout -k 5 120 sbatch --wait --nodes=2 --ntasks-per-node=1 -o "$tmp/job-%j.out" slurm/train.sbatch
rc=$?
out=$(ls "$tmp"/job-*.out 2>/dev/null | head -1)
step "sbatch exit status $rc; job output:"
[ -n "$out" ] && sed 's/^/  | /' "$out"
if [ "$rc" -eq 0 ]; then ok "the job completes with exit status 0"
else
    bad "sbatch --wait exit status $rc$([ "$rc" -eq 124 ] && echo ' (did not finish within 120 s)')"
    tail -5 "$tmp"/cluster/log/slurmctld.log 2>/dev/null | sed 's/^/  ctld| /'
fi
if [ -z "$out" ]; then
    bad "no job output file"
else
    for n in node1 node2; do
        if grep -Eq "^task [0-9]+: node $n " "$out"; then ok "the output shows $n"
        else bad "the output does not show $n"; fi
    done
    ranks=$(sed -n 's/^train: \([0-9]*\) ranks,.*/\1/p' "$out" | head -1)
    if [ -n "$ranks" ] && [ "$ranks" -ge 2 ]; then ok "summary: $(grep '^train:' "$out" | cut -d, -f1-2)"
    else bad "no summary line 'train: N ranks' with N >= 2"; fi
fi

step "sbatch --wait --nodes=2 slurm/scaling.sbatch (N = 1, 2)"
export DBX_SCALING_OUT=$tmp/scaling
timeout -k 5 180 sbatch --wait --nodes=2 --ntasks-per-node=1 -o "$tmp/scaling-%j.out" \
    slurm/scaling.sbatch
rc=$?
sout=$(ls "$tmp"/scaling-*.out 2>/dev/null | head -1)
[ -n "$sout" ] && sed 's/^/  | /' "$sout"
if [ "$rc" -eq 0 ]; then ok "the scaling job completes with exit status 0"
else bad "scaling sbatch --wait exit status $rc"; fi
for N in 1 2; do
    if [ -s "$tmp/scaling/metrics-N$N.jsonl" ] && grep -q "N=$N nodes" "${sout:-/dev/null}"; then
        ok "scaling: N=$N ran and wrote its metrics"
    else bad "scaling: no run or metrics for N=$N"; fi
done

step "done"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
