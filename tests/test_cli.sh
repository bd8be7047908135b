#!/usr/bin/env bash
# Tests of the `dbx` command-line program (tools/), run on the real binary by ctest ("cli"):
# help texts (also through `dbx help CMD`), usage errors (exit 2 with the expected message),
# gen-data | check-data round trips, malformed data files (non-zero exit below 128,
# "file:line:col: expected" on stderr), a short train -> eval run with metrics (schema, live
# records, whole lines after SIGKILL), progress lines (content, at most 100 characters,
# --quiet, --verbose) and saved parameters, every model metric by name (eval, the train
# summary and epoch lines, the metrics file), --load against explicit sizes, compare's exit
# status (0 equal, 1 different, 2 trouble), refusal of a truncated parameter file, and the
# tagger (span metrics on entity tags). `dbx predict`: test_predict.sh. Self-contained: all files live in a temporary
# directory that is removed at the end. Usage: test_cli.sh path/to/dbx
set -u
DBX=${1:?usage: test_cli.sh path/to/dbx}
T=$(mktemp -d "${TMPDIR:-/tmp}/dbx-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
rc=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
    if [ -s "$T/err" ]; then sed 's/^/    stderr: /' "$T/err" | head -n 5; fi
}
# run CMD...: stdout -> $T/out, stderr -> $T/err, exit status -> $rc
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
# expect WANT_RC DESC CMD...
expect() {
    local want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$want" ]; then ok; else bad "$desc: exit $rc, want $want"; fi
}
# has FILE FIXED-STRING DESC
has() {
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: $(basename "$1") lacks '$2'"; fi
}
# has_re FILE EXTENDED-REGEX DESC
has_re() {
    if grep -qE -- "$2" "$1"; then ok; else bad "$3: $(basename "$1") lacks /$2/"; fi
}
# usage_error DESC EXPECTED-STDERR CMD...: exit 2 with the message
usage_error() {
    local desc=$1 msg=$2
    shift 2
    expect 2 "$desc" "$@"
    has "$T/err" "$msg" "$desc"
}
# runtime_error DESC CMD...: non-zero exit below 128 (no crash) with "dbx: error:"
runtime_error() {
    local desc=$1
    shift
    run "$@"
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then ok; else bad "$desc: exit $rc"; fi
    has "$T/err" "dbx: error: " "$desc"
}

# ---- top level ---------------------------------------------------------------------------
expect 2 "no arguments" "$DBX"
has "$T/err" "usage: dbx" "no arguments"
expect 0 "--help" "$DBX" --help
for c in train eval predict gen-data check-data compare plot; do has "$T/out" "$c" "--help lists $c"; done
expect 0 "--version" "$DBX" --version
has_re "$T/out" '^dbx [0-9]+\.[0-9]+' "--version"
usage_error "unknown command" "unknown command 'frobnicate'" "$DBX" frobnicate

# ---- help of every subcommand mentions each flag --------------------------------------------
check_help() {
    local cmd=$1
    shift
    expect 0 "$cmd --help" "$DBX" "$cmd" --help
    for f in "$@"; do has "$T/out" "$f" "$cmd --help mentions $f"; done
    has "$T/out" "default" "$cmd --help gives defaults"
}
check_help train --model --data --dev --embed --hidden --mlp --batch --scheduler --optimizer \
    --lr --epochs --steps --seed --metrics --save --load --no-dedup --log-every --synthetic \
    --quiet --verbose --precision --help
check_help eval --model --data --load --batch --scheduler --synthetic --seed --no-dedup \
    --precision --help
check_help gen-data --format --samples --trees --vocab --chars --tags --seed --out --help
check_help check-data --format --help
check_help compare --rtol --help
has "$T/out" "Exit status: 0 if the files agree" "compare --help documents its exit status"
check_help plot --out --help
# dbx help CMD prints CMD's own help, as dbx CMD --help does
for c in train eval gen-data check-data compare plot; do
    "$DBX" "$c" --help >"$T/help_a" 2>&1
    expect 0 "help $c" "$DBX" help "$c"
    if cmp -s "$T/out" "$T/help_a" && grep -q "^usage: dbx $c" "$T/out"; then ok
    else bad "dbx help $c differs from dbx $c --help"; fi
done
expect 0 "help alone" "$DBX" help
has "$T/out" "usage: dbx <command>" "help alone"
usage_error "help of an unknown command" "dbx help: unknown command 'frob'" "$DBX" help frob

# ---- bad flags and values ---------------------------------------------------------------------
usage_error "batch x" "dbx train: --batch: expected a positive integer, got 'x'" \
    "$DBX" train --batch x
usage_error "batch 0" "dbx train: --batch: expected a positive integer, got '0'" \
    "$DBX" train --batch 0
usage_error "batch 1e3" "--batch: expected a positive integer, got '1e3'" "$DBX" train --batch 1e3
usage_error "batch too big" "--batch: expected a positive integer <= 1000000" \
    "$DBX" train --batch 2000000
usage_error "embed too big" "--embed: expected a positive integer <= 65536, got '65537'" \
    "$DBX" train --embed 65537
usage_error "hidden empty" "--hidden: expected a positive integer, got ''" "$DBX" train --hidden=
usage_error "lr abc" "--lr: expected a positive number, got 'abc'" "$DBX" train --lr abc
usage_error "lr 0" "--lr: expected a positive number, got '0'" "$DBX" train --lr 0
usage_error "lr nan" "--lr: expected a positive number, got 'nan'" "$DBX" train --lr nan
usage_error "seed -1" "--seed: expected a non-negative 64-bit integer, got '-1'" \
    "$DBX" train --seed -1
usage_error "steps -3" "--steps: expected a non-negative integer, got '-3'" \
    "$DBX" train --steps -3
usage_error "scheduler" "--scheduler: expected none, depth or agenda, got 'fifo'" \
    "$DBX" train --scheduler fifo
usage_error "model" "--model: expected treelstm, bilstm-tagger or lattice-lstm, got 'rnn'" \
    "$DBX" train --model rnn
usage_error "optimizer" "--optimizer: expected adam, sgd or adagrad, got 'lbfgs'" \
    "$DBX" train --optimizer lbfgs
usage_error "unknown flag" "dbx train: unknown option '--bogus'" "$DBX" train --bogus
has "$T/err" "dbx train --help" "unknown flag hints at --help"
usage_error "missing value" "dbx train: --batch: missing value" "$DBX" train --batch
usage_error "stray argument" "unexpected argument 'extra'" "$DBX" train extra
usage_error "eval without --load" "--load is required" "$DBX" eval
usage_error "eval batch" "dbx eval: --batch: expected a positive integer, got 'y'" \
    "$DBX" eval --load x --batch y
usage_error "gen-data trees" "dbx gen-data: --trees: expected a positive integer, got '-5'" \
    "$DBX" gen-data --trees -5
usage_error "check-data format" "--format: expected sst, tags or lattice, got 'xml'" \
    "$DBX" check-data --format xml x
usage_error "check-data without files" "expected at least one FILE" "$DBX" check-data

# ---- gen-data | check-data ----------------------------------------------------------------
expect 0 "gen-data to stdout" "$DBX" gen-data --trees 50 --vocab 300 --seed 3
cp "$T/out" "$T/gen_stdout.txt"
expect 0 "gen-data --out" "$DBX" gen-data --trees 50 --vocab 300 --seed 3 --out "$T/gen.txt"
if cmp -s "$T/gen.txt" "$T/gen_stdout.txt"; then ok; else bad "gen-data --out differs"; fi
n=$(cat "$T/gen.txt" 2>/dev/null | wc -l)
if [ "$n" -eq 50 ]; then ok; else bad "gen-data wrote $n lines"; fi
if ls "$T"/gen.txt.tmp.* >/dev/null 2>&1; then bad "gen-data left a temporary file"; else ok; fi
expect 0 "check-data on generated data" "$DBX" check-data "$T/gen.txt"
has "$T/out" "gen.txt: 50 trees" "check-data counts"
has_re "$T/out" "vocab [0-9]+, mean leaves [0-9.]+, height mean [0-9.]+ max [0-9]+" \
    "check-data stats"
"$DBX" gen-data --trees 20 2>"$T/err" | "$DBX" check-data /dev/stdin >"$T/out" 2>>"$T/err"
if [ "${PIPESTATUS[1]}" -eq 0 ]; then ok; else bad "gen-data | check-data /dev/stdin"; fi
has "$T/out" "20 trees" "gen-data | check-data"
"$DBX" gen-data --trees 10 --seed 4 --out "$T/g4a.txt"
"$DBX" gen-data --trees 10 --seed 4 >"$T/g4b.txt"
if cmp -s "$T/g4a.txt" "$T/g4b.txt"; then ok; else bad "gen-data is not deterministic"; fi
"$DBX" gen-data --trees 10 --seed 5 >"$T/g5.txt"
if cmp -s "$T/g4a.txt" "$T/g5.txt"; then bad "gen-data ignores --seed"; else ok; fi

# ---- malformed data files ----------------------------------------------------------------
printf '(2 (2 a) (2 b))\n(3 (2 a) (2 b)\n' >"$T/unbalanced.txt"
printf '((2 a) (2 b))\n' >"$T/nolabel.txt"
printf '(2 (2 a) (2 b) (2 c))\n' >"$T/three.txt"
printf '(7 (2 a) (2 b))\n' >"$T/badlabel.txt"
printf '(2 (2 a) (2 b))) junk\n' >"$T/trailing.txt"
printf '\x00\x01' >"$T/binary.txt"
: >"$T/empty.txt"
for f in unbalanced nolabel three badlabel trailing binary; do
    runtime_error "check-data $f" "$DBX" check-data "$T/$f.txt"
    has_re "$T/err" "$f\.txt:[0-9]+:[0-9]+: expected" "check-data $f"
    runtime_error "train on $f" "$DBX" train --data "$T/$f.txt" --steps 1 --quiet
    has_re "$T/err" "$f\.txt:[0-9]+:[0-9]+: expected" "train on $f"
done
runtime_error "check-data empty" "$DBX" check-data "$T/empty.txt"
has_re "$T/err" "empty\.txt(:[0-9]+:[0-9]+)?: expected" "check-data empty"
runtime_error "train on empty" "$DBX" train --data "$T/empty.txt" --steps 1 --quiet
runtime_error "check-data missing file" "$DBX" check-data "$T/nonexistent.txt"
has "$T/err" "nonexistent.txt" "check-data missing file"
run "$DBX" check-data "$T/gen.txt" "$T/three.txt"
if [ "$rc" -eq 1 ]; then ok; else bad "check-data good+bad: exit $rc, want 1"; fi
has "$T/out" "gen.txt: 50 trees" "check-data good+bad still reports the good file"
runtime_error "train with a missing --data" "$DBX" train --data "$T/nonexistent.txt" --quiet
runtime_error "metrics on failure" "$DBX" train --data "$T/three.txt" --metrics "$T/fail.jsonl"
if [ -e "$T/fail.jsonl" ] || ls "$T"/fail.jsonl.tmp.* >/dev/null 2>&1; then
    bad "a failed run left a metrics file"
else ok; fi

# ---- lattices ------------------------------------------------------------------------------
usage_error "gen-data format" "dbx gen-data: --format: expected sst or lattice, got 'tree'" \
    "$DBX" gen-data --format tree
usage_error "gen-data --trees with lattices" "dbx gen-data: --trees is for --format sst" \
    "$DBX" gen-data --format lattice --trees 3
usage_error "gen-data --chars with sst" "dbx gen-data: --chars is for --format lattice" \
    "$DBX" gen-data --chars 5
usage_error "gen-data lattice count" \
    "dbx gen-data: --samples: expected a positive integer <= 1000000, got '1000001'" \
    "$DBX" gen-data --format lattice --samples 1000001
expect 0 "gen-data --samples (sst)" "$DBX" gen-data --samples 10 --seed 4
if cmp -s "$T/out" "$T/g4a.txt"; then ok; else bad "gen-data --samples differs from --trees"; fi
# A hand-written file: 2 lattices; node 2 of the first has a character and a word arc.
printf '2\n3\n0 1 2\n0\n1 0 5\n2 1 6 0 7\n\n1\r\n0\r\n0\r\n' >"$T/lat.txt"
expect 0 "check-data lattice" "$DBX" check-data --format lattice "$T/lat.txt"
has "$T/out" "lat.txt: 2 lattices, 4 nodes (length 1..3, mean 2.0), 3 arcs (2 character, 1 word), \
in-degree 0:2 1:1 2:1, tags 0..2, character ids 5..6, word ids 7..7" "check-data lattice stats"
printf '1\n3\n0 1 2\n0\n1 0 5\n2 2 6 0 7\n' >"$T/latfrom.txt"
expect 1 "check-data lattice, FROM >= i" "$DBX" check-data --format lattice "$T/latfrom.txt"
has "$T/err" "dbx: error: $T/latfrom.txt:6:3: expected FROM of arc 0 into node 2 of lattice 0, \
a node 0..1 (got '2')" "check-data lattice, FROM >= i"
printf '1\n3\n0 1 2\n0\n1 0 5\n2 1 6 0\n' >"$T/lattrunc.txt"
printf '1\n3\n0 1 -2\n0\n1 0 5\n2 1 6 0 7\n' >"$T/latneg.txt"
printf '1\n2000000000\n0 1\n' >"$T/lathuge.txt"
printf '1\n2\n0 1\n0\n1 0 5\n9\n' >"$T/lattrail.txt"
printf '1\n2\n0 1\n0\n1 0 \x00\n' >"$T/latbinary.txt"
: >"$T/latempty.txt"
for f in lattrunc latneg lathuge lattrail latbinary latempty; do
    runtime_error "check-data lattice $f" "$DBX" check-data --format lattice "$T/$f.txt"
    has_re "$T/err" "^dbx: error: .*$f\.txt:[0-9]+:[0-9]+: expected " "check-data lattice $f"
done
has "$T/err" "latempty.txt:1:1: expected N_LATTICES" "check-data lattice, empty file"
run "$DBX" check-data --format lattice "$T/lat.txt" "$T/lattrunc.txt"
if [ "$rc" -eq 1 ]; then ok; else bad "check-data lattice good+bad: exit $rc, want 1"; fi
has "$T/out" "lat.txt: 2 lattices" "check-data lattice good+bad still reports the good file"
runtime_error "check-data sst as lattice" "$DBX" check-data --format lattice "$T/gen.txt"
has "$T/err" "gen.txt:1:1: expected N_LATTICES, an integer >= 1 (got '(" "sst as lattice"
expect 0 "gen-data lattice" "$DBX" gen-data --format lattice --samples 30 --seed 3 \
    --tags 5 --chars 50 --vocab 80 --out "$T/glat.txt"
"$DBX" gen-data --format lattice --samples 30 --seed 3 --tags 5 --chars 50 --vocab 80 \
    >"$T/glat2.txt"
if cmp -s "$T/glat.txt" "$T/glat2.txt"; then ok; else bad "gen-data lattice not deterministic"; fi
expect 0 "check-data on generated lattices" "$DBX" check-data --format lattice "$T/glat.txt"
has "$T/out" "glat.txt: 30 lattices" "check-data generated lattices"
has_re "$T/out" "tags 0\.\.[1-4], character ids [0-9]+\.\.(4[0-9]|[0-9]), word ids" \
    "generated lattice ranges"
"$DBX" gen-data --format lattice --samples 7 2>"$T/err" |
    "$DBX" check-data --format lattice - >"$T/out" 2>>"$T/err"
if [ "${PIPESTATUS[1]}" -eq 0 ]; then ok; else bad "gen-data lattice | check-data -"; fi
has "$T/out" "-: 7 lattices" "gen-data lattice | check-data -"

# ---- train -> eval -----------------------------------------------------------------------
expect 0 "train" "$DBX" train --steps 5 --embed 16 --hidden 16 --batch 8 --synthetic 200 \
    --metrics "$T/m.jsonl" --save "$T/p.bin" --log-every 1
has "$T/out" "train: 1 rank, 5 steps, 40 samples" "train summary line"
has_re "$T/out" "checksum 0x[0-9a-f]{16}" "train summary checksum"
has "$T/err" "blas: " "train header"
has_re "$T/err" "^step 5/5 ep 1 \| [0-9]+:[0-9]{2} elapsed, ETA [0-9]+:[0-9]{2} \| loss [0-9.]+ \| [0-9]+ sent/s$" \
    "train progress"
has_re "$T/err" "^step 1/5 ep 1 \| " "train progress every step (--log-every 1)"
if grep -q "per step:" "$T/err"; then bad "the timing breakdown without --verbose"; else ok; fi
# progress_width FILE DESC: every progress line of FILE has at most 100 characters
progress_width() {
    local long
    long=$(grep -E '^(step |  per step:|  time/step:|  workers:)' "$1" | awk 'length($0) > 100')
    if [ -z "$long" ]; then ok; else bad "$2: progress lines over 100 characters: $long"; fi
}
progress_width "$T/err" "train"
expect 0 "train --verbose" "$DBX" train --steps 4 --embed 16 --hidden 16 --batch 8 --synthetic 200 \
    --log-every 2 --verbose
has_re "$T/err" "^step 2/4 ep 1 \| " "--verbose progress"
has_re "$T/err" "^  per step: [0-9.]+ batches, width [0-9.]+, " "--verbose breakdown"
has_re "$T/err" "^  time/step: analysis [0-9.]+% \(build [0-9.]+ ms, sched [0-9.]+, plan [0-9.]+\), exec [0-9.]+ ms$" \
    "--verbose timings"
progress_width "$T/err" "--verbose"
expect 0 "train --quiet" "$DBX" train --steps 4 --embed 16 --hidden 16 --batch 8 --synthetic 200 \
    --quiet
if [ ! -s "$T/err" ]; then ok; else bad "--quiet wrote to stderr: $(head -c 200 "$T/err")"; fi
if [ "$(wc -l <"$T/out")" -eq 1 ] && grep -q '^train: 1 rank, 4 steps' "$T/out"; then ok
else bad "--quiet: want only the summary line, got: $(head -c 300 "$T/out")"; fi
runtime_error "--quiet still reports errors" "$DBX" train --data "$T/nonexistent.txt" --quiet
runtime_error "unwritable --metrics" "$DBX" train --steps 1 --metrics /nonexistent/dir/m.jsonl
has "$T/err" "cannot write the metrics file /nonexistent/dir/m.jsonl" "unwritable --metrics"
if grep -q "^train " "$T/err"; then bad "unwritable --metrics: failed only after setup"; else ok; fi
for f in m.jsonl p.bin p.bin.vocab; do
    if [ -s "$T/$f" ]; then ok; else bad "train did not write $f"; fi
done
if [ -s "$T/m.jsonl" ]; then
    if grep -qvE '^\{"type":"[a-z]+","time":[0-9]+\.[0-9]{3},"utc":"[0-9T:.-]+Z",.*\}$' "$T/m.jsonl"
    then bad "m.jsonl: bad line"; else ok; fi
    n=$(grep -c '"type":"step"' "$T/m.jsonl")
    if [ "$n" -eq 5 ]; then ok; else bad "m.jsonl has $n step lines"; fi
    if head -1 "$T/m.jsonl" | grep -q '^{"type":"config",'; then ok; else bad "m.jsonl: no config first"; fi
    has "$T/m.jsonl" '"type":"summary"' "m.jsonl summary"
    if grep -qiE ':(nan|inf)' "$T/m.jsonl"; then bad "m.jsonl has NaN/inf"; else ok; fi
    if python3 - "$T/m.jsonl" 2>"$T/err" <<'PY'
import json, sys
recs = [json.loads(line) for line in open(sys.argv[1])]
c = recs[0]
assert c["type"] == "config" and c["ranks"] == 1 and c["options"]["batch"] == 8, c
for k in ("dbx_version", "git_commit", "blas", "topology", "device"):
    assert k in c, k
for r in recs:
    for k in r:  # one unit per kind: durations are milliseconds, named *_ms
        assert not k.startswith("t_") and (k.endswith("per_s") or not k.endswith("_s")), k
steps = [r for r in recs if r["type"] == "step"]
assert [s["step"] for s in steps] == [1, 2, 3, 4, 5]
assert all(s["step_ms"] > 0 and s["workers"][0]["compute_ms"] > 0 for s in steps)
assert recs[-1]["type"] == "summary" and recs[-1]["steps"] == 5
PY
    then ok; else bad "m.jsonl schema: $(tail -2 "$T/err")"; fi
fi

# ---- metrics while the run goes, and after it is killed -------------------------------------
# A long run (10^12 steps: the compact progress line) with a dev set: the metrics file shows
# each step as it completes; killed with SIGKILL, it holds only whole JSON lines.
"$DBX" gen-data --trees 30 --seed 9 --out "$T/dev9.txt"
"$DBX" train --steps 1000000000000 --embed 16 --hidden 16 --batch 8 --synthetic 100 \
    --dev "$T/dev9.txt" --log-every 1 --metrics "$T/live.jsonl" >/dev/null 2>"$T/live.err" &
live=$!
for _ in $(seq 200); do
    if grep -q '"type":"eval"' "$T/live.jsonl" 2>/dev/null &&
        [ "$(grep -c '"type":"step"' "$T/live.jsonl")" -ge 15 ]; then break; fi
    sleep 0.05
done
n=$(grep -c '"type":"step"' "$T/live.jsonl" 2>/dev/null)
kill -9 "$live" 2>/dev/null
wait "$live" 2>/dev/null
if [ "${n:-0}" -ge 15 ]; then ok; else bad "live metrics: ${n:-0} step records while running"; fi
if python3 - "$T/live.jsonl" 2>"$T/err" <<'PY'
import json, sys
data = open(sys.argv[1]).read()
assert data.endswith("\n"), "the last line is incomplete"
recs = [json.loads(line) for line in data.splitlines()]
assert recs[0]["type"] == "config" and any(r["type"] == "eval" for r in recs)
steps = [r["step"] for r in recs if r["type"] == "step"]
assert steps == list(range(1, len(steps) + 1)), steps
PY
then ok; else bad "killed run: metrics not whole JSON lines: $(tail -2 "$T/err")"; fi
has_re "$T/live.err" "^step [0-9]+/1000000000000( ep [0-9]+)? \| [0-9:]+( elapsed,)? ETA [0-9:d?]+ \| loss [0-9.]+ \| dev root_fine [0-9.]+% \| [0-9]+ sent/s$" \
    "long run: progress line with the dev headline metric"
progress_width "$T/live.err" "long run"
expect 0 "eval --synthetic" "$DBX" eval --load "$T/p.bin" --synthetic 200 --batch 32
has_re "$T/out" "^eval: 200 samples, [0-9]+ labelled nodes, loss/node [0-9.]+, root_fine [0-9.]+%, \
root_binary [0-9.]+%, all_nodes [0-9.]+%$" "eval output: the Tree-LSTM's metrics, root_fine first"
expect 0 "eval --data" "$DBX" eval --load "$T/p.bin" --data "$T/gen.txt" --scheduler depth
has "$T/out" "eval: 50 samples" "eval --data"
has "$T/out" "root_fine" "eval --data"
runtime_error "eval wrong model" "$DBX" eval --load "$T/p.bin" --model bilstm-tagger \
    --data "$T/gen.txt"
has "$T/err" "treelstm" "eval wrong model"
expect 0 "train --load" "$DBX" train --load "$T/p.bin" --steps 2 --batch 8 --synthetic 200 --quiet
# dev metrics by name: the summary line, the epoch line and the metrics file
expect 0 "train --dev" "$DBX" train --load "$T/p.bin" --steps 3 --batch 8 --synthetic 40 \
    --dev "$T/gen.txt" --metrics "$T/dev.jsonl"
has_re "$T/out" "dev loss/node [0-9.]+, dev root_fine [0-9.]+%, dev root_binary [0-9.]+%, \
dev all_nodes [0-9.]+%, checksum" "train --dev summary names every dev metric, root_fine first"
has_re "$T/err" "dev loss/node [0-9.]+, root_fine [0-9.]+%, root_binary [0-9.]+%, all_nodes" \
    "train --dev epoch line"
has_re "$T/dev.jsonl" '"type":"summary".*"dev":\{.*"metrics":\{"root_fine":[0-9.e-]+,"root_binary":[0-9.e-]+,"all_nodes":[0-9.e-]+\}' \
    "metrics file: every dev metric by name"
# explicit sizes must agree with the loaded model's (--embed 16 --hidden 16 above)
expect 0 "train --load with equal sizes" "$DBX" train --load "$T/p.bin" --embed 16 --hidden 16 \
    --steps 1 --batch 8 --synthetic 200 --quiet
usage_error "train --load with another --hidden" \
    "dbx train: --hidden 32 conflicts with the loaded model: $T/p.bin.vocab has hidden 16" \
    "$DBX" train --load "$T/p.bin" --hidden 32 --steps 1 --synthetic 200 --quiet
usage_error "train --load with another --embed" "--embed 8 conflicts with the loaded model" \
    "$DBX" train --load "$T/p.bin" --embed 8 --steps 1 --synthetic 200 --quiet
# compare: 0 equal, 1 different, 2 trouble (like cmp and diff)
expect 0 "compare equal" "$DBX" compare "$T/p.bin" "$T/p.bin"
has "$T/out" "equal" "compare equal"
"$DBX" train --steps 6 --embed 16 --hidden 16 --batch 8 --synthetic 200 --save "$T/p6.bin" \
    --quiet >/dev/null
expect 1 "compare different values" "$DBX" compare "$T/p.bin" "$T/p6.bin"
has "$T/out" "DIFFERENT" "compare different values"
expect 0 "compare within a loose tolerance" "$DBX" compare --rtol 1e9 "$T/p.bin" "$T/p6.bin"
"$DBX" train --steps 1 --embed 16 --hidden 8 --batch 8 --synthetic 200 --save "$T/h8.bin" \
    --quiet >/dev/null
expect 1 "compare different shapes" "$DBX" compare "$T/p.bin" "$T/h8.bin"
has "$T/out" "different models: DIFFERENT" "compare different shapes"
expect 2 "compare a missing file" "$DBX" compare "$T/p.bin" "$T/missing.bin"
has "$T/err" "dbx: error: $T/missing.bin: cannot open" "compare a missing file"
expect 2 "compare one file" "$DBX" compare "$T/p.bin"
expect 2 "compare bad --rtol" "$DBX" compare --rtol x "$T/p.bin" "$T/p.bin"
head -c 1000 "$T/p.bin" >"$T/trunc.bin"
cp "$T/p.bin.vocab" "$T/trunc.bin.vocab"
expect 1 "eval of a truncated file" "$DBX" eval --load "$T/trunc.bin" --synthetic 200
has "$T/err" "dbx: error: " "truncated file"
has "$T/err" "trunc.bin" "truncated file"
expect 1 "train --load of a truncated file" "$DBX" train --load "$T/trunc.bin" --steps 1 --quiet
expect 2 "compare a truncated file" "$DBX" compare "$T/p.bin" "$T/trunc.bin"
has "$T/err" "trunc.bin" "compare a truncated file"
runtime_error "eval without .vocab" "$DBX" eval --load "$T/m.jsonl"

# ---- tagger ---------------------------------------------------------------------------------
for i in $(seq 1 60); do
    echo "the|DET w$((i % 7))|NOUN runs|VERB fast|ADV ."
done | sed 's/ \.$/ .|PUNCT/' >"$T/tags.txt"
expect 0 "check-data tags" "$DBX" check-data --format tags "$T/tags.txt"
has "$T/out" "60 sentences, 300 tokens" "check-data tags"
runtime_error "check-data tags as sst" "$DBX" check-data "$T/tags.txt"
expect 0 "tagger train" "$DBX" train --model bilstm-tagger --data "$T/tags.txt" \
    --dev "$T/tags.txt" --embed 16 --hidden 16 --mlp 8 --batch 10 --epochs 2 \
    --save "$T/t.bin" --quiet
has "$T/out" "dev accuracy" "tagger train"
expect 0 "tagger eval" "$DBX" eval --model bilstm-tagger --load "$T/t.bin" --data "$T/tags.txt"
has "$T/out" "eval: 60 samples, 300 labelled nodes" "tagger eval"
# entity tags: span F1 (the headline), precision, recall, token accuracy
for i in $(seq 1 30); do
    echo "John|B-PER Smith|I-PER visited|O Paris|B-LOC w$((i % 5))|O"
    echo "The|O Acme|I-ORG Corp|I-ORG hired|O Bob|I-PER"
done >"$T/ner.txt"
expect 0 "tagger train on entity tags" "$DBX" train --model bilstm-tagger --data "$T/ner.txt" \
    --dev "$T/ner.txt" --embed 16 --hidden 16 --mlp 8 --batch 10 --epochs 2 --save "$T/ner.bin" \
    --quiet
has_re "$T/out" "dev span_f1 [0-9.]+%, dev span_precision [0-9.]+%, dev span_recall [0-9.]+%, \
dev accuracy [0-9.]+%" "tagger train: span metrics"
expect 0 "tagger eval on entity tags" "$DBX" eval --model bilstm-tagger --load "$T/ner.bin" \
    --data "$T/ner.txt"
has_re "$T/out" "^eval: 60 samples, 300 labelled nodes, loss/node [0-9.]+, span_f1 [0-9.]+%, \
span_precision [0-9.]+%, span_recall [0-9.]+%, accuracy [0-9.]+%$" "tagger eval: span metrics"
runtime_error "tagger without data" "$DBX" train --model bilstm-tagger --quiet
has "$T/err" "needs --data" "tagger without data"

# ---- lattice-lstm ---------------------------------------------------------------------------
expect 0 "lattice gen-data" "$DBX" gen-data --format lattice --samples 40 --chars 200 --vocab 500 \
    --tags 5 --seed 4 --out "$T/lat.txt"
expect 0 "lattice train" "$DBX" train --model lattice-lstm --data "$T/lat.txt" --dev "$T/lat.txt" \
    --embed 16 --hidden 16 --batch 8 --epochs 2 --save "$T/lat.bin" --quiet
has "$T/out" "train: 1 rank, 10 steps, 80 samples" "lattice train summary"
has "$T/out" "dev accuracy" "lattice train"
expect 0 "lattice eval" "$DBX" eval --model lattice-lstm --load "$T/lat.bin" --data "$T/lat.txt"
has_re "$T/out" "^eval: 40 samples, [0-9]+ labelled nodes, loss/node [0-9.]+, accuracy [0-9.]+%$" \
    "lattice eval output"
runtime_error "lattice params as treelstm" "$DBX" eval --load "$T/lat.bin" --data "$T/gen.txt"
has "$T/err" "lattice-lstm model, not treelstm" "lattice params as treelstm"
printf '1\n2\n0 0\n0\n1 1 4\n' >"$T/badlat.txt"
runtime_error "lattice train on a bad file" "$DBX" train --model lattice-lstm --data "$T/badlat.txt" \
    --quiet
has "$T/err" "badlat.txt:5:3: expected FROM" "lattice train on a bad file"

# --precision: fp32 by default, bf16 with oneDNN (else a clear refusal), a bad name refused
usage_error "precision fp16" "dbx train: --precision: expected fp32 or bf16, got 'fp16'" \
    "$DBX" train --precision fp16
run "$DBX" train --steps 2 --embed 16 --hidden 16 --batch 8 --synthetic 100 --metrics "$T/p.jsonl"
has "$T/err" "precision: fp32" "default precision in the header"
has "$T/p.jsonl" '"precision":"fp32"' "precision in the config record"
run "$DBX" train --steps 2 --embed 16 --hidden 16 --batch 8 --synthetic 100 --precision bf16 \
    --metrics "$T/p.jsonl"
if [ "$rc" -eq 0 ]; then
    has "$T/err" "precision: bf16 (affine GEMMs: bfloat16 operands" "bf16 header"
    has "$T/err" ", ISA " "bf16 header names the ISA"
    has "$T/p.jsonl" '"precision":"bf16"' "bf16 in the config record"
else
    has "$T/err" "precision bf16 needs oneDNN" "bf16 without oneDNN"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
