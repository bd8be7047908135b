#!/usr/bin/env bash
# `dbx predict` end to end (ctest "predict_cli"): a Tree-LSTM, a BiLSTM tagger and a
# Lattice-LSTM trained for a few steps with --save, then predictions on unlabelled trees,
# plain sentences and lattices: valid JSON lines (python3), one per sample, probabilities
# summing to 1, labelled and unlabelled input predicting alike, and predicted labels scoring
# what `dbx eval` reports (root_fine, accuracy), also trained, evaluated and predicted with
# --precision bf16; bad input (file:line:col, non-zero exit, no
# --out file left, an existing one untouched) and usage errors. Self-contained: all files
# live in a temporary directory. Skips (77) without python3. Usage: test_predict.sh path/to/dbx
set -u
DBX=${1:?usage: test_predict.sh path/to/dbx}
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to check the JSON lines"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dbx-predict.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 rc=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
    if [ -s "$T/err" ]; then sed 's/^/    stderr: /' "$T/err" | head -n 5; fi
}
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect() { # WANT DESC CMD...
    local want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$want" ]; then ok; else bad "$desc: exit $rc, want $want"; fi
}
has() { if grep -qF -- "$2" "$1"; then ok; else bad "$3: $(basename "$1") lacks '$2'"; fi; }
# check DESC PYTHON-CODE ARGS...: queues a check for run_checks, which runs them all in one
# python3 process (its start-up is most of a check's time); the code sees ARGS as sys.argv[1:]
# and fails by raising (an assertion's message explains).
nchecks=0
check() {
    nchecks=$((nchecks + 1))
    printf '%s' "$1" >"$T/check$nchecks.desc"
    printf '%s\n' "$2" >"$T/check$nchecks.py"
    shift 2
    printf '%s\0' "$@" >"$T/check$nchecks.args"
}
run_checks() {
    local out n
    out=$(python3 - "$T" "$nchecks" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    desc = open("%s/check%d.desc" % (d, i)).read()
    sys.argv = ["check"] + open("%s/check%d.args" % (d, i)).read().split("\0")[:-1]
    try:
        exec(open("%s/check%d.py" % (d, i)).read(), {})
        print("ok")
    except Exception as e:
        print("FAIL: %s: %s" % (desc, (str(e) or type(e).__name__).replace("\n", " ")[:300]))
PY
    )
    printf '%s\n' "$out" | grep '^FAIL'
    pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok$')))
    fail=$((fail + $(printf '%s\n' "$out" | grep -c '^FAIL')))
    n=$(printf '%s\n' "$out" | grep -cE '^(ok$|FAIL)')
    if [ "$n" -ne "$nchecks" ]; then bad "python checks: $n of $nchecks ran: $out"; fi
}
# no_output FILE DESC: neither FILE nor a temporary file of it exists
no_output() {
    if [ -e "$1" ] || ls "$1".tmp.* >/dev/null 2>&1; then bad "$2: left $(basename "$1")"
    else ok; fi
}
# The JSON lines of $1: valid, $2 of them, each with key "probs" (numbers in [0, 1]) and, if
# $3 is given, the key $3 with a distribution summing to 1.
JSONL='
import json, re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "no final newline"
objs = [json.loads(l) for l in lines[:-1]]
assert len(objs) == int(sys.argv[2]), "%d lines, want %s" % (len(objs), sys.argv[2])
for o in objs:
    assert all(0 <= p <= 1 for p in o["probs"]), o
    if len(sys.argv) > 3:
        assert abs(sum(o[sys.argv[3]]) - 1) < 1e-4, o
'
# The root_fine (%.2f) of the predictions $2 against the labelled trees $1 is $3.
ROOT_FINE='
import json, re, sys
gold = [int(re.match(r"\((\d)", l).group(1)) for l in open(sys.argv[1]) if l.strip()]
pred = [json.loads(l)["label"] for l in open(sys.argv[2])]
acc = "%.2f" % (100 * sum(g == p for g, p in zip(gold, pred)) / len(gold))
assert acc == sys.argv[3], "%s%% from the predictions" % acc
'

# ---- Tree-LSTM ---------------------------------------------------------------------------
"$DBX" gen-data --trees 40 --vocab 200 --seed 7 --out "$T/g.txt" 2>"$T/err"
sed -E 's/\(([0-4]) /(/g' "$T/g.txt" >"$T/u.txt" # "(3 (2 An) (4 good))" -> "((An) (good))"
expect 0 "train treelstm" "$DBX" train --data "$T/g.txt" --embed 16 --hidden 16 --batch 8 \
    --steps 15 --lr 0.01 --save "$T/tl.bin" --quiet
expect 0 "eval treelstm" "$DBX" eval --load "$T/tl.bin" --data "$T/g.txt"
root_fine=$(sed -nE 's/.*root_fine ([0-9.]+)%.*/\1/p' "$T/out")
expect 0 "predict unlabelled trees --out" "$DBX" predict --load "$T/tl.bin" --data "$T/u.txt" \
    --out "$T/tl.jsonl"
has "$T/err" "predict: 40 trees -> $T/tl.jsonl" "predict --out summary"
if [ -s "$T/out" ]; then bad "predict --out wrote to stdout"; else ok; fi
if ls "$T"/tl.jsonl.tmp.* >/dev/null 2>&1; then bad "predict left a temporary file"; else ok; fi
check "tree JSON lines" "$JSONL" "$T/tl.jsonl" 40 probs
check "tree labels and binary" '
import json, re, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert o["label"] in range(5) and len(o["probs"]) == 5, o
    assert o["probs"][o["label"]] == max(o["probs"]), o
    assert o["binary"] in ("positive", "negative"), o
' "$T/tl.jsonl"
# labelled input predicts alike, to stdout
expect 0 "predict labelled trees" "$DBX" predict --model treelstm --load "$T/tl.bin" --data "$T/g.txt"
if cmp -s "$T/out" "$T/tl.jsonl"; then ok; else bad "labelled and unlabelled trees predict differently"; fi
# the predicted root labels score what eval reports
check "root_fine from the predictions = eval's ($root_fine%)" "$ROOT_FINE" "$T/g.txt" \
    "$T/tl.jsonl" "$root_fine"
# --detail: the label of every node
expect 0 "predict --detail" "$DBX" predict --load "$T/tl.bin" --data "$T/u.txt" --detail \
    --batch 7 --scheduler depth --no-dedup
cp "$T/out" "$T/detail.jsonl"
check "--detail nodes" '
import json, re, sys
trees = [l for l in open(sys.argv[1]) if l.strip()]
objs = [json.loads(l) for l in open(sys.argv[2])]
assert len(objs) == len(trees)
for t, o in zip(trees, objs):
    assert len(o["nodes"]) == t.count("("), (len(o["nodes"]), t.count("("))
    assert o["nodes"][-1] == o["label"], o
' "$T/g.txt" "$T/detail.jsonl"
echo '((the cat) (sat (down here)))' | "$DBX" predict --load "$T/tl.bin" --data - >"$T/one.jsonl" 2>"$T/err"
check "a hand-written tree from stdin" "$JSONL" "$T/one.jsonl" 1 probs

# ---- --precision bf16: train, save, eval and predict in bf16 (oneDNN; else a clear refusal) --
run "$DBX" train --data "$T/g.txt" --embed 16 --hidden 16 --batch 8 --steps 15 --lr 0.01 \
    --precision bf16 --save "$T/bf.bin" --quiet
if [ "$rc" -eq 0 ]; then
    expect 0 "eval --precision bf16" "$DBX" eval --load "$T/bf.bin" --data "$T/g.txt" \
        --precision bf16
    bf_fine=$(sed -nE 's/.*root_fine ([0-9.]+)%.*/\1/p' "$T/out")
    expect 0 "predict --precision bf16" "$DBX" predict --load "$T/bf.bin" --data "$T/u.txt" \
        --precision bf16 --out "$T/bf.jsonl"
    check "bf16 tree JSON lines" "$JSONL" "$T/bf.jsonl" 40 probs
    check "bf16 root_fine from the predictions = bf16 eval's ($bf_fine%)" "$ROOT_FINE" \
        "$T/g.txt" "$T/bf.jsonl" "$bf_fine"
    # bf16-trained parameters predict in fp32 too (the checkpoint is fp32 either way)
    expect 0 "predict bf16-trained in fp32" "$DBX" predict --load "$T/bf.bin" --data "$T/u.txt" \
        --out "$T/bf32.jsonl"
    check "fp32 predictions of bf16-trained parameters" "$JSONL" "$T/bf32.jsonl" 40 probs
else
    has "$T/err" "precision bf16 needs oneDNN" "train --precision bf16 without oneDNN"
    expect 1 "predict --precision bf16 without oneDNN" "$DBX" predict --load "$T/tl.bin" \
        --data "$T/u.txt" --precision bf16
    has "$T/err" "precision bf16 needs oneDNN" "predict --precision bf16 without oneDNN"
fi
expect 2 "predict --precision fp16" "$DBX" predict --load "$T/tl.bin" --data "$T/u.txt" \
    --precision fp16
has "$T/err" "dbx predict: --precision: expected fp32 or bf16, got 'fp16'" "bad --precision"

# ---- errors --------------------------------------------------------------------------------
printf '((a b) c)\n(a b c)\n' >"$T/bad.txt"
echo "old" >"$T/keep.jsonl"
expect 1 "bad input" "$DBX" predict --load "$T/tl.bin" --data "$T/bad.txt" --out "$T/new.jsonl"
has "$T/err" "dbx: error: $T/bad.txt:2:6: expected ')' after two children" "bad input"
no_output "$T/new.jsonl" "bad input"
expect 1 "bad input, existing --out" "$DBX" predict --load "$T/tl.bin" --data "$T/bad.txt" \
    --out "$T/keep.jsonl"
if [ "$(cat "$T/keep.jsonl")" = "old" ]; then ok; else bad "a failed predict changed --out"; fi
printf '\n\n' >"$T/empty.txt"
expect 1 "empty input" "$DBX" predict --load "$T/tl.bin" --data "$T/empty.txt"
has "$T/err" "empty.txt: expected at least one tree" "empty input"
expect 1 "missing input" "$DBX" predict --load "$T/tl.bin" --data "$T/none.txt"
has "$T/err" "none.txt" "missing input"
expect 1 "wrong model" "$DBX" predict --model bilstm-tagger --load "$T/tl.bin" --data "$T/u.txt"
has "$T/err" "the parameters are of a treelstm model, not bilstm-tagger" "wrong model"
expect 1 "missing parameters" "$DBX" predict --load "$T/none.bin" --data "$T/u.txt"
has "$T/err" "none.bin.vocab" "missing parameters"
cp "$T/tl.bin.vocab" "$T/meta.txt"
cp "$T/tl.bin" "$T/alone.bin"
expect 0 "--vocab" "$DBX" predict --load "$T/alone.bin" --vocab "$T/meta.txt" --data "$T/u.txt"
if cmp -s "$T/out" "$T/tl.jsonl"; then ok; else bad "--vocab predicts differently"; fi
expect 1 "--vocab missing" "$DBX" predict --load "$T/tl.bin" --vocab "$T/none.vocab" --data "$T/u.txt"
has "$T/err" "none.vocab" "--vocab missing"
expect 1 "unwritable --out" "$DBX" predict --load "$T/tl.bin" --data "$T/u.txt" \
    --out "$T/no/dir/p.jsonl"
expect 2 "no --load" "$DBX" predict --data "$T/u.txt"
has "$T/err" "dbx predict: --load is required" "no --load"
expect 2 "no --data" "$DBX" predict --load "$T/tl.bin"
has "$T/err" "dbx predict: --data is required" "no --data"
expect 2 "bad --batch" "$DBX" predict --load "$T/tl.bin" --data "$T/u.txt" --batch 0
has "$T/err" "dbx predict: --batch: expected a positive integer, got '0'" "bad --batch"
expect 2 "bad --model" "$DBX" predict --model rnn --load "$T/tl.bin" --data "$T/u.txt"
expect 2 "unknown option" "$DBX" predict --frobnicate
has "$T/err" "dbx predict: unknown option '--frobnicate'" "unknown option"
expect 0 "predict --help" "$DBX" predict --help
for f in --load --vocab --data --out --model --detail --batch --scheduler --no-dedup --device; do
    has "$T/out" "$f" "predict --help mentions $f"
done
expect 0 "dbx help predict" "$DBX" help predict
has "$T/out" "usage: dbx predict" "dbx help predict"
expect 0 "dbx --help" "$DBX" --help
has "$T/out" "predict" "dbx --help lists predict"

# ---- BiLSTM tagger -------------------------------------------------------------------------
for i in $(seq 1 30); do
    echo "John|B-PER Smith|I-PER visited|O Paris|B-LOC w$((i % 5))|O"
    echo "The|O Acme|I-ORG Corp|I-ORG hired|O Bob|I-PER"
done >"$T/ner.txt"
sed -E 's/\|[^ ]*//g' "$T/ner.txt" >"$T/plain.txt"
expect 0 "train tagger" "$DBX" train --model bilstm-tagger --data "$T/ner.txt" --embed 16 \
    --hidden 16 --mlp 8 --batch 10 --steps 8 --lr 0.02 --save "$T/tg.bin" --quiet
expect 0 "eval tagger" "$DBX" eval --model bilstm-tagger --load "$T/tg.bin" --data "$T/ner.txt"
accuracy=$(sed -nE 's/.*, accuracy ([0-9.]+)%.*/\1/p' "$T/out")
expect 0 "predict plain sentences" "$DBX" predict --load "$T/tg.bin" --data "$T/plain.txt"
cp "$T/out" "$T/tg.jsonl"
check "tagger JSON lines" "$JSONL" "$T/tg.jsonl" 60
check "a tag per token; accuracy from the predictions = eval's ($accuracy%)" '
import json, re, sys
gold = [[t.rsplit("|", 1)[1] for t in l.split()] for l in open(sys.argv[1]) if l.strip()]
objs = [json.loads(l) for l in open(sys.argv[2])]
ok = n = 0
for g, o in zip(gold, objs):
    assert len(o["tags"]) == len(g) == len(o["probs"]), o
    ok += sum(a == b for a, b in zip(g, o["tags"]))
    n += len(g)
acc = "%.2f" % (100 * ok / n)
assert acc == sys.argv[3], "%s%% from the predictions" % acc
' "$T/ner.txt" "$T/tg.jsonl" "$accuracy"
expect 0 "predict tagged sentences" "$DBX" predict --load "$T/tg.bin" --data "$T/ner.txt"
if cmp -s "$T/out" "$T/tg.jsonl"; then ok; else bad "tagged and plain sentences predict differently"; fi
expect 0 "predict --detail (tagger)" "$DBX" predict --load "$T/tg.bin" --data "$T/plain.txt" --detail
cp "$T/out" "$T/tgd.jsonl"
check "tagger distributions" '
import json, re, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert len(o["dists"]) == len(o["tags"])
    for d, p in zip(o["dists"], o["probs"]):
        assert abs(sum(d) - 1) < 1e-4 and abs(max(d) - p) < 1e-6, (d, p)
' "$T/tgd.jsonl"

# ---- Lattice-LSTM --------------------------------------------------------------------------
"$DBX" gen-data --format lattice --samples 20 --chars 100 --vocab 200 --tags 4 --seed 5 \
    --out "$T/lat.txt" 2>"$T/err"
expect 0 "train lattice-lstm" "$DBX" train --model lattice-lstm --data "$T/lat.txt" --embed 16 \
    --hidden 16 --batch 10 --steps 4 --save "$T/lat.bin" --quiet
expect 0 "eval lattice-lstm" "$DBX" eval --model lattice-lstm --load "$T/lat.bin" --data "$T/lat.txt"
accuracy=$(sed -nE 's/.*, accuracy ([0-9.]+)%.*/\1/p' "$T/out")
expect 0 "predict lattices" "$DBX" predict --load "$T/lat.bin" --data "$T/lat.txt" --out "$T/lat.jsonl"
check "lattice JSON lines" "$JSONL" "$T/lat.jsonl" 20
check "a tag per node; accuracy from the predictions = eval's ($accuracy%)" '
import json, re, sys
w = [int(x) for x in open(sys.argv[1]).read().split()]
at, gold = 1, []
for _ in range(w[0]):
    n = w[at]; gold.append(w[at + 1:at + 1 + n]); at += 1 + n
    for i in range(n): at += 1 + 2 * w[at]
objs = [json.loads(l) for l in open(sys.argv[2])]
ok = n = 0
for g, o in zip(gold, objs):
    assert len(o["tags"]) == len(g), (len(o["tags"]), len(g))
    ok += sum(a == b for a, b in zip(g, o["tags"]))
    n += len(g)
acc = "%.2f" % (100 * ok / n)
assert acc == sys.argv[3], "%s%% from the predictions" % acc
' "$T/lat.txt" "$T/lat.jsonl" "$accuracy"

run_checks
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
