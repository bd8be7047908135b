#!/bin/bash
# Runs dbx's GPU checks from a bundle made by scripts/gpu-bundle.sh, on a machine with a GPU,
# its driver and the CUDA 13 runtime libraries (found under /usr/local/cuda, /usr/local/nvidia
# or a Python environment's nvidia-* packages): nothing is installed or fetched.
#   1. nvidia-smi, and every program's libraries resolved (a missing one stops the run);
#   2. the CUDA tests: test_cuda (every op, forward and backward, against the CPU backend),
#      test_cuda_model (whole models: batched == unbatched on the GPU, gradients vs the CPU
#      backend, loss falls, save/load) and test_nccl (1-rank NCCL all-reduce). On a GPU
#      machine a skip (exit 77) counts as a failure; a failed test is run again to find
#      the faulting kernel (DBX_CUDA_SYNC=1, compute-sanitizer);
#   3. `dbx train --device cuda`: 2 epochs of the embedded default data, then one epoch of
#      SST train at size 256, batch 256 (metrics per step);
#   4. bench_gpu (Tree-LSTM SST train, sizes 256 and 512, batches 64 and 256, every
#      scheduler; extra arguments go to it, default --max-seconds 20).
# Writes OUTDIR/{log.txt,nvidia-smi.txt,gpu.json,gpu.md,train-256.jsonl,summary.txt}; exit 1 on any failure.
# Usage: scripts/gpu-run.sh BUNDLE_DIR OUTDIR [bench_gpu options]
set -uo pipefail

bundle=${1:?usage: gpu-run.sh BUNDLE_DIR OUTDIR [bench_gpu options]}
out=${2:?usage: gpu-run.sh BUNDLE_DIR OUTDIR [bench_gpu options]}
shift 2
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1

work=$(mktemp -d /tmp/dbx-gpu.XXXXXX)
# tar -J needs the xz program, which a minimal image may lack: Python's tarfile reads .xz too
unpack_py='import sys, tarfile
t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))'
tar -C "$work" -xJf "$bundle/bundle.tar.xz" ||
    python3 -c "$unpack_py" "$bundle/bundle.tar.xz" "$work" ||
    { echo "gpu-run.sh: cannot unpack $bundle/bundle.tar.xz"; exit 1; }
echo "gpu-run.sh: bundle of commit $(cat "$work/commit")"

# CUDA's libraries: the first directory holding each of them. Beyond the usual directories,
# /usr, /opt and the Python environment of python3 (its sys.path: a venv's nvidia/*/lib,
# wherever the venv lives, may be the only place that holds NCCL)
roots=(/usr /opt)
while IFS= read -r d; do
    [ -d "$d" ] && roots+=("$d")
done < <(python3 -c 'import site, sys
print("\n".join(sys.path + site.getsitepackages()))' 2>/dev/null)
libpath=$work/lib
for name in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
    found=""
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
             /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
        if [ -e "$d/$name" ]; then found=$d; break; fi
    done
    [ -n "$found" ] || found=$(find "${roots[@]}" -name "$name" -print -quit 2>/dev/null |
                                xargs -r dirname)
    if [ -z "$found" ]; then echo "gpu-run.sh: $name not found"; exit 1; fi
    case ":$libpath:" in *":$found:"*) ;; *) libpath=$libpath:$found ;; esac
done
export LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "gpu-run.sh: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

missing=0
for f in "$work"/bin/*; do
    if ldd "$f" | grep -q "not found"; then
        echo "gpu-run.sh: $(basename "$f"): unresolved libraries:"; ldd "$f" | grep "not found"
        missing=1
    fi
done
[ "$missing" -eq 0 ] || exit 1

nvidia-smi | tee "$out/nvidia-smi.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

status=0
summary=()
rc=0
check() { # NAME CMD...: runs CMD, its exit status in $rc; 0 passes, anything else (77 too) fails
    local name=$1 t0
    shift
    echo "=== $name: $*"
    t0=$(date +%s)
    "$@"
    rc=$?
    summary+=("$name: exit $rc ($(( $(date +%s) - t0 )) s)")
    if [ "$rc" -ne 0 ]; then
        status=1
        [ "$rc" -eq 77 ] && echo "gpu-run.sh: $name skipped although this machine has a GPU"
    fi
}
# A failed CUDA test is run again at once, in the same call: with DBX_CUDA_SYNC=1 (every batch
# waited for, so the failing batch is named) and, where installed, under compute-sanitizer's
# memcheck (the faulting kernel, thread and address); each limited to 3 minutes.
diagnose() { # NAME BIN
    echo "=== $1 again with DBX_CUDA_SYNC=1"
    DBX_CUDA_SYNC=1 timeout -k 5 180 "$2"
    if command -v compute-sanitizer >/dev/null 2>&1; then
        echo "=== $1 under compute-sanitizer --tool memcheck"
        timeout -k 5 180 compute-sanitizer --tool memcheck --print-limit 20 "$2"
    fi
}
for t in test_cuda test_cuda_model test_nccl; do
    check "$t" "$work/bin/$t"
    [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && diagnose "$t" "$work/bin/$t"
done
check dbx_train_cuda "$work/bin/dbx" train --device cuda --epochs 2 --save "$work/model.dbx"
data=()
[ -f "$work/data/sst-train.txt" ] && data=(--data "$work/data/sst-train.txt")
# the training loop itself (graph building overlapping the GPU), at the benchmark's size
check dbx_train_cuda_256 "$work/bin/dbx" train --device cuda "${data[@]}" --embed 256 \
    --hidden 256 --batch 256 --scheduler depth --metrics "$out/train-256.jsonl"
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--max-seconds 20)
check bench_gpu "$work/bin/bench_gpu" "${data[@]}" --out "$out/gpu" "${bench_args[@]}"

printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
rm -rf "$work"
exit $status
