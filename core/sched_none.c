/* The "none" scheduler: node by node in creation order, the unbatched baseline. A node's
 * arguments were created before it, so the lowest node still to run is always ready:
 * choosing it is the ready set's O(1) amortised cursor. Stateless; thread-safe. */
#include "dbx/sched.h"

static dbx_status none_choose(void *state, const dbx_graph *g, const dbx_sched_ready *ready,
                              int32_t *group)
{
    (void)state;
    (void)g;
    *group = dbx_sched_ready_first(ready);
    return DBX_OK;
}

const dbx_sched_type dbx__sched_none = {
    .name = "none",
    .summary = "node by node in creation order (the unbatched baseline)",
    .grouping = DBX_SCHED_GROUP_NODE,
    .choose = none_choose,
};
