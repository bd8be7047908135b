#!/bin/bash
# bench_gpu on the CPU backend (the GPU run is scripts/gpu-run.sh): 2 sizes x 2 batches x 3
# schedulers on a generated treebank must all be measured (exit 0), the JSON report must
# parse and hold 12 measured results with positive throughput and a loss that fell, the
# Markdown table must have 12 rows, and no temporary report file may be left behind. Bad
# options must be refused with a message and exit 2.
# Usage: test_bench_gpu.sh BENCH_GPU
set -u
bench=${1:?usage: test_bench_gpu.sh BENCH_GPU}
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d /tmp/dbx-bench-gpu.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$bench" --device cpu --synthetic 400 --sizes 16,32 --batches 8,32 --warmup 1 --max-steps 4 \
    --out "$tmp/r" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && ok "bench_gpu --device cpu: exit 0" || { bad "exit $rc"; cat "$tmp/err"; }
if python3 - "$tmp/r.json" <<'PY'; then ok "JSON: 12 measured results, throughput > 0, loss fell"; else bad "JSON report"; fi
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
assert r["device"] == "cpu" and len(res) == 12, len(res)
for x in res:
    assert x["ok"] and x["sents_per_s"] > 0 and x["steps"] >= 1, x
    assert x["last_loss"] < x["first_loss"], x
assert {x["sched"] for x in res} == {"none", "depth", "agenda"}
PY
rows=$(grep -c '^| [0-9]' "$tmp/r.md")
[ "$rows" -eq 12 ] && ok "Markdown: 12 rows" || bad "Markdown rows: $rows"
ls "$tmp"/*.tmp* >/dev/null 2>&1 && bad "a .tmp report was left" || ok "no temporary files left"

"$bench" --sizes 0 >/dev/null 2>"$tmp/e1"; rc=$?
[ "$rc" -eq 2 ] && grep -q "expected an integer" "$tmp/e1" && ok "--sizes 0 refused" ||
    bad "--sizes 0: exit $rc, $(cat "$tmp/e1")"
"$bench" --scheds fast >/dev/null 2>"$tmp/e2"; rc=$?
[ "$rc" -eq 2 ] && grep -q "expected none, depth or agenda" "$tmp/e2" && ok "--scheds fast refused" ||
    bad "--scheds fast: exit $rc"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
