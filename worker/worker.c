/* One rank's worker (worker/worker.h): the model instance, the per-step computation of a
 * received share of the global batch, evaluation of a dataset, the message format and the
 * GPU choice. Nothing here depends on which model runs: samples are opaque records that the
 * model type builds. Not thread-safe per worker. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "worker/worker.h"

/* ---- messages ------------------------------------------------------------------------------ */
size_t dbx__msg_put_sample(int32_t *dst, const dbx_sample *s, int32_t key)
{
    dst[0] = s->n;
    dst[1] = key;
    memcpy(dst + 2, s->w, (size_t)s->n * sizeof *dst);
    return 2 + (size_t)s->n;
}

void dbx__msg_put_header(int32_t *dst, int64_t step, const dbx__msg_header *h)
{
    dst[0] = DBX_MSG_MAGIC;
    dst[1] = (int32_t)step;
    dst[2] = h->global_bs;
    dst[3] = h->epoch;
    dst[4] = h->epoch_end;
    dst[5] = h->nsamples;
}

dbx_status dbx__msg_read_header(const int32_t *words, size_t nbytes, int64_t step,
                                dbx__msg_header *h)
{
    if (nbytes < DBX_MSG_HEADER * sizeof(int32_t) || nbytes % sizeof(int32_t) ||
        words[0] != DBX_MSG_MAGIC || words[1] != (int32_t)step)
        return dbx__fail(DBX_EPARSE, "step %lld: malformed message from the coordinator",
                         (long long)step);
    h->step = words[1];
    h->global_bs = words[2];
    h->epoch = words[3];
    h->epoch_end = words[4];
    h->nsamples = words[5];
    if (h->global_bs < 1 || h->nsamples < 0 || h->nsamples > h->global_bs)
        return dbx__fail(DBX_EPARSE, "step %lld: bad message header", (long long)step);
    return DBX_OK;
}

dbx_status dbx__msg_get_sample(const int32_t *words, size_t nwords, size_t *pos,
                               dbx_sample *out, int32_t *key)
{
    if (*pos + 1 >= nwords || words[*pos] < 1 || (size_t)words[*pos] > nwords - *pos - 2)
        return dbx__fail(DBX_EPARSE, "sample message: bad sample size at word %zu", *pos);
    out->n = words[*pos];
    *key = words[*pos + 1];
    out->w = words + *pos + 2;
    *pos += 2 + (size_t)out->n;
    return DBX_OK;
}

/* A 64-bit key from the run's seed, the step and a sample's index (splitmix64 steps). */
static uint64_t mix_seed(uint64_t seed, uint64_t step, uint64_t key)
{
    uint64_t x = seed ^ 0x6478622d726e6721ULL; /* "dbx-rng!" */
    (void)dbx__splitmix64(&x);
    x ^= step;
    (void)dbx__splitmix64(&x);
    x ^= key;
    return dbx__splitmix64(&x);
}

/* ---- the model instance --------------------------------------------------------------------- */
dbx_status dbx__worker_init(dbx__worker *w, const dbx_model_type *t, dbx_meta *meta,
                            const dbx__worker_opts *o)
{
    memset(w, 0, sizeof *w);
    w->type = t;
    w->meta = meta;
    DBX_TRY(dbx_model_new(&w->model));
    DBX_TRY(t->create(meta, w->model, &w->self));
    if (o->device) DBX_TRY(dbx_model_set_device(w->model, o->device, o->device_index));
    DBX_TRY(dbx_model_init(w->model, o->seed));
    w->seed = o->seed;
    dbx_exec_opts eo = {.scheduler = o->scheduler ? o->scheduler : "agenda", .fuse = o->fuse,
                        .device = o->device,
                        .device_index = o->device_index, .precision = o->precision};
    DBX_TRY(dbx_exec_new(&eo, &w->ex));
    return dbx_graph_new(w->model, o->dedup, &w->g);
}

void dbx__worker_free(dbx__worker *w)
{
    if (!w) return;
    dbx__sync_free(&w->sync);
    dbx_graph_free(w->g);
    dbx_exec_free(w->ex);
    if (w->type && w->type->destroy) w->type->destroy(w->self);
    dbx_model_free(w->model);
    dbx_meta_free(w->meta);
    free(w->outvals);
    free(w->outp);
    free(w->hval);
    free(w->hgrad);
    memset(w, 0, sizeof *w);
}

dbx_status dbx__worker_compute(dbx__worker *w, const int32_t *words, size_t nbytes,
                               const dbx__msg_header *h, dbx__wstat *st)
{
    size_t nw = nbytes / sizeof(int32_t), pos = DBX_MSG_HEADER;
    double t0 = dbx__now();
    dbx_graph_clear(w->g);
    dbx_graph_set_training(w->g, 1);
    for (int32_t k = 0; k < h->nsamples; k++) {
        dbx_sample s;
        int32_t key = 0;
        DBX_TRY(dbx__msg_get_sample(words, nw, &pos, &s, &key));
        /* the sample's random stream (dropout): from the run's seed, the step and the
           sample's index, never from this worker's share */
        dbx_graph_set_rng(w->g, mix_seed(w->seed, (uint64_t)h->step, (uint64_t)key));
        DBX_TRY(w->type->build(w->self, w->g, &s, DBX_BUILD_TRAIN));
    }
    st->samples = h->nsamples;
    st->labelled = dbx_graph_num_losses(w->g);
    st->build = dbx__now() - t0;
    if (h->nsamples == 0) return DBX_OK; /* contributes zero gradients */
    st->requested = dbx_graph_num_requested(w->g);
    DBX_TRY(dbx_exec_forward(w->ex, w->g, &st->loss));
    DBX_TRY(dbx_exec_backward(w->ex, w->g, 1.0f));
    const dbx_exec_stats *es = dbx_exec_last_stats(w->ex);
    st->batches = (double)es->batches;
    st->launches = (double)es->launches;
    st->nodes = (double)es->nodes;
    st->gathered = (double)es->gathered_bytes;
    st->gemm = es->gemm_flops;
    st->sched = es->t_sched;
    st->plan = es->t_plan;
    st->fwd = es->t_forward;
    st->bwd = es->t_backward;
    return DBX_OK;
}

/* ---- evaluation ------------------------------------------------------------------------------ */
/* Reads the values of outputs [first, last) into the scratch buffers. */
static dbx_status read_outputs(dbx__worker *w, int first, int last)
{
    size_t floats = 0;
    for (int i = first; i < last; i++)
        floats += (size_t)dbx_node_dim(w->g, dbx_graph_output_at(w->g, i));
    DBX_TRY(DBX_GROW(w->outvals, w->cap_outvals, floats + 1));
    DBX_TRY(DBX_GROW(w->outp, w->cap_outp, (size_t)(last - first) + 1));
    size_t at = 0;
    for (int i = first; i < last; i++) {
        dbx_node x = dbx_graph_output_at(w->g, i);
        DBX_TRY(dbx_exec_value(w->ex, w->g, x, w->outvals + at));
        w->outp[i - first] = w->outvals + at;
        at += (size_t)dbx_node_dim(w->g, x);
    }
    return DBX_OK;
}

dbx_status dbx__worker_forward(dbx__worker *w, const dbx_dataset *d, int batch,
                               dbx__sample_fn fn, void *arg, double *loss, int64_t *labelled)
{
    if (loss) *loss = 0;
    if (labelled) *labelled = 0;
    if (batch < 1)
        return dbx__fail(DBX_EINVAL, "evaluation batch must be positive (got %d)", batch);
    const dbx_model_type *t = w->type;
    int *first_out = malloc(((size_t)batch + 1) * sizeof *first_out);
    if (!first_out) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = DBX_OK;
    const int32_t n = dbx_dataset_size(d);
    for (int32_t first = 0; first < n && !s; first += batch) {
        int32_t end = n - first < batch ? n : first + batch;
        dbx_graph_clear(w->g);
        dbx_graph_set_training(w->g, 0); /* dropout off */
        for (int32_t i = first; i < end && !s; i++) {
            dbx_sample smp = dbx_dataset_get(d, i);
            first_out[i - first] = dbx_graph_num_outputs(w->g);
            s = t->build(w->self, w->g, &smp, DBX_BUILD_EVAL);
        }
        first_out[end - first] = dbx_graph_num_outputs(w->g);
        double l = 0;
        if (!s) s = dbx_exec_forward(w->ex, w->g, &l);
        if (s) break;
        if (loss) *loss += l;
        if (labelled) *labelled += dbx_graph_num_losses(w->g);
        for (int32_t i = first; i < end && !s && fn; i++) {
            int a = first_out[i - first], b = first_out[i - first + 1];
            s = read_outputs(w, a, b);
            dbx_sample smp = dbx_dataset_get(d, i);
            if (!s) s = fn(arg, i, &smp, b - a, w->outp);
        }
    }
    free(first_out);
    return s;
}

typedef struct eval_acc {
    dbx__worker *w;
    double stats[DBX_MAX_STATS];
} eval_acc;

static dbx_status eval_score(void *arg, int32_t i, const dbx_sample *smp, int nout,
                             const float *const *out)
{
    (void)i;
    eval_acc *e = arg;
    e->w->type->score(e->w->self, smp, nout, out, e->stats);
    return DBX_OK;
}

dbx_status dbx__worker_eval(dbx__worker *w, const dbx_dataset *d, int batch,
                            dbx_eval_result *res)
{
    memset(res, 0, sizeof *res);
    res->loss = res->acc = NAN;
    const dbx_model_type *t = w->type;
    eval_acc e;
    memset(&e, 0, sizeof e);
    e.w = w;
    double total = 0;
    int64_t labelled = 0;
    DBX_TRY(dbx__worker_forward(w, d, batch, t->score ? eval_score : NULL, &e, &total,
                                &labelled));
    res->samples = dbx_dataset_size(d);
    res->labelled = labelled;
    res->loss = labelled ? total / (double)labelled : NAN;
    if (t->report) res->nmetrics = t->report(w->self, e.stats, res->metrics, DBX_MAX_METRICS);
    if (res->nmetrics < 0 || res->nmetrics > DBX_MAX_METRICS) res->nmetrics = 0;
    if (res->nmetrics > 0) res->acc = res->metrics[0].value; /* the headline */
    return DBX_OK;
}

/* ---- GPU choice ------------------------------------------------------------------------------ */
dbx_status dbx__gpu_pick(dbx__comm *c, const char *device, int *index, int *sharing, char *desc,
                         size_t desc_cap)
{
    *index = dbx__comm_local_rank(c);
    *sharing = 0;
    if (desc && desc_cap) desc[0] = '\0';
    if (!device || strcmp(device, "cuda") != 0) return DBX_OK;
    char busid[DBX_GPU_MAX][32];
    int n = 0;
    DBX_TRY(dbx__backend_gpus(DBX_GPU_MAX, busid, &n));
    return dbx__topo_gpu_choose(c, n, busid, index, sharing, desc, desc_cap);
}
