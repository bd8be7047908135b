#!/bin/bash
# `dbx plot` (tools/plot_cmd.c) end to end: a short training run with --metrics and a dev set,
# then `dbx plot`: the loss (per step, per time), dev and throughput PNGs exist, are not
# empty and start with the PNG signature; a 2-rank run (mpirun) adds the per-worker plot; the
# scaling report of bench/scaling.sh (bench/results/scaling/scaling.json) gives its
# throughput and efficiency plots. Also: usage errors (exit 2), a missing or malformed file
# and a missing gnuplot (exit 1, a clear message). gnuplot comes from scripts/setup.sh
# (gnuplot-nox); when it is missing the test installs it as root with apt-get, and only if
# that fails it exits 77 (skipped) saying why.
# Usage: test_plot.sh DBX SOURCE_DIR   Environment: MPIEXEC (default mpirun)
set -u
dbx=$(realpath "${1:?usage: test_plot.sh DBX SOURCE_DIR}")
src=$(cd "${2:?usage: test_plot.sh DBX SOURCE_DIR}" && pwd)
. "$src/tests/lib.sh"
dbx_tmpdir dbx-plot

# is_png FILE: exists, not empty, starts with the 8-byte PNG signature
is_png() {
    [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
# plots_ok NAME WANT...: the run's stdout lists exactly DIR/BASE-WANT.png, each a PNG
plots_ok() {
    local name=$1 dir=$2 base=$3 w p listed
    shift 3
    listed=$(sort "$tmp/$name.out" | tr '\n' ' ')
    want=$(for w in "$@"; do echo "$dir/$base-$w.png"; done | sort | tr '\n' ' ')
    if [ "$listed" = "$want" ]; then ok "$name: prints the paths ($*)"
    else bad "$name: printed '$listed', want '$want'"; fi
    for w in "$@"; do
        p=$dir/$base-$w.png
        if is_png "$p"; then ok "$name: $(basename "$p") is a PNG ($(stat -c %s "$p") bytes)"
        else bad "$name: $p is missing, empty or not a PNG"; fi
    done
}

echo "== usage and errors (no gnuplot needed)"
dbx_run noargs 10 "$dbx" plot
if [ "$rc" -eq 2 ] && grep -q "expected one FILE" "$tmp/noargs.err"; then ok "no FILE: exit 2"
else bad "no FILE: exit $rc"; fi
dbx_run help 10 "$dbx" help plot
if [ "$rc" -eq 0 ] && grep -q "^usage: dbx plot" "$tmp/help.out"; then ok "dbx help plot"
else bad "dbx help plot: exit $rc"; fi
dbx_run missing 10 "$dbx" plot "$tmp/none.jsonl"
if [ "$rc" -eq 1 ] && grep -q "none.jsonl: cannot open" "$tmp/missing.err"; then ok "missing file: exit 1"
else bad "missing file: exit $rc"; fi
printf '{"type":"step","step":1}\n{"type":"step",\n' >"$tmp/broken.jsonl"
dbx_run broken 10 "$dbx" plot "$tmp/broken.jsonl"
if [ "$rc" -eq 1 ] && grep -q "broken.jsonl:2:" "$tmp/broken.err"; then ok "malformed line: exit 1, file:line"
else bad "malformed line: exit $rc"; fi
printf '{"type":"step","step":1,"loss_per_node":1.5,"sents_per_s":100,"step_ms":2}\n' >"$tmp/one.jsonl"
DBX_GNUPLOT=/nonexistent/gnuplot dbx_run nognuplot 10 "$dbx" plot "$tmp/one.jsonl"
if [ "$rc" -eq 1 ] && grep -q "/nonexistent/gnuplot not found: install gnuplot" "$tmp/nognuplot.err"
then ok "no gnuplot: exit 1 with a clear message"
else bad "no gnuplot: exit $rc"; fi

if ! command -v gnuplot >/dev/null; then
    echo "gnuplot is missing (scripts/setup.sh installs gnuplot-nox): installing it"
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends \
            gnuplot-nox >"$tmp/apt.log" 2>&1 ||
            { timeout 300 apt-get update -q >>"$tmp/apt.log" 2>&1 &&
              timeout 300 apt-get install -y -q -o DPkg::Lock::Timeout=120 \
                  --no-install-recommends gnuplot-nox >>"$tmp/apt.log" 2>&1; }
    fi
    if ! command -v gnuplot >/dev/null; then
        echo "SKIP: gnuplot is not installed and could not be installed" \
             "(apt-get install gnuplot-nox: $(tail -1 "$tmp/apt.log" 2>/dev/null || echo 'needs root and apt-get'))"
        exit 77
    fi
fi

echo "== one process: loss, dev, throughput"
"$dbx" gen-data --trees 30 --seed 5 --out "$tmp/dev.txt"
dbx_run train 60 "$dbx" train --steps 30 --embed 16 --hidden 16 --batch 16 --synthetic 200 \
    --dev "$tmp/dev.txt" --metrics "$tmp/run.jsonl" --quiet
dbx_summary train 1 && ok "training with --metrics"
dbx_run plot 60 "$dbx" plot "$tmp/run.jsonl" --out "$tmp/plots"
if [ "$rc" -eq 0 ]; then ok "dbx plot --out DIR"; else bad "dbx plot: exit $rc"; fi
plots_ok plot "$tmp/plots" run loss-step loss-time dev throughput
# without --out: beside the metrics file
dbx_run plot_here 60 "$dbx" plot "$tmp/run.jsonl"
plots_ok plot_here "$tmp" run loss-step loss-time dev throughput

echo "== 2 ranks: the per-worker plot"
mpiexec=${MPIEXEC:-mpirun}
if command -v "$mpiexec" >/dev/null; then
    dbx_mpi_env
    dbx_run train2 60 "$mpiexec" -np 2 "$dbx" train --steps 12 --embed 16 --hidden 16 \
        --batch 16 --synthetic 200 --metrics "$tmp/w2.jsonl" --quiet </dev/null
    dbx_summary train2 2 && ok "2-rank training with --metrics"
    dbx_run plot2 60 "$dbx" plot "$tmp/w2.jsonl" --out "$tmp/plots"
    plots_ok plot2 "$tmp/plots" w2 loss-step loss-time throughput workers
else
    echo "  no $mpiexec: the per-worker plot is not tested"
fi

echo "== a run being written (last line incomplete) and many workers (min, mean, max)"
{ cat "$tmp/run.jsonl"; printf '{"type":"step","step":31,"lo'; } >"$tmp/partial.jsonl"
dbx_run partial 60 "$dbx" plot "$tmp/partial.jsonl" --out "$tmp/plots"
plots_ok partial "$tmp/plots" partial loss-step loss-time dev throughput
python3 - "$tmp/w12.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"type": "config", "model": "treelstm", "ranks": 12,
                        "options": {"batch": 96}}) + "\n")
    for k in range(1, 21):
        ws = [{"rank": r, "compute_ms": 5 + r + k % 3, "wait_ms": 0.1 * r,
               "allreduce_ms": 2 + 0.5 * r} for r in range(12)]
        f.write(json.dumps({"type": "step", "step": k, "elapsed_ms": 10.0 * k, "step_ms": 10.0,
                            "loss_per_node": 1.6 - 0.01 * k, "sents_per_s": 9000 + k,
                            "workers": ws}) + "\n")
PY
dbx_run plot12 60 "$dbx" plot "$tmp/w12.jsonl" --out "$tmp/plots"
plots_ok plot12 "$tmp/plots" w12 loss-step loss-time throughput workers

echo "== the scaling report of bench/scaling.sh"
dbx_run scaling 60 "$dbx" plot "$src/bench/results/scaling/scaling.json" --out "$tmp/plots"
plots_ok scaling "$tmp/plots" scaling throughput efficiency

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
