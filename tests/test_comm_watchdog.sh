#!/bin/bash
# comm/ failure handling under mpirun with 2 ranks (test_comm's special modes):
#  1. --watchdog-test: rank 1 stalls for 30 s before a barrier, the watchdog timeout is 2 s:
#     the job must end non-zero within ~10 s, and stderr must name the waiting rank (r0/2),
#     say "no progress" and give the context that the program set.
#  2. --abort-test: rank 1 calls dbx__comm_abort: the job must end non-zero at once and
#     stderr must carry rank 1's "[r1/2 host] dbx: fatal: ..." line.
#  3. the suite with DBX_COMM_TEST_FAIL_RANK=1: one failed assertion on rank 1 only must
#     make the job exit non-zero (the ranks sum their failure counts).
# Usage: test_comm_watchdog.sh MPIEXEC TEST_COMM
set -u
mpiexec=$1 prog=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

run() { # name max_seconds args...
    local name=$1 max=$2
    shift 2
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout 60 "$mpiexec" -np 2 --oversubscribe "$prog" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    t1=$(date +%s.%N)
    elapsed=$(echo "$t1 - $t0" | bc)
    echo "$name: exit $rc after ${elapsed} s"
    sed 's/^/  | /' "$tmp/$name.err" | head -20
    if [ "$rc" -eq 0 ]; then echo "FAIL: $name: the job exited 0"; fail=1; fi
    if [ "$rc" -eq 124 ]; then echo "FAIL: $name: the job hung (killed after 60 s)"; fail=1; fi
    if [ "$(echo "$elapsed > $max" | bc)" = 1 ]; then
        echo "FAIL: $name: took ${elapsed} s (limit $max s)"; fail=1
    fi
}

expect() { # name pattern
    if ! grep -q -- "$2" "$tmp/$1.err"; then echo "FAIL: $1: stderr lacks '$2'"; fail=1; fi
}

run watchdog 12 --watchdog-test
expect watchdog "\[r0/2 [^]]*\] dbx: fatal: no progress for"
expect watchdog "in dbx__comm_barrier/MPI_Barrier (watchdog test step 7): a rank died or hangs"

run abort 12 --abort-test
expect abort "\[r1/2 [^]]*\] dbx: fatal: abort test: rank 1 gives up"

DBX_COMM_TEST_FAIL_RANK=1 run agree 60
expect agree "\[r1/2\] FAILED test_deliberate_failure"
grep -Eq "[1-9][0-9]* failures? on all ranks together" "$tmp/agree.out" ||
    { echo "FAIL: agree: rank 0 (which passed its tests) does not count rank 1's failure"; fail=1; }

if [ "$fail" -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "3 passed, 0 failed"
