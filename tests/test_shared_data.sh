#!/bin/bash
# Real-data checks (ctest label "shared-data"): the shared SST, token|TAG and lattice files
# parse (with the lattice counts of shared/data/README.md), and short training runs on them
# work end to end. Skips (exit 77) naming the missing file when ../shared/data is absent.
# Usage: test_shared_data.sh DBX_BINARY SOURCE_DIR
set -u
dbx=$1
data=${DBX_DATA_DIR:-$2/../shared/data}
for f in sst/train.txt sst/dev.txt sst/test.txt tags/dev.txt lattice/train.txt lattice/dev.txt \
    lattice/test.txt; do
    if [ ! -f "$data/$f" ]; then
        echo "SKIP: missing $data/$f (the shared benchmark data, see shared/data/README.md)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name, command...
    local name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass + 1)); echo "ok   $name"
    else fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | tail -5; fi
}
check "check-data sst" "$dbx" check-data "$data/sst/train.txt" "$data/sst/dev.txt" "$data/sst/test.txt"
check "check-data tags" "$dbx" check-data --format tags "$data/tags/dev.txt"
check "sst counts" grep -q "8544 trees" <("$dbx" check-data "$data/sst/train.txt")
check "check-data lattice" "$dbx" check-data --format lattice "$data/lattice/train.txt" \
    "$data/lattice/dev.txt" "$data/lattice/test.txt"
check "lattice counts" grep -qF "train.txt: 1147 lattices, 50618 nodes (length 3..211, mean 44.1), \
76248 arcs (49471 character, 26777 word), in-degree 0:1147 1:25680 2:21110 3:2388 4:281 5:12, \
tags 0..17, character ids 2..2211, word ids 2..10129" \
    <("$dbx" check-data --format lattice "$data/lattice/train.txt")
check "train treelstm on sst" "$dbx" train --data "$data/sst/train.txt" --dev "$data/sst/dev.txt" \
    --steps 20 --embed 32 --hidden 32 --save "$tmp/p.bin" --quiet
check "eval treelstm on sst test" grep -q "root_fine .*root_binary .*all_nodes" <("$dbx" eval --data "$data/sst/test.txt" --load "$tmp/p.bin")
check "train tagger on tags" "$dbx" train --model bilstm-tagger --data "$data/tags/dev.txt" \
    --steps 10 --embed 32 --hidden 32 --quiet
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
