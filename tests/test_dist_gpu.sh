#!/bin/bash
# Distributed `dbx train --device cuda` (label cuda): the equivalence of tests/test_dist.sh
# with one GPU per rank (mpirun on this machine; dbx picks each rank's GPU):
#  (a) one GPU = the CPU: a single-process run on the GPU saves parameters that agree with
#      the same run on the CPU (dbx compare --rtol 1e-3: FP32 GEMMs summed in another
#      order, 10 Adam steps);
#  (b) 2 GPUs = 1 GPU: 10 steps on the same global batches (same --seed, --batch) with
#      mpirun -np 1 and mpirun -np 2, gradients summed with --allreduce nccl and with
#      --allreduce mpi (through host memory), save parameters that agree (dbx compare
#      --rtol 1e-4); every multi-rank run has --check-replicas 1, which fails the run unless
#      all ranks hold bit-identical parameters after every step; mpirun -np 1 agrees with
#      the single-process run of (a) too (rtol 1e-4).
# Skips (exit 77, saying why) when dbx was built without the CUDA backend or no GPU can be
# used; with one GPU only, (a) runs and then the test exits 77 (unless (a) failed), since
# (b) needs 2 GPUs (nvidia-smi -L, or CUDA_VISIBLE_DEVICES when set).
# DBX_TEST_DEVICE=cpu runs the same flow with --device cpu and no GPU (the nccl variant of
# (b) is left out): a self-check of this script on machines without GPUs.
# Usage: test_dist_gpu.sh DBX [SOURCE_DIR]     Environment: MPIEXEC (default mpirun).
# Prints "N passed, M failed"; exit status 1 on any failure.
set -u
dbx=${1:?usage: test_dist_gpu.sh DBX [SOURCE_DIR]}
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env
# every rank runs on this machine: NCCL's bootstrap over loopback
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}

dev=${DBX_TEST_DEVICE:-cuda}
case $dev in
cuda | cpu) ;;
*) echo "test_dist_gpu.sh: DBX_TEST_DEVICE must be cpu or cuda, got '$dev'" >&2; exit 2 ;;
esac

dbx_tmpdir dbx-dist-gpu
exec </dev/null # no run reads the caller's standard input

# run NAME LIMIT CMD...: runs CMD under `timeout LIMIT`, stdout/stderr to $tmp/NAME.out/.err,
# stdin from /dev/null; sets $rc; shows stderr on failure.

common=(--steps 10 --embed 16 --hidden 16 --synthetic 300 --batch 24 --seed 7 --quiet)

ngpu=2
if [ "$dev" = cuda ]; then
    echo "== probe: a 1-step run on GPU 0"
    dbx_run probe 120 "$dbx" train --device cuda --steps 1 --synthetic 20 --batch 4 --embed 4 \
        --hidden 4 --quiet
    if [ "$rc" -ne 0 ]; then
        why=$(grep -m1 -E 'built without the CUDA backend|cudaGetDeviceCount|no CUDA device' \
              "$tmp/probe.err")
        if [ -n "$why" ]; then
            echo "SKIP: dbx train --device cuda cannot run here: $why"
            exit 77
        fi
        bad "dbx train --device cuda (1 step) failed (exit $rc) although the CUDA backend is built"
        echo "$passed passed, $failed failed"
        exit 1
    fi
    if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
        ngpu=$(tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .)
        echo "  CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES: $ngpu GPU(s)"
    elif command -v nvidia-smi >/dev/null 2>&1; then
        ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
        echo "  nvidia-smi -L: $ngpu GPU(s)"
    else
        ngpu=1
        echo "  nvidia-smi not found: counting 1 GPU (the probe ran on it)"
    fi
fi

echo "== (a) single process: --device $dev = --device cpu (rtol 1e-3)"
dbx_run dev1 180 "$dbx" train "${common[@]}" --device "$dev" --save "$tmp/dev1.bin"
dbx_summary dev1 1 && ok "one process trains on --device $dev"
dbx_run cpu1 180 "$dbx" train "${common[@]}" --device cpu --save "$tmp/cpu1.bin"
dbx_summary cpu1 1 && ok "one process trains on --device cpu"
dbx_agree "$tmp/cpu1.bin" "$tmp/dev1.bin" 1e-3 "--device $dev = --device cpu"

if [ "$ngpu" -lt 2 ]; then
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] || exit 1
    echo "SKIP: $ngpu GPU(s): the 2-rank runs (b) need 2"
    exit 77
fi

echo "== (b) 1 and 2 ranks on --device $dev, same global batches, --check-replicas 1 (rtol 1e-4)"
dbx_run np1 180 "$mpiexec" -np 1 "$dbx" train "${common[@]}" --device "$dev" --check-replicas 1 \
    --save "$tmp/np1.bin"
dbx_summary np1 1 && ok "1 rank under mpirun on --device $dev"
dbx_agree "$tmp/dev1.bin" "$tmp/np1.bin" 1e-4 "mpirun -np 1 = single process (--device $dev)"
variants=(nccl mpi)
if [ "$dev" = cpu ]; then
    variants=(mpi)
    echo "  (--allreduce nccl needs GPUs: not run)"
fi
for ar in "${variants[@]}"; do
    dbx_run np2-$ar 180 "$mpiexec" -np 2 "$dbx" train "${common[@]}" --device "$dev" \
        --allreduce "$ar" --check-replicas 1 --save "$tmp/np2-$ar.bin"
    dbx_summary np2-$ar 2 &&
        ok "2 ranks on --device $dev, --allreduce $ar, replicas identical every step"
    dbx_agree "$tmp/np1.bin" "$tmp/np2-$ar.bin" 1e-4 "2 ranks (--allreduce $ar) = 1 rank"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
