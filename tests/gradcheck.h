/* Finite-difference gradient checking for tests: a graph is rebuilt from scratch for every
 * evaluation by a user callback, so both parameters and input data can be perturbed. */
#ifndef DBX_TESTS_GRADCHECK_H
#define DBX_TESTS_GRADCHECK_H

#include "dbx/dbx.h"

/* Builds the whole graph into g (already cleared) from inputs (ninputs floats) owned by
 * the check; records the input nodes in in_nodes (one per input vector) if not NULL. */
typedef void (*dbx_gc_build)(dbx_graph *g, void *ctx, const float *inputs, dbx_node *in_nodes);

typedef struct dbx_gc_spec {
    dbx_model *m;
    dbx_gc_build build;
    void *ctx;
    float *inputs;        /* perturbed in place, restored */
    int ninput_vecs;      /* input nodes the build creates (gradients compared for each) */
    const int *input_dims;
    const char *scheduler;  /* registered name (dbx/sched.h); NULL: none */
    int dedup;
    int max_checks;       /* elements checked per tensor (spread evenly); 0: all */
    double eps;           /* finite-difference step (default 1e-2 in float64 terms) */
} dbx_gc_spec;

typedef struct dbx_gc_result {
    int checked;
    int failed;
    double worst;         /* worst |analytic - numeric| / max(|.|, |.|, 1e-2) */
    char where[128];      /* the worst element */
} dbx_gc_result;

/* Compares analytic gradients of all parameters and inputs with central differences. An
 * element fails when |a - n| > atol + rtol * max(|a|, |n|). Returns 0 on success. */
int dbx_gc_run(const dbx_gc_spec *s, double atol, double rtol, dbx_gc_result *r);

#endif /* DBX_TESTS_GRADCHECK_H */
