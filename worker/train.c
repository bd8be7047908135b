/* Training driver (include/dbx/train.h): option defaults, model kinds and dbx_train, for
 * one process or one worker per MPI rank (the loop itself is in loop.c). Rank 0 prints the
 * header (ranks, global batch, partition strategy, topology, bindings and GPUs), one progress
 * line per window of steps (loss, sentences/s, imbalance, wait and all-reduce time), writes the
 * JSON-lines metrics (per step and per worker; a temporary file renamed at the end), runs
 * the dev evaluation, saves the parameters and their .vocab file atomically, and writes the
 * trace. Not thread-safe: one call at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/sched.h"
#include "worker/loop.h"

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
    int64_t steps, samples, labelled, batches, nodes, requested, gathered, launches;
    double loss, wall, build, sched, plan, fwd, bwd, update, gemm, model_gemm;
    double imbalance, wait, allreduce, ar_bytes; /* distributed: summed over steps */
} sums;

typedef struct trainer {
    dbx__loop L;              /* the loop state; L.o is the options */
    FILE *log;                /* rank 0 and not quiet, else NULL */
    dbx__afile metrics;       /* rank 0 only */
    char topo[768];           /* this rank's topology, binding and GPU */
} trainer;

static void sums_add(sums *a, const sums *b)
{
    a->steps += b->steps, a->samples += b->samples, a->labelled += b->labelled;
    a->batches += b->batches, a->nodes += b->nodes, a->requested += b->requested;
    a->gathered += b->gathered, a->loss += b->loss, a->wall += b->wall;
    a->launches += b->launches;
    a->build += b->build, a->sched += b->sched, a->plan += b->plan, a->fwd += b->fwd;
    a->bwd += b->bwd, a->update += b->update, a->gemm += b->gemm;
    a->model_gemm += b->model_gemm;
    a->imbalance += b->imbalance, a->wait += b->wait, a->allreduce += b->allreduce;
    a->ar_bytes += b->ar_bytes;
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
    if ((unsigned)o->optim.kind > DBX_OPT_ADAM) return dbx__fail(DBX_EINVAL, "unknown optimizer");
    const dbx_sched_type *st;
    DBX_TRY(dbx_sched_find(o->scheduler, &st));
    if (o->log_every < 0)
        return dbx__fail(DBX_EINVAL, "log_every must be >= 0 (got %d)", o->log_every);
    return DBX_OK;
}

/* ---- output (rank 0) ---------------------------------------------------------------------- */
static const char *sched_label(const dbx_train_opts *o)
{
    return o->scheduler && *o->scheduler ? o->scheduler : "none";
}

static void print_header(const trainer *t, const char *topo_all)
{
    const dbx_train_opts *o = t->L.o;
    const dbx__run *r = &t->L.run;
    char sizes[96], dev[64] = "";
    if (t->L.has_dev) snprintf(dev, sizeof dev, ", dev %d", (int)t->L.dev.n);
    if (r->kind == DBX_MODEL_TREELSTM)
        snprintf(sizes, sizeof sizes, "embed %d hidden %d labels %d", r->embed, r->hidden,
                 r->labels);
    else
        snprintf(sizes, sizeof sizes, "embed %d hidden %d mlp %d tags %d", r->embed, r->hidden,
                 r->mlp, r->labels);
    fprintf(t->log,
            "train %s on %s: %d %s, %lld %s, vocab %d%s | %s, %.2fM params%s | batch %d, %s, "
            "%s lr %g, dedup %s\nblas: %s\n",
            dbx_model_kind_name(r->kind), o->data ? o->data : "<synthetic>", (int)t->L.nsamples,
            r->tl ? "trees" : "sentences", (long long)t->L.train_nodes,
            r->tl ? "nodes" : "tokens", (int)dbx_vocab_size(r->words), dev, sizes,
            (double)dbx_model_num_floats(r->model) / 1e6, o->load ? " (loaded)" : "", o->batch,
            sched_label(o), dbx_optim_name(o->optim.kind), (double)o->optim.lr,
            o->dedup ? "on" : "off", dbx_blas_describe());
    fprintf(t->log,
            "ranks: %d worker%s (%s), global batch %d, partition %s, rank 0 hosts the "
            "coordinator\n%s",
            t->L.W, t->L.W == 1 ? "" : "s",
            dbx_comm_kind_of(t->L.comm) == DBX_COMM_MPI ? "MPI" : "single process", o->batch,
            dbx_part_name(t->L.coord.strategy), topo_all);
}

static void print_progress(const trainer *t, int64_t step, int64_t total, int epoch,
                           const sums *w)
{
    double n = (double)w->steps, an = w->build + w->sched + w->plan;
    double ex = w->fwd + w->bwd + w->update;
    fprintf(t->log,
            "step %lld/%lld epoch %d | loss/node %.4f | %.1f sent/s | %.1f batches/step | "
            "width %.1f | analysis %.1f%% (build %.2f ms, sched %.2f, plan %.2f) | exec %.1f ms",
            (long long)step, (long long)total, epoch, ratio(w->loss, (double)w->labelled),
            ratio((double)w->samples, w->wall), ratio((double)w->batches, n),
            ratio((double)w->nodes, (double)w->batches), 100 * ratio(an, an + ex),
            1e3 * w->build / n, 1e3 * w->sched / n, 1e3 * w->plan / n, 1e3 * ex / n);
    if (t->L.W > 1)
        fprintf(t->log, " | imbalance %.2f | wait %.2f ms | all-reduce %.2f ms", w->imbalance / n,
                1e3 * w->wait / n, 1e3 * w->allreduce / n);
    fputc('\n', t->log);
}

static void metrics_step(const trainer *t, int64_t step, int epoch, const sums *s)
{
    FILE *f = t->metrics.f;
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
    dbx__jl_int(f, "launches", s->launches);
    dbx__jl_int(f, "gathered_bytes", s->gathered);
    dbx__jl_num(f, "gemm_flops", s->gemm);
    dbx__jl_num(f, "t_build", s->build);
    dbx__jl_num(f, "t_sched", s->sched);
    dbx__jl_num(f, "t_plan", s->plan);
    dbx__jl_num(f, "t_forward", s->fwd);
    dbx__jl_num(f, "t_backward", s->bwd);
    dbx__jl_num(f, "t_update", s->update);
    dbx__jl_num(f, "sents_per_s", ratio((double)s->samples, s->wall));
    dbx__jl_num(f, "imbalance", s->imbalance);
    dbx__jl_num(f, "coordinator_ms", 1e3 * t->L.t_coord_step);
    fputs(",\"workers\":[", f);
    for (int r = 0; r < t->L.W; r++) {
        const dbx__wstat *w = &t->L.wstats[r];
        fprintf(f, "%s{\"rank\":%d", r ? "," : "", r);
        dbx__jl_int(f, "samples", (int64_t)w->samples);
        dbx__jl_int(f, "nodes", (int64_t)w->nodes);
        dbx__jl_int(f, "batches", (int64_t)w->batches);
        dbx__jl_int(f, "launches", (int64_t)w->launches);
        dbx__jl_num(f, "compute_ms", 1e3 * w->compute);
        dbx__jl_num(f, "wait_ms", 1e3 * w->wait);
        dbx__jl_num(f, "allreduce_ms", 1e3 * w->allreduce);
        dbx__jl_int(f, "allreduce_bytes", (int64_t)w->ar_bytes);
        fputc('}', f);
    }
    fputc(']', f);
    dbx__jl_end(f);
}

static void metrics_summary(FILE *f, const trainer *t, const dbx_train_result *r)
{
    const dbx_train_opts *o = t->L.o;
    char ck[24];
    snprintf(ck, sizeof ck, "%016llx", (unsigned long long)r->checksum);
    dbx__jl_begin(f, "summary");
    dbx__jl_str(f, "model", dbx_model_kind_name(o->model));
    dbx__jl_str(f, "data", o->data ? o->data : "<synthetic>");
    dbx__jl_str(f, "scheduler", sched_label(o));
    dbx__jl_str(f, "partition", dbx_part_name(t->L.coord.strategy));
    dbx__jl_int(f, "ranks", r->ranks);
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
    dbx__jl_num(f, "t_allreduce", r->t_allreduce);
    dbx__jl_num(f, "t_coordinator", t->L.t_coord);
    dbx__jl_num(f, "imbalance", r->imbalance);
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
/* This step's totals over workers (times: rank 0's own, plus imbalance/wait/all-reduce). */
static void step_sums(const trainer *t, const dbx__step *st, double model_gemm, sums *s)
{
    memset(s, 0, sizeof *s);
    double maxc = 0, sumc = 0;
    for (int r = 0; r < t->L.W; r++) {
        const dbx__wstat *w = &t->L.wstats[r];
        s->samples += (int64_t)w->samples;
        s->labelled += (int64_t)w->labelled;
        s->loss += w->loss;
        s->batches += (int64_t)w->batches;
        s->launches += (int64_t)w->launches;
        s->nodes += (int64_t)w->nodes;
        s->requested += (int64_t)w->requested;
        s->gathered += (int64_t)w->gathered;
        s->gemm += w->gemm;
        maxc = w->compute > maxc ? w->compute : maxc;
        sumc += w->compute;
    }
    const dbx__wstat *me = &t->L.wstats[t->L.rank];
    s->steps = 1;
    s->build = me->build;
    s->sched = me->sched;
    s->plan = me->plan;
    s->fwd = me->fwd;
    s->bwd = me->bwd;
    s->update = me->update;
    s->wait = me->wait;
    s->allreduce = me->allreduce;
    s->ar_bytes = me->ar_bytes;
    s->wall = st->wall;
    s->model_gemm = model_gemm;
    s->imbalance = sumc > 0 ? maxc / (sumc / t->L.W) : 1;
}

/* Ends an epoch (possibly partial): epoch line, dev evaluation (rank 0), metrics. */
static dbx_status end_epoch(trainer *t, int epoch, const sums *e, int partial,
                            dbx_train_result *res, double *t_dev)
{
    res->last_epoch_loss = ratio(e->loss, (double)e->labelled);
    if (t->L.rank != 0) return DBX_OK;
    dbx_eval_result dv = {.loss = NAN, .acc = NAN};
    if (t->L.has_dev) {
        double t0 = dbx__now();
        DBX_TRY(dbx__eval_data(&t->L.run, &t->L.dev, t->L.o->batch, &dv));
        *t_dev += dbx__now() - t0;
        res->dev_loss = dv.loss;
        res->dev_acc = dv.acc;
    }
    if (t->log) {
        fprintf(t->log, "epoch %d%s: loss/node %.4f (%lld steps, %lld samples, %.2f s)", epoch,
                partial ? " (partial)" : "", res->last_epoch_loss, (long long)e->steps,
                (long long)e->samples, e->wall);
        if (t->L.has_dev)
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
    const dbx_train_opts *o = t->L.o;
    const int64_t total = t->L.total_steps;
    sums all = {0}, ep = {0}, win = {0}, s;
    double t_dev = 0, t_start = dbx__now();
    t->L.t_origin = t_start;
    for (int64_t step = 1; step <= total; step++) {
        dbx__step st;
        DBX_TRY(dbx__loop_step(&t->L, step, &st));
        double mg = t->L.rank == 0 ? t->L.plan[step & 1].model_gemm : 0;
        step_sums(t, &st, mg, &s);
        if (!isfinite(s.loss))
            return dbx__fail(DBX_EINVAL, "loss became %s at step %lld",
                             isnan(s.loss) ? "NaN" : "inf", (long long)step);
        if (step == 1) res->first_loss = ratio(s.loss, (double)s.labelled);
        sums_add(&all, &s);
        sums_add(&ep, &s);
        sums_add(&win, &s);
        if (t->metrics.f) metrics_step(t, step, st.epoch, &s);
        if (t->log && o->log_every > 0 && (step % o->log_every == 0 || step == total)) {
            print_progress(t, step, total, st.epoch, &win);
            memset(&win, 0, sizeof win);
        }
        if (o->check_replicas > 0 && step % o->check_replicas == 0)
            DBX_TRY(dbx__loop_check_replicas(&t->L, NULL));
        if (st.epoch_end || step == total) {
            DBX_TRY(end_epoch(t, st.epoch, &ep, !st.epoch_end, res, &t_dev));
            memset(&ep, 0, sizeof ep);
        }
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
    res->t_allreduce = all.allreduce;
    res->imbalance = ratio(all.imbalance, (double)all.steps);
    res->batches = all.batches;
    res->nodes = all.nodes;
    res->requested_nodes = all.requested;
    res->gathered_bytes = all.gathered;
    res->gemm_flops = all.gemm;
    res->model_gemm_flops = all.model_gemm;
    res->sents_per_s = ratio((double)all.samples, res->t_total);
    res->ranks = t->L.W;
    return DBX_OK;
}

/* Collective: every rank's topology line, concatenated on rank 0 (out: rank 0 only). */
static dbx_status gather_topology(trainer *t, char *out, size_t cap)
{
    size_t each = sizeof t->topo;
    char *all = malloc(each * (size_t)t->L.W);
    if (!all) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx_comm_allgather(t->L.comm, t->topo, each, all);
    size_t at = 0;
    out[0] = 0;
    for (int r = 0; r < t->L.W && !s && at < cap; r++)
        at += (size_t)snprintf(out + at, cap - at, "  [r%d/%d] %s\n", r, t->L.W,
                               all + (size_t)r * each);
    free(all);
    return s;
}

/* Collective: every rank's trace events, written by rank 0 as Chrome/Perfetto JSON. */
static dbx_status write_trace(trainer *t)
{
    int64_t n = (int64_t)t->L.ntrace, W = t->L.W;
    int64_t *counts = calloc((size_t)W, sizeof *counts);
    size_t *bc = calloc((size_t)W, sizeof *bc), *bd = calloc((size_t)W, sizeof *bd);
    dbx__trace_event *all = NULL;
    dbx_status s = !counts || !bc || !bd ? dbx__fail(DBX_ENOMEM, "out of memory") : DBX_OK;
    if (!s) s = dbx_comm_allgather(t->L.comm, &n, sizeof n, counts);
    int64_t total = 0;
    for (int64_t r = 0; r < W && !s; r++) {
        bc[r] = (size_t)counts[r] * sizeof *all;
        bd[r] = (size_t)total * sizeof *all;
        total += counts[r];
    }
    if (!s && !(all = malloc((size_t)(total + 1) * sizeof *all)))
        s = dbx__fail(DBX_ENOMEM, "out of memory");
    if (!s) s = dbx_comm_allgatherv(t->L.comm, t->L.trace, (size_t)n * sizeof *all, all, bc, bd);
    if (!s && t->L.rank == 0) {
        dbx__afile a;
        memset(&a, 0, sizeof a);
        s = dbx__afile_open(&a, t->L.o->trace);
        if (!s) {
            fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", a.f);
            int64_t k = 0;
            for (int64_t r = 0; r < W; r++) {
                fprintf(a.f, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%lld,"
                             "\"args\":{\"name\":\"rank %lld\"}}", r ? "," : "",
                        (long long)r, (long long)r);
                for (int64_t i = 0; i < counts[r]; i++, k++)
                    fprintf(a.f, ",{\"name\":\"%s\",\"cat\":\"step %lld\",\"ph\":\"X\","
                                 "\"pid\":0,\"tid\":%lld,\"ts\":%.1f,\"dur\":%.1f}",
                            all[k].name, (long long)all[k].step, (long long)r, 1e6 * all[k].t0,
                            1e6 * (all[k].t1 - all[k].t0));
            }
            fputs("]}\n", a.f);
            s = dbx__afile_commit(&a);
        }
        dbx__afile_abort(&a);
    }
    free(counts);
    free(bc);
    free(bd);
    free(all);
    return s;
}

static dbx_status train_ranks(trainer *t, dbx_train_result *res)
{
    const dbx_train_opts *o = t->L.o;
    dbx_bind bind = dbx_comm_kind_of(t->L.comm) == DBX_COMM_MPI ? DBX_BIND_CORE : DBX_BIND_NONE;
    if (o->bind) DBX_TRY(dbx_bind_parse(o->bind, &bind));
    DBX_TRY(dbx_topo_bind(t->L.comm, bind, t->topo, sizeof t->topo));
    DBX_TRY(dbx__loop_setup(&t->L)); /* chooses the GPU after the binding, near its cores */
    if (t->L.gpu[0]) {
        size_t at = strlen(t->topo);
        snprintf(t->topo + at, sizeof t->topo - at, "; %s", t->L.gpu);
    }
    char topo_all[4096];
    DBX_TRY(gather_topology(t, topo_all, sizeof topo_all));
    if (t->L.rank == 0 && o->metrics) DBX_TRY(dbx__afile_open(&t->metrics, o->metrics));
    if (t->log) print_header(t, topo_all);
    if (o->trace) {
        t->L.trace_steps = o->trace_steps > 0 ? o->trace_steps : 20;
        t->L.cap_trace = (size_t)t->L.trace_steps * 8;
        t->L.trace = calloc(t->L.cap_trace, sizeof *t->L.trace);
        if (!t->L.trace) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    /* collective (all ranks): a common time origin for the trace */
    DBX_TRY(dbx_comm_barrier(t->L.comm));
    DBX_TRY(train_loop(t, res));
    DBX_TRY(dbx__loop_check_replicas(&t->L, &res->checksum));
    if (o->trace) DBX_TRY(write_trace(t));
    if (t->L.rank != 0) return DBX_OK;
    if (o->save) DBX_TRY(dbx_model_save(t->L.run.model, o->save));
    if (o->save) DBX_TRY(dbx__vocab_save(&t->L.run, o->save));
    if (t->metrics.f) {
        metrics_summary(t->metrics.f, t, res);
        DBX_TRY(dbx__afile_commit(&t->metrics));
    }
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
    t.L.o = o;
    dbx_comm_opts co = dbx_comm_opts_default(); /* 4 MiB all-reduce buckets */
    co.want_mpi = o->comm;
    co.timeout_s = o->timeout;
    DBX_TRY(dbx_comm_init(&co, NULL, NULL, &t.L.comm));
    t.L.rank = res->rank = dbx_comm_rank(t.L.comm);
    t.L.W = dbx_comm_size(t.L.comm);
    t.log = o->quiet || t.L.rank != 0 ? NULL : o->log ? o->log : stderr;
    dbx_status s = train_ranks(&t, res);
    if (t.log) fflush(t.log);
    dbx__afile_abort(&t.metrics);
    if (s && t.L.W > 1 && t.L.total_steps > 0) {
        /* mid-run failure on one rank: the others wait in a collective; end the job */
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", dbx_status_str(s), dbx_last_error());
        dbx_comm_abort(t.L.comm, 1, msg);
    }
    dbx__loop_free(&t.L);
    dbx_comm_free(t.L.comm);
    return s;
}
