/* A whole training run (include/dbx/train.h: dbx_trainer_run, dbx_train) and the one-process
 * evaluation of saved parameters (dbx_evaluate). The run sums what every worker did per
 * step, prints progress and epoch lines, appends the metrics records as they happen (an
 * error record when the run fails), evaluates the dev set after each epoch on rank 0,
 * checks replicas, and at the end saves the parameters and writes the trace. Not
 * thread-safe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/trainer.h"
#include "core/status.h"

/* Model selection on the dev set (keep_best, patience): rank 0 follows the headline metric
   and decides; every rank learns the decision. */
typedef struct dbx__select {
    double best;           /* the best headline metric so far (-inf: none yet) */
    int best_epoch, since; /* evaluations since the best one */
    int64_t best_step;
    const char *name;      /* the headline metric's name (rank 0) */
    double improved, stop; /* the last decision (doubles: broadcast with the best) */
} dbx__select;

/* Ends an epoch (possibly partial): dev evaluation and the epoch line (rank 0), and on rank 0
   whether the headline metric improved and whether patience ends the run. */
static dbx_status end_epoch(dbx_trainer *t, int epoch, int64_t step, const dbx__sums *e,
                            int partial, dbx_train_result *res, double *t_dev, dbx__select *sel)
{
    res->last_epoch_loss = dbx__ratio(e->loss, (double)e->labelled);
    if (t->has_dev) res->evaluations++;
    if (t->rank != 0) return DBX_OK;
    dbx_eval_result dv;
    memset(&dv, 0, sizeof dv);
    dv.loss = dv.acc = NAN;
    if (t->has_dev) {
        double t0 = dbx__now();
        DBX_TRY(dbx__worker_eval(&t->w, t->dev, t->o.batch, &dv));
        double sec = dbx__now() - t0;
        *t_dev += sec;
        res->dev_loss = dv.loss;
        res->dev_acc = dv.acc;
        res->dev_nmetrics = dv.nmetrics;
        memcpy(res->dev_metrics, dv.metrics, sizeof dv.metrics);
        DBX_TRY(dbx__report_eval(t, step, epoch, "dev", &dv, sec));
    }
    DBX_TRY(dbx__report_epoch(t, epoch, partial, e, res->last_epoch_loss, &dv));
    if (t->has_dev) {
        const double v = dbx_eval_headline(&dv, &sel->name);
        sel->improved = v > sel->best; /* strictly: a tie is no improvement; NaN never is */
        if (sel->improved) {
            sel->best = v;
            sel->best_epoch = epoch;
            sel->best_step = step;
            sel->since = 0;
        } else {
            sel->since++;
        }
        sel->stop = t->o.patience > 0 && sel->since >= t->o.patience;
    }
    return DBX_OK;
}

/* Collective after a dev evaluation: rank 0's decision to every rank, the best parameters
   saved (keep_best) and the reason of an early stop printed. *stop: end the run. */
static dbx_status select_model(dbx_trainer *t, int epoch, int64_t step, dbx__select *sel,
                               int *stop)
{
    const dbx_train_opts *o = &t->o;
    double v[5] = {sel->improved, sel->stop, sel->best, sel->best_epoch, (double)sel->best_step};
    /* collective (all ranks): the decision */
    DBX_TRY(dbx__comm_bcast(t->comm, v, sizeof v, 0));
    sel->improved = v[0];
    sel->stop = v[1];
    sel->best = v[2];
    sel->best_epoch = (int)v[3];
    sel->best_step = (int64_t)v[4];
    const int pct = sel->name && strcmp(sel->name, "-loss") != 0;
    const double shown = pct ? 100 * sel->best : sel->best;
    if (o->keep_best && sel->improved) {
        DBX_TRY(dbx_trainer_save(t, o->save)); /* collective */
        if (t->log)
            fprintf(t->log, "keep-best: dev %s %.*f%s after epoch %d (step %lld) is the best so "
                            "far: saved to %s\n", sel->name, pct ? 2 : 4, shown, pct ? "%" : "",
                    epoch, (long long)step, o->save);
    }
    *stop = sel->stop != 0 && step < t->total_steps;
    if (*stop && t->log)
        fprintf(t->log, "early stop after epoch %d (step %lld of %lld): dev %s has not improved "
                        "for %d evaluation%s (patience %d); best %.*f%s after epoch %d (step "
                        "%lld)\n", epoch, (long long)step, (long long)t->total_steps, sel->name,
                o->patience, o->patience == 1 ? "" : "s", o->patience, pct ? 2 : 4, shown,
                pct ? "%" : "", sel->best_epoch, (long long)sel->best_step);
    return DBX_OK;
}

static dbx_status run(dbx_trainer *t, dbx_train_result *res)
{
    const dbx_train_opts *o = &t->o;
    dbx__sums all, ep, win;
    memset(&all, 0, sizeof all);
    memset(&ep, 0, sizeof ep);
    memset(&win, 0, sizeof win);
    double t_dev = 0, t_start = dbx__now();
    t->t_run = t_start;
    t->step_run = t->step;
    dbx__select sel = {.best = -INFINITY};
    res->max_grad_norm = NAN;
    while (t->step < t->total_steps) {
        dbx_step_info st;
        DBX_TRY(dbx_trainer_step(t, &st));
        const int64_t k = st.step;
        const dbx__sums s = t->last_sums; /* dbx_trainer_step's sums of this step */
        if (!isfinite(s.loss))
            return dbx__fail(DBX_EINVAL, "loss became %s at step %lld",
                             isnan(s.loss) ? "NaN" : "inf", (long long)k);
        if (all.steps == 0) res->first_loss = dbx__ratio(s.loss, (double)s.labelled);
        res->clipped_steps += st.clipped;
        if (!isnan(st.grad_norm) && !(st.grad_norm <= res->max_grad_norm))
            res->max_grad_norm = st.grad_norm; /* NaN max: the first norm */
        dbx__sums_add(&all, &s);
        dbx__sums_add(&ep, &s);
        dbx__sums_add(&win, &s);
        if (t->log && o->log_every > 0 && (k % o->log_every == 0 || k == t->total_steps)) {
            dbx__report_progress(t, k, st.epoch, &win);
            memset(&win, 0, sizeof win);
        }
        if (o->check_replicas > 0 && k % o->check_replicas == 0) {
            uint64_t ck;
            DBX_TRY(dbx__check_replicas(t, &ck));
        }
        if (st.epoch_end || k == t->total_steps) {
            DBX_TRY(end_epoch(t, st.epoch, k, &ep, !st.epoch_end, res, &t_dev, &sel));
            memset(&ep, 0, sizeof ep);
            int stop = 0;
            if (t->has_dev && (o->keep_best || o->patience > 0))
                DBX_TRY(select_model(t, st.epoch, k, &sel, &stop));
            if (stop) {
                res->stopped_early = 1;
                break;
            }
        }
    }
    if (t->has_dev) {
        res->best_dev = sel.best_epoch > 0 ? sel.best : NAN;
        res->best_epoch = sel.best_epoch;
        res->best_step = sel.best_step;
    }
    if (t->log && o->clip_norm > 0)
        fprintf(t->log, "gradient clipping at norm %g: %lld of %lld steps clipped (largest norm "
                        "%.4g)\n", o->clip_norm, (long long)res->clipped_steps,
                (long long)all.steps, res->max_grad_norm);
    res->t_total = dbx__now() - t_start - t_dev;
    res->steps = all.steps;
    res->samples = all.samples;
    res->labelled = all.labelled;
    res->t_build = all.build;
    res->t_sched = all.sched;
    res->t_plan = all.plan;
    res->t_forward = all.fwd;
    res->t_backward = all.bwd;
    res->t_update = all.update;
    res->t_allreduce = all.allreduce;
    res->imbalance = dbx__ratio(all.imbalance, (double)all.steps);
    res->batches = all.batches;
    res->nodes = all.nodes;
    res->requested_nodes = all.requested;
    res->gathered_bytes = all.gathered;
    res->gemm_flops = all.gemm;
    res->model_gemm_flops = all.model_gemm;
    res->sents_per_s = dbx__ratio((double)all.samples, res->t_total);
    res->ranks = t->W;
    DBX_TRY(dbx__check_replicas(t, &res->checksum));
    if (o->trace) DBX_TRY(dbx__trace_write(t, o->trace));
    if (o->save && o->keep_best) { /* the best parameters stay in P: the final ones to P.last */
        char *last = dbx__path_suffix(o->save, ".last");
        if (!last) return dbx__fail(DBX_ENOMEM, "out of memory");
        dbx_status sv = dbx_trainer_save(t, last);
        if (!sv && t->log)
            fprintf(t->log, "keep-best: %s holds the parameters of epoch %d (best dev), %s "
                            "those after the last step\n", o->save, res->best_epoch, last);
        free(last);
        DBX_TRY(sv);
    } else if (o->save) {
        DBX_TRY(dbx_trainer_save(t, o->save));
    }
    if (t->rank == 0) DBX_TRY(dbx__report_summary(t, res));
    return DBX_OK;
}

static void result_init(dbx_train_result *r)
{
    memset(r, 0, sizeof *r);
    r->first_loss = r->last_epoch_loss = r->dev_loss = r->dev_acc = NAN;
    r->max_grad_norm = r->best_dev = NAN;
}

dbx_status dbx_trainer_run(dbx_trainer *t, dbx_train_result *r)
{
    result_init(r);
    r->rank = t->rank;
    dbx_status s = run(t, r);
    if (s && t->rank == 0) dbx__report_error(t, s);
    if (t->log) fflush(t->log);
    return dbx__fatal(t, s);
}

dbx_status dbx_train(const dbx_train_opts *o, dbx_train_result *r)
{
    if (!o || !r) return dbx__fail(DBX_EINVAL, "dbx_train: NULL argument");
    result_init(r);
    dbx_trainer *t = calloc(1, sizeof *t);
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx__trainer_init(t, o);
    r->rank = t->rank;
    if (!s) s = dbx_trainer_run(t, r);
    /* keep the error message across the cleanup's calls */
    char msg[600];
    snprintf(msg, sizeof msg, "%s", dbx_last_error());
    dbx_trainer_free(t);
    if (s) dbx__fail(s, "%s", msg);
    return s;
}

/* ---- evaluation of saved parameters ------------------------------------------------------ */
dbx_status dbx_evaluate(const dbx_train_opts *o, dbx_eval_result *res)
{
    if (!o || !res) return dbx__fail(DBX_EINVAL, "dbx_evaluate: NULL argument");
    memset(res, 0, sizeof *res);
    res->loss = res->acc = NAN;
    if (!o->load) return dbx__fail(DBX_EINVAL, "eval needs --load (a parameter file)");
    if (o->batch < 1) return dbx__fail(DBX_EINVAL, "batch must be positive (got %d)", o->batch);
    const dbx_model_type *type;
    DBX_TRY(dbx__model_type_of(o, &type));
    dbx_meta *meta = NULL;
    DBX_TRY(dbx__load_meta(type, o->load, &meta));
    dbx_dataset *d = NULL;
    dbx__worker w;
    memset(&w, 0, sizeof w);
    dbx_status s = dbx__load_train(type, meta, o->data, o->synthetic, o->seed, &d);
    int gpu = 0, sharing = 0; /* one process: the GPU nearest its cores */
    if (!s) s = dbx__gpu_pick(NULL, o->device, &gpu, &sharing, NULL, 0);
    dbx__worker_opts wo = {.seed = o->seed, .scheduler = o->scheduler, .dedup = o->dedup,
                           .fuse = o->fuse, .device = o->device, .device_index = gpu,
                           .precision = o->precision};
    if (!s) {
        s = dbx__worker_init(&w, type, meta, &wo);
        meta = NULL; /* the worker owns it */
    }
    if (!s) s = dbx_model_load(w.model, o->load);
    if (!s) s = dbx__worker_eval(&w, d, o->batch, res);
    dbx_meta_free(meta);
    dbx_dataset_free(d);
    dbx__worker_free(&w);
    if (s) res->loss = res->acc = NAN;
    return s;
}
