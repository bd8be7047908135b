#!/bin/bash
# The module boundaries of README "Design" (and ../shared/design/ARCHITECTURE.md), checked on
# the sources: dependencies point one way (worker/ never includes coordinator/; models/,
# core/ and partition/ include neither, nor comm/), core/ reaches kernels only through
# kernels/backend.h and calls no MPI, NCCL or CUDA, and coordinator/ and worker/ name no
# model (no branch on a model kind: models are model types found in the registry).
# Usage: test_boundaries.sh SOURCE_DIR
set -u
src=${1:?usage: test_boundaries.sh SOURCE_DIR}
cd "$src" || exit 1
passed=0 failed=0
ok() { echo "ok:   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
# none DESCRIPTION PATTERN FILES...: no line of FILES matches the extended regex PATTERN
none() {
    local what=$1 pat=$2
    shift 2
    local hits
    hits=$(grep -nE "$pat" "$@" 2>/dev/null)
    if [ -z "$hits" ]; then ok "$what"; else bad "$what:"; echo "$hits" | sed 's/^/  | /'; fi
}
none "worker/ does not include coordinator/" '#include "coordinator/' worker/*.[ch]
none "models/ includes no worker/, coordinator/ or comm/" \
    '#include "(worker|coordinator|comm)/' models/*.[ch]
none "partition/ includes no worker/, coordinator/ or comm/" \
    '#include "(worker|coordinator|comm)/' partition/*.[ch]
none "core/ includes no worker/, coordinator/, comm/, models/ or partition/" \
    '#include "(worker|coordinator|comm|models|partition)/' core/*.[ch]
none "core/ reaches kernels only through kernels/backend.h" \
    '#include "kernels/([^b]|b[^a])' core/*.[ch]
none "core/ calls no MPI, NCCL or CUDA" '#include <(mpi|nccl|cuda)|MPI_[A-Z]|nccl[A-Z]|cuda[A-Z]' \
    core/*.[ch]
none "coordinator/ and worker/ name no model" '[Tt]ree|[Tt]agger|[Ll]attice|sentence|SST' \
    coordinator/*.[ch] worker/*.[ch]
none "only comm/ and kernels/cuda/ test DBX_CUDA or DBX_NCCL" '^#[[:space:]]*if.*DBX_(CUDA|NCCL)' \
    core/*.[ch] coordinator/*.[ch] worker/*.[ch] models/*.[ch] partition/*.[ch] tools/*.[ch] \
    kernels/*.[ch] kernels/cpu/*.[ch]
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
