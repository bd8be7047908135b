/* The "agenda" scheduler (DyNet's agenda-based autobatching): repeatedly run every ready
 * node of the ready signature whose nodes have the lowest average depth, averaged over all
 * nodes of that signature in the graph; ties go to non-GEMM signatures, then to the lowest
 * signature id. A signature whose nodes sit deep on average (an MLP over both directions of
 * a BiLSTM, the losses) thus waits until shallower work is exhausted and then runs as one
 * wide batch. Priorities are fixed per graph (begin: O(signatures)); choosing is
 * O(ready signatures). The state (priorities per signature) belongs to one executor. */
#include <stdlib.h>

#include "core/status.h"
#include "dbx/sched.h"

typedef struct agenda {
    double *depth;         /* (nsigs) mean depth of the signature's nodes */
    unsigned char *gemm;   /* (nsigs) 1: a GEMM signature */
    size_t cap;
} agenda;

static dbx_status agenda_create(const dbx_sched_type *type, void **state)
{
    (void)type;
    *state = calloc(1, sizeof(agenda));
    return *state ? DBX_OK : dbx__fail(DBX_ENOMEM, "out of memory");
}

static void agenda_free(void *state)
{
    agenda *a = state;
    if (!a) return;
    free(a->depth);
    free(a->gemm);
    free(a);
}

static dbx_status agenda_begin(void *state, const dbx_graph *g, const dbx_sched_ready *ready)
{
    (void)ready;
    agenda *a = state;
    const size_t ns = (size_t)dbx_graph_num_sigs(g);
    if (ns > a->cap) {
        size_t c = ns + ns / 2 + 16;
        double *d = realloc(a->depth, c * sizeof *d);
        if (d) a->depth = d;
        unsigned char *m = realloc(a->gemm, c);
        if (m) a->gemm = m;
        if (!d || !m) return dbx__fail(DBX_ENOMEM, "out of memory");
        a->cap = c;
    }
    for (size_t s = 0; s < ns; s++) {
        a->depth[s] = dbx_graph_sig_mean_depth(g, (int32_t)s);
        a->gemm[s] = (unsigned char)dbx_graph_sig_is_gemm(g, (int32_t)s);
    }
    return DBX_OK;
}

static dbx_status agenda_choose(void *state, const dbx_graph *g, const dbx_sched_ready *ready,
                                int32_t *group)
{
    (void)g;
    const agenda *a = state;
    const int32_t *ids;
    const int32_t n = dbx_sched_ready_groups(ready, &ids);
    int32_t best = -1;
    for (int32_t i = 0; i < n; i++) {
        const int32_t s = ids[i];
        if (best < 0 || a->depth[s] < a->depth[best] ||
            (a->depth[s] == a->depth[best] &&
             (a->gemm[s] < a->gemm[best] || (a->gemm[s] == a->gemm[best] && s < best))))
            best = s;
    }
    *group = best;
    return DBX_OK;
}

const dbx_sched_type dbx__sched_agenda = {
    .name = "agenda",
    .summary = "the ready signature with the lowest average depth (DyNet's agenda)",
    .grouping = DBX_SCHED_GROUP_SIG,
    .create = agenda_create,
    .free = agenda_free,
    .begin = agenda_begin,
    .choose = agenda_choose,
};
