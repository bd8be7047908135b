/* The structural signature of the sample(s) in a built graph (partition/partition.h):
 * node count, depth, and the sorted distinct batching keys (depth << 16 | signature id).
 * Reads the graph's internal node array (core/graph.h); writes only into the caller's key
 * buffer, which the result borrows. Reentrant; the graph is only read. */
#include <stdlib.h>

#include "core/graph.h"
#include "core/status.h"
#include "partition/partition.h"

#define KEY_FIELD_MAX 65535

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t clamp_field(int32_t v)
{
    if (v < 0) return 0;
    return v > KEY_FIELD_MAX ? KEY_FIELD_MAX : (uint32_t)v;
}

dbx_status dbx__psample_from_graph(const dbx_graph *g, uint32_t *keys, dbx__psample *out)
{
    if (!g || !out) return dbx__fail(DBX_EINVAL, "dbx__psample_from_graph: NULL argument");
    if (g->err != DBX_OK)
        return dbx__fail(DBX_EINVAL, "dbx__psample_from_graph: the graph has an error (%s)",
                         dbx_status_str(g->err));
    if (g->nnodes > (size_t)INT32_MAX)
        return dbx__fail(DBX_EINVAL, "dbx__psample_from_graph: too many nodes");
    if (g->nnodes > 0 && !keys)
        return dbx__fail(DBX_EINVAL, "dbx__psample_from_graph: NULL key buffer");

    int32_t depth = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        const dbx__node *n = &g->nodes[i];
        if (n->depth > depth) depth = n->depth;
        keys[i] = clamp_field(n->depth) << 16 | clamp_field(n->sig);
    }
    size_t nk = 0;
    if (g->nnodes > 0) {
        qsort(keys, g->nnodes, sizeof *keys, cmp_u32);
        nk = 1;
        for (size_t i = 1; i < g->nnodes; i++)
            if (keys[i] != keys[nk - 1]) keys[nk++] = keys[i];
    }
    out->nodes = (int32_t)g->nnodes;
    out->depth = depth;
    out->nkeys = (int32_t)nk;
    out->keys = keys;
    return DBX_OK;
}
