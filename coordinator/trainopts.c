/* The training options beyond the optimizer (include/dbx/train.h): the learning-rate schedule,
 * the headline metric that keep_best and patience follow, the checks of these options, and
 * the dropout setting recorded in the meta. Pure functions of the options: every rank
 * computes the same values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/trainer.h"
#include "core/status.h"

#define DBX_PI 3.14159265358979323846

static const char *schedule_of(const dbx_train_opts *o)
{
    return o->lr_schedule ? o->lr_schedule : "constant";
}

double dbx_train_lr(const dbx_train_opts *o, int64_t step, int64_t total)
{
    const double lr = o->optim.lr;
    const char *name = schedule_of(o);
    const int64_t w = o->warmup > 0 ? o->warmup : 0;
    const int64_t i = step > 1 ? step - 1 : 0;
    if (strcmp(name, "constant") != 0 && strcmp(name, "step") != 0 &&
        strcmp(name, "cosine") != 0)
        return NAN;
    if (strcmp(name, "step") == 0 && o->lr_step_every <= 0) return NAN;
    if (i < w) return lr * (double)(i + 1) / (double)w;
    const int64_t j = i - w;
    if (strcmp(name, "step") == 0)
        return lr * pow(o->lr_step_factor, (double)(j / o->lr_step_every));
    if (strcmp(name, "cosine") == 0) {
        const int64_t T = total - w;
        if (T < 1) return lr;
        const double x = (double)(j < T ? j : T) / (double)T;
        return o->lr_min + (lr - o->lr_min) * 0.5 * (1.0 + cos(DBX_PI * x));
    }
    return lr;
}

double dbx_eval_headline(const dbx_eval_result *r, const char **name)
{
    if (r->nmetrics > 0) {
        if (name) *name = r->metrics[0].name ? r->metrics[0].name : "metric";
        return r->metrics[0].value;
    }
    if (name) *name = "-loss";
    return -r->loss;
}

dbx_status dbx__check_train_extra(const dbx_train_opts *o)
{
    if (!(o->clip_norm >= 0) || !isfinite(o->clip_norm))
        return dbx__fail(DBX_EINVAL, "clip norm must be >= 0 (got %g)", o->clip_norm);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return dbx__fail(DBX_EINVAL, "dropout must be in [0, 1) (got %g)", o->dropout);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return dbx__fail(DBX_EINVAL, "weight decay must be >= 0 (got %g)", o->weight_decay);
    const char *name = schedule_of(o);
    if (strcmp(name, "constant") != 0 && strcmp(name, "step") != 0 &&
        strcmp(name, "cosine") != 0)
        return dbx__fail(DBX_EINVAL, "unknown learning-rate schedule '%s' (expected constant, "
                                     "step or cosine)", name);
    if (o->warmup < 0)
        return dbx__fail(DBX_EINVAL, "warm-up steps must be >= 0 (got %lld)",
                         (long long)o->warmup);
    if (strcmp(name, "step") == 0 && o->lr_step_every <= 0)
        return dbx__fail(DBX_EINVAL, "the step schedule needs lr_step_every > 0 "
                                     "(--lr-step-every N)");
    if (o->lr_step_every < 0)
        return dbx__fail(DBX_EINVAL, "lr_step_every must be >= 0 (got %lld)",
                         (long long)o->lr_step_every);
    if (!(o->lr_step_factor > 0) || !isfinite(o->lr_step_factor))
        return dbx__fail(DBX_EINVAL, "lr step factor must be > 0 (got %g)", o->lr_step_factor);
    if (!(o->lr_min >= 0) || !(o->lr_min <= o->optim.lr))
        return dbx__fail(DBX_EINVAL, "lr_min must be in [0, lr] (got %g, lr %g)", o->lr_min,
                         (double)o->optim.lr);
    if (o->weight_decay > 0 && o->optim.kind == DBX_OPT_ADAM &&
        !((double)o->optim.lr * o->weight_decay < 1))
        return dbx__fail(DBX_EINVAL, "lr * weight decay must be < 1 for Adam's decoupled decay "
                                     "(got %g * %g)", (double)o->optim.lr, o->weight_decay);
    if (o->patience < 0)
        return dbx__fail(DBX_EINVAL, "patience must be >= 0 (got %d)", o->patience);
    if ((o->keep_best || o->patience > 0) && !o->dev)
        return dbx__fail(DBX_EINVAL, "%s needs a dev set (--dev FILE)",
                         o->keep_best ? "--keep-best" : "--patience");
    if (o->keep_best && !o->save)
        return dbx__fail(DBX_EINVAL, "--keep-best needs --save FILE (where the best parameters "
                                     "go)");
    return DBX_OK;
}

dbx_status dbx__meta_set_dropout(dbx_meta *meta, double p)
{
    int64_t ppm = llround(p * 1e6);
    if (ppm > 999999) ppm = 999999; /* p < 1 */
    if (ppm > 0 || dbx_meta_get(meta, DBX_META_DROPOUT, 0) != 0)
        return dbx_meta_set(meta, DBX_META_DROPOUT, ppm);
    return DBX_OK;
}

char *dbx__path_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", path, suffix);
    return p;
}
