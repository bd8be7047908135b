/* dbx schedulers: the public interface for choosing batches, and the registry that names
 * them.
 *
 * An executor turns a minibatch graph into batches: the core keeps the *ready set* (nodes
 * whose arguments have all run, in groups that may run as one batch), asks the scheduler
 * which group to run next, emits that group as a batch, and updates the ready set, until
 * every node has run. A scheduler is a table of callbacks plus its state:
 *
 *   create  makes the state when an executor is created (dbx_exec_new); the executor owns it
 *           and hands it to free in dbx_exec_free, so a learned scheduler can keep a table
 *           across steps;
 *   begin   (optional) once per graph, before its first choice;
 *   choose  picks one ready group; called once per batch, so it should be cheap;
 *   free    releases the state.
 *
 * Schedulers are named by strings (dbx_exec_opts.scheduler) and found in a registry. The
 * built-in ones are "none" (node by node: the unbatched baseline), "depth" (all nodes of
 * equal depth and signature, level by level: TensorFlow Fold) and "agenda" (the ready
 * signature whose nodes have the lowest average depth: DyNet); adding one to dbx is one .c
 * file and one line in core/sched_registry.c, and a program can register its own at run
 * time with dbx_sched_register().
 *
 * Thread safety: the registry is read-only after registration; register before creating
 * executors in other threads. A scheduler's state is used by one executor at a time. */
#ifndef DBX_SCHED_H
#define DBX_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the ready set groups the ready nodes; a scheduler states the grouping it chooses from.
 * Group ids are small integers >= 0; what they name depends on the grouping. */
typedef enum dbx_sched_grouping {
    /* Every ready node is a group of its own; group id = node id. */
    DBX_SCHED_GROUP_NODE,
    /* Nodes of equal (depth, signature). Groups are numbered in (depth, signature) order, and
     * the groups of one depth become ready together, once every node of lower depth has run
     * (level by level, as TensorFlow Fold batches). */
    DBX_SCHED_GROUP_DEPTH,
    /* All ready nodes of one signature; group id = the dense signature id
     * (dbx_node_sig). Running the group runs every node of the signature that is ready now. */
    DBX_SCHED_GROUP_SIG
} dbx_sched_grouping;

/* The ready set, as a scheduler sees it: valid inside begin and choose only. */
typedef struct dbx_sched_ready dbx_sched_ready;

typedef struct dbx_sched_type dbx_sched_type;
struct dbx_sched_type {
    const char *name;              /* 1..31 characters of [a-z0-9_-], unique in the registry */
    const char *summary;           /* one line for --help */
    dbx_sched_grouping grouping;
    /* Makes *state (NULL allowed: no state). NULL callback: the state is NULL. */
    dbx_status (*create)(const dbx_sched_type *type, void **state);
    /* Releases a state made by create; NULL callback: nothing to release. */
    void (*free)(void *state);
    /* Optional (NULL): called once per graph, after the ready set holds the nodes without
     * arguments and before the first choose. */
    dbx_status (*begin)(void *state, const dbx_graph *g, const dbx_sched_ready *ready);
    /* Required: sets *group to one of the ready groups (dbx_sched_ready_groups). Returning an
     * error, or a group that is not ready, ends the executor's call with that error. */
    dbx_status (*choose)(void *state, const dbx_graph *g, const dbx_sched_ready *ready,
                         int32_t *group);
    const void *data;              /* for create: options, a policy file name, ... */
};

/* ---- the ready set (inside begin and choose) ----------------------------------------------- */
/* The ready groups, in no particular order: *groups receives an array of that many ids, valid
 * until choose returns. O(1). */
int32_t dbx_sched_ready_groups(const dbx_sched_ready *r, const int32_t **groups);
/* The ready group with the lowest id, or -1 if none: O(1) amortised for DBX_SCHED_GROUP_NODE
 * (the lowest node still to run: creation order) and DBX_SCHED_GROUP_DEPTH (the lowest
 * (depth, signature) still to run), O(ready groups) for DBX_SCHED_GROUP_SIG. */
int32_t dbx_sched_ready_first(const dbx_sched_ready *r);
/* Nodes of the graph that have not run yet. */
int32_t dbx_sched_ready_remaining(const dbx_sched_ready *r);
/* A ready group's signature (dense id), its number of ready nodes and those nodes (valid
 * until choose returns); -1, 0 and NULL for a group that is not ready. */
int32_t dbx_sched_group_sig(const dbx_sched_ready *r, int32_t group);
int32_t dbx_sched_group_size(const dbx_sched_ready *r, int32_t group);
const dbx_node *dbx_sched_group_nodes(const dbx_sched_ready *r, int32_t group);

/* ---- the registry ------------------------------------------------------------------------ */
/* Finds a scheduler by name; NULL or "" is "none". Unknown names fail with DBX_EINVAL and
 * the message "unknown scheduler 'x' (expected none, depth or agenda)" listing the
 * registered names. */
dbx_status dbx_sched_find(const char *name, const dbx_sched_type **out);
/* The registered schedulers, built-in ones first, in registration order: i in
 * 0 .. dbx_sched_count() - 1 (NULL outside). */
int dbx_sched_count(void);
const dbx_sched_type *dbx_sched_at(int i);
/* Writes the registered names as "none, depth or agenda" into buf (truncated to cap bytes,
 * always terminated) and returns buf. */
const char *dbx_sched_choices(char *buf, size_t cap);
/* Registers a scheduler for the rest of the process; the type is borrowed (it must outlive
 * every executor that uses it; a static object is simplest). DBX_EINVAL for a bad or taken
 * name, a bad grouping or no choose; DBX_ENOMEM when the registry (32 entries) is full. */
dbx_status dbx_sched_register(const dbx_sched_type *type);

#ifdef __cplusplus
}
#endif
#endif /* DBX_SCHED_H */
