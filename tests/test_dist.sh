#!/bin/bash
# Distributed `dbx train` with real MPI ranks on this machine (mpirun, loopback):
#  (a) equivalence: 20 steps with 1, 2 and 3 workers on the same global batches (same
#      --seed and --batch) save parameters that agree (dbx compare --rtol 1e-5), also with
#      a plain single-process run; every run has --check-replicas 1, which fails the run
#      unless all ranks hold bit-identical parameters after every step;
#  (b) every partition strategy (random, round-robin, lpt, similarity) with 3 workers gives
#      the parameters of 1 worker;
#  (c) a worker without samples does not hang: --batch 2 with 3 ranks succeeds within 60 s,
#      the metrics show a rank with 0 samples, and the result equals 1 worker's;
#  (d) --data - under mpirun: the training file on mpirun's standard input (rank 0 reads
#      it) trains the same parameters as --data FILE;
#  (e) --trace writes valid JSON with events on a track per rank; --metrics step lines
#      carry a "workers" array with one entry per rank (ranks 0..N-1);
#  (f) the Lattice-LSTM (synthetic lattices) with 1 and 3 workers: same parameters, and a
#      lattice file on standard input trains like the same file given by name.
# Usage: test_dist.sh DBX [SOURCE_DIR]     Environment: MPIEXEC (default mpirun).
# Prints "N passed, M failed"; exit status 1 on any failure.
set -u
dbx=${1:?usage: test_dist.sh DBX [SOURCE_DIR]}
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env

dbx_tmpdir dbx-dist


# run NAME LIMIT CMD...: runs CMD under `timeout LIMIT`, stdout/stderr to $tmp/NAME.out/.err,
# stdin from /dev/null unless redirected by the caller; sets $rc; shows stderr on failure.

common=(--steps 20 --embed 16 --hidden 16 --synthetic 300 --batch 24 --seed 7 --quiet)

echo "== (a) 1, 2, 3 workers, same global batches, --check-replicas 1"
dbx_run single 120 "$dbx" train "${common[@]}" --save "$tmp/single.bin" </dev/null
dbx_summary single 1 && ok "single process trains"
for np in 1 2 3; do
    dbx_run np$np 120 "$mpiexec" -np "$np" "$dbx" train "${common[@]}" --check-replicas 1 \
        --save "$tmp/np$np.bin" </dev/null
    dbx_summary np$np "$np" && ok "$np worker(s) under mpirun, replicas identical every step"
done
dbx_agree "$tmp/single.bin" "$tmp/np1.bin" 1e-5 "mpirun -np 1 = single process"
dbx_agree "$tmp/np1.bin" "$tmp/np2.bin" 1e-5 "2 workers = 1 worker"
dbx_agree "$tmp/np1.bin" "$tmp/np3.bin" 1e-5 "3 workers = 1 worker"

echo "== (b) partition strategies, 3 workers"
for p in random round-robin lpt similarity; do
    dbx_run part-$p 120 "$mpiexec" -np 3 "$dbx" train "${common[@]}" --partition "$p" \
        --check-replicas 1 --save "$tmp/part-$p.bin" </dev/null
    dbx_summary part-$p 3 && dbx_agree "$tmp/np1.bin" "$tmp/part-$p.bin" 1e-5 "--partition $p, 3 workers = 1 worker"
done

echo "== (c) a worker without samples: --batch 2 with 3 ranks"
idle=(--steps 20 --embed 16 --hidden 16 --synthetic 300 --batch 2 --seed 7 --quiet)
dbx_run idle 60 "$mpiexec" -np 3 "$dbx" train "${idle[@]}" --check-replicas 1 \
    --metrics "$tmp/idle.jsonl" --save "$tmp/idle.bin" </dev/null
if dbx_summary idle 3; then
    ok "--batch 2 with 3 ranks finishes"
    if python3 - "$tmp/idle.jsonl" <<'PY'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [s for s in steps if s.get("type") == "step"]
assert len(steps) == 20, len(steps)
assert all(any(w["samples"] == 0 for w in s["workers"]) for s in steps), "no idle rank"
PY
    then ok "metrics show an idle rank (0 samples) in every step"
    else bad "metrics of the --batch 2 run do not show an idle rank"; fi
    dbx_run idle1 60 "$dbx" train "${idle[@]}" --save "$tmp/idle1.bin" </dev/null
    dbx_summary idle1 1 && dbx_agree "$tmp/idle1.bin" "$tmp/idle.bin" 1e-5 "--batch 2: 3 ranks (one idle) = 1 worker"
fi

echo "== (d) --data - (training file on standard input) under mpirun"
dbx_run gen 60 "$dbx" gen-data --trees 200 --out "$tmp/f.txt" </dev/null
if [ "$rc" -eq 0 ] && [ -s "$tmp/f.txt" ]; then
    data=(--steps 10 --embed 16 --hidden 16 --batch 16 --seed 3 --quiet)
    dbx_run stdin 120 "$mpiexec" -np 2 "$dbx" train --data - "${data[@]}" --check-replicas 1 \
        --save "$tmp/stdin.bin" <"$tmp/f.txt"
    dbx_summary stdin 2 && ok "mpirun -np 2 dbx train --data - < f.txt"
    dbx_run file 120 "$mpiexec" -np 2 "$dbx" train --data "$tmp/f.txt" "${data[@]}" \
        --save "$tmp/file.bin" </dev/null
    dbx_summary file 2 && dbx_agree "$tmp/file.bin" "$tmp/stdin.bin" 1e-5 "--data - = --data f.txt"
else
    bad "dbx gen-data --trees 200 failed (exit $rc)"
fi

echo "== (e) --trace and --metrics with 3 ranks"
dbx_run trace 120 "$mpiexec" -np 3 "$dbx" train "${common[@]}" --trace "$tmp/trace.json" \
    --metrics "$tmp/metrics.jsonl" </dev/null
if dbx_summary trace 3; then
    if msg=$(python3 - "$tmp/trace.json" 3 2>&1 <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
ev = t["traceEvents"] if isinstance(t, dict) else t
names = {e["tid"]: e["args"]["name"] for e in ev
         if e.get("ph") == "M" and e.get("name") == "thread_name"}
for r in range(n):
    # a track per rank: a "rank R" thread with complete events on it
    tids = [tid for tid, name in names.items() if name == "rank %d" % r]
    assert tids, "no track named 'rank %d' (tracks: %s)" % (r, names)
    k = sum(1 for e in ev if e.get("ph") == "X" and e.get("tid") == tids[0])
    assert k > 0, "no events for rank %d" % r
    print("rank %d: %d events" % (r, k), end="; ")
PY
    ); then ok "trace is valid JSON with events for each rank ($msg)"
    else bad "trace: $msg"; fi
    if msg=$(python3 - "$tmp/metrics.jsonl" 3 2>&1 <<'PY'
import json, sys
n = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [d for d in lines if d.get("type") == "step"]
assert len(steps) == 20, "%d step lines" % len(steps)
for d in steps:
    w = d["workers"]
    assert [x["rank"] for x in w] == list(range(n)), "step %s: workers %s" % (d["step"], w)
    assert sum(x["samples"] for x in w) == d["samples"], "step %s: samples do not add up" % d["step"]
print("%d step lines" % len(steps), end="")
PY
    ); then ok "metrics: every step line has a workers array with ranks 0..2 ($msg)"
    else bad "metrics: $msg"; fi
fi

echo "== (f) lattice-lstm, 1 and 3 workers"
lat=(--model lattice-lstm --steps 12 --embed 16 --hidden 16 --synthetic 90 --batch 18 --seed 5
     --quiet)
for np in 1 3; do
    dbx_run lat$np 120 "$mpiexec" -np "$np" "$dbx" train "${lat[@]}" --check-replicas 1 \
        --save "$tmp/lat$np.bin" </dev/null
    dbx_summary lat$np "$np" && ok "lattice-lstm on $np worker(s), replicas identical every step"
done
dbx_agree "$tmp/lat1.bin" "$tmp/lat3.bin" 1e-5 "lattice-lstm: 3 workers = 1 worker"
dbx_run latgen 60 "$dbx" gen-data --format lattice --samples 60 --chars 300 --vocab 900 \
    --tags 6 --seed 2 --out "$tmp/l.txt" </dev/null
ldata=(--model lattice-lstm --steps 6 --embed 16 --hidden 16 --batch 12 --seed 3 --quiet)
dbx_run latstdin 120 "$mpiexec" -np 2 "$dbx" train --data - "${ldata[@]}" --save "$tmp/ls.bin" \
    <"$tmp/l.txt"
dbx_run latfile 120 "$mpiexec" -np 2 "$dbx" train --data "$tmp/l.txt" "${ldata[@]}" \
    --save "$tmp/lf.bin" </dev/null
dbx_agree "$tmp/lf.bin" "$tmp/ls.bin" 1e-5 "lattice-lstm: --data - = --data l.txt, 2 workers"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
