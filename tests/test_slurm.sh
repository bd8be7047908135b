#!/bin/bash
# slurm/train.sbatch on a throw-away 2-node Slurm cluster on this machine
# (scripts/slurm-cluster.sh: munged, slurmctld, slurmd -N node1 / node2, all under a
# temporary directory): `sbatch --wait --nodes=2` with the env files slurm/dbx.env and
# slurm/testcluster.env (the test cluster's loopback settings) and one of the test's own
# (DBX_ENV=a:b:c) that points at this build's dbx and asks for a 10-step run must
#  * complete with exit status 0,
#  * print the real task count in its header ("2 task(s)", not "?"),
#  * show both nodes in its output (the "task K: node nodeK ..." lines),
#  * carry dbx's summary line "train: N ranks, ..." with N >= 2;
# slurm/dbx.env must not pin MPI to loopback; scaling.sbatch must run N = 1 and 2.
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

# the project's env files as a user of the test cluster takes them (slurm/dbx.env, then
# slurm/testcluster.env for the one-machine cluster), then this test's program and run
cat > "$tmp/test.env" <<EOF
# env file of tests/test_slurm.sh, sourced after slurm/dbx.env and slurm/testcluster.env
DBX=$dbx
DBX_ARGS="--steps 10 --embed 16 --hidden 16 --synthetic 200 --batch 16 --log-every 5 --check-replicas 1"
EOF
export DBX_ENV=$src/slurm/dbx.env:$src/slurm/testcluster.env:$tmp/test.env
if grep -Eq '^[^#]*OMPI_MCA_[a-z_]*_if_include=lo' "$src/slurm/dbx.env"; then
    bad "slurm/dbx.env pins MPI to loopback (that belongs in slurm/testcluster.env)"
else ok "slurm/dbx.env leaves the network to Open MPI"; fi

step "sbatch --wait --nodes=2 slurm/train.sbatch"
cd "$src" || exit 1
timeout -k 5 120 sbatch --wait --nodes=2 -o "$tmp/job-%j.out" slurm/train.sbatch
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
    if grep -q "^== job .* 2 task(s); env $DBX_ENV\$" "$out"; then ok "the job header counts 2 tasks"
    else bad "job header: '$(grep '^== job' "$out")' (want '... 2 task(s); env ...')"; fi
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
