#!/bin/bash
# The gradient all-reduce inside `dbx train` with real MPI ranks on this machine:
#  (a) rd and rabenseifner, with buckets of any size, started during the backward pass
#      (--overlap on) or after it, train bit-identical parameters (a deterministic partition,
#      round-robin, so that every rank gets the same samples in every run); ring and the MPI
#      library's all-reduce agree within 1e-6; 1 worker agrees within 1e-5;
#  (b) the same for the BiLSTM tagger, whose output layer's gradients are complete early:
#      with overlap its buckets start during the backward pass (metrics: early bytes > 0),
#      without it none do;
#  (c) the hierarchical all-reduce (4 ranks on one node, --hier on: the node's leader sums)
#      agrees with the flat one within 1e-6, and the config record says it ran;
#  (e) bfloat16 gradients on the wire: rd and rabenseifner still agree bit for bit, the loss
#      stays within 1% of fp32's, --allreduce mpi refuses it;
#  (f) --accum-steps 2 with batch 12 trains the parameters of batch 24 (within 1e-5) with
#      half the all-reduces;
#  (d) every rank issues the same collectives: every run has --check-replicas 1, which fails
#      the run when the ranks' digests (count, order and sizes of the collectives) differ;
#      runs that differ only in overlap issue the same number of them.
# Usage: test_allreduce_train.sh DBX    Environment: MPIEXEC (default mpirun).
set -u
dbx=${1:?usage: test_allreduce_train.sh DBX}
mpiexec=${MPIEXEC:-mpirun}
. "$(dirname "$0")/lib.sh"
dbx_mpi_env
dbx_tmpdir dbx-artrain

common=(--steps 12 --embed 16 --hidden 16 --synthetic 300 --batch 24 --seed 7 --quiet
        --partition round-robin --check-replicas 1 --bind none)

# tagged sentences of 2..12 tokens over 30 words and tags B, I, O
awk 'BEGIN { for (s = 0; s < 120; s++) { n = 2 + s % 11; line = "";
    for (i = 0; i < n; i++) line = line (i ? " " : "") "t" (s * 3 + i * 11) % 30 "|" substr("BIO", 1 + (s + i) % 3, 1);
    print line } }' > "$tmp/tags.txt"
data_bilstm_tagger=(--data "$tmp/tags.txt")
data_treelstm=()

# train NAME NP MODEL ARGS...: a run with its parameters in $tmp/NAME.bin, metrics NAME.jsonl
train() {
    local name=$1 np=$2 model=$3
    shift 3
    local data="data_${model//-/_}[@]"
    dbx_run "$name" 120 "$mpiexec" -np "$np" "$dbx" train "${common[@]}" --model "$model" \
        "${!data}" --save "$tmp/$name.bin" --metrics "$tmp/$name.jsonl" "$@" </dev/null
    dbx_summary "$name" "$np" >/dev/null || bad "$name: the run failed"
}
same_bits() { # A B WHAT
    if [ -s "$tmp/$1.bin" ] && cmp -s "$tmp/$1.bin" "$tmp/$2.bin"; then ok "$3: the same bits"
    else bad "$3: the parameters differ ($1 vs $2)"; fi
}
# summary FIELD NAME: a field of NAME's summary record
summary() {
    python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1])][-1]
v=r
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$tmp/$2.jsonl" "$1" 2>/dev/null
}
# early NAME: the largest allreduce_early_bytes of any worker in any step
early() {
    python3 -c 'import json,sys
m=0
for l in open(sys.argv[1]):
    r=json.loads(l)
    for w in r.get("workers", []): m=max(m, w.get("allreduce_early_bytes", 0))
print(m)' "$tmp/$1.jsonl"
}

for model in treelstm bilstm-tagger; do
    echo "== ($( [ $model = treelstm ] && echo a || echo b )) $model, 3 ranks"
    train ref-$model 3 $model --allreduce rd --overlap off --bucket-mb 0
    train rd-ov-$model 3 $model --allreduce rd --overlap on --bucket-mb 0.001
    train rab-ov-$model 3 $model --allreduce rabenseifner --overlap on --bucket-mb 0.002
    train rab-$model 3 $model --allreduce rabenseifner --overlap off --bucket-mb 4
    train rd-off-$model 3 $model --allreduce rd --overlap off --bucket-mb 0.001
    same_bits ref-$model rd-ov-$model "$model: rd in 1 KiB buckets with overlap = rd in one"
    same_bits ref-$model rab-ov-$model "$model: rabenseifner in 2 KiB buckets with overlap = rd"
    same_bits ref-$model rab-$model "$model: rabenseifner in 4 MiB buckets = rd"
    train ring-$model 3 $model --allreduce ring --overlap on --bucket-mb 0.001
    train mpi-$model 3 $model --allreduce mpi --overlap on --bucket-mb 0.001
    dbx_agree "$tmp/ref-$model.bin" "$tmp/ring-$model.bin" 1e-6 "$model: ring = rd"
    dbx_agree "$tmp/ref-$model.bin" "$tmp/mpi-$model.bin" 1e-6 "$model: MPI's all-reduce = rd"
    train one-$model 1 $model
    dbx_agree "$tmp/one-$model.bin" "$tmp/ref-$model.bin" 1e-5 "$model: 3 workers = 1 worker"
    # (d) the digests were checked every step; overlap changes no collective
    c1=$(summary collectives rd-ov-$model) c2=$(summary collectives rd-off-$model)
    if [ -n "$c1" ] && [ "$c1" -gt 0 ] && [ "$c1" = "$c2" ]; then
        ok "$model: $c1 collectives per rank, identical on every rank, with and without overlap"
    else bad "$model: collectives with overlap '$c1', without '$c2'"; fi
    n=$(summary allreduce_ops.rd rd-ov-$model)
    if [ -n "$n" ] && [ "$n" -gt 0 ]; then ok "$model: $n rd operations"; else bad "$model: rd ops '$n'"; fi
    e_on=$(early rd-ov-$model) e_off=$(early rd-off-$model)
    if [ "$e_off" = 0 ]; then ok "$model: without overlap no bucket starts early"
    else bad "$model: without overlap $e_off bytes started early"; fi
    if [ $model = bilstm-tagger ]; then
        if [ "$e_on" -gt 0 ]; then ok "$model: with overlap $e_on bytes start during the backward pass"
        else bad "$model: with overlap no bucket started during the backward pass"; fi
    fi
done

echo "== (e) bfloat16 gradients on the wire (opt-in, changes the results)"
train bf-rd 3 treelstm --allreduce rd --grad-wire bf16 --bucket-mb 0.001
train bf-rab 3 treelstm --allreduce rabenseifner --grad-wire bf16
same_bits bf-rd bf-rab "bf16 wire: rd in 1 KiB buckets = rabenseifner in one"
if ! cmp -s "$tmp/bf-rd.bin" "$tmp/ref-treelstm.bin"; then ok "bf16 wire changes the parameters"
else bad "bf16 wire gave the bits of fp32"; fi
l32=$(summary last_epoch_loss ref-treelstm) l16=$(summary last_epoch_loss bf-rd)
if python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= 0.01*abs(a) else 1)' "$l32" "$l16" 2>/dev/null; then
    ok "bf16 wire: loss $l16 within 1% of fp32's $l32"
else bad "bf16 wire: loss '$l16' against fp32's '$l32'"; fi
dbx_run bfmpi 60 "$dbx" train "${common[@]}" --allreduce mpi --grad-wire bf16 </dev/null
if [ "$rc" -ne 0 ] && grep -q "not mpi" "$tmp/bfmpi.err"; then ok "bf16 wire with --allreduce mpi is refused"
else bad "bf16 wire with --allreduce mpi: exit $rc"; fi

echo "== (f) local gradient accumulation (opt-in, changes the results)"
train acc2 3 treelstm --steps 12 --batch 12 --accum-steps 2
train b24 3 treelstm --steps 6 --batch 24
train b12 3 treelstm --steps 12 --batch 12
dbx_agree "$tmp/b24.bin" "$tmp/acc2.bin" 1e-5 "2 accumulated minibatches of 12 = 1 of 24"
if ! "$dbx" compare --rtol 1e-5 "$tmp/b24.bin" "$tmp/b12.bin" >/dev/null 2>&1; then
    ok "without accumulation, 12 steps of 12 train other parameters"
else bad "12 steps of 12 equal 6 steps of 24: the accumulation test shows nothing"; fi
o1=$(summary allreduce_ops.rd acc2) o2=$(summary allreduce_ops.rd b24) o3=$(summary allreduce_ops.rd b12)
if [ -n "$o1" ] && [ "$o1" = "$o2" ] && [ "$o3" = "$((2 * o1))" ]; then
    ok "accumulation over 2 steps halves the all-reduces ($o1 against $o3)"
else bad "all-reduce operations: accumulated '$o1', batch 24 '$o2', batch 12 '$o3'"; fi

echo "== (c) hierarchical all-reduce, 4 ranks on one node"
train flat4 4 treelstm --allreduce rd --hier off --bucket-mb 0.001
train hier4 4 treelstm --allreduce rd --hier on --bucket-mb 0.001
dbx_agree "$tmp/flat4.bin" "$tmp/hier4.bin" 1e-6 "hierarchical = flat"
h=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["allreduce_hier"], r["allreduce_participants"])' "$tmp/hier4.jsonl" 2>/dev/null)
if [ "$h" = "True 1" ]; then ok "the config record: hierarchical, 1 leader runs the algorithm"
else bad "the config record says '$h' (want 'True 1')"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
