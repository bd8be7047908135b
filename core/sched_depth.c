/* The "depth" scheduler (TensorFlow Fold): all nodes of equal depth and signature form one
 * batch, in increasing (depth, signature) order, nodes in id order inside a batch. The ready
 * set groups nodes by (depth, signature) and numbers the groups in that order, so choosing is
 * its O(1) amortised cursor. Stateless; thread-safe. */
#include "dbx/sched.h"

static dbx_status depth_choose(void *state, const dbx_graph *g, const dbx_sched_ready *ready,
                               int32_t *group)
{
    (void)state;
    (void)g;
    *group = dbx_sched_ready_first(ready);
    return DBX_OK;
}

const dbx_sched_type dbx__sched_depth = {
    .name = "depth",
    .summary = "all nodes of equal depth and signature, by increasing depth (TensorFlow Fold)",
    .grouping = DBX_SCHED_GROUP_DEPTH,
    .choose = depth_choose,
};
