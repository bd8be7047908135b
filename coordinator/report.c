/* What the trainer reports (coordinator/trainer.h): the header, progress lines and epoch lines
 * on rank 0's log, the JSON-lines metrics (per step with every worker, per epoch, and a
 * summary; written to a temporary file that the end of the run renames into place), the
 * topology of every rank, and the Chrome/Perfetto trace with one track per rank. Nothing
 * here depends on the model type beyond its names. Not thread-safe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/trainer.h"
#include "core/status.h"

double dbx__ratio(double a, double b) { return b > 0 ? a / b : NAN; }

void dbx__sums_add(dbx__sums *a, const dbx__sums *b)
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

/* ---- JSON lines -------------------------------------------------------------------------- */
static void jl_key(FILE *f, const char *key) { fprintf(f, ",\"%s\":", key); }

void dbx__jl_begin(FILE *f, const char *type) { fprintf(f, "{\"type\":\"%s\"", type); }

void dbx__jl_int(FILE *f, const char *key, int64_t v)
{
    jl_key(f, key);
    fprintf(f, "%lld", (long long)v);
}

void dbx__jl_num(FILE *f, const char *key, double v)
{
    jl_key(f, key);
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

void dbx__jl_str(FILE *f, const char *key, const char *v)
{
    jl_key(f, key);
    if (!v) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void dbx__jl_end(FILE *f) { fputs("}\n", f); }

/* ---- log lines ---------------------------------------------------------------------------- */
void dbx__report_header(const dbx_trainer *t, const char *topo_all)
{
    const dbx_train_opts *o = &t->o;
    char meta[512], dev[64] = "";
    dbx_meta_describe(t->w.meta, meta, sizeof meta);
    if (t->has_dev) snprintf(dev, sizeof dev, ", dev %d", (int)dbx_dataset_size(t->dev));
    fprintf(t->log,
            "train %s on %s: %d %s, %lld %s%s | %s, %.2fM params%s | batch %d, %s, %s lr %g, "
            "dedup %s\nblas: %s\n",
            t->type->name, o->data ? o->data : "<synthetic>", (int)t->nsamples,
            t->type->sample_noun ? t->type->sample_noun : "samples", (long long)t->train_units,
            t->type->unit_noun ? t->type->unit_noun : "units", dev, meta,
            (double)dbx_model_num_floats(t->w.model) / 1e6, o->load ? " (loaded)" : "",
            o->batch, o->scheduler, dbx_optim_name(o->optim.kind), (double)o->optim.lr,
            o->dedup ? "on" : "off", dbx_blas_describe());
    fprintf(t->log,
            "ranks: %d worker%s (%s), global batch %d, partition %s, rank 0 hosts the "
            "coordinator\n%s",
            t->W, t->W == 1 ? "" : "s",
            dbx__comm_kind_of(t->comm) == DBX_COMM_MPI ? "MPI" : "single process", o->batch,
            dbx__part_name(t->coord.strategy), topo_all);
    fprintf(t->log, "options: clip-norm %g, dropout %g, weight decay %g%s, lr schedule %s, "
                    "warm-up %lld steps",
            o->clip_norm, o->dropout, o->weight_decay,
            !(o->weight_decay > 0) ? ""
            : o->optim.kind == DBX_OPT_ADAM ? " (decoupled)" : " (coupled)",
            o->lr_schedule ? o->lr_schedule : "constant", (long long)o->warmup);
    if (o->lr_schedule && strcmp(o->lr_schedule, "step") == 0)
        fprintf(t->log, " (x %g every %lld steps)", o->lr_step_factor,
                (long long)o->lr_step_every);
    if (o->lr_schedule && strcmp(o->lr_schedule, "cosine") == 0)
        fprintf(t->log, " (to %g)", o->lr_min);
    fprintf(t->log, ", keep-best %s, patience %d\n", o->keep_best ? "on" : "off", o->patience);
}

void dbx__report_progress(const dbx_trainer *t, int64_t step, int epoch, const dbx__sums *w)
{
    double n = (double)w->steps, an = w->build + w->sched + w->plan;
    double ex = w->fwd + w->bwd + w->update;
    fprintf(t->log,
            "step %lld/%lld epoch %d | loss/node %.4f | %.1f sent/s | %.1f batches/step | "
            "width %.1f | analysis %.1f%% (build %.2f ms, sched %.2f, plan %.2f) | exec %.1f ms",
            (long long)step, (long long)t->total_steps, epoch,
            dbx__ratio(w->loss, (double)w->labelled), dbx__ratio((double)w->samples, w->wall),
            dbx__ratio((double)w->batches, n), dbx__ratio((double)w->nodes, (double)w->batches),
            100 * dbx__ratio(an, an + ex), 1e3 * w->build / n, 1e3 * w->sched / n,
            1e3 * w->plan / n, 1e3 * ex / n);
    if (t->W > 1)
        fprintf(t->log, " | imbalance %.2f | wait %.2f ms | all-reduce %.2f ms",
                w->imbalance / n, 1e3 * w->wait / n, 1e3 * w->allreduce / n);
    fputc('\n', t->log);
}

/* ---- metrics ------------------------------------------------------------------------------ */
void dbx__report_step(dbx_trainer *t, int64_t step, int epoch, const dbx__sums *s)
{
    FILE *f = t->metrics.f;
    if (!f) return;
    dbx__jl_begin(f, "step");
    dbx__jl_int(f, "step", step);
    dbx__jl_int(f, "epoch", epoch);
    dbx__jl_int(f, "samples", s->samples);
    dbx__jl_int(f, "labelled", s->labelled);
    dbx__jl_num(f, "loss", s->loss);
    dbx__jl_num(f, "loss_per_node", dbx__ratio(s->loss, (double)s->labelled));
    dbx__jl_int(f, "batches", s->batches);
    dbx__jl_int(f, "nodes", s->nodes);
    dbx__jl_int(f, "requested_nodes", s->requested);
    dbx__jl_num(f, "mean_width", dbx__ratio((double)s->nodes, (double)s->batches));
    dbx__jl_int(f, "launches", s->launches);
    dbx__jl_int(f, "gathered_bytes", s->gathered);
    dbx__jl_num(f, "gemm_flops", s->gemm);
    dbx__jl_num(f, "t_build", s->build);
    dbx__jl_num(f, "t_sched", s->sched);
    dbx__jl_num(f, "t_plan", s->plan);
    dbx__jl_num(f, "t_forward", s->fwd);
    dbx__jl_num(f, "t_backward", s->bwd);
    dbx__jl_num(f, "t_update", s->update);
    dbx__jl_num(f, "sents_per_s", dbx__ratio((double)s->samples, s->wall));
    dbx__jl_num(f, "imbalance", s->imbalance);
    dbx__jl_num(f, "coordinator_ms", 1e3 * t->t_coord_step);
    fputs(",\"workers\":[", f);
    for (int r = 0; r < t->W; r++) {
        const dbx__wstat *w = &t->wstats[r];
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

void dbx__report_epoch(dbx_trainer *t, int epoch, int partial, const dbx__sums *e,
                       double loss, const dbx_eval_result *dev)
{
    if (t->log) {
        fprintf(t->log, "epoch %d%s: loss/node %.4f (%lld steps, %lld samples, %.2f s)", epoch,
                partial ? " (partial)" : "", loss, (long long)e->steps, (long long)e->samples,
                e->wall);
        if (t->has_dev) {
            fprintf(t->log, " | dev loss/node %.4f", dev->loss);
            for (int i = 0; i < dev->nmetrics; i++)
                fprintf(t->log, ", %s %.2f%%", dev->metrics[i].name, 100 * dev->metrics[i].value);
        }
        fputc('\n', t->log);
    }
    FILE *f = t->metrics.f;
    if (!f) return;
    dbx__jl_begin(f, "epoch");
    dbx__jl_int(f, "epoch", epoch);
    dbx__jl_int(f, "partial", partial);
    dbx__jl_int(f, "steps", e->steps);
    dbx__jl_int(f, "samples", e->samples);
    dbx__jl_int(f, "labelled", e->labelled);
    dbx__jl_num(f, "loss_per_node", loss);
    dbx__jl_num(f, "t_wall", e->wall);
    dbx__jl_num(f, "dev_loss", dev->loss);
    dbx__jl_num(f, "dev_acc", dev->acc);
    for (int i = 0; t->has_dev && i < dev->nmetrics; i++) {
        char key[64];
        snprintf(key, sizeof key, "dev_%s", dev->metrics[i].name);
        if (strcmp(key, "dev_acc") != 0) dbx__jl_num(f, key, dev->metrics[i].value);
    }
    dbx__jl_end(f);
}

void dbx__report_summary(dbx_trainer *t, const dbx_train_result *r)
{
    FILE *f = t->metrics.f;
    if (!f) return;
    const dbx_train_opts *o = &t->o;
    char ck[24];
    snprintf(ck, sizeof ck, "%016llx", (unsigned long long)r->checksum);
    dbx__jl_begin(f, "summary");
    dbx__jl_str(f, "model", t->type->name);
    dbx__jl_str(f, "data", o->data ? o->data : "<synthetic>");
    dbx__jl_str(f, "scheduler", o->scheduler);
    dbx__jl_str(f, "partition", dbx__part_name(t->coord.strategy));
    dbx__jl_int(f, "ranks", r->ranks);
    dbx__jl_int(f, "batch", o->batch);
    dbx__jl_int(f, "dedup", o->dedup != 0);
    dbx__jl_str(f, "optimizer", dbx_optim_name(o->optim.kind));
    dbx__jl_num(f, "lr", (double)o->optim.lr);
    dbx__jl_num(f, "clip_norm", o->clip_norm);
    dbx__jl_num(f, "dropout", o->dropout);
    dbx__jl_num(f, "weight_decay", o->weight_decay);
    dbx__jl_str(f, "lr_schedule", o->lr_schedule ? o->lr_schedule : "constant");
    dbx__jl_int(f, "warmup", o->warmup);
    dbx__jl_int(f, "lr_step_every", o->lr_step_every);
    dbx__jl_num(f, "lr_step_factor", o->lr_step_factor);
    dbx__jl_num(f, "lr_min", o->lr_min);
    dbx__jl_int(f, "keep_best", o->keep_best != 0);
    dbx__jl_int(f, "patience", o->patience);
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
    dbx__jl_num(f, "t_coordinator", t->t_coord);
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

/* ---- topology and trace (collective) ----------------------------------------------------- */
dbx_status dbx__report_topology(dbx_trainer *t, char *out, size_t cap)
{
    size_t each = sizeof t->topo;
    char *all = malloc(each * (size_t)t->W);
    if (!all) return dbx__fail(DBX_ENOMEM, "out of memory");
    /* collective (all ranks): every rank's topology line */
    dbx_status s = dbx__comm_allgather(t->comm, t->topo, each, all);
    size_t at = 0;
    out[0] = 0;
    for (int r = 0; r < t->W && !s && at < cap; r++)
        at += (size_t)snprintf(out + at, cap - at, "  [r%d/%d] %s\n", r, t->W,
                               all + (size_t)r * each);
    free(all);
    return s;
}

void dbx__trace_add(dbx_trainer *t, int64_t step, const char *name, double t0, double t1)
{
    if (!t->trace || step > t->trace_steps || t->ntrace >= t->cap_trace) return;
    dbx__trace_event *e = &t->trace[t->ntrace++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->step = step;
    e->t0 = t0 - t->t_origin;
    e->t1 = t1 - t->t_origin;
}

static void trace_json(FILE *f, const dbx__trace_event *all, const int64_t *counts, int64_t W)
{
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", f);
    int64_t k = 0;
    for (int64_t r = 0; r < W; r++) {
        fprintf(f, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%lld,"
                   "\"args\":{\"name\":\"rank %lld\"}}", r ? "," : "", (long long)r,
                (long long)r);
        for (int64_t i = 0; i < counts[r]; i++, k++)
            fprintf(f, ",{\"name\":\"%s\",\"cat\":\"step %lld\",\"ph\":\"X\","
                       "\"pid\":0,\"tid\":%lld,\"ts\":%.1f,\"dur\":%.1f}",
                    all[k].name, (long long)all[k].step, (long long)r, 1e6 * all[k].t0,
                    1e6 * (all[k].t1 - all[k].t0));
    }
    fputs("]}\n", f);
}

dbx_status dbx__trace_write(dbx_trainer *t, const char *path)
{
    int64_t n = (int64_t)t->ntrace, W = t->W;
    int64_t *counts = calloc((size_t)W, sizeof *counts);
    size_t *bc = calloc((size_t)W, sizeof *bc), *bd = calloc((size_t)W, sizeof *bd);
    dbx__trace_event *all = NULL;
    dbx_status s = !counts || !bc || !bd ? dbx__fail(DBX_ENOMEM, "out of memory") : DBX_OK;
    /* collective (all ranks): how many events each rank has */
    if (!s) s = dbx__comm_allgather(t->comm, &n, sizeof n, counts);
    int64_t total = 0;
    for (int64_t r = 0; r < W && !s; r++) {
        bc[r] = (size_t)counts[r] * sizeof *all;
        bd[r] = (size_t)total * sizeof *all;
        total += counts[r];
    }
    if (!s && !(all = malloc((size_t)(total + 1) * sizeof *all)))
        s = dbx__fail(DBX_ENOMEM, "out of memory");
    /* collective (all ranks): the events */
    if (!s) s = dbx__comm_allgatherv(t->comm, t->trace, (size_t)n * sizeof *all, all, bc, bd);
    if (!s && t->rank == 0) {
        dbx__afile a;
        s = dbx__afile_open(&a, path);
        if (!s) {
            trace_json(a.f, all, counts, W);
            s = dbx__afile_commit(&a);
        }
    }
    free(counts);
    free(bc);
    free(bd);
    free(all);
    return s;
}
