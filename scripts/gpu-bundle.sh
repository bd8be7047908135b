#!/bin/bash
# Packs dbx's GPU programs for a GPU machine that has a GPU driver and the CUDA 13 runtime
# libraries (cudart, cuBLAS, NCCL) but none of dbx's other dependencies and no package
# registry to install them from.
#
# Builds with CUDA here (build dir BUILD, default build-gpu: Release, DBX_CUDA=ON), then
# writes DIR/bundle.tar.xz (DIR default build-gpu-bundle, ignored by git like every build*
# dir) holding:
#   bin/   dbx, bench_gpu and the CUDA test programs (test_cuda, test_cuda_model, test_nccl)
#   lib/   the shared libraries they load that are not CUDA's: Open MPI, hwloc, CUnit,
#          OpenBLAS (dlopen()ed by the CPU backend) and their dependencies
#   data/  SST train (../shared/data/sst/train.txt) when present, for bench_gpu
# On the GPU machine, from the source tree: scripts/gpu-run.sh DIR OUTDIR.
# Usage: scripts/gpu-bundle.sh [DIR]        Environment: BUILD (build dir), JOBS.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build-gpu-bundle}
build=${BUILD:-$root/build-gpu}
jobs=${JOBS:-$(nproc)}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDBX_CUDA=ON >/dev/null
cmake --build "$build" -j "$jobs" --target dbx_cli bench_gpu test_cuda test_cuda_model test_nccl

stage=$(mktemp -d /tmp/dbx-gpu-bundle.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/data"
cp "$build/dbx" "$build/bench_gpu" "$stage/bin/"
cp "$build/tests/test_cuda" "$build/tests/test_cuda_model" "$build/tests/test_nccl" \
    "$stage/bin/"

# Shared libraries: everything ldd resolves outside the C library and outside CUDA's own
# (the GPU machine brings a driver-matched CUDA runtime).
blas=$(ldconfig -p | awk '/libopenblas\.so\.0 .*x86-64/ {print $NF; exit}')
[ -n "$blas" ] || { echo "gpu-bundle.sh: libopenblas.so.0 not found (apt-get install libopenblas0)" >&2; exit 1; }
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libnccl|libnvidia)'
for f in "$stage"/bin/* "$blas"; do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    if [[ $name =~ $skip ]]; then continue; fi
    cp -L "$path" "$stage/lib/$name"
done
cp -L "$blas" "$stage/lib/libopenblas.so.0"

if [ -f "$root/../shared/data/sst/train.txt" ]; then
    cp "$root/../shared/data/sst/train.txt" "$stage/data/sst-train.txt"
fi
git -C "$root" rev-parse HEAD >"$stage/commit" 2>/dev/null || echo unknown >"$stage/commit"

mkdir -p "$dir"
tar -C "$stage" -cJf "$dir/bundle.tar.xz.tmp" .
mv "$dir/bundle.tar.xz.tmp" "$dir/bundle.tar.xz"
echo "gpu-bundle.sh: $dir/bundle.tar.xz ($(du -h "$dir/bundle.tar.xz" | cut -f1)):" \
    "$(ls "$stage/bin" | tr '\n' ' ')+ $(ls "$stage/lib" | wc -l) libraries"
