/* The trainer (include/dbx/train.h), for one process or one worker per MPI rank.
 *
 * Setup (collective): rank 0 reads the sample stream once (a file, "-" for standard input,
 * or the model type's synthetic data) through the model type's parser, building the meta
 * (sizes and vocabularies) unless P.vocab is loaded, then tells every rank the sizes and the
 * meta (a failure there is broadcast, so every rank returns the same error instead of
 * hanging). Every rank creates its worker (the model from the same seed); rank 0's
 * parameters are then broadcast so replicas start bit-identical. Rank 0 builds every sample
 * once for the coordinator's structural signatures.
 *
 * Step k: every rank waits for its share of global batch k (shipped by the coordinator on
 * rank 0 while step k-1 was computed), its worker builds and runs it forward and backward,
 * rank 0 plans step k+1 and starts shipping it, the gradients are summed across ranks and
 * scaled by 1 / global batch size in the optimizer, and per-worker statistics are
 * all-gathered. Every rank issues the same collectives in the same order, also a rank that
 * got no sample. Errors after setup abort the whole job (naming the rank), because the
 * other ranks would otherwise wait in a collective forever. Not thread-safe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/trainer.h"
#include "core/model.h"
#include "core/status.h"
#include "dbx/sched.h"
#include "models/meta.h"

#define MAX_SIZE 65536
#define MAX_BATCH 1000000

/* In programs that link the CUDA object library only (comm/comm_nccl.c). */
extern dbx_status dbx__nccl_new(dbx__comm *c, void *compute_stream, dbx__nccl **out)
    __attribute__((weak));

void dbx_train_opts_default(dbx_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = dbx_model_type_at(0)->name; /* the first registered model type */
    o->synthetic = 2000;
    o->embed = o->hidden = 128;
    o->mlp = 0; /* = hidden */
    o->batch = 64;
    o->scheduler = "agenda";
    o->dedup = 1;
    o->fuse = 1;
    o->optim = dbx_optim_default(DBX_OPT_ADAM);
    o->epochs = 1;
    o->seed = 1;
    o->shuffle = 1;
    o->log_every = 10;
    o->comm = -1;
    o->timeout = 60;
    o->trace_steps = 20;
    o->overlap = 1;
    o->hier = -1;
    o->bucket_mb = 4;
    o->accum_steps = 1;
    o->clip_norm = 5;
    o->lr_schedule = "constant";
    o->lr_step_factor = 0.5;
}

dbx_status dbx__model_type_of(const dbx_train_opts *o, const dbx_model_type **t)
{
    if (o->model_type) {
        *t = o->model_type;
        return dbx__model_type_check(*t);
    }
    return dbx_model_type_find(o->model ? o->model : dbx_model_type_at(0)->name, t);
}

static dbx_status check_opts(const dbx_train_opts *o, const dbx_model_type **t)
{
    DBX_TRY(dbx__model_type_of(o, t));
    if (o->embed < 1 || o->embed > MAX_SIZE || o->hidden < 1 || o->hidden > MAX_SIZE ||
        o->mlp < 0 || o->mlp > MAX_SIZE)
        return dbx__fail(DBX_EINVAL, "embed, hidden and mlp must be in 1..%d (got %d, %d, %d)",
                         MAX_SIZE, o->embed, o->hidden, o->mlp);
    if (o->batch < 1 || o->batch > MAX_BATCH)
        return dbx__fail(DBX_EINVAL, "batch must be in 1..%d (got %d)", MAX_BATCH, o->batch);
    if (o->steps <= 0 && o->epochs < 1)
        return dbx__fail(DBX_EINVAL, "epochs must be positive (got %d)", o->epochs);
    DBX_TRY(dbx__check_data(*t, o->data));
    if (!o->data && o->synthetic < 1)
        return dbx__fail(DBX_EINVAL, "the number of synthetic samples must be positive (got %d)",
                         o->synthetic);
    if (!(o->optim.lr > 0) || !isfinite(o->optim.lr))
        return dbx__fail(DBX_EINVAL, "learning rate must be positive (got %g)",
                         (double)o->optim.lr);
    if ((unsigned)o->optim.kind > DBX_OPT_ADAM)
        return dbx__fail(DBX_EINVAL, "unknown optimizer %d", (int)o->optim.kind);
    const dbx_sched_type *sp;
    if (!o->scheduler) return dbx__fail(DBX_EINVAL, "no scheduler given");
    DBX_TRY(dbx_sched_find(o->scheduler, &sp));
    if (o->log_every < 0)
        return dbx__fail(DBX_EINVAL, "log_every must be >= 0 (got %d)", o->log_every);
    if (o->grad_wire_bf16 && o->allreduce && strcmp(o->allreduce, "mpi") == 0)
        return dbx__fail(DBX_EINVAL, "bfloat16 gradients on the wire need dbx's all-reduce "
                                     "(auto, rd, rabenseifner or ring), not mpi");
    if (o->hier < -1 || o->hier > 1 || (o->overlap != 0 && o->overlap != 1))
        return dbx__fail(DBX_EINVAL, "hier must be -1, 0 or 1 and overlap 0 or 1 (got %d, %d)",
                         o->hier, o->overlap);
    if (o->accum_steps < 1 || o->accum_steps > 1000000)
        return dbx__fail(DBX_EINVAL, "accum_steps must be in 1..1000000 (got %d)",
                         o->accum_steps);
    if (!(o->bucket_mb >= 0 && o->bucket_mb <= 1024))
        return dbx__fail(DBX_EINVAL, "bucket_mb must be in 0..1024 (got %g)", o->bucket_mb);
    return dbx__check_train_extra(o);
}

/* ---- data and meta ------------------------------------------------------------------------ */
static char *vocab_path(const char *params)
{
    size_t n = strlen(params) + 7;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.vocab", params);
    return p;
}

/* The meta saved beside a parameter file, checked against the model type. */
dbx_status dbx__load_meta(const dbx_model_type *t, const char *params, dbx_meta **out)
{
    char *path = vocab_path(params);
    if (!path) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx_meta_load(path, out);
    if (!s && strcmp(dbx_meta_model(*out), t->name) != 0) {
        s = dbx__fail(DBX_EINVAL, "%s: the parameters are of a %s model, not %s (use --model %s)",
                      path, dbx_meta_model(*out), t->name, dbx_meta_model(*out));
        dbx_meta_free(*out);
        *out = NULL;
    }
    free(path);
    return s;
}

dbx_status dbx__check_data(const dbx_model_type *t, const char *data)
{
    if (data || t->generate) return DBX_OK;
    return dbx__fail(DBX_EINVAL, "%s needs --data (%s)", t->name,
                     t->data_help ? t->data_help : "it has no synthetic data");
}

/* The training samples: o->data, or the model type's synthetic data. */
dbx_status dbx__load_train(const dbx_model_type *t, dbx_meta *meta, const char *data,
                           int synthetic, uint64_t seed, dbx_dataset **out)
{
    DBX_TRY(dbx__check_data(t, data));
    if (data) return dbx_dataset_read(t, meta, data, out);
    char *text = NULL;
    size_t len = 0;
    DBX_TRY(t->generate(synthetic, seed, &text, &len));
    dbx_status s = dbx_dataset_new(out);
    if (!s) s = t->parse(meta, "<synthetic>", text, len, *out);
    free(text);
    return s;
}

/* Fails unless path can be created (checked before any long work). */
static dbx_status check_writable(const char *path)
{
    dbx__afile a;
    DBX_TRY(dbx__afile_open(&a, path));
    dbx__afile_abort(&a);
    return DBX_OK;
}

/* ---- setup -------------------------------------------------------------------------------- */
typedef struct setup_info {
    int32_t status, has_dev;
    int64_t nsamples, total_steps, recv_cap, meta_bytes, train_units;
} setup_info;

/* Rank 0's part of setup: meta, data, dev set, output files, sizes. */
static dbx_status load_root(dbx_trainer *t, setup_info *si, char **meta_text, size_t *meta_len)
{
    const dbx_train_opts *o = &t->o;
    if (o->metrics) DBX_TRY(dbx__metrics_check(o->metrics)); /* fail before reading data */
    dbx_meta *meta = NULL;
    if (o->load) {
        DBX_TRY(dbx__load_meta(t->type, o->load, &meta));
    } else {
        DBX_TRY(dbx_meta_new(&meta));
        dbx_status s = dbx_meta_set_model(meta, t->type->name);
        if (!s) s = dbx_meta_set(meta, "embed", o->embed);
        if (!s) s = dbx_meta_set(meta, "hidden", o->hidden);
        if (!s) s = dbx_meta_set(meta, "mlp", o->mlp > 0 ? o->mlp : o->hidden);
        if (s) {
            dbx_meta_free(meta);
            return s;
        }
    }
    t->w.meta = meta; /* owned here until the worker takes it */
    DBX_TRY(dbx__meta_set_dropout(meta, o->dropout)); /* this run's, also over a loaded one */
    DBX_TRY(dbx__load_train(t->type, meta, o->data, o->synthetic, o->seed, &t->train));
    dbx_meta_freeze(meta);
    if (o->dev) {
        DBX_TRY(dbx_dataset_read(t->type, meta, o->dev, &t->dev));
        t->has_dev = 1;
    }
    if (o->save) DBX_TRY(check_writable(o->save));
    if (o->save && o->keep_best) { /* the final parameters go to P.last */
        char *last = dbx__path_suffix(o->save, ".last");
        dbx_status s = last ? check_writable(last) : dbx__fail(DBX_ENOMEM, "out of memory");
        free(last);
        DBX_TRY(s);
    }
    if (o->trace) DBX_TRY(check_writable(o->trace));
    DBX_TRY(dbx__meta_pack(meta, meta_text, meta_len));
    const int32_t n = dbx_dataset_size(t->train);
    int64_t per_epoch = (n + o->batch - 1) / o->batch;
    si->has_dev = t->has_dev;
    si->nsamples = n;
    si->train_units = dbx_dataset_units(t->train);
    si->total_steps = o->steps > 0 ? o->steps : (int64_t)o->epochs * per_epoch;
    si->meta_bytes = (int64_t)*meta_len;
    return DBX_OK;
}

/* Collective: fails on every rank when any rank failed, with the message of the lowest failing
   rank (prefixed "rank R: " unless it is rank 0, which reads the data). */
static dbx_status agree(dbx_trainer *t, dbx_status mine)
{
    int64_t who = mine ? t->rank : t->W;
    /* collective (all ranks): the lowest failing rank, W if none */
    DBX_TRY(dbx__comm_allreduce_i64(t->comm, &who, 1, DBX_COMM_MIN));
    if (who == t->W) return DBX_OK;
    int64_t v = mine;
    char msg[512] = "";
    if (t->rank == who) snprintf(msg, sizeof msg, "%s", dbx_last_error());
    /* collective (all ranks): its status and message */
    DBX_TRY(dbx__comm_bcast(t->comm, &v, sizeof v, (int)who));
    DBX_TRY(dbx__comm_bcast(t->comm, msg, sizeof msg, (int)who));
    if (who == 0) return dbx__fail((dbx_status)v, "%s", msg);
    return dbx__fail((dbx_status)v, "rank %d: %s", (int)who, msg);
}

/* Collective: rank 0's parameters to every rank (through host memory for a GPU model). */
static dbx_status bcast_params(dbx_trainer *t)
{
    dbx_model *m = t->w.model;
    size_t pbytes = m->nfloats * sizeof(float);
    if (m->host) return dbx__comm_bcast(t->comm, m->val, pbytes, 0);
    float *h = malloc(pbytes + 1);
    dbx_status s = h ? dbx_model_read_values(m, h, m->nfloats)
                     : dbx__fail(DBX_ENOMEM, "out of memory");
    if (!s) s = dbx__comm_bcast(t->comm, h, pbytes, 0);
    if (!s) s = m->be->ops->upload(m->be, m->val, h, pbytes);
    free(h);
    return s;
}

static dbx_status setup(dbx_trainer *t)
{
    const dbx_train_opts *o = &t->o;
    setup_info si;
    memset(&si, 0, sizeof si);
    char *meta_text = NULL;
    size_t meta_len = 0;
    dbx_status s = t->rank == 0 ? load_root(t, &si, &meta_text, &meta_len) : DBX_OK;
    s = agree(t, s);
    /* collective (all ranks): the sizes */
    if (!s) s = dbx__comm_bcast(t->comm, &si, sizeof si, 0);
    if (!s && t->rank != 0 && !(meta_text = malloc((size_t)si.meta_bytes + 1)))
        s = dbx__fail(DBX_ENOMEM, "out of memory");
    /* collective (all ranks): the meta as text (sizes and vocabularies) */
    if (!s) s = dbx__comm_bcast(t->comm, meta_text, (size_t)si.meta_bytes, 0);
    if (!s && t->rank != 0) s = dbx__meta_unpack("<rank 0>", meta_text, (size_t)si.meta_bytes,
                                                 &t->w.meta);
    free(meta_text);
    DBX_TRY(s);
    t->total_steps = si.total_steps;
    t->nsamples = (int32_t)si.nsamples;
    t->train_units = si.train_units;
    t->has_dev = si.has_dev;
    /* collective (all ranks) with --device cuda: each rank's GPU, near its cores. NCCL needs
       a GPU per rank (its init fails on a shared one), so refuse sharing here, on every rank
       alike (sharing is the job's maximum) */
    int gpu = 0, sharing = 0;
    int want_nccl = !o->allreduce || strcmp(o->allreduce, "nccl") == 0 ||
                    strcmp(o->allreduce, "auto") == 0;
    DBX_TRY(dbx__gpu_pick(t->comm, o->device, &gpu, &sharing, t->gpu, sizeof t->gpu));
    if (sharing > 1 && want_nccl && dbx__nccl_new)
        return dbx__fail(DBX_ENOTSUP, "--device cuda: %d ranks of a host share one GPU (this "
                         "rank: %s), but the NCCL all-reduce needs a GPU per rank: start at most "
                         "one rank per GPU, or pass --allreduce mpi", sharing, t->gpu);
    dbx_meta *meta = t->w.meta;
    t->w.meta = NULL;
    dbx__worker_opts wo = {.seed = o->seed, .scheduler = o->scheduler, .dedup = o->dedup,
                           .fuse = o->fuse, .device = o->device, .device_index = gpu,
                           .precision = o->precision};
    DBX_TRY(agree(t, dbx__worker_init(&t->w, t->type, meta, &wo)));
    if (t->rank == 0 && o->load) s = dbx_model_load(t->w.model, o->load);
    DBX_TRY(agree(t, s));
    DBX_TRY(bcast_params(t));
    /* GPU models on several ranks: NCCL unless --allreduce mpi (or dbx has no NCCL) */
    dbx_model *m = t->w.model;
    DBX_TRY(dbx__sync_attach(&t->w.sync, t->comm, m, t->w.ex, o->overlap,
                             dbx__comm_bucket_bytes(t->comm)));
    if (!m->host && t->W > 1 && want_nccl) {
        if (dbx__nccl_new && m->be->ops->stream)
            DBX_TRY(dbx__nccl_new(t->comm, m->be->ops->stream(m->be), &t->w.sync.nccl));
        else if (o->allreduce)
            return dbx__fail(DBX_ENOTSUP, "--allreduce nccl: this dbx was built without NCCL");
    }
    if (t->rank == 0) {
        dbx__part_strategy ps = DBX_PART_SIMILARITY;
        s = o->partition ? dbx__part_parse(o->partition, &ps) : DBX_OK;
        if (!s) s = dbx__coord_init(&t->coord, &t->w, t->train, t->W, o->batch, o->seed,
                                    o->shuffle, ps);
        si.recv_cap = (int64_t)t->coord.max_msg_bytes;
    }
    DBX_TRY(agree(t, s));
    /* collective (all ranks): the receive capacity (the largest possible message) */
    DBX_TRY(dbx__comm_bcast(t->comm, &si.recv_cap, sizeof si.recv_cap, 0));
    t->recv_cap = (size_t)si.recv_cap;
    for (int k = 0; k < 2; k++)
        if (!(t->rbuf[k] = malloc(t->recv_cap))) return dbx__fail(DBX_ENOMEM, "out of memory");
    t->wstats = calloc((size_t)t->W, sizeof *t->wstats);
    t->obs = calloc(3 * (size_t)t->W, sizeof *t->obs);
    if (!t->wstats || !t->obs) return dbx__fail(DBX_ENOMEM, "out of memory");
    return DBX_OK;
}

/* A failure inside a collective phase: with several ranks the others wait in a collective,
   so end the job naming the error; alone, return it. */
dbx_status dbx__fatal(dbx_trainer *t, dbx_status s)
{
    if (s && t->W > 1) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", dbx_status_str(s), dbx_last_error());
        if (t->log) fflush(t->log);
        dbx__comm_abort(t->comm, 1, msg);
    }
    return s;
}

dbx_status dbx__trainer_init(dbx_trainer *t, const dbx_train_opts *o)
{
    t->o = *o;
    DBX_TRY(check_opts(o, &t->type));
    dbx__comm_opts co = dbx__comm_opts_default();
    co.want_mpi = o->comm;
    co.timeout_s = o->timeout;
    co.hier = o->hier;
    co.bucket_bytes = (size_t)(o->bucket_mb * 1048576.0);
    co.wire_bf16 = o->grad_wire_bf16;
    if (o->allreduce && strcmp(o->allreduce, "nccl") != 0) /* "nccl": GPUs; CPUs run auto */
        DBX_TRY(dbx__ar_algo_parse(o->allreduce, &co.algo));
    DBX_TRY(dbx__comm_init(&co, NULL, NULL, &t->comm));
    t->rank = dbx__comm_rank(t->comm);
    t->W = dbx__comm_size(t->comm);
    t->log = o->quiet || t->rank != 0 ? NULL : o->log ? o->log : stderr;
    dbx__bind bind = dbx__comm_kind_of(t->comm) == DBX_COMM_MPI ? DBX_BIND_CORE : DBX_BIND_NONE;
    if (o->bind) DBX_TRY(dbx__bind_parse(o->bind, &bind));
    DBX_TRY(dbx__topo_bind(t->comm, bind, t->topo, sizeof t->topo));
    DBX_TRY(setup(t)); /* chooses the GPU after the binding, near its cores */
    if (t->gpu[0]) {
        size_t at = strlen(t->topo);
        snprintf(t->topo + at, sizeof t->topo - at, "; %s", t->gpu);
    }
    char topo_all[4096];
    DBX_TRY(dbx__fatal(t, dbx__report_topology(t, topo_all, sizeof topo_all)));
    DBX_TRY(dbx__fatal(t, t->rank == 0 ? dbx__report_start(t, topo_all) : DBX_OK));
    if (o->trace) {
        t->trace_steps = o->trace_steps > 0 ? o->trace_steps : 20;
        t->cap_trace = (size_t)t->trace_steps * 8;
        t->trace = calloc(t->cap_trace, sizeof *t->trace);
        if (!t->trace) return dbx__fatal(t, dbx__fail(DBX_ENOMEM, "out of memory"));
    }
    /* collective (all ranks): a common time origin for the trace */
    DBX_TRY(dbx__fatal(t, dbx__comm_barrier(t->comm)));
    t->t_origin = dbx__now();
    return DBX_OK;
}

dbx_status dbx_trainer_new(const dbx_train_opts *o, dbx_trainer **out)
{
    *out = NULL;
    if (!o) return dbx__fail(DBX_EINVAL, "dbx_trainer_new: NULL options");
    dbx_trainer *t = calloc(1, sizeof *t);
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx__trainer_init(t, o);
    if (s) {
        dbx_trainer_free(t);
        return s;
    }
    *out = t;
    return DBX_OK;
}

void dbx_trainer_free(dbx_trainer *t)
{
    if (!t) return;
    if (t->in_flight) { /* collective (all ranks): finish the prefetched step */
        size_t nbytes;
        dbx__comm_scatter_wait(t->comm, &nbytes);
    }
    if (t->log) fflush(t->log);
    dbx__metrics_close(&t->metrics);
    dbx__coord_free(&t->coord);
    dbx__shipment_free(&t->ship[0]);
    dbx__shipment_free(&t->ship[1]);
    free(t->rbuf[0]);
    free(t->rbuf[1]);
    free(t->wstats);
    free(t->obs);
    free(t->trace);
    dbx_dataset_free(t->train);
    dbx_dataset_free(t->dev);
    dbx__worker_free(&t->w); /* also the meta while no worker holds it */
    dbx__comm_free(t->comm);
    free(t);
}

int dbx_trainer_rank(const dbx_trainer *t) { return t->rank; }
int dbx_trainer_ranks(const dbx_trainer *t) { return t->W; }
int64_t dbx_trainer_total_steps(const dbx_trainer *t) { return t->total_steps; }
dbx_model *dbx_trainer_model(dbx_trainer *t) { return t->w.model; }
const dbx_meta *dbx_trainer_meta(const dbx_trainer *t) { return t->w.meta; }

/* ---- one step ----------------------------------------------------------------------------- */
/* Starts shipping step k (rank 0 plans it first). */
static dbx_status ship(dbx_trainer *t, int64_t k)
{
    dbx__shipment *p = &t->ship[k & 1];
    if (t->rank == 0) {
        DBX_TRY(dbx__coord_plan(&t->coord, k, p));
        t->t_coord += p->t_plan;
        t->t_coord_step = p->t_plan;
    }
    /* collective (all ranks, nonblocking): this step's shares */
    DBX_TRY(dbx__comm_scatter_start(t->comm, t->rank == 0 ? p->words : NULL,
                                   t->rank == 0 ? p->counts : NULL,
                                   t->rank == 0 ? p->displs : NULL, t->rbuf[k & 1],
                                   t->recv_cap, 0));
    t->in_flight = 1;
    return DBX_OK;
}

static dbx_status step(dbx_trainer *t, dbx_step_info *info)
{
    const int64_t k = t->step + 1;
    dbx__wstat w;
    memset(&w, 0, sizeof w);
    double t0 = dbx__now();
    if (!t->in_flight) DBX_TRY(ship(t, k));
    size_t nbytes = 0;
    t->in_flight = 0;
    DBX_TRY(dbx__comm_scatter_wait(t->comm, &nbytes));
    double t1 = dbx__now();
    w.wait = t1 - t0;
    dbx__trace_add(t, k, "wait for samples", t0, t1);
    const int32_t *words = t->rbuf[k & 1];
    dbx__msg_header h;
    DBX_TRY(dbx__msg_read_header(words, nbytes, k, &h));
    /* local accumulation: the update (and the all-reduce, which the backward pass may start
       early) only after every accum_steps-th minibatch and after the last */
    const int update = k % t->o.accum_steps == 0 || k >= t->total_steps;
    if (t->o.accum_steps > 1) dbx__sync_overlap_now(&t->w.sync, t->w.ex, update);
    DBX_TRY(dbx__worker_compute(&t->w, words, nbytes, &h, &w));
    double t2 = dbx__now();
    w.compute = t2 - t1;
    dbx__trace_add(t, k, "build + forward + backward", t1, t2);
    /* the next step ships while the slowest workers finish and gradients are reduced */
    if (k < t->total_steps) DBX_TRY(ship(t, k + 1));
    double t3 = dbx__now();
    dbx__trace_add(t, k, "plan + ship next step", t2, t3);
    dbx__update_opts u = {.optim = t->o.optim, .clip_norm = t->o.clip_norm,
                          .weight_decay = t->o.weight_decay};
    t->last_lr = dbx_train_lr(&t->o, k, t->total_steps);
    u.optim.lr = (float)t->last_lr;
    t->accum_bs += h.global_bs;
    w.grad_norm = NAN;
    if (update) {
        DBX_TRY(dbx__worker_update(&t->w, t->comm, &u, t->accum_bs, &w));
        t->accum_bs = 0;
    }
    double t4 = dbx__now();
    dbx__trace_add(t, k, "gradient all-reduce + optimizer", t3, t4);
    /* collective (all ranks): every worker's statistics */
    DBX_TRY(dbx__comm_allgather(t->comm, &w, sizeof w, t->wstats));
    if (t->rank == 0) { /* fit the cost model to the measured worker times */
        double *l = t->obs, *n = t->obs + t->W, *sec = t->obs + 2 * t->W;
        for (int r = 0; r < t->W; r++) {
            l[r] = t->wstats[r].batches;
            n[r] = t->wstats[r].nodes;
            sec[r] = t->wstats[r].compute;
        }
        dbx__coord_observe(&t->coord, l, n, sec);
        t->last_model_gemm = t->ship[k & 1].model_gemm;
    }
    t->step = k;
    if (info) {
        memset(info, 0, sizeof *info);
        info->step = k;
        info->epoch = h.epoch;
        info->epoch_end = h.epoch_end;
        for (int r = 0; r < t->W; r++) {
            info->samples += (int64_t)t->wstats[r].samples;
            info->labelled += (int64_t)t->wstats[r].labelled;
            info->loss += t->wstats[r].loss;
        }
        info->wall = dbx__now() - t0;
        info->lr = t->last_lr;
        info->grad_norm = w.grad_norm;
        info->clipped = w.clipped != 0;
    }
    return DBX_OK;
}

dbx_status dbx_trainer_step(dbx_trainer *t, dbx_step_info *info)
{
    dbx_step_info own;
    if (!info) info = &own;
    dbx_status s = step(t, info);
    if (!s) dbx__step_sums(t, info, &t->last_sums);
    if (!s && t->rank == 0 && t->metrics.open) /* the step record, for any caller's loop */
        s = dbx__report_step(t, info->step, info->epoch, &t->last_sums);
    return dbx__fatal(t, s);
}

dbx_status dbx__check_replicas(dbx_trainer *t, uint64_t *checksum)
{
    /* the parameter checksum, then what this rank issued so far (before this check's own
       collective): count, ordered hash, all-reduce sum */
    uint64_t d[4] = {dbx_model_checksum(t->w.model)};
    dbx__comm_digest(t->comm, d + 1);
    int64_t lo[4], hi[4];
    /* collective (all ranks): do all replicas hold the same parameters, and did every rank
       issue the same collectives? */
    DBX_TRY(dbx__comm_range_u64(t->comm, d, 4, lo, hi));
    *checksum = d[0];
    if (lo[0] != hi[0])
        return dbx__fail(DBX_EINVAL, "replicas diverged: parameter checksums differ across "
                                     "ranks (this rank %016llx)", (unsigned long long)d[0]);
    if (lo[1] != hi[1] || lo[2] != hi[2] || lo[3] != hi[3])
        return dbx__fail(DBX_EINVAL, "ranks issued different collectives: this rank %llu "
                         "(ordered hash %016llx, all-reduce sum %016llx), counts from %lld to "
                         "%lld across ranks", (unsigned long long)d[1], (unsigned long long)d[2],
                         (unsigned long long)d[3], (long long)lo[1], (long long)hi[1]);
    t->collectives = d[1];
    return DBX_OK;
}

/* ---- evaluation, save, load ------------------------------------------------------------- */
/* Rank 0: the dataset at path (NULL: the dev set), evaluated with the current parameters. */
static dbx_status eval_root(dbx_trainer *t, const char *path, dbx_eval_result *r)
{
    if (!path && !t->has_dev) return dbx__fail(DBX_EINVAL, "evaluate: no path and no dev set");
    if (!path) return dbx__worker_eval(&t->w, t->dev, t->o.batch, r);
    dbx_dataset *d = NULL;
    DBX_TRY(dbx_dataset_read(t->type, t->w.meta, path, &d));
    dbx_status s = dbx__worker_eval(&t->w, d, t->o.batch, r);
    dbx_dataset_free(d);
    return s;
}

dbx_status dbx_trainer_evaluate(dbx_trainer *t, const char *path, dbx_eval_result *r)
{
    memset(r, 0, sizeof *r);
    r->loss = r->acc = NAN;
    dbx_status s = t->rank == 0 ? eval_root(t, path, r) : DBX_OK;
    DBX_TRY(agree(t, s));
    /* collective (all ranks): the numbers; metric names are each process's own pointers */
    double v[3 + DBX_MAX_METRICS] = {(double)r->samples, (double)r->labelled, r->loss};
    for (int i = 0; i < r->nmetrics; i++) v[3 + i] = r->metrics[i].value;
    int64_t nm = r->nmetrics;
    DBX_TRY(dbx__comm_bcast(t->comm, &nm, sizeof nm, 0));
    DBX_TRY(dbx__comm_bcast(t->comm, v, sizeof v, 0));
    if (t->rank != 0) {
        dbx_eval_result mine;
        memset(&mine, 0, sizeof mine);
        if (t->type->report) { /* the names, from the model type of this process */
            double zero[DBX_MAX_STATS] = {0};
            mine.nmetrics = t->type->report(t->w.self, zero, mine.metrics, DBX_MAX_METRICS);
        }
        r->samples = (int64_t)v[0];
        r->labelled = (int64_t)v[1];
        r->loss = v[2];
        r->nmetrics = (int)nm < mine.nmetrics ? (int)nm : mine.nmetrics;
        for (int i = 0; i < r->nmetrics; i++) {
            r->metrics[i].name = mine.metrics[i].name;
            r->metrics[i].value = v[3 + i];
        }
        if (r->nmetrics > 0) r->acc = r->metrics[0].value; /* the headline */
    }
    return DBX_OK;
}

static dbx_status save_root(dbx_trainer *t, const char *path)
{
    DBX_TRY(dbx_model_save(t->w.model, path));
    char *vp = vocab_path(path);
    if (!vp) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx_meta_save(t->w.meta, vp);
    free(vp);
    return s;
}

dbx_status dbx_trainer_save(dbx_trainer *t, const char *path)
{
    if (!path) return dbx__fail(DBX_EINVAL, "dbx_trainer_save: NULL path");
    return agree(t, t->rank == 0 ? save_root(t, path) : DBX_OK);
}

dbx_status dbx_trainer_load(dbx_trainer *t, const char *path)
{
    if (!path) return dbx__fail(DBX_EINVAL, "dbx_trainer_load: NULL path");
    DBX_TRY(agree(t, t->rank == 0 ? dbx_model_load(t->w.model, path) : DBX_OK));
    return dbx__fatal(t, bcast_params(t));
}
