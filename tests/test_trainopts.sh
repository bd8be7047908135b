#!/bin/bash
# The training options with real MPI ranks (mpirun, loopback) and through the `dbx` program:
#  (a) --dropout 0.3 --clip-norm 1 --weight-decay 1e-4 --lr-schedule cosine --warmup 5 on 1
#      and 3 workers (--check-replicas 1: every rank bit-identical after every step) saves
#      parameters that agree within 1e-5 (dbx compare), for the Tree-LSTM with Adam (decoupled
#      decay), SGD and Adagrad (coupled), a step schedule, the BiLSTM tagger and the
#      Lattice-LSTM, and a model type of one's own (examples/treegru reads the dropout from
#      the meta) (Adagrad within 1e-4, with the round-robin partition: its first step
#      divides each gradient by |g| + 1e-8, which turns float noise in near-zero gradients
#      into differences above 1e-5, with or without these options); the dropout takes effect
#      (another result than without it) and a second 3-worker run with the round-robin
#      partition is bit-identical (same checksum; the similarity partition follows measured
#      times, so its float summation order may change from run to run);
#  (b) clipping: per step, the learning rate, the gradient norm (the norm of the mean
#      gradient after the all-reduce, before clipping) and whether it clipped are the same on
#      1 and 3 ranks (tests/trainsteps prints them); a tiny --clip-norm changes the result
#      against none, --clip-norm 0 computes no norm;
#  (c) --keep-best --patience 2 with a dev set: the run stops two evaluations after the last
#      improvement (the line says why), `dbx eval` of the kept file FILE gives the best dev
#      accuracy printed and of FILE.last the last one; a second run is identical; on 2 ranks
#      the same rules hold;
#  (d) bad values of the options are refused (exit 2, or 1 for what only the trainer knows),
#      --help lists them and the header of a run names them.
# Usage: test_trainopts.sh DBX TRAINSTEPS TREEGRU     Environment: MPIEXEC (default mpirun).
# Prints "N passed, M failed"; exit status 1 on any failure.
set -u
dbx=${1:?usage: test_trainopts.sh DBX TRAINSTEPS TREEGRU}
steps=${2:?usage: test_trainopts.sh DBX TRAINSTEPS TREEGRU}
treegru=${3:?usage: test_trainopts.sh DBX TRAINSTEPS TREEGRU}
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env
dbx_tmpdir dbx-trainopts

# checksum NAME: the checksum of the summary line of run NAME
checksum() { sed -n 's/^train: .*checksum \(0x[0-9a-f]*\)$/\1/p' "$tmp/$1.out"; }
# epochs NAME: the epoch lines of run NAME without their times
epochs() { grep '^epoch' "$tmp/$1.err" | sed 's/, [0-9.]* s)/)/'; }

opts=(--dropout 0.3 --clip-norm 1 --weight-decay 1e-4 --lr-schedule cosine --warmup 5)
common=(--steps 20 --embed 16 --hidden 16 --batch 24 --seed 7 --quiet --check-replicas 1)

echo "== (a) 1 and 3 workers with dropout, clipping, weight decay and a schedule"
# a token|TAG file for the tagger
python3 - "$tmp/tags.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for s in range(150):
        n = 3 + s % 9
        f.write(" ".join("w%d|%s" % ((s * 7 + i * 5) % 41, "NVDA"[(s + 3 * i) % 4])
                         for i in range(n)) + "\n")
PY
# name | tolerance | arguments
cases=(
    "tree-adam|1e-5|--synthetic 300"
    "tree-sgd|1e-5|--synthetic 300 --optimizer sgd --lr 0.2"
    "tree-adagrad|1e-4|--synthetic 300 --optimizer adagrad --lr 0.05 --partition round-robin"
    "tree-step|1e-5|--synthetic 300 --lr-schedule step --lr-step-every 4 --lr-step-factor 0.7"
    "tree-rr|1e-5|--synthetic 300 --partition round-robin"
    "tagger|1e-5|--model bilstm-tagger --data $tmp/tags.txt"
    "lattice|1e-5|--model lattice-lstm --synthetic 90 --batch 18"
)
for c in "${cases[@]}"; do
    IFS='|' read -r name rtol args <<<"$c"
    read -r -a extra <<<"$args"
    for np in 1 3; do
        dbx_run "$name-np$np" 120 "$mpiexec" -np "$np" "$dbx" train "${common[@]}" "${opts[@]}" \
            "${extra[@]}" --save "$tmp/$name-np$np.bin" </dev/null
        dbx_summary "$name-np$np" "$np" || continue
    done
    dbx_agree "$tmp/$name-np1.bin" "$tmp/$name-np3.bin" "$rtol" "$name: 3 workers = 1 worker"
done
dbx_run again-np3 120 "$mpiexec" -np 3 "$dbx" train "${common[@]}" "${opts[@]}" --synthetic 300 \
    --partition round-robin </dev/null
if dbx_summary again-np3 3 && [ -n "$(checksum tree-rr-np3)" ] &&
   [ "$(checksum again-np3)" = "$(checksum tree-rr-np3)" ]; then
    ok "a second 3-worker run is bit-identical ($(checksum again-np3))"
else bad "3-worker runs differ: $(checksum again-np3) vs $(checksum tree-rr-np3)"; fi
nodrop=("${opts[@]}")
nodrop[1]=0
dbx_run nodrop 120 "$dbx" train "${common[@]}" "${nodrop[@]}" --synthetic 300 \
    --save "$tmp/nodrop.bin" </dev/null
if dbx_summary nodrop 1; then
    if msg=$("$dbx" compare --rtol 1e-3 "$tmp/nodrop.bin" "$tmp/tree-adam-np1.bin" 2>&1); then
        bad "dropout 0.3 trains as without dropout ($msg)"
    else ok "dropout takes effect ($msg)"; fi
fi

for np in 1 3; do
    dbx_run treegru-np$np 120 "$mpiexec" -np "$np" "$treegru" --trees 300 --seed 3 --steps 40 \
        --dropout 0.3 --save "$tmp/treegru-np$np.bin" </dev/null
done
dbx_agree "$tmp/treegru-np1.bin" "$tmp/treegru-np3.bin" 1e-5 \
    "treegru --dropout 0.3: 3 ranks = 1 rank"
dbx_run treegru-nodrop 120 "$treegru" --trees 300 --seed 3 --steps 40 \
    --save "$tmp/treegru-nodrop.bin" </dev/null
if [ -s "$tmp/treegru-nodrop.bin" ] && ! "$dbx" compare --rtol 1e-3 "$tmp/treegru-nodrop.bin" \
    "$tmp/treegru-np1.bin" >/dev/null 2>&1
then ok "treegru: the dropout reaches a model type of one's own"
else bad "treegru: --dropout 0.3 trains as without dropout"; fi

echo "== (b) clipping uses the gradient norm after the all-reduce"
clip=(--steps 12 --size 16 --synthetic 200 --batch 24 --seed 5 --dropout 0.3 --weight-decay 1e-4
      --lr-schedule cosine --warmup 5)
for np in 1 3; do
    dbx_run steps-np$np 120 "$mpiexec" -np "$np" "$steps" "${clip[@]}" --clip-norm 1 \
        --save "$tmp/steps-np$np.bin" </dev/null
done
if msg=$(python3 - "$tmp/steps-np1.out" "$tmp/steps-np3.out" 2>&1 <<'PY'
import sys
def read(p):
    rows = [l.split() for l in open(p) if l.startswith("step ")]
    return [(int(r[1]), float(r[3]), float(r[5]), int(r[7])) for r in rows]
a, b = read(sys.argv[1]), read(sys.argv[2])
assert len(a) == 12 and len(b) == 12, "%d and %d step lines" % (len(a), len(b))
worst = 0
for x, y in zip(a, b):
    assert x[0] == y[0] and x[1] == y[1], "step %d: lr %g vs %g" % (x[0], x[1], y[1])
    rel = abs(x[2] - y[2]) / x[2]
    assert rel < 1e-5, "step %d: gradient norm %.9g on 1 rank, %.9g on 3" % (x[0], x[2], y[2])
    assert x[3] == y[3] == (x[2] > 1), \
        "step %d: clipped %d / %d at norm %g" % (x[0], x[3], y[3], x[2])
    worst = max(worst, rel)
print("12 steps, %d clipped, norms %.3g..%.3g agree within %.1e"
      % (sum(x[3] for x in a), min(x[2] for x in a), max(x[2] for x in a), worst))
PY
); then ok "1 and 3 ranks: same rates, gradient norms and clipping per step ($msg)"
else bad "per-step rates and norms of 1 and 3 ranks: $msg"; fi
dbx_agree "$tmp/steps-np1.bin" "$tmp/steps-np3.bin" 1e-5 "trainsteps: 3 ranks = 1 rank"
dbx_run noclip 120 "$steps" "${clip[@]}" --clip-norm 0 --save "$tmp/noclip.bin" </dev/null
dbx_run tinyclip 120 "$steps" "${clip[@]}" --clip-norm 0.01 --save "$tmp/tinyclip.bin" </dev/null
if grep -q "grad_norm nan clipped 0" "$tmp/noclip.out" && ! grep -q "clipped 1" "$tmp/noclip.out"
then ok "--clip-norm 0: no norm, nothing clipped"
else bad "--clip-norm 0: $(head -1 "$tmp/noclip.out")"; fi
if [ "$(grep -c "clipped 1" "$tmp/tinyclip.out")" -eq 12 ] &&
   ! "$dbx" compare --rtol 1e-3 "$tmp/noclip.bin" "$tmp/tinyclip.bin" >/dev/null 2>&1
then ok "--clip-norm 0.01 clips every step and changes the result"
else bad "--clip-norm 0.01 did not clip or changed nothing"; fi

echo "== (c) --keep-best and --patience"
"$dbx" gen-data --trees 200 --seed 1 --out "$tmp/train.txt" >/dev/null 2>&1
"$dbx" gen-data --trees 60 --seed 11 --out "$tmp/dev.txt" >/dev/null 2>&1
kb=(train --data "$tmp/train.txt" --dev "$tmp/dev.txt" --epochs 40 --embed 16 --hidden 16
    --batch 20 --lr 0.003 --keep-best --patience 2 --log-every 0)
# check_kb NAME FILE: the run stopped two evaluations after its best, printing why; FILE holds
# the best epoch's parameters and FILE.last the last ones (dbx eval, the same batch)
check_kb() {
    local name=$1 file=$2 best last msg
    best=$("$dbx" eval --data "$tmp/dev.txt" --load "$file" --batch 20 2>&1)
    last=$("$dbx" eval --data "$tmp/dev.txt" --load "$file.last" --batch 20 2>&1)
    if msg=$(python3 - "$tmp/$name.err" "$best" "$last" "$file" 2>&1 <<'PY'
import re, sys
err, best, last, path = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
acc = [float(a) for a in re.findall(r"^  dev loss/node [0-9.]+, root_fine ([0-9.]+)%", err, re.M)]
assert acc, "no epoch lines"
top = max(acc)
b = acc.index(top) + 1                      # the first epoch with the best accuracy
m = re.search(r"^early stop after epoch (\d+) \(step \d+ of \d+\): dev root_fine has not "
              r"improved for 2 evaluations \(patience 2\); best ([0-9.]+)% after epoch (\d+)",
              err, re.M)
assert m, "no early-stop line"
assert int(m.group(1)) == len(acc) == b + 2, "stopped after epoch %s, best %d, %d epochs" % (
    m.group(1), b, len(acc))
assert float(m.group(2)) == top and int(m.group(3)) == b, m.group(0)
saved = [int(e) for e in re.findall(r"^keep-best: dev root_fine [0-9.]+% after epoch (\d+) .* "
                                    r"saved to ", err, re.M)]
assert saved and saved[-1] == b, "saved after epochs %s, best %d" % (saved, b)
assert "keep-best: %s holds the parameters of epoch %d (best dev)" % (path, b) in err
e = re.search(r"root_fine ([0-9.]+)%", best)
assert e and float(e.group(1)) == top, "dbx eval of the kept file: %s, best %.2f" % (best, top)
e = re.search(r"root_fine ([0-9.]+)%", last)
assert e and float(e.group(1)) == acc[-1], "dbx eval of FILE.last: %s, last %.2f" % (last, acc[-1])
print("best %.2f%% after epoch %d, stopped after epoch %d, saved after epochs %s"
      % (top, b, len(acc), saved))
PY
    ); then ok "$name: $msg; dbx eval of the kept file agrees"
    else bad "$name: $msg"; fi
}
dbx_run kb1 120 "$dbx" "${kb[@]}" --save "$tmp/kb1.bin" </dev/null
[ "$rc" -eq 0 ] && check_kb kb1 "$tmp/kb1.bin"
dbx_run kb2 120 "$dbx" "${kb[@]}" --save "$tmp/kb2.bin" </dev/null
if [ "$rc" -eq 0 ] && cmp -s "$tmp/kb1.bin" "$tmp/kb2.bin" && cmp -s "$tmp/kb1.bin.last" \
   "$tmp/kb2.bin.last" && diff <(epochs kb1) <(epochs kb2) >/dev/null
then ok "a second run stops at the same epoch with identical files"
else bad "a second --keep-best --patience run differs"; fi
dbx_run kbnp2 120 "$mpiexec" -np 2 "$dbx" "${kb[@]}" --save "$tmp/kbnp2.bin" </dev/null
[ "$rc" -eq 0 ] && check_kb kbnp2 "$tmp/kbnp2.bin"

echo "== (d) the options of dbx train"
# usage ERR-PATTERN ARGS...: dbx train ARGS exits 2 (usage) or 1 (runtime) naming the problem
usage() {
    local want=$1
    shift
    "$dbx" train --steps 1 --synthetic 20 --quiet "$@" >"$tmp/u.out" 2>"$tmp/u.err" </dev/null
    local code=$?
    if [ "$code" -ne 0 ] && grep -q -- "$want" "$tmp/u.err"; then ok "$* -> exit $code: $want"
    else bad "$*: exit $code, '$(head -1 "$tmp/u.err")' (want '$want')"; fi
}
usage "--dropout: expected a number in \[0, 1), got '1'" --dropout 1
usage "--clip-norm: expected a number >= 0, got '-1'" --clip-norm -1
usage "--weight-decay: expected a number >= 0, got 'x'" --weight-decay x
usage "--lr-schedule: expected constant, step or cosine, got 'linear'" --lr-schedule linear
usage "--warmup: expected a non-negative integer" --warmup -3
usage "--patience: expected a non-negative integer" --patience -1
usage "the step schedule needs lr_step_every > 0" --lr-schedule step
usage "--keep-best needs a dev set" --keep-best --save "$tmp/x.bin"
usage "--keep-best needs --save" --keep-best --dev "$tmp/dev.txt"
usage "--patience needs a dev set" --patience 2
"$dbx" train --help >"$tmp/help.out"
if grep -q -- "--keep-best" "$tmp/help.out" && grep -q -- "--lr-schedule S" "$tmp/help.out"
then ok "dbx train --help lists the training options"
else bad "dbx train --help lacks the training options"; fi
"$dbx" train --steps 2 --synthetic 20 --dropout 0.25 --weight-decay 0.01 --lr-schedule step \
    --lr-step-every 1 >"$tmp/h.out" 2>"$tmp/h.err" </dev/null
want="options: clip-norm 5, dropout 0.25, weight decay 0.01 (decoupled), lr schedule step,"
want+=" warm-up 0 steps (x 0.5 every 1 steps), keep-best off, patience 0"
if grep -qxF "$want" "$tmp/h.err"
then ok "the header names the options"
else bad "header: '$(grep '^options' "$tmp/h.err")'"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
