/* Internal layout of dbx_model: parameter descriptors and the flat value / gradient /
 * optimizer-moment buffers (backend memory; tensors are views at param offsets).
 * Lookup tables record the rows a step touched for sparse updates. Not thread-safe. */
#ifndef DBX_CORE_MODEL_H
#define DBX_CORE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"
#include "kernels/backend.h"

typedef struct dbx__param {
    char name[64];
    int rows, cols;
    dbx_init init;
    float scale;
    int lookup;           /* 1: lookup table with sparse updates */
    size_t off;           /* offset in the flat buffers (floats) */
    size_t toff;          /* offset of the column-major copy in valt (dense matrices) */
    int tld;              /* its leading dimension: rows + 16, so that no power-of-two
                             stride makes GEMM loads alias in the cache */
    unsigned char *touched; /* lookup: (rows) flags */
    int32_t *trows;       /* lookup: touched rows this step */
    size_t ntrows, cap_trows;
} dbx__param;

struct dbx_model {
    dbx__param *params;
    size_t nparams, cap_params;
    size_t nfloats;
    int inited;
    int host;                     /* 1: buffers are host memory (CPU backend) */
    dbx_backend *be;
    float *val, *grad, *m1, *m2;  /* (nfloats) each */
    float *valt;                  /* (ntfloats) column-major copies of dense matrices */
    size_t ntfloats;
    int64_t steps;                /* optimizer steps taken */
};

static inline float *dbx__param_val(dbx_model *m, dbx_param p) { return m->val + m->params[p].off; }
static inline float *dbx__param_grad(dbx_model *m, dbx_param p)
{
    return m->grad + m->params[p].off;
}

/* Records that row r of lookup table p received gradient this step. */
dbx_status dbx__model_touch(dbx_model *m, dbx_param p, int32_t r);

#endif /* DBX_CORE_MODEL_H */
