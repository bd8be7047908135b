/* Single-process training driver (include/dbx/train.h): option defaults, model kinds and
 * dbx_train: data and vocabulary setup, seeded per-epoch shuffling, the minibatch loop
 * (build, forward, backward, update), progress lines, JSON-lines metrics (written to a
 * temporary file and renamed at the end), dev evaluation, and atomic save of the parameters
 * and their .vocab file. Owned by the worker module. Not thread-safe: no shared state, but
 * one call at a time per options/result pair. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "worker/worker.h"

#define MAX_SIZE 65536
#define MAX_BATCH 1000000

void dbx_train_opts_default(dbx_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = DBX_MODEL_TREELSTM;
    o->synth_trees = 2000;
    o->embed = o->hidden = 128;
    o->mlp = 0; /* = hidden */
    o->batch = 64;
    o->sched = DBX_SCHED_AGENDA;
    o->dedup = 1;
    o->fuse = 1;
    o->optim = dbx_optim_default(DBX_OPT_ADAM);
    o->epochs = 1;
    o->seed = 1;
    o->shuffle = 1;
    o->log_every = 10;
}

static const char *const kind_names[] = {"treelstm", "bilstm-tagger"};

dbx_status dbx_model_kind_parse(const char *name, dbx_model_kind *out)
{
    for (int i = 0; i < 2; i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *out = (dbx_model_kind)i;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown model '%s' (expected treelstm or bilstm-tagger)",
                     name ? name : "(null)");
}

const char *dbx_model_kind_name(dbx_model_kind k)
{
    return (unsigned)k < 2 ? kind_names[k] : "unknown";
}

/* ---- state -------------------------------------------------------------------------------- */
/* Sums over a window of steps (progress line, epoch, whole run). */
typedef struct sums {
    int64_t steps, samples, labelled, batches, nodes, requested, gathered;
    double loss, wall, build, sched, plan, fwd, bwd, update, gemm, model_gemm;
} sums;

typedef struct trainer {
    const dbx_train_opts *o;
    FILE *log;                /* NULL when quiet */
    dbx__run run;
    dbx__data train, dev;
    int has_dev;
    int32_t *perm;
    dbx__afile metrics;
    double tagger_flops_per_token;
} trainer;

static void sums_add(sums *a, const sums *b)
{
    a->steps += b->steps, a->samples += b->samples, a->labelled += b->labelled;
    a->batches += b->batches, a->nodes += b->nodes, a->requested += b->requested;
    a->gathered += b->gathered, a->loss += b->loss, a->wall += b->wall;
    a->build += b->build, a->sched += b->sched, a->plan += b->plan, a->fwd += b->fwd;
    a->bwd += b->bwd, a->update += b->update, a->gemm += b->gemm;
    a->model_gemm += b->model_gemm;
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static dbx_status check_opts(const dbx_train_opts *o)
{
    if (o->model != DBX_MODEL_TREELSTM && o->model != DBX_MODEL_TAGGER)
        return dbx__fail(DBX_EINVAL, "unknown model kind %d", (int)o->model);
    if (o->embed < 1 || o->embed > MAX_SIZE || o->hidden < 1 || o->hidden > MAX_SIZE ||
        o->mlp < 0 || o->mlp > MAX_SIZE)
        return dbx__fail(DBX_EINVAL, "embed, hidden and mlp must be in 1..%d (got %d, %d, %d)",
                         MAX_SIZE, o->embed, o->hidden, o->mlp);
    if (o->batch < 1 || o->batch > MAX_BATCH)
        return dbx__fail(DBX_EINVAL, "batch must be in 1..%d (got %d)", MAX_BATCH, o->batch);
    if (o->steps <= 0 && o->epochs < 1)
        return dbx__fail(DBX_EINVAL, "epochs must be positive (got %d)", o->epochs);
    if (o->model == DBX_MODEL_TAGGER && !o->data)
        return dbx__fail(DBX_EINVAL, "bilstm-tagger needs --data (a token|TAG file)");
    if (!o->data && o->synth_trees < 1)
        return dbx__fail(DBX_EINVAL, "synthetic treebank size must be positive (got %d)",
                         o->synth_trees);
    if (!(o->optim.lr > 0) || !isfinite(o->optim.lr))
        return dbx__fail(DBX_EINVAL, "learning rate must be positive (got %g)",
                         (double)o->optim.lr);
    if ((unsigned)o->optim.kind > DBX_OPT_ADAM || (unsigned)o->sched > DBX_SCHED_AGENDA)
        return dbx__fail(DBX_EINVAL, "unknown optimizer or scheduler");
    if (o->log_every < 0)
        return dbx__fail(DBX_EINVAL, "log_every must be >= 0 (got %d)", o->log_every);
    return DBX_OK;
}

static dbx_status setup(trainer *t)
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
    DBX_TRY(dbx__run_model(r, o->seed, o->sched, o->dedup, o->fuse));
    if (o->load) DBX_TRY(dbx_model_load(r->model, o->load));
    t->perm = malloc((size_t)t->train.n * sizeof *t->perm);
    if (!t->perm) return dbx__fail(DBX_ENOMEM, "out of memory");
    for (int32_t i = 0; i < t->train.n; i++) t->perm[i] = i;
    double E = r->embed, H = r->hidden, M = r->mlp, T = r->labels;
    t->tagger_flops_per_token = 2 * (2 * 4 * H * (E + H)) + 2 * M * 2 * H + 2 * T * M;
    if (o->metrics) DBX_TRY(dbx__afile_open(&t->metrics, o->metrics));
    return DBX_OK;
}

/* ---- output ------------------------------------------------------------------------------- */
static void print_header(const trainer *t)
{
    const dbx_train_opts *o = t->o;
    const dbx__run *r = &t->run;
    char sizes[96], dev[64] = "";
    if (t->has_dev) snprintf(dev, sizeof dev, ", dev %d", (int)t->dev.n);
    if (r->kind == DBX_MODEL_TREELSTM)
        snprintf(sizes, sizeof sizes, "embed %d hidden %d labels %d", r->embed, r->hidden,
                 r->labels);
    else
        snprintf(sizes, sizeof sizes, "embed %d hidden %d mlp %d tags %d", r->embed, r->hidden,
                 r->mlp, r->labels);
    fprintf(t->log,
            "train %s on %s: %d %s, %lld %s, vocab %d%s | %s, %.2fM params%s | batch %d, %s, "
            "%s lr %g, dedup %s\nblas: %s\n",
            dbx_model_kind_name(r->kind), o->data ? o->data : "<synthetic>", (int)t->train.n,
            r->tl ? "trees" : "sentences", (long long)t->train.nodes,
            r->tl ? "nodes" : "tokens", (int)dbx_vocab_size(r->words), dev, sizes,
            (double)dbx_model_num_floats(r->model) / 1e6, o->load ? " (loaded)" : "", o->batch,
            dbx_sched_name(o->sched), dbx_optim_name(o->optim.kind), (double)o->optim.lr,
            o->dedup ? "on" : "off", dbx_blas_describe());
}

static void print_progress(const trainer *t, int64_t step, int64_t total, int epoch,
                           const sums *w)
{
    double n = (double)w->steps, an = w->build + w->sched + w->plan;
    double ex = w->fwd + w->bwd + w->update;
    fprintf(t->log,
            "step %lld/%lld epoch %d | loss/node %.4f | %.1f sent/s | %.1f batches/step | "
            "width %.1f | analysis %.1f%% (build %.2f ms, sched %.2f, plan %.2f) | exec %.1f ms\n",
            (long long)step, (long long)total, epoch, ratio(w->loss, (double)w->labelled),
            ratio((double)w->samples, w->wall), ratio((double)w->batches, n),
            ratio((double)w->nodes, (double)w->batches), 100 * ratio(an, an + ex),
            1e3 * w->build / n, 1e3 * w->sched / n, 1e3 * w->plan / n, 1e3 * ex / n);
}

static void metrics_step(FILE *f, int64_t step, int epoch, const sums *s)
{
    dbx__jl_begin(f, "step");
    dbx__jl_int(f, "step", step);
    dbx__jl_int(f, "epoch", epoch);
    dbx__jl_int(f, "samples", s->samples);
    dbx__jl_int(f, "labelled", s->labelled);
    dbx__jl_num(f, "loss", s->loss);
    dbx__jl_num(f, "loss_per_node", ratio(s->loss, (double)s->labelled));
    dbx__jl_int(f, "batches", s->batches);
    dbx__jl_int(f, "nodes", s->nodes);
    dbx__jl_int(f, "requested_nodes", s->requested);
    dbx__jl_num(f, "mean_width", ratio((double)s->nodes, (double)s->batches));
    dbx__jl_int(f, "gathered_bytes", s->gathered);
    dbx__jl_num(f, "gemm_flops", s->gemm);
    dbx__jl_num(f, "t_build", s->build);
    dbx__jl_num(f, "t_sched", s->sched);
    dbx__jl_num(f, "t_plan", s->plan);
    dbx__jl_num(f, "t_forward", s->fwd);
    dbx__jl_num(f, "t_backward", s->bwd);
    dbx__jl_num(f, "t_update", s->update);
    dbx__jl_num(f, "sents_per_s", ratio((double)s->samples, s->wall));
    dbx__jl_end(f);
}

static void metrics_summary(FILE *f, const dbx_train_opts *o, const dbx_train_result *r)
{
    char ck[24];
    snprintf(ck, sizeof ck, "%016llx", (unsigned long long)r->checksum);
    dbx__jl_begin(f, "summary");
    dbx__jl_str(f, "model", dbx_model_kind_name(o->model));
    dbx__jl_str(f, "data", o->data ? o->data : "<synthetic>");
    dbx__jl_str(f, "scheduler", dbx_sched_name(o->sched));
    dbx__jl_int(f, "batch", o->batch);
    dbx__jl_int(f, "dedup", o->dedup != 0);
    dbx__jl_int(f, "steps", r->steps);
    dbx__jl_int(f, "samples", r->samples);
    dbx__jl_int(f, "labelled", r->labelled);
    dbx__jl_num(f, "first_loss", r->first_loss);
    dbx__jl_num(f, "last_epoch_loss", r->last_epoch_loss);
    dbx__jl_num(f, "t_total", r->t_total);
    dbx__jl_num(f, "t_build", r->t_build);
    dbx__jl_num(f, "t_sched", r->t_sched);
    dbx__jl_num(f, "t_plan", r->t_plan);
    dbx__jl_num(f, "t_forward", r->t_forward);
    dbx__jl_num(f, "t_backward", r->t_backward);
    dbx__jl_num(f, "t_update", r->t_update);
    dbx__jl_int(f, "batches", r->batches);
    dbx__jl_int(f, "nodes", r->nodes);
    dbx__jl_int(f, "requested_nodes", r->requested_nodes);
    dbx__jl_int(f, "gathered_bytes", r->gathered_bytes);
    dbx__jl_num(f, "gemm_flops", r->gemm_flops);
    dbx__jl_num(f, "model_gemm_flops", r->model_gemm_flops);
    dbx__jl_num(f, "sents_per_s", r->sents_per_s);
    dbx__jl_num(f, "dev_loss", r->dev_loss);
    dbx__jl_num(f, "dev_acc", r->dev_acc);
    dbx__jl_str(f, "checksum", ck);
    dbx__jl_end(f);
}

/* ---- the loop ----------------------------------------------------------------------------- */
/* Runs one minibatch of the samples idx[0..bs) and fills s with its statistics. */
static dbx_status train_step(trainer *t, const int32_t *idx, int32_t bs, int64_t step, sums *s)
{
    dbx__run *r = &t->run;
    memset(s, 0, sizeof *s);
    double t0 = dbx__now();
    dbx_graph_clear(r->g);
    for (int32_t k = 0; k < bs; k++) {
        int32_t i = idx[k];
        DBX_TRY(dbx__build(r, &t->train, i, NULL));
        int32_t n = dbx__data_labelled(&t->train, i);
        s->labelled += n;
        s->model_gemm += r->tl ? 3 * dbx_treelstm_gemm_flops(r->tl, &t->train.tb->trees[i])
                               : 3 * t->tagger_flops_per_token * n;
    }
    double t1 = dbx__now();
    s->requested = dbx_graph_num_requested(r->g);
    DBX_TRY(dbx_exec_forward(r->ex, r->g, &s->loss));
    if (!isfinite(s->loss))
        return dbx__fail(DBX_EINVAL, "loss became %s at step %lld", isnan(s->loss) ? "NaN" : "inf",
                         (long long)step);
    DBX_TRY(dbx_exec_backward(r->ex, r->g, 1.0f));
    dbx_optim opt = t->o->optim;
    opt.grad_scale = 1.0f / (float)bs;
    double t2 = dbx__now();
    DBX_TRY(dbx_model_update(r->model, &opt));
    double t3 = dbx__now();
    const dbx_exec_stats *st = dbx_exec_last_stats(r->ex);
    s->steps = 1;
    s->samples = bs;
    s->batches = st->batches;
    s->nodes = st->nodes;
    s->gathered = st->gathered_bytes;
    s->gemm = st->gemm_flops;
    s->build = t1 - t0;
    s->sched = st->t_sched;
    s->plan = st->t_plan;
    s->fwd = st->t_forward;
    s->bwd = st->t_backward;
    s->update = t3 - t2;
    s->wall = t3 - t0;
    return DBX_OK;
}

/* Ends epoch (possibly partial): epoch line, dev evaluation, metrics. *t_dev += eval time. */
static dbx_status end_epoch(trainer *t, int epoch, const sums *e, int partial,
                            dbx_train_result *res, double *t_dev)
{
    res->last_epoch_loss = ratio(e->loss, (double)e->labelled);
    dbx_eval_result dv = {.loss = NAN, .acc = NAN};
    if (t->has_dev) {
        double t0 = dbx__now();
        DBX_TRY(dbx__eval_data(&t->run, &t->dev, t->o->batch, &dv));
        *t_dev += dbx__now() - t0;
        res->dev_loss = dv.loss;
        res->dev_acc = dv.acc;
    }
    if (t->log) {
        fprintf(t->log, "epoch %d%s: loss/node %.4f (%lld steps, %lld samples, %.2f s)", epoch,
                partial ? " (partial)" : "", res->last_epoch_loss, (long long)e->steps,
                (long long)e->samples, e->wall);
        if (t->has_dev)
            fprintf(t->log, " | dev loss/node %.4f, accuracy %.2f%%", dv.loss, 100 * dv.acc);
        fputc('\n', t->log);
    }
    FILE *f = t->metrics.f;
    if (f) {
        dbx__jl_begin(f, "epoch");
        dbx__jl_int(f, "epoch", epoch);
        dbx__jl_int(f, "partial", partial);
        dbx__jl_int(f, "steps", e->steps);
        dbx__jl_int(f, "samples", e->samples);
        dbx__jl_int(f, "labelled", e->labelled);
        dbx__jl_num(f, "loss_per_node", res->last_epoch_loss);
        dbx__jl_num(f, "t_wall", e->wall);
        dbx__jl_num(f, "dev_loss", dv.loss);
        dbx__jl_num(f, "dev_acc", dv.acc);
        dbx__jl_end(f);
    }
    return DBX_OK;
}

static dbx_status train_loop(trainer *t, dbx_train_result *res)
{
    const dbx_train_opts *o = t->o;
    const int32_t n = t->train.n;
    const int64_t per_epoch = (n + o->batch - 1) / o->batch;
    const int64_t total = o->steps > 0 ? o->steps : (int64_t)o->epochs * per_epoch;
    sums all = {0}, ep = {0}, win = {0}, s;
    int epoch = 0;
    int32_t pos = n;
    double t_dev = 0, t_start = dbx__now();
    for (int64_t step = 1; step <= total; step++) {
        if (pos >= n) {
            epoch++;
            pos = 0;
            if (o->shuffle) dbx__shuffle(t->perm, n, o->seed + (uint64_t)epoch);
            memset(&ep, 0, sizeof ep);
        }
        int32_t bs = n - pos < o->batch ? n - pos : o->batch;
        DBX_TRY(train_step(t, t->perm + pos, bs, step, &s));
        pos += bs;
        if (step == 1) res->first_loss = ratio(s.loss, (double)s.labelled);
        sums_add(&all, &s);
        sums_add(&ep, &s);
        sums_add(&win, &s);
        if (t->metrics.f) metrics_step(t->metrics.f, step, epoch, &s);
        if (t->log && o->log_every > 0 && (step % o->log_every == 0 || step == total)) {
            print_progress(t, step, total, epoch, &win);
            memset(&win, 0, sizeof win);
        }
        if (pos >= n || step == total) DBX_TRY(end_epoch(t, epoch, &ep, pos < n, res, &t_dev));
    }
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
    res->batches = all.batches;
    res->nodes = all.nodes;
    res->requested_nodes = all.requested;
    res->gathered_bytes = all.gathered;
    res->gemm_flops = all.gemm;
    res->model_gemm_flops = all.model_gemm;
    res->sents_per_s = ratio((double)all.samples, res->t_total);
    return DBX_OK;
}

dbx_status dbx_train(const dbx_train_opts *o, dbx_train_result *res)
{
    if (!o || !res) return dbx__fail(DBX_EINVAL, "dbx_train: NULL argument");
    memset(res, 0, sizeof *res);
    res->first_loss = res->last_epoch_loss = res->dev_loss = res->dev_acc = NAN;
    DBX_TRY(check_opts(o));
    trainer t;
    memset(&t, 0, sizeof t);
    t.o = o;
    t.log = o->quiet ? NULL : o->log ? o->log : stderr;
    dbx_status s = setup(&t);
    if (!s && t.log) print_header(&t);
    if (!s) s = train_loop(&t, res);
    if (!s) res->checksum = dbx_model_checksum(t.run.model);
    if (!s && o->save) s = dbx_model_save(t.run.model, o->save);
    if (!s && o->save) s = dbx__vocab_save(&t.run, o->save);
    if (!s && t.metrics.f) {
        metrics_summary(t.metrics.f, o, res);
        s = dbx__afile_commit(&t.metrics);
    }
    if (t.log) fflush(t.log);
    dbx__afile_abort(&t.metrics);
    free(t.perm);
    dbx__data_free(&t.train);
    dbx__data_free(&t.dev);
    dbx__run_free(&t.run);
    return s;
}
