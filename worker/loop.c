/* The training loop shared by one process and by many ranks (one worker per rank).
 *
 * Setup: rank 0 reads the sample stream once (a file, "-" for standard input, or the
 * embedded synthetic treebank), builds the vocabulary and tells every rank the sizes, the
 * vocabulary and the step count (a failure there is broadcast, so every rank returns the
 * same error instead of hanging). Every rank creates the model from the same seed; rank 0's
 * parameters are then broadcast so replicas start bit-identical.
 *
 * Step k: every rank waits for its share of global batch k (shipped by the coordinator on
 * rank 0 while step k-1 was computed), builds and runs its samples' graphs forward and
 * backward, rank 0 plans step k+1 and starts shipping it, the gradients are summed across
 * ranks (dist.c) and scaled by 1 / global batch size in the optimizer, and per-worker
 * statistics are all-gathered. Every rank issues the same collectives in the same order,
 * also a rank that got no sample. Errors after setup abort the whole job (naming the rank),
 * because the other ranks would otherwise wait in a collective forever.
 * Not thread-safe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coordinator.h"
#include "core/model.h"
#include "core/status.h"
#include "models/wire.h"
#include "worker/loop.h"

/* In programs that link the CUDA object library only (comm/comm_nccl.c). */
extern dbx_status dbx_nccl_new(dbx_comm *c, void *compute_stream, dbx_nccl **out)
    __attribute__((weak));

/* ---- setup ---------------------------------------------------------------------------------- */
typedef struct setup_info {
    int32_t status, kind, embed, hidden, mlp, labels, has_dev, pad;
    int64_t nsamples, total_steps, recv_cap, vocab_bytes, tags_bytes, train_nodes;
} setup_info;

static size_t vocab_pack(const dbx_vocab *v, char *out)
{
    size_t at = 0;
    for (int32_t i = 1; i < dbx_vocab_size(v); i++) { /* id 0 is <unk> everywhere */
        const char *s = dbx_vocab_str(v, i);
        size_t l = strlen(s) + 1;
        if (out) memcpy(out + at, s, l);
        at += l;
    }
    return at;
}

static dbx_status vocab_unpack(dbx_vocab *v, const char *buf, size_t n)
{
    size_t at = 0;
    while (at < n) {
        size_t l = strnlen(buf + at, n - at);
        if (dbx_vocab_id(v, buf + at, l) < 0) return dbx__fail(DBX_ENOMEM, "out of memory");
        at += l + 1;
    }
    dbx_vocab_freeze(v);
    return DBX_OK;
}

/* Rank 0's part of setup: vocabulary, data, dev set, sizes. */
static dbx_status load_root(dbx__loop *t, setup_info *si)
{
    const dbx_train_opts *o = t->o;
    dbx__run *r = &t->run;
    if (o->load) {
        DBX_TRY(dbx__vocab_load(r, o->load, o->model));
    } else {
        DBX_TRY(dbx__run_vocab_new(r, o->model));
        r->embed = o->embed;
        r->hidden = o->hidden;
        r->mlp = o->model == DBX_MODEL_TAGGER && o->mlp > 0 ? o->mlp : o->hidden;
        r->labels = 5; /* SST: labels 0..4 (dbx_tree_opts default max_label) */
    }
    DBX_TRY(dbx__data_load(r, o->data, o->synth_trees, o->seed, &t->train));
    dbx_vocab_freeze(r->words);
    if (r->tags) {
        dbx_vocab_freeze(r->tags);
        if (!o->load) r->labels = dbx_vocab_size(r->tags);
    }
    if (o->dev) {
        DBX_TRY(dbx__data_load(r, o->dev, 0, o->seed, &t->dev));
        t->has_dev = 1;
    }
    int64_t per_epoch = (t->train.n + o->batch - 1) / o->batch;
    si->kind = r->kind;
    si->embed = r->embed;
    si->hidden = r->hidden;
    si->mlp = r->mlp;
    si->labels = r->labels;
    si->has_dev = t->has_dev;
    si->nsamples = t->train.n;
    si->train_nodes = t->train.nodes;
    si->total_steps = o->steps > 0 ? o->steps : (int64_t)o->epochs * per_epoch;
    si->vocab_bytes = (int64_t)vocab_pack(r->words, NULL);
    si->tags_bytes = r->tags ? (int64_t)vocab_pack(r->tags, NULL) : 0;
    return DBX_OK;
}

dbx_status dbx__loop_setup(dbx__loop *t)
{
    const dbx_train_opts *o = t->o;
    dbx__run *r = &t->run;
    setup_info si;
    memset(&si, 0, sizeof si);
    char msg[512] = "";
    if (t->rank == 0) {
        si.status = load_root(t, &si);
        if (si.status) snprintf(msg, sizeof msg, "%s", dbx_last_error());
    }
    /* collective (all ranks): rank 0's status and sizes */
    DBX_TRY(dbx_comm_bcast(t->comm, &si, sizeof si, 0));
    if (si.status) {
        DBX_TRY(dbx_comm_bcast(t->comm, msg, sizeof msg, 0));
        return dbx__fail((dbx_status)si.status, "%s", msg);
    }
    t->total_steps = si.total_steps;
    t->nsamples = (int32_t)si.nsamples;
    t->train_nodes = si.train_nodes;
    t->has_dev = si.has_dev;
    /* collective (all ranks): the vocabularies */
    size_t vb = (size_t)si.vocab_bytes, tb = (size_t)si.tags_bytes;
    char *buf = malloc(vb + tb + 1);
    if (!buf) return dbx__fail(DBX_ENOMEM, "out of memory");
    if (t->rank == 0) {
        vocab_pack(r->words, buf);
        if (r->tags) vocab_pack(r->tags, buf + vb);
    }
    dbx_status s = dbx_comm_bcast(t->comm, buf, vb + tb, 0);
    if (!s && t->rank != 0) {
        s = dbx__run_vocab_new(r, (dbx_model_kind)si.kind);
        if (!s) s = vocab_unpack(r->words, buf, vb);
        if (!s && r->tags) s = vocab_unpack(r->tags, buf + vb, tb);
        r->embed = si.embed;
        r->hidden = si.hidden;
        r->mlp = si.mlp;
        r->labels = si.labels;
    }
    free(buf);
    DBX_TRY(s);
    /* collective (all ranks) with --device cuda: each rank's GPU, near its cores. NCCL needs
       a GPU per rank (its init fails on a shared one), so refuse sharing here, on every rank
       alike (sharing is the job's maximum) */
    int gpu = 0, sharing = 0;
    int want_nccl = !o->allreduce || strcmp(o->allreduce, "nccl") == 0;
    DBX_TRY(dbx__gpu_pick(t->comm, o->device, &gpu, &sharing, t->gpu, sizeof t->gpu));
    if (sharing > 1 && want_nccl && dbx_nccl_new)
        return dbx__fail(DBX_ENOTSUP, "--device cuda: %d ranks of a host share one GPU (this "
                         "rank: %s), but the NCCL all-reduce needs a GPU per rank: start at most "
                         "one rank per GPU, or pass --allreduce mpi", sharing, t->gpu);
    DBX_TRY(dbx__run_model(r, o->seed, o->scheduler, o->dedup, o->fuse, o->device, gpu));
    int load_ok = 1;
    if (t->rank == 0 && o->load && dbx_model_load(r->model, o->load)) {
        load_ok = 0;
        snprintf(msg, sizeof msg, "%s", dbx_last_error());
    }
    int64_t ok = load_ok; /* collective (all ranks): did rank 0 load? */
    DBX_TRY(dbx_comm_allreduce_i64(t->comm, &ok, 1, DBX_COMM_MIN));
    if (!ok) {
        DBX_TRY(dbx_comm_bcast(t->comm, msg, sizeof msg, 0));
        return dbx__fail(DBX_EPARSE, "%s", msg);
    }
    /* collective (all ranks): rank 0's parameters, so replicas start identical (through
       host memory when the model lives on a GPU) */
    dbx_model *m = r->model;
    size_t pbytes = m->nfloats * sizeof(float);
    if (m->host) {
        DBX_TRY(dbx_comm_bcast(t->comm, m->val, pbytes, 0));
    } else {
        float *h = malloc(pbytes + 1);
        s = h ? dbx_model_read_values(m, h, m->nfloats) : dbx__fail(DBX_ENOMEM, "out of memory");
        if (!s) s = dbx_comm_bcast(t->comm, h, pbytes, 0);
        if (!s) s = m->be->ops->upload(m->be, m->val, h, pbytes);
        free(h);
        DBX_TRY(s);
    }
    /* GPU models on several ranks: NCCL unless --allreduce mpi (or dbx has no NCCL) */
    if (!m->host && t->W > 1 && want_nccl) {
        if (dbx_nccl_new && m->be->ops->stream)
            DBX_TRY(dbx_nccl_new(t->comm, m->be->ops->stream(m->be), &t->sync.nccl));
        else if (o->allreduce)
            return dbx__fail(DBX_ENOTSUP, "--allreduce nccl: this dbx was built without NCCL");
    }
    if (t->rank == 0) {
        dbx_part_strategy ps = DBX_PART_SIMILARITY;
        if (o->partition) DBX_TRY(dbx_part_parse(o->partition, &ps));
        DBX_TRY(dbx__coord_init(&t->coord, r, &t->train, t->W, o->batch, o->seed, o->shuffle,
                                ps));
        si.recv_cap = (int64_t)t->coord.max_msg_bytes;
    }
    /* collective (all ranks): the receive capacity (the largest possible message) */
    DBX_TRY(dbx_comm_bcast(t->comm, &si.recv_cap, sizeof si.recv_cap, 0));
    t->recv_cap = (size_t)si.recv_cap;
    for (int k = 0; k < 2; k++) {
        t->rbuf[k] = malloc(t->recv_cap);
        if (!t->rbuf[k]) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    t->wstats = calloc((size_t)t->W, sizeof *t->wstats);
    t->obs = calloc(3 * (size_t)t->W, sizeof *t->obs);
    if (!t->wstats || !t->obs) return dbx__fail(DBX_ENOMEM, "out of memory");
    return DBX_OK;
}

void dbx__loop_free(dbx__loop *t)
{
    dbx__coord_free(&t->coord);
    dbx__plan_free(&t->plan[0]);
    dbx__plan_free(&t->plan[1]);
    dbx__sync_free(&t->sync);
    free(t->rbuf[0]);
    free(t->rbuf[1]);
    free(t->wstats);
    free(t->obs);
    free(t->trace);
    dbx__data_free(&t->train);
    dbx__data_free(&t->dev);
    dbx__run_free(&t->run);
}

/* ---- one step ---------------------------------------------------------------------------- */
static void trace_add(dbx__loop *t, int64_t step, const char *name, double t0, double t1)
{
    if (!t->o->trace || step > t->trace_steps || t->ntrace >= t->cap_trace) return;
    dbx__trace_event *e = &t->trace[t->ntrace++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->step = step;
    e->t0 = t0 - t->t_origin;
    e->t1 = t1 - t->t_origin;
}

/* Starts shipping step `step` (rank 0 plans it first). */
static dbx_status ship(dbx__loop *t, int64_t step)
{
    dbx__plan *p = &t->plan[step & 1];
    if (t->rank == 0) {
        DBX_TRY(dbx__coord_plan(&t->coord, step, p));
        t->t_coord += p->t_plan;
        t->t_coord_step = p->t_plan;
    }
    /* collective (all ranks, nonblocking): this step's shares */
    return dbx_comm_scatter_start(t->comm, t->rank == 0 ? p->words : NULL,
                                  t->rank == 0 ? p->counts : NULL,
                                  t->rank == 0 ? p->displs : NULL, t->rbuf[step & 1],
                                  t->recv_cap, 0);
}

/* Builds and runs this rank's samples of the received message. */
static dbx_status compute(dbx__loop *t, const int32_t *words, size_t nbytes,
                          const dbx__msg_header *h, dbx__wstat *w)
{
    dbx__run *r = &t->run;
    size_t nw = nbytes / sizeof(int32_t), pos = DBX_MSG_HEADER;
    int32_t V = dbx_vocab_size(r->words);
    double t0 = dbx__now();
    dbx_graph_clear(r->g);
    for (int32_t k = 0; k < h->nsamples; k++) {
        if (r->tl) {
            dbx_tree tree;
            DBX_TRY(dbx_wire_get_tree(words, nw, &pos, V, r->labels, &tree));
            DBX_TRY(dbx_treelstm_build(r->tl, r->g, &tree, NULL));
            w->labelled += tree.n;
        } else {
            dbx_sentence s;
            DBX_TRY(dbx_wire_get_sent(words, nw, &pos, V, r->labels, &s));
            DBX_TRY(dbx_tagger_build(r->tg, r->g, &s, NULL));
            w->labelled += s.n;
        }
    }
    w->samples = h->nsamples;
    double t1 = dbx__now();
    w->build = t1 - t0;
    if (h->nsamples == 0) return DBX_OK; /* contributes zero gradients */
    w->requested = dbx_graph_num_requested(r->g);
    DBX_TRY(dbx_exec_forward(r->ex, r->g, &w->loss));
    DBX_TRY(dbx_exec_backward(r->ex, r->g, 1.0f));
    const dbx_exec_stats *st = dbx_exec_last_stats(r->ex);
    w->batches = (double)st->batches;
    w->launches = (double)st->launches;
    w->nodes = (double)st->nodes;
    w->gathered = (double)st->gathered_bytes;
    w->gemm = st->gemm_flops;
    w->sched = st->t_sched;
    w->plan = st->t_plan;
    w->fwd = st->t_forward;
    w->bwd = st->t_backward;
    return DBX_OK;
}

dbx_status dbx__loop_step(dbx__loop *t, int64_t step, dbx__step *out)
{
    dbx__wstat w;
    memset(&w, 0, sizeof w);
    double t0 = dbx__now();
    if (step == 1) DBX_TRY(ship(t, 1));
    size_t nbytes = 0;
    DBX_TRY(dbx_comm_scatter_wait(t->comm, &nbytes));
    double t1 = dbx__now();
    w.wait = t1 - t0;
    trace_add(t, step, "wait for samples", t0, t1);
    const int32_t *words = t->rbuf[step & 1];
    dbx__msg_header h;
    DBX_TRY(dbx__msg_read_header(words, nbytes, step, &h));
    DBX_TRY(compute(t, words, nbytes, &h, &w));
    double t2 = dbx__now();
    w.compute = t2 - t1;
    trace_add(t, step, "build + forward + backward", t1, t2);
    /* the next step ships while the slowest workers finish and gradients are reduced */
    if (step < t->total_steps) DBX_TRY(ship(t, step + 1));
    double t3 = dbx__now();
    trace_add(t, step, "plan + ship next step", t2, t3);
    DBX_TRY(dbx__grad_sync(t->comm, t->run.model, &t->sync));
    double t4 = dbx__now();
    w.allreduce = t->sync.seconds;
    w.ar_bytes = (double)t->sync.bytes;
    trace_add(t, step, "gradient all-reduce", t3, t4);
    dbx_optim opt = t->o->optim;
    opt.grad_scale = 1.0f / (float)h.global_bs; /* the global batch, whoever computed it */
    DBX_TRY(dbx_model_update(t->run.model, &opt));
    double t5 = dbx__now();
    w.update = t5 - t4;
    trace_add(t, step, "optimizer", t4, t5);
    /* collective (all ranks): every worker's statistics */
    DBX_TRY(dbx_comm_allgather(t->comm, &w, sizeof w, t->wstats));
    if (t->rank == 0) { /* fit the cost model to the measured worker times */
        double *l = t->obs, *n = t->obs + t->W, *sec = t->obs + 2 * t->W;
        for (int r = 0; r < t->W; r++) {
            l[r] = t->wstats[r].batches;
            n[r] = t->wstats[r].nodes;
            sec[r] = t->wstats[r].compute;
        }
        dbx__coord_observe(&t->coord, l, n, sec);
    }
    out->epoch = h.epoch;
    out->epoch_end = h.epoch_end;
    out->global_bs = h.global_bs;
    out->wall = dbx__now() - t0;
    return DBX_OK;
}

dbx_status dbx__loop_check_replicas(dbx__loop *t, uint64_t *checksum)
{
    uint64_t h = dbx_model_checksum(t->run.model);
    int64_t v[2] = {(int64_t)h, -(int64_t)h}; /* MIN of both = min and -max */
    /* collective (all ranks): do all replicas hold the same parameters? */
    DBX_TRY(dbx_comm_allreduce_i64(t->comm, v, 2, DBX_COMM_MIN));
    if (checksum) *checksum = h;
    if (v[0] != -v[1])
        return dbx__fail(DBX_EINVAL, "replicas diverged: parameter checksums differ across "
                                     "ranks (this rank %016llx)", (unsigned long long)h);
    return DBX_OK;
}
