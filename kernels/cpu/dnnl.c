/* oneDNN FP32 matmul for the CPU backend's affine kernels (interface: kernels/cpu/dnnl.h).
 *
 * Loading: libdnnl.so.2 is opened with dlopen() on first use, so that libdbx keeps no
 * link-time dependency on it; the headers only are needed at build time (DBX_HAVE_DNNL).
 * oneDNN runs on its OpenMP runtime; like the BLAS it is pinned to one thread unless
 * OMP_NUM_THREADS is set.
 *
 * Every GEMM is written as oneDNN's row-major matmul C (M, N) = A (M, K) B (K, N), with the
 * column-major batches of dbx read as their row-major transposes through strides:
 *   forward  out^T (n, rows)  += x^T (n, cols)   W^T (cols, rows)
 *   dx       dx^T  (n, cols)  (+)= dy^T (n, rows) W (rows, cols)
 *   dW       dW    (rows, cols) += dy (rows, n)   x^T (n, cols)
 * Accumulation is a sum post-op. The weights are B in the first two forms, which lets
 * oneDNN keep them in its blocked layout ("packed").
 *
 * Caches (per thread, as the CPU backend is): primitives in an open-addressing hash map
 * keyed by form, M, N, K, strides, accumulation and packing; they are never evicted (batch
 * widths vary every step and creating a primitive costs milliseconds). Packed weights in a
 * second map keyed by (weight pointer, form), each holding the blocked copy for up to four
 * layouts with its reorder primitive and a stale flag set by dbx__dnnl_weights_changed. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/dnnl.h"

int dbx__cpu_gemm = DBX_GEMM_OPENBLAS;

#ifndef DBX_HAVE_DNNL

int dbx__dnnl_built(void) { return 0; }
dbx_status dbx__dnnl_init(void)
{
    return dbx__fail(DBX_ENOTSUP, "dbx was built without oneDNN (install libdnnl-dev and "
                                  "reconfigure)");
}
const char *dbx__dnnl_describe(void) { return "oneDNN not built in"; }
dbx_status dbx__cpu_gemm_select(int lib)
{
    if (lib == DBX_GEMM_ONEDNN) return dbx__dnnl_init();
    dbx__cpu_gemm = DBX_GEMM_OPENBLAS;
    return DBX_OK;
}
int dbx__dnnl_bf16_native(void) { return 0; }
dbx_status dbx__dnnl_bf16_check(void) { return dbx__dnnl_init(); }
dbx_status dbx__dnnl_fwd(int rows, int cols, int n, const float *w, int packed, const float *x,
                         float *out, int ldo, int bf16)
{
    (void)rows, (void)cols, (void)n, (void)w, (void)packed, (void)x, (void)out, (void)ldo;
    (void)bf16;
    return dbx__dnnl_init();
}
dbx_status dbx__dnnl_dx(int rows, int cols, int n, const float *w, int packed, const float *dy,
                        int ldy, float *dx, int accumulate, int bf16)
{
    (void)rows, (void)cols, (void)n, (void)w, (void)packed, (void)dy, (void)ldy, (void)dx;
    (void)accumulate, (void)bf16;
    return dbx__dnnl_init();
}
dbx_status dbx__dnnl_dw(int rows, int cols, int n, const float *dy, int ldy, const float *x,
                        float *dw, int bf16)
{
    (void)rows, (void)cols, (void)n, (void)dy, (void)ldy, (void)x, (void)dw, (void)bf16;
    return dbx__dnnl_init();
}
void dbx__dnnl_weights_changed(const float *w) { (void)w; }
const char *dbx__dnnl_last_impl(void) { return "none"; }

#else /* DBX_HAVE_DNNL */

#include <dlfcn.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

/* ---- run-time loading ---------------------------------------------------------------------- */
#define DNNL_FUNCS(X)                                                                         \
    X(dnnl_engine_create)                                                                     \
    X(dnnl_stream_create)                                                                     \
    X(dnnl_stream_wait)                                                                       \
    X(dnnl_memory_desc_init_by_strides)                                                       \
    X(dnnl_memory_desc_init_by_tag)                                                           \
    X(dnnl_memory_desc_equal)                                                                 \
    X(dnnl_memory_desc_get_size)                                                              \
    X(dnnl_matmul_desc_init)                                                                  \
    X(dnnl_primitive_attr_create)                                                             \
    X(dnnl_primitive_attr_destroy)                                                            \
    X(dnnl_primitive_attr_set_post_ops)                                                       \
    X(dnnl_post_ops_create)                                                                   \
    X(dnnl_post_ops_append_sum)                                                               \
    X(dnnl_post_ops_destroy)                                                                  \
    X(dnnl_primitive_desc_create)                                                             \
    X(dnnl_primitive_desc_query)                                                              \
    X(dnnl_primitive_desc_query_md)                                                           \
    X(dnnl_primitive_desc_destroy)                                                            \
    X(dnnl_reorder_primitive_desc_create)                                                     \
    X(dnnl_primitive_create)                                                                  \
    X(dnnl_primitive_execute)                                                                 \
    X(dnnl_primitive_destroy)                                                                 \
    X(dnnl_memory_destroy)                                                                    \
    X(dnnl_memory_create)                                                                     \
    X(dnnl_memory_set_data_handle)                                                            \
    X(dnnl_get_effective_cpu_isa)                                                             \
    X(dnnl_cpu_isa2str)                                                                       \
    X(dnnl_version)

#define DNNL_PTR(f) static __typeof__(f) *p_##f;
DNNL_FUNCS(DNNL_PTR)
#undef DNNL_PTR
#define D(f) p_##f

static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;
static char dnnl_err[512];
static char dnnl_desc[256];
static int dnnl_bf16_native;
static void (*omp_set_threads)(int);
static int dnnl_threads = 1;

static void dnnl_load(void)
{
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libdnnl.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(dnnl_err, sizeof dnnl_err, "oneDNN not found (libdnnl.so.2): %s; install "
                 "libdnnl2 (Debian: apt-get install libdnnl-dev)", dlerror());
        return;
    }
#define DNNL_SYM(f)                                                                           \
    if (!(*(void **)&p_##f = dlsym(h, #f))) {                                                 \
        snprintf(dnnl_err, sizeof dnnl_err, "libdnnl.so.2 has no %s", #f);                    \
        return;                                                                               \
    }
    DNNL_FUNCS(DNNL_SYM)
#undef DNNL_SYM
    *(void **)&omp_set_threads = dlsym(h, "omp_set_num_threads");
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) > 0) dnnl_threads = atoi(env);
    const dnnl_version_t *v = D(dnnl_version)();
    const char *isa = D(dnnl_cpu_isa2str)(D(dnnl_get_effective_cpu_isa)());
    if (!strncmp(isa, "cpu_isa_", 8)) isa += 8;
    /* BF16 dot products in hardware: AVX512-BF16 (avx512_core_bf16) or AMX; below that,
       oneDNN runs bf16 matmuls with emulated (converted) arithmetic, slower */
    dnnl_bf16_native = strstr(isa, "bf16") != NULL || strstr(isa, "amx") != NULL;
    snprintf(dnnl_desc, sizeof dnnl_desc, "oneDNN %d.%d.%d, ISA %s, %d thread(s)", v->major,
             v->minor, v->patch, isa, dnnl_threads);
}

int dbx__dnnl_built(void) { return 1; }

dbx_status dbx__dnnl_init(void)
{
    pthread_once(&dnnl_once, dnnl_load);
    if (!dnnl_desc[0]) return dbx__fail(DBX_ENOTSUP, "%s", dnnl_err);
    return DBX_OK;
}

const char *dbx__dnnl_describe(void) { return dnnl_desc[0] ? dnnl_desc : dnnl_err; }

int dbx__dnnl_bf16_native(void) { return dnnl_desc[0] && dnnl_bf16_native; }

dbx_status dbx__cpu_gemm_select(int lib)
{
    if (lib == DBX_GEMM_ONEDNN) DBX_TRY(dbx__dnnl_init());
    dbx__cpu_gemm = lib == DBX_GEMM_ONEDNN ? DBX_GEMM_ONEDNN : DBX_GEMM_OPENBLAS;
    return DBX_OK;
}

/* ---- per-thread context and caches --------------------------------------------------------- */
enum { F_FWD, F_DX, F_DW };

typedef struct prim_key {
    int form, m, n, k;
    int64_t sa0, sa1, sb0, sb1, sc0;
    int acc, packed, bf16;
} prim_key;

typedef struct prim_ent {
    prim_key key;
    int used;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    const dnnl_memory_desc_t *wmd; /* the weights' layout (owned by pd) */
    dnnl_primitive_desc_t pd;
    const char *impl;
    int direct; /* packed key, but the weights are read where they lie (prim_create) */
} prim_ent;

enum { PACK_VARIANTS = 4 };

typedef struct pack_var {
    dnnl_memory_desc_t md;
    float *buf;
    int stale;
    dnnl_primitive_t reorder;
    dnnl_memory_t src, dst;
} pack_var;

typedef struct pack_ent {
    const float *w;
    int form, used, nvar;
    pack_var var[PACK_VARIANTS];
} pack_ent;

typedef struct dctx {
    int ready;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    prim_ent *prims;
    size_t nprims, cap_prims; /* cap: power of two */
    pack_ent *packs;
    size_t npacks, cap_packs;
    const char *last_impl;
    uint16_t *cvt[2]; /* bf16 copies of the A and B operands of the current call */
    size_t cvt_cap[2];
    float *dense; /* a dense f32 output of the current call (dense_buf) */
    size_t dense_cap;
} dctx;

static _Thread_local dctx ctx;

#define DNNL_CHECK(call)                                                                      \
    do {                                                                                      \
        dnnl_status_t st_ = (call);                                                           \
        if (st_ != dnnl_success)                                                              \
            return dbx__fail(DBX_ENOTSUP, "oneDNN: %s failed (status %d)", #call, (int)st_); \
    } while (0)

static dbx_status ctx_get(dctx **out)
{
    dctx *c = &ctx;
    if (!c->ready) {
        DBX_TRY(dbx__dnnl_init());
        if (omp_set_threads) omp_set_threads(dnnl_threads); /* this thread's OpenMP teams */
        DNNL_CHECK(D(dnnl_engine_create)(&c->eng, dnnl_cpu, 0));
        DNNL_CHECK(D(dnnl_stream_create)(&c->stream, c->eng, dnnl_stream_default_flags));
        c->ready = 1;
    }
    *out = c;
    return DBX_OK;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t key_hash(const prim_key *k)
{
    uint64_t h = 1469598103934665603ull;
    h = mix(h, (uint64_t)k->form);
    h = mix(h, (uint64_t)k->m);
    h = mix(h, (uint64_t)k->n);
    h = mix(h, (uint64_t)k->k);
    h = mix(h, (uint64_t)k->sa0);
    h = mix(h, (uint64_t)k->sa1);
    h = mix(h, (uint64_t)k->sb0);
    h = mix(h, (uint64_t)k->sb1);
    h = mix(h, (uint64_t)k->sc0);
    h = mix(h, (uint64_t)(k->acc * 4 + k->packed * 2 + k->bf16));
    return h ^ (h >> 29);
}

static int key_eq(const prim_key *a, const prim_key *b)
{
    return a->form == b->form && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->sa0 == b->sa0 && a->sa1 == b->sa1 && a->sb0 == b->sb0 && a->sb1 == b->sb1 &&
           a->sc0 == b->sc0 && a->acc == b->acc && a->packed == b->packed &&
           a->bf16 == b->bf16;
}

/* The slot of key in the primitive map (empty when absent); grows the map at half load. */
static dbx_status prim_slot(dctx *c, const prim_key *k, prim_ent **out)
{
    if (2 * (c->nprims + 1) > c->cap_prims) {
        size_t cap = c->cap_prims ? 2 * c->cap_prims : 256;
        prim_ent *t = calloc(cap, sizeof *t);
        if (!t) return dbx__fail(DBX_ENOMEM, "out of memory for the oneDNN primitive cache");
        for (size_t i = 0; i < c->cap_prims; i++) {
            if (!c->prims[i].used) continue;
            size_t j = key_hash(&c->prims[i].key) & (cap - 1);
            while (t[j].used) j = (j + 1) & (cap - 1);
            t[j] = c->prims[i];
        }
        free(c->prims);
        c->prims = t;
        c->cap_prims = cap;
    }
    size_t j = key_hash(k) & (c->cap_prims - 1);
    while (c->prims[j].used && !key_eq(&c->prims[j].key, k)) j = (j + 1) & (c->cap_prims - 1);
    *out = &c->prims[j];
    return DBX_OK;
}

static uint64_t pack_hash(const float *w, int form)
{
    return mix(mix(0x243f6a8885a308d3ull, (uint64_t)(uintptr_t)w), (uint64_t)form);
}

/* The packed-weight entry of (w, form), or an empty slot; grows at half load when create. */
static dbx_status pack_slot(dctx *c, const float *w, int form, int create, pack_ent **out)
{
    *out = NULL;
    if (create && 2 * (c->npacks + 1) > c->cap_packs) {
        size_t cap = c->cap_packs ? 2 * c->cap_packs : 64;
        pack_ent *t = calloc(cap, sizeof *t);
        if (!t) return dbx__fail(DBX_ENOMEM, "out of memory for the oneDNN weight cache");
        for (size_t i = 0; i < c->cap_packs; i++) {
            if (!c->packs[i].used) continue;
            size_t j = pack_hash(c->packs[i].w, c->packs[i].form) & (cap - 1);
            while (t[j].used) j = (j + 1) & (cap - 1);
            t[j] = c->packs[i];
        }
        free(c->packs);
        c->packs = t;
        c->cap_packs = cap;
    }
    if (!c->cap_packs) return DBX_OK;
    size_t j = pack_hash(w, form) & (c->cap_packs - 1);
    while (c->packs[j].used && !(c->packs[j].w == w && c->packs[j].form == form))
        j = (j + 1) & (c->cap_packs - 1);
    *out = &c->packs[j];
    return DBX_OK;
}

void dbx__dnnl_weights_changed(const float *w)
{
    dctx *c = &ctx;
    for (int form = F_FWD; form <= F_DX; form++) {
        pack_ent *e;
        if (pack_slot(c, w, form, 0, &e) || !e || !e->used) continue;
        for (int v = 0; v < e->nvar; v++) e->var[v].stale = 1;
    }
}

const char *dbx__dnnl_last_impl(void) { return ctx.last_impl ? ctx.last_impl : "none"; }

static void md_strides(dnnl_memory_desc_t *md, int64_t d0, int64_t d1, int64_t s0, int64_t s1,
                       dnnl_data_type_t dt, dnnl_status_t *st)
{
    dnnl_dims_t dims = {d0, d1}, strides = {s0, s1};
    if (*st == dnnl_success)
        *st = D(dnnl_memory_desc_init_by_strides)(md, 2, dims, dt, strides);
}

/* float -> bfloat16, rounding to nearest even (what oneDNN's reorders and AVX512-BF16's
   vcvtneps2bf16 do for normal numbers); NaN stays a (quiet) NaN. */
static inline uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)r;
}

/* The (d0, d1) matrix at *p (strides *s0, *s1, floats) converted to bfloat16 into the
   context's buffer `slot`, compact in the same orientation (row-major when *s1 == 1, else
   column-major); *p, *s0, *s1 then describe the copy. */
static dbx_status cvt_operand(dctx *c, int slot, int64_t d0, int64_t d1, const void **p,
                              int64_t *s0, int64_t *s1)
{
    DBX_TRY(dbx__cpu_grow((void **)&c->cvt[slot], &c->cvt_cap[slot], (size_t)(d0 * d1),
                          sizeof(uint16_t), "bf16 operands"));
    const float *src = *p;
    uint16_t *dst = c->cvt[slot];
    const int64_t a0 = *s0, a1 = *s1;
    if (a1 == 1) {
        for (int64_t i = 0; i < d0; i++) {
            const float *r = src + i * a0;
            uint16_t *o = dst + i * d1;
            for (int64_t j = 0; j < d1; j++) o[j] = to_bf16(r[j]);
        }
        *s0 = d1;
        *s1 = 1;
    } else if (a0 == 1) {
        for (int64_t j = 0; j < d1; j++) {
            const float *col = src + j * a1;
            uint16_t *o = dst + j * d0;
            for (int64_t i = 0; i < d0; i++) o[i] = to_bf16(col[i]);
        }
        *s0 = 1;
        *s1 = d0;
    } else {
        for (int64_t i = 0; i < d0; i++)
            for (int64_t j = 0; j < d1; j++) dst[i * d1 + j] = to_bf16(src[i * a0 + j * a1]);
        *s0 = d1;
        *s1 = 1;
    }
    *p = dst;
    return DBX_OK;
}

/* The context's dense f32 buffer of at least `need` floats. */
static dbx_status dense_buf(dctx *c, size_t need, float **out)
{
    DBX_TRY(dbx__cpu_grow((void **)&c->dense, &c->dense_cap, need, sizeof(float),
                          "a dense GEMM operand"));
    *out = c->dense;
    return DBX_OK;
}

/* The matmul primitive descriptor C = A B (+ C when k->acc) on these layouts. */
static dbx_status pd_create(dctx *c, const prim_key *k, const dnnl_memory_desc_t *a,
                            const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *cc,
                            dnnl_primitive_desc_t *pd)
{
    dnnl_matmul_desc_t md;
    DNNL_CHECK(D(dnnl_matmul_desc_init)(&md, a, b, NULL, cc));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (k->acc) {
        DNNL_CHECK(D(dnnl_primitive_attr_create)(&attr));
        DNNL_CHECK(D(dnnl_post_ops_create)(&po));
        DNNL_CHECK(D(dnnl_post_ops_append_sum)(po, 1.0f));
        DNNL_CHECK(D(dnnl_primitive_attr_set_post_ops)(attr, po));
    }
    dnnl_status_t st = D(dnnl_primitive_desc_create)(pd, &md, attr, c->eng, NULL);
    if (po) D(dnnl_post_ops_destroy)(po);
    if (attr) D(dnnl_primitive_attr_destroy)(attr);
    if (st != dnnl_success)
        return dbx__fail(DBX_ENOTSUP,
                         "oneDNN: no %s matmul for M=%d N=%d K=%d form %d (status %d)",
                         k->bf16 ? "bf16" : "f32", k->m, k->n, k->k, k->form, (int)st);
    return DBX_OK;
}

/* 1 when md is a dense row- or column-major (d0, d1) f32 matrix: no blocking. */
static int md_plain(const dnnl_memory_desc_t *md, int64_t d0, int64_t d1)
{
    dnnl_memory_desc_t ab, ba;
    dnnl_status_t st = dnnl_success;
    md_strides(&ab, d0, d1, d1, 1, dnnl_f32, &st);
    md_strides(&ba, d0, d1, 1, d0, dnnl_f32, &st);
    return st == dnnl_success &&
           (D(dnnl_memory_desc_equal)(md, &ab) || D(dnnl_memory_desc_equal)(md, &ba));
}

/* Creates the matmul primitive of key k: the weights in oneDNN's choice of layout when
   k->packed, else at strides sb0, sb1. When oneDNN chooses a plain layout for packed f32
   weights (its gemm:jit, which it runs e.g. for an output or a dy with a leading dimension
   above its width, packs its operands itself in every call), reordering them would copy
   the weights once more per step; instead the primitive reads them (e->direct) where they
   lie already in the layout it chose: the dx form reads w (row-major, strides ws0, ws1),
   the forward form the executor's column-major copy (strides sb0 = its leading dimension,
   1; dbx__cpu_colmajor), when there is one. Same products, one copy of the weights fewer. */
static dbx_status prim_create(dctx *c, const prim_key *k, prim_ent *e, int64_t ws0, int64_t ws1)
{
    dnnl_memory_desc_t a, b, cc;
    dnnl_status_t st = dnnl_success;
    const dnnl_data_type_t in = k->bf16 ? dnnl_bf16 : dnnl_f32; /* A and B; C stays f32 */
    md_strides(&a, k->m, k->k, k->sa0, k->sa1, in, &st);
    if (k->packed) {
        dnnl_dims_t dims = {k->k, k->n};
        if (st == dnnl_success)
            st = D(dnnl_memory_desc_init_by_tag)(&b, 2, dims, in, dnnl_format_tag_any);
    } else {
        md_strides(&b, k->k, k->n, k->sb0, k->sb1, in, &st);
    }
    md_strides(&cc, k->m, k->n, k->sc0, 1, dnnl_f32, &st);
    if (st != dnnl_success)
        return dbx__fail(DBX_ENOTSUP, "oneDNN: memory descriptor (status %d)", (int)st);
    dnnl_primitive_desc_t pd;
    DBX_TRY(pd_create(c, k, &a, &b, &cc, &pd));
    const dnnl_memory_desc_t *wmd = D(dnnl_primitive_desc_query_md)(pd, dnnl_query_weights_md, 0);
    e->direct = 0;
    if (k->packed && !k->bf16 && (k->form == F_DX || k->sb0 > 0) &&
        md_plain(wmd, k->k, k->n)) {
        D(dnnl_primitive_desc_destroy)(pd);
        if (k->form == F_DX)
            md_strides(&b, k->k, k->n, ws0, ws1, dnnl_f32, &st);
        else
            md_strides(&b, k->k, k->n, k->sb0, 1, dnnl_f32, &st);
        if (st != dnnl_success) return dbx__fail(DBX_ENOTSUP, "oneDNN: weights descriptor");
        DBX_TRY(pd_create(c, k, &a, &b, &cc, &pd));
        wmd = D(dnnl_primitive_desc_query_md)(pd, dnnl_query_weights_md, 0);
        e->direct = 1;
    }
    DNNL_CHECK(D(dnnl_primitive_create)(&e->prim, pd));
    DNNL_CHECK(D(dnnl_memory_create)(&e->a, &a, c->eng, DNNL_MEMORY_NONE));
    DNNL_CHECK(D(dnnl_memory_create)(&e->b, wmd, c->eng, DNNL_MEMORY_NONE));
    DNNL_CHECK(D(dnnl_memory_create)(&e->c, &cc, c->eng, DNNL_MEMORY_NONE));
    const char *impl = NULL;
    D(dnnl_primitive_desc_query)(pd, dnnl_query_impl_info_str, 0, &impl);
    e->pd = pd; /* kept: owns wmd */
    e->wmd = wmd;
    e->impl = impl ? impl : "?";
    e->key = *k;
    e->used = 1;
    c->nprims++;
    return DBX_OK;
}

/* The packed copy of weights w (plain f32 at strides s0, s1 as a (kk, nn) matrix) in layout
   md, reordered now when absent or stale. With a bf16 md the reorder also converts (rounding
   to nearest even): the bf16 weights are made once per weight update, with the packing. */
static dbx_status packed_weights(dctx *c, const float *w, int form, int kk, int nn, int64_t s0,
                                 int64_t s1, const dnnl_memory_desc_t *md, float **out)
{
    pack_ent *e = NULL;
    DBX_TRY(pack_slot(c, w, form, 1, &e));
    if (!e->used) {
        memset(e, 0, sizeof *e);
        e->used = 1;
        e->w = w;
        e->form = form;
        c->npacks++;
    }
    pack_var *v = NULL;
    for (int i = 0; i < e->nvar && !v; i++)
        if (D(dnnl_memory_desc_equal)(&e->var[i].md, md)) v = &e->var[i];
    if (!v) {
        if (e->nvar == PACK_VARIANTS) { /* (memory reused by another matrix) drop the oldest */
            pack_var *old = &e->var[0];
            D(dnnl_primitive_destroy)(old->reorder);
            D(dnnl_memory_destroy)(old->src);
            D(dnnl_memory_destroy)(old->dst);
            free(old->buf);
            memmove(&e->var[0], &e->var[1], (PACK_VARIANTS - 1) * sizeof e->var[0]);
            e->nvar--;
        }
        v = &e->var[e->nvar];
        memset(v, 0, sizeof *v);
        v->md = *md;
        size_t bytes = D(dnnl_memory_desc_get_size)(md);
        v->buf = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!v->buf) return dbx__fail(DBX_ENOMEM, "out of memory for packed weights");
        dnnl_memory_desc_t src;
        dnnl_status_t st = dnnl_success;
        md_strides(&src, kk, nn, s0, s1, dnnl_f32, &st);
        if (st != dnnl_success) return dbx__fail(DBX_ENOTSUP, "oneDNN: weights descriptor");
        dnnl_primitive_desc_t rpd;
        DNNL_CHECK(D(dnnl_reorder_primitive_desc_create)(&rpd, &src, c->eng, md, c->eng, NULL));
        DNNL_CHECK(D(dnnl_primitive_create)(&v->reorder, rpd));
        D(dnnl_primitive_desc_destroy)(rpd);
        DNNL_CHECK(D(dnnl_memory_create)(&v->src, &src, c->eng, DNNL_MEMORY_NONE));
        DNNL_CHECK(D(dnnl_memory_create)(&v->dst, md, c->eng, v->buf));
        v->stale = 1;
        e->nvar++;
    }
    if (v->stale) {
        DNNL_CHECK(D(dnnl_memory_set_data_handle)(v->src, (void *)w));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, v->src}, {DNNL_ARG_TO, v->dst}};
        DNNL_CHECK(D(dnnl_primitive_execute)(v->reorder, c->stream, 2, args));
        DNNL_CHECK(D(dnnl_stream_wait)(c->stream));
        v->stale = 0;
    }
    *out = v->buf;
    return DBX_OK;
}

/* C = A B (+ C when k->acc); the weights B plain at b, or packed from w (a (k, n) matrix at
   strides wsb0, wsb1) when k->packed. With k->bf16, A and a plain B are converted to bf16
   copies here (the key's strides are then the copies'), and C stays f32. */
static dbx_status run(prim_key *k, const float *a, const float *b, float *cm, const float *w,
                      int64_t wsb0, int64_t wsb1)
{
    dctx *c;
    DBX_TRY(ctx_get(&c));
    const void *ap = a, *bpl = b;
    if (k->bf16) {
        DBX_TRY(cvt_operand(c, 0, k->m, k->k, &ap, &k->sa0, &k->sa1));
        if (!k->packed) DBX_TRY(cvt_operand(c, 1, k->k, k->n, &bpl, &k->sb0, &k->sb1));
    }
    prim_ent *e = NULL;
    DBX_TRY(prim_slot(c, k, &e));
    if (!e->used) DBX_TRY(prim_create(c, k, e, wsb0, wsb1));
    const void *bp = e->direct ? w : bpl;
    if (e->direct && k->form == F_FWD) {
        const float *wt;
        int ld;
        DBX_TRY(dbx__cpu_colmajor(w, 1, &wt, &ld));
        if (!wt || ld != k->sb0)
            return dbx__fail(DBX_EINVAL, "oneDNN: no column-major copy of the weights");
        bp = wt;
    }
    if (k->packed && !e->direct) {
        float *pb = NULL;
        DBX_TRY(packed_weights(c, w, k->form, k->k, k->n, wsb0, wsb1, e->wmd, &pb));
        bp = pb;
    }
    DNNL_CHECK(D(dnnl_memory_set_data_handle)(e->a, (void *)ap));
    DNNL_CHECK(D(dnnl_memory_set_data_handle)(e->b, (void *)bp));
    DNNL_CHECK(D(dnnl_memory_set_data_handle)(e->c, cm));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    DNNL_CHECK(D(dnnl_primitive_execute)(e->prim, c->stream, 3, args));
    DNNL_CHECK(D(dnnl_stream_wait)(c->stream));
    c->last_impl = e->impl;
    return DBX_OK;
}

dbx_status dbx__dnnl_bf16_check(void)
{
    dctx *c;
    DBX_TRY(ctx_get(&c));
    prim_key k = {.form = F_FWD, .m = 16, .n = 16, .k = 16, .sa0 = 16, .sa1 = 1, .sb0 = 16,
                  .sb1 = 1, .sc0 = 16, .acc = 1, .packed = 0, .bf16 = 1};
    prim_ent *e = NULL;
    DBX_TRY(prim_slot(c, &k, &e));
    if (!e->used && prim_create(c, &k, e, 0, 0) != DBX_OK)
        return dbx__fail(DBX_ENOTSUP, "%s has no bf16 matmul on this CPU (oneDNN 2.6 needs "
                                      "AVX-512, avx512_core or newer)", dnnl_desc);
    return DBX_OK;
}

/* Strided operands (an output or dy with a leading dimension above its rows: a term's rows
   inside a larger block, as the Tree-LSTM's A_l / A_r rows in the 5H gate block) make oneDNN
   2.6 fall back from its packed brgemm kernels to gemm:jit on plain weights. In bf16 the
   forward of such a term computes into a dense buffer (brg) and adds the product in: whole
   Tree-LSTM steps gained 4-9% (its dx and dW read the compact bf16 copy of dy, dense
   already). In fp32 the same route (and dense copies of dy for dx and dW) made every GEMM
   run brg and cut the GEMM time by about 10% at H = 256, but the copies, the two extra
   weight reorders per matrix and step that packing needs, and the brg primitives' creation
   cost as much: whole steps measured 0.86-1.05x (H = 256) and 0.93x (H = 512) in
   interleaved runs, so fp32 keeps gemm:jit on the weights where they lie (README, BLAS).
   Measured on this machine (Intel Xeon, AVX-512, oneDNN 2.6.3). */
static int dense_output(int rows, int ldo, int n, int bf16) { return bf16 && n > 1 && ldo != rows; }

dbx_status dbx__dnnl_fwd(int rows, int cols, int n, const float *w, int packed, const float *x,
                         float *out, int ldo, int bf16)
{
    /* out^T (n, rows) += x^T (n, cols) W^T (cols, rows); W^T of row-major W: strides (1, cols).
       Packed f32: sb0 = the leading dimension of the executor's column-major copy of W (a
       row-major W^T), 0 when it has none (prim_create). An output with a leading dimension
       above its rows (a term's rows inside a larger block) makes oneDNN 2.6 fall back to
       gemm:jit on plain weights: in bf16 the product goes to a dense buffer, then is added
       in (dense_output). */
    int ld = 0;
    if (packed && !bf16) {
        const float *wt;
        DBX_TRY(dbx__cpu_colmajor(w, 0, &wt, &ld));
    }
    if (n == 1) ldo = rows;
    const int strided = dense_output(rows, ldo, n, bf16);
    float *dst = out;
    if (strided) {
        dctx *c;
        DBX_TRY(ctx_get(&c));
        DBX_TRY(dense_buf(c, (size_t)rows * n, &dst));
    }
    prim_key k = {.form = F_FWD, .m = n, .n = rows, .k = cols, .sa0 = cols, .sa1 = 1,
                  .sb0 = packed ? ld : 1, .sb1 = packed ? 0 : cols,
                  .sc0 = strided ? rows : ldo, .acc = !strided, .packed = packed,
                  .bf16 = bf16 != 0};
    DBX_TRY(run(&k, x, w, dst, w, 1, cols));
    if (strided)
        for (int j = 0; j < n; j++) {
            float *o = out + (size_t)j * ldo;
            const float *t = dst + (size_t)j * rows;
            for (int i = 0; i < rows; i++) o[i] += t[i];
        }
    return DBX_OK;
}

dbx_status dbx__dnnl_dx(int rows, int cols, int n, const float *w, int packed, const float *dy,
                        int ldy, float *dx, int accumulate, int bf16)
{
    /* dx^T (n, cols) (+)= dy^T (n, rows) W (rows, cols) */
        prim_key k = {.form = F_DX, .m = n, .n = cols, .k = rows, .sa0 = ldy, .sa1 = 1,
                  .sb0 = packed ? 0 : cols, .sb1 = packed ? 0 : 1, .sc0 = cols,
                  .acc = accumulate != 0, .packed = packed, .bf16 = bf16 != 0};
    return run(&k, dy, w, dx, w, cols, 1);
}

dbx_status dbx__dnnl_dw(int rows, int cols, int n, const float *dy, int ldy, const float *x,
                        float *dw, int bf16)
{
    /* dW (rows, cols) += dy (rows, n) x^T (n, cols); dy column-major: strides (1, ldy). In
       bf16: dy and x rounded to bf16, the products accumulated in f32 into the f32 dW. */
        prim_key k = {.form = F_DW, .m = rows, .n = cols, .k = n, .sa0 = 1, .sa1 = ldy,
                  .sb0 = cols, .sb1 = 1, .sc0 = cols, .acc = 1, .packed = 0, .bf16 = bf16 != 0};
    return run(&k, dy, x, dw, NULL, 0, 0);
}

#endif /* DBX_HAVE_DNNL */
