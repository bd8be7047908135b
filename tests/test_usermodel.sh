#!/bin/bash
# Models that are not built into dbx, trained through the public trainer with real MPI ranks:
#  (a) tests/usermodel.c (a bag-of-words classifier defined in the test) under mpirun -np 1
#      and -np 3 trains to the same parameters (dbx compare --rtol 1e-5), every rank holding
#      identical parameters after every step (--check-replicas 1 inside);
#  (b) examples/treegru.c under mpirun -np 1 and -np 3 with the same --trees, --seed and
#      --steps saves parameters that agree within 1e-5, and its loss falls.
# Usage: test_usermodel.sh USERMODEL TREEGRU DBX     Environment: MPIEXEC (default mpirun).
set -u
usermodel=$1 treegru=$2 dbx=$3
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env
dbx_tmpdir dbx-usermodel

echo "== (a) a model defined in the test, 1 and 3 ranks"
for np in 1 3; do
    dbx_run um$np 120 "$mpiexec" -np "$np" "$usermodel" --steps 30 --save "$tmp/um$np.bin" \
        </dev/null
    if [ "$rc" -eq 0 ] && grep -q "^usermodel: $np rank(s), 30 steps.*(falls)" "$tmp/um$np.out"
    then ok "usermodel trains on $np rank(s) and its loss falls"
    else bad "usermodel on $np rank(s): exit $rc, '$(head -1 "$tmp/um$np.out")'"; fi
done
dbx_agree "$tmp/um1.bin" "$tmp/um3.bin" 1e-5 "usermodel: 3 ranks = 1 rank"
if grep -q "^dbx-vocab 1 model=test-bow " "$tmp/um1.bin.vocab" 2>/dev/null; then
    ok "usermodel: the meta names the model type"
else bad "usermodel: bad or missing $tmp/um1.bin.vocab"; fi

echo "== (b) examples/treegru, 1 and 3 ranks"
for np in 1 3; do
    dbx_run tg$np 120 "$mpiexec" -np "$np" "$treegru" --trees 300 --seed 3 --steps 40 \
        --save "$tmp/tg$np.bin" </dev/null
    if [ "$rc" -eq 0 ] && grep -q "^treegru: $np rank(s), 40 steps.*: falls" "$tmp/tg$np.out"
    then ok "treegru trains on $np rank(s) and its loss falls"
    else bad "treegru on $np rank(s): exit $rc, '$(head -1 "$tmp/tg$np.out")'"; fi
done
dbx_agree "$tmp/tg1.bin" "$tmp/tg3.bin" 1e-5 "treegru: 3 ranks = 1 rank"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
