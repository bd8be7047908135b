#!/bin/bash
# Compares the training throughput of two builds of dbx (e.g. before and after a change) in
# one run: bench_treelstm and bench_tagger of build A and build B, interleaved A B A B ... on
# one pinned core, REPS times, and prints per configuration the median sents/s of each and
# their ratio B/A (medians of interleaved runs, so that drifts of the machine hit both).
# Usage: bench/compare.sh BUILD_A BUILD_B [REPS] [-- extra bench options]
#   default extra options: --sizes 128,256 --schedulers depth,agenda --no-bound
# Environment: CORE (default 0), OUT (results folder, default a temporary one), PROGS
# (default "bench_treelstm bench_tagger"), GEMM_A / GEMM_B (DBX_CPU_GEMM of each side: compare
# the CPU GEMM libraries of one build, e.g. GEMM_A=openblas GEMM_B=onednn compare.sh build build),
# PREC_A / PREC_B (--precision of each side: fp32 | bf16, e.g. GEMM_A=onednn PREC_B=bf16
# compare.sh build build; the programs must take --precision: bench_treelstm does).
# Writes OUT/compare.json and prints a Markdown table. A measurement, not a test.
set -eu
a=${1:?usage: compare.sh BUILD_A BUILD_B [REPS] [-- options]}
b=${2:?usage: compare.sh BUILD_A BUILD_B [REPS] [-- options]}
shift 2
reps=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then reps=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
opts=("$@")
[ ${#opts[@]} -eq 0 ] && opts=(--sizes 128,256 --schedulers depth,agenda --no-bound)
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$(mktemp -d /tmp/dbx-compare.XXXXXX)}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
pin=(taskset -c "${CORE:-0}")
command -v taskset >/dev/null || pin=()
progs=${PROGS:-bench_treelstm bench_tagger}
for prog in $progs; do
    for build in "$a" "$b"; do
        [ -x "$build/$prog" ] || { echo "compare.sh: missing $build/$prog" >&2; exit 1; }
    done
done
cd "$root"
for r in $(seq 1 "$reps"); do
    for side in A B; do
        build=$a gemm=${GEMM_A:-} prec=${PREC_A:-}
        [ "$side" = B ] && build=$b gemm=${GEMM_B:-} prec=${PREC_B:-}
        for prog in $progs; do
            dir=$out/$side-$r-$prog
            echo "== rep $r/$reps, build $side ($build), $prog" >&2
            DBX_CPU_GEMM=${gemm:-${DBX_CPU_GEMM:-}} \
                "${pin[@]}" "$build/$prog" "${opts[@]}" ${prec:+--precision "$prec"} --out "$dir" \
                >/dev/null 2>"$dir.log" ||
                { echo "compare.sh: $prog of build $side failed (see $dir.log)" >&2; exit 1; }
        done
    done
done
python3 - "$out" "$reps" "$a" "$b" <<'PY'
import glob, json, os, statistics, sys
out, reps, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = {}
for side in "AB":
    for f in glob.glob(os.path.join(out, side + "-*", "*.json")):
        d = json.load(open(f))
        model = d.get("benchmark", os.path.basename(f)[:-5])
        for row in d["results"]:
            if row.get("sents_per_s") is None:
                continue
            key = (model, row["size"], row["scheduler"], row.get("dedup", True))
            runs.setdefault(key, {"A": [], "B": []})[side].append(row["sents_per_s"])
result = []
print("| model | size | scheduler | A sents/s (median of %d) | B sents/s | B / A |" % reps)
print("|---|---:|---|---:|---:|---:|")
for key in sorted(runs):
    ma, mb = statistics.median(runs[key]["A"]), statistics.median(runs[key]["B"])
    print("| %s | %d | %s | %.1f | %.1f | %.3f |" % (key[0], key[1], key[2], ma, mb, mb / ma))
    result.append({"model": key[0], "size": key[1], "scheduler": key[2], "a": runs[key]["A"],
                   "b": runs[key]["B"], "median_a": ma, "median_b": mb, "ratio": mb / ma})
json.dump({"a": a, "b": b, "reps": reps, "rows": result}, open(os.path.join(out, "compare.json"), "w"),
          indent=1)
print("\nA = %s, B = %s; raw numbers in %s/compare.json" % (a, b, out))
PY
