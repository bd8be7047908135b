/* Prediction with saved parameters (include/dbx/predict.h): one process, one worker (the
 * model instance, graph and executor of worker/) whose forward pass hands each sample's
 * outputs to the model type's predict callback or to the caller. Nothing here depends on which
 * model runs. Not thread-safe per predictor. */
#include <stdlib.h>
#include <string.h>

#include "coordinator/trainer.h"
#include "core/afile.h"
#include "core/status.h"
#include "dbx/predict.h"

struct dbx_predictor {
    const dbx_model_type *type;
    dbx_predict_opts o;
    dbx__worker w;
};

void dbx_predict_opts_default(dbx_predict_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->scheduler = "agenda";
    o->dedup = 1;
}

/* The meta at o->vocab (default params.vocab) and the model type of o, or the registered one
   that the meta names; the meta must name the type. */
static dbx_status predictor_meta(const char *params, const dbx_predict_opts *o,
                                 const dbx_model_type **type, dbx_meta **meta)
{
    char *path = NULL;
    if (!o->vocab) {
        size_t n = strlen(params) + 7;
        if (!(path = malloc(n))) return dbx__fail(DBX_ENOMEM, "out of memory");
        snprintf(path, n, "%s.vocab", params);
    }
    const char *vp = o->vocab ? o->vocab : path;
    dbx_status s = dbx_meta_load(vp, meta);
    const char *named = s ? "" : dbx_meta_model(*meta);
    if (!s && (o->model_type || o->model)) {
        dbx_train_opts to;
        dbx_train_opts_default(&to);
        to.model = o->model;
        to.model_type = o->model_type;
        s = dbx__model_type_of(&to, type);
        if (!s && strcmp(named, (*type)->name) != 0)
            s = dbx__fail(DBX_EINVAL, "%s: the parameters are of a %s model, not %s (use "
                          "--model %s)", vp, named, (*type)->name, named);
    } else if (!s && (s = dbx_model_type_find(named, type))) {
        char msg[512]; /* dbx__fail must not read its own message */
        snprintf(msg, sizeof msg, "%s", dbx_last_error());
        s = dbx__fail(s, "%s: %s", vp, msg);
    }
    if (s) {
        dbx_meta_free(*meta);
        *meta = NULL;
    }
    free(path);
    return s;
}

static dbx_status predictor_init(dbx_predictor *p, const char *params)
{
    const dbx_predict_opts *o = &p->o;
    if (o->batch < 1) return dbx__fail(DBX_EINVAL, "batch must be positive (got %d)", o->batch);
    dbx_meta *meta = NULL;
    DBX_TRY(predictor_meta(params, o, &p->type, &meta));
    int gpu = 0, sharing = 0; /* one process: the GPU nearest its cores */
    dbx_status s = dbx__gpu_pick(NULL, o->device, &gpu, &sharing, NULL, 0);
    if (s) {
        dbx_meta_free(meta);
        return s;
    }
    dbx__worker_opts wo = {.seed = 1, .scheduler = o->scheduler, .dedup = o->dedup, .fuse = 1,
                           .device = o->device, .device_index = gpu,
                           .precision = o->precision};
    DBX_TRY(dbx__worker_init(&p->w, p->type, meta, &wo)); /* the worker owns the meta */
    return dbx_model_load(p->w.model, params);
}

dbx_status dbx_predictor_new(const char *params, const dbx_predict_opts *o,
                             dbx_predictor **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_predictor_new: out is NULL");
    *out = NULL;
    if (!params) return dbx__fail(DBX_EINVAL, "dbx_predictor_new: no parameter file");
    dbx_predictor *p = calloc(1, sizeof *p);
    if (!p) return dbx__fail(DBX_ENOMEM, "out of memory");
    if (o) p->o = *o;
    else dbx_predict_opts_default(&p->o);
    if (!p->o.scheduler) p->o.scheduler = "agenda";
    dbx_status s = predictor_init(p, params);
    if (s) {
        char msg[600]; /* keep the message across the cleanup's calls */
        snprintf(msg, sizeof msg, "%s", dbx_last_error());
        dbx_predictor_free(p);
        return dbx__fail(s, "%s", msg);
    }
    *out = p;
    return DBX_OK;
}

void dbx_predictor_free(dbx_predictor *p)
{
    if (!p) return;
    dbx__worker_free(&p->w);
    free(p);
}

const dbx_model_type *dbx_predictor_type(const dbx_predictor *p) { return p->type; }
const dbx_meta *dbx_predictor_meta(const dbx_predictor *p) { return p->w.meta; }

dbx_status dbx_predictor_parse(dbx_predictor *p, const char *name, const char *text,
                               size_t len, dbx_dataset **out)
{
    *out = NULL;
    if (!name) name = "<input>";
    const dbx_model_type *t = p->type;
    dbx_dataset *ds = NULL;
    DBX_TRY(dbx_dataset_new(&ds));
    dbx_status s = (t->parse_unlabelled ? t->parse_unlabelled : t->parse)(p->w.meta, name, text,
                                                                         len, ds);
    if (!s && dbx_dataset_size(ds) == 0)
        s = dbx__fail(DBX_EPARSE, "%s: expected at least one sample (%s)", name,
                      t->data_help ? t->data_help : "the model's input format");
    if (s) {
        dbx_dataset_free(ds);
        return s;
    }
    *out = ds;
    return DBX_OK;
}

dbx_status dbx_predictor_read(dbx_predictor *p, const char *path, dbx_dataset **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_status s = dbx_predictor_parse(p, path, text, len, out);
    free(text);
    return s;
}

dbx_status dbx_predictor_run(dbx_predictor *p, const dbx_dataset *ds, dbx_predict_fn fn,
                             void *arg)
{
    return dbx__worker_forward(&p->w, ds, p->o.batch, fn, arg, NULL, NULL);
}

typedef struct write_ctx {
    dbx_predictor *p;
    unsigned flags;
    FILE *f;
} write_ctx;

static dbx_status write_one(void *arg, int32_t i, const dbx_sample *s, int nout,
                            const float *const *out)
{
    write_ctx *c = arg;
    DBX_TRY(c->p->type->predict(c->p->w.self, s, nout, out, c->flags, c->f));
    if (fputc('\n', c->f) == EOF || ferror(c->f))
        return dbx__fail(DBX_EIO, "writing the prediction of sample %d failed", (int)i + 1);
    return DBX_OK;
}

dbx_status dbx_predictor_write(dbx_predictor *p, const dbx_dataset *ds, unsigned flags,
                               FILE *f)
{
    if (!p->type->predict)
        return dbx__fail(DBX_ENOTSUP, "model %s does not support prediction (its model type "
                         "has no predict callback)", p->type->name);
    write_ctx c = {p, flags, f};
    DBX_TRY(dbx_predictor_run(p, ds, write_one, &c));
    if (fflush(f) != 0 || ferror(f)) return dbx__fail(DBX_EIO, "writing the predictions failed");
    return DBX_OK;
}

dbx_status dbx_predictor_write_file(dbx_predictor *p, const dbx_dataset *ds, unsigned flags,
                                    const char *path)
{
    if (!path || strcmp(path, "-") == 0) return dbx_predictor_write(p, ds, flags, stdout);
    if (!p->type->predict) return dbx_predictor_write(p, ds, flags, NULL); /* the error */
    dbx__afile a;
    DBX_TRY(dbx__afile_open(&a, path));
    dbx_status s = dbx_predictor_write(p, ds, flags, a.f);
    if (s) {
        char msg[600]; /* keep the message across the cleanup */
        snprintf(msg, sizeof msg, "%s", dbx_last_error());
        dbx__afile_abort(&a);
        return dbx__fail(s, "%s", msg);
    }
    return dbx__afile_commit(&a);
}
