#!/bin/bash
# A lost or frozen rank ends a distributed `dbx train` (mpirun -np 3, loopback):
#  1. kill -9 of rank 1 during a long run: mpirun must exit non-zero within 10 s, with a
#     message naming the lost rank ("process rank 1 ... exited on signal 9"), and no
#     process of the job may remain.
#  2. kill -STOP of rank 1 with --timeout 3: dbx's watchdog on a waiting rank must end the
#     job non-zero within 15 s, its stderr naming the waiting rank and saying "no progress"
#     ("[r0/3 host] dbx: fatal: no progress for 3.4 s in ..."); no process may remain.
# Rank 1 is found among the job's processes (their command lines name this test's
# temporary directory) by OMPI_COMM_WORLD_RANK=1 in /proc/PID/environ.
# Usage: test_kill.sh DBX [SOURCE_DIR]     Environment: MPIEXEC (default mpirun).
# Prints "N passed, M failed"; exit status 1 on any failure.
set -u
dbx=${1:?usage: test_kill.sh DBX [SOURCE_DIR]}
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env

tmp=$(mktemp -d /tmp/dbx-kill.XXXXXX)
job=""   # pid of the running mpirun
# the job's processes (mpirun and ranks): their command lines contain $tmp
job_pids() { pgrep -f -- "dbx train.*$tmp" 2>/dev/null || true; }
cleanup() {
    local p
    [ -n "$job" ] && kill -9 "$job" 2>/dev/null
    for p in $(job_pids); do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start NAME ARGS...: mpirun -np 3 dbx train (long run) in the background; waits until the
# three ranks run, then 2 s more; sets job (mpirun's pid) and r1 (rank 1's pid, empty on
# failure). Not called in $(...): the job must be a child of this shell.
r1=""
start() {
    local name=$1 p n
    r1=""
    shift
    "$mpiexec" -np 3 "$dbx" train --steps 100000 --embed 64 --hidden 64 --quiet \
        --save "$tmp/$name.bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
    job=$!
    for _ in $(seq 100); do
        n=0
        for p in $(job_pids); do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=' && n=$((n + 1))
        done
        [ "$n" -ge 3 ] && break
        kill -0 "$job" 2>/dev/null || break
        sleep 0.1
    done
    sleep 2
    if ! kill -0 "$job" 2>/dev/null; then
        echo "  $name: the job ended before the test could act:" >&2
        sed 's/^/  | /' "$tmp/$name.err" | tail -20 >&2
        return
    fi
    for p in $(job_pids); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
            r1=$p
            return
        fi
    done
}

# finish NAME LIMIT_S T0_MS: waits up to LIMIT_S for mpirun; sets rc and elapsed (ms);
# a job still running then is killed (rc 999)
rc=0 elapsed=0
finish() {
    local name=$1 limit=$2 t0=$3
    while kill -0 "$job" 2>/dev/null && [ $(( $(now_ms) - t0 )) -lt $((limit * 1000 + 5000)) ]; do
        sleep 0.05
    done
    elapsed=$(( $(now_ms) - t0 ))
    if kill -0 "$job" 2>/dev/null; then
        echo "  $name: mpirun still runs after $((elapsed / 1000)) s; killing the job"
        kill -9 "$job" 2>/dev/null
        wait "$job" 2>/dev/null
        rc=999
    else
        wait "$job"
        rc=$?
    fi
    job=""
    echo "  $name: mpirun exit $rc after $((elapsed / 100 / 10)).$((elapsed / 100 % 10)) s"
    sed 's/^/  | /' "$tmp/$name.err" | grep -v '^  | -*$' | head -20
}

# no_leftovers NAME: no process of the job remains (allowing 2 s for the last ones to go)
no_leftovers() {
    local left
    for _ in $(seq 20); do
        left=$(job_pids)
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -z "$left" ]; then
        ok "$1: no process of the job remains"
    else
        bad "$1: processes remain: $(ps -o pid=,stat=,args= -p "$(echo $left | tr ' ' ,)" | cut -c1-120)"
    fi
}

echo "== 1. kill -9 of rank 1"
start killed
if [ -z "$r1" ]; then
    bad "killed: could not find rank 1 (OMPI_COMM_WORLD_RANK=1) among the job's processes"
else
    echo "  killed: rank 1 is pid $r1; kill -9"
    t0=$(now_ms)
    kill -9 "$r1"
    finish killed 10 "$t0"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 999 ]; then ok "killed: mpirun exits non-zero ($rc)"
    else bad "killed: mpirun exit status $rc"; fi
    if [ "$rc" -ne 999 ] && [ "$elapsed" -le 10000 ]; then ok "killed: the job ends within 10 s (${elapsed} ms)"
    else bad "killed: the job took ${elapsed} ms (limit 10 s)"; fi
    if grep -Eq "process rank 1 .*(exited on signal 9|killed)" "$tmp/killed.err" "$tmp/killed.out"; then
        ok "killed: the output names the lost rank ($(grep -Eho 'process rank 1 .*' "$tmp/killed.err" "$tmp/killed.out" | head -1))"
    else
        bad "killed: no message naming rank 1 as killed by signal 9"
    fi
    no_leftovers killed
fi

echo "== 2. kill -STOP of rank 1 with --timeout 3"
start stopped --timeout 3
if [ -z "$r1" ]; then
    bad "stopped: could not find rank 1 (OMPI_COMM_WORLD_RANK=1) among the job's processes"
else
    echo "  stopped: rank 1 is pid $r1; kill -STOP"
    t0=$(now_ms)
    kill -STOP "$r1"
    finish stopped 15 "$t0"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 999 ]; then ok "stopped: mpirun exits non-zero ($rc)"
    else bad "stopped: mpirun exit status $rc"; fi
    if [ "$rc" -ne 999 ] && [ "$elapsed" -le 15000 ]; then ok "stopped: the job ends within 15 s (${elapsed} ms)"
    else bad "stopped: the job took ${elapsed} ms (limit 15 s)"; fi
    # the waiting rank (0 or 2; rank 1 is frozen) reports the stall
    line=$(grep -E '^\[r[02]/3 [^]]*\] dbx: fatal: no progress for' "$tmp/stopped.err" | head -1)
    if [ -n "$line" ]; then ok "stopped: the watchdog names the waiting rank: $line"
    else bad "stopped: stderr has no '[rK/3 host] dbx: fatal: no progress for' line from rank 0 or 2"; fi
    # the frozen rank must not survive the job (SIGKILL ends stopped processes too)
    no_leftovers stopped
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
