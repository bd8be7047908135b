/* Evaluation (include/dbx/train.h: dbx_evaluate, and worker/worker.h: dbx__eval_data, the
 * dev-set evaluation of training): forward-only minibatches in file order, mean loss per
 * labelled node and argmax accuracy read from each labelled node's logits. Owned by the
 * worker module. Not thread-safe per run object. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "worker/worker.h"

static int32_t gold(const dbx__run *r, const dbx__data *d, int32_t i, int32_t k)
{
    if (d->tb) {
        int32_t l = d->tb->trees[i].label[k];
        return l < r->labels ? l : 0; /* as dbx_treelstm_build */
    }
    return d->ts->sents[i].tag[k];
}

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int j = 1; j < n; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

dbx_status dbx__eval_data(dbx__run *r, const dbx__data *d, int batch, dbx_eval_result *res)
{
    memset(res, 0, sizeof *res);
    if (batch < 1)
        return dbx__fail(DBX_EINVAL, "evaluation batch must be positive (got %d)", batch);
    double total = 0;
    for (int32_t first = 0; first < d->n; first += batch) {
        int32_t end = d->n - first < batch ? d->n : first + batch;
        size_t need = 0;
        for (int32_t i = first; i < end; i++) need += (size_t)dbx__data_labelled(d, i);
        DBX_TRY(DBX_GROW(r->logits, r->cap_logits, need));
        dbx_graph_clear(r->g);
        size_t at = 0;
        for (int32_t i = first; i < end; i++) {
            DBX_TRY(dbx__build(r, d, i, r->logits + at));
            at += (size_t)dbx__data_labelled(d, i);
        }
        double loss = 0;
        DBX_TRY(dbx_exec_forward(r->ex, r->g, &loss));
        total += loss;
        at = 0;
        for (int32_t i = first; i < end; i++) {
            int32_t n = dbx__data_labelled(d, i);
            for (int32_t k = 0; k < n; k++) {
                DBX_TRY(dbx_exec_value(r->ex, r->g, r->logits[at + (size_t)k], r->scores));
                res->correct += argmax(r->scores, r->labels) == gold(r, d, i, k);
            }
            at += (size_t)n;
            res->labelled += n;
        }
        res->samples += end - first;
    }
    res->loss = res->labelled ? total / (double)res->labelled : NAN;
    res->acc = res->labelled ? (double)res->correct / (double)res->labelled : NAN;
    return DBX_OK;
}

dbx_status dbx_evaluate(const dbx_train_opts *o, dbx_eval_result *res)
{
    if (!o || !res) return dbx__fail(DBX_EINVAL, "dbx_evaluate: NULL argument");
    memset(res, 0, sizeof *res);
    res->loss = res->acc = NAN;
    if (!o->load) return dbx__fail(DBX_EINVAL, "eval needs --load (a parameter file)");
    if (o->batch < 1) return dbx__fail(DBX_EINVAL, "batch must be positive (got %d)", o->batch);
    if (o->model != DBX_MODEL_TREELSTM && o->model != DBX_MODEL_TAGGER)
        return dbx__fail(DBX_EINVAL, "unknown model kind %d", (int)o->model);
    if (o->model == DBX_MODEL_TAGGER && !o->data)
        return dbx__fail(DBX_EINVAL, "bilstm-tagger needs --data (a token|TAG file)");
    dbx__run r;
    memset(&r, 0, sizeof r);
    dbx__data d;
    memset(&d, 0, sizeof d);
    dbx_status s = dbx__vocab_load(&r, o->load, o->model);
    if (!s) s = dbx__data_load(&r, o->data, o->synth_trees, o->seed, &d);
    int gpu = 0, sharing = 0; /* one process: the GPU nearest its cores */
    if (!s) s = dbx__gpu_pick(NULL, o->device, &gpu, &sharing, NULL, 0);
    if (!s) s = dbx__run_model(&r, o->seed, o->scheduler, o->dedup, o->fuse, o->device, gpu);
    if (!s) s = dbx_model_load(r.model, o->load);
    if (!s) s = dbx__eval_data(&r, &d, o->batch, res);
    dbx__data_free(&d);
    dbx__run_free(&r);
    if (s) res->loss = res->acc = NAN;
    return s;
}
