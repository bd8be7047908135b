/* The CUDA backend: the vtable of kernels/backend.h over device memory on one GPU.
 * Per device, one context (a blocking stream, a cuBLAS handle bound to it, a staging ring,
 * gather scratch), created on first request and kept for the life of the process in a
 * process-wide table. Every call enqueues on the stream and returns; download() and sync()
 * wait. The host index arrays of a call (arg_off, attr, arg_dim, fill offsets, optimizer
 * rows) are copied into a pinned ring and sent with one cudaMemcpyAsync per call; the ring
 * and the device mirror grow only when a call needs more than they hold, so a training
 * step allocates nothing. The ring never overwrites bytes whose copy has not run (an event
 * per block). Thread safety: creating contexts is serialised; each context is used by one
 * host thread at a time, like the CPU backend. */
#include <pthread.h>
#include <string.h>

#include "kernels/cuda/cuda.h"

/* ---- small kernels: fill, constants, transpose ---------------------------------------------- */
__global__ void fill_offsets_k(float *dst, const int64_t *offs, int n, float v)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[offs[i]] = v;
}

__global__ void gather_offsets_k(float *dst, const float *base, const int64_t *offs, int n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = base[offs[i]];
}

__global__ void fill_const_k(float *dst, int64_t n, float v)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = v;
}

/* dst[c * ld + r] = src[r * cols + c] through a 32x32 shared tile (block 32x8): reads and
   writes are both coalesced. blockIdx.x walks row tiles, blockIdx.y (strided) column tiles. */
enum { TILE = 32, TILE_ROWS = 8 };
__global__ void transpose_k(float *dst, int ld, const float *src, int rows, int cols)
{
    __shared__ float tile[TILE][TILE + 1];
    const int r0 = blockIdx.x * TILE, tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t c0 = (int64_t)blockIdx.y * TILE; c0 < cols; c0 += (int64_t)gridDim.y * TILE) {
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            int64_t r = r0 + k, c = c0 + tx;
            if (r < rows && c < cols) tile[k][tx] = src[r * cols + c];
        }
        __syncthreads();
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            int64_t r = r0 + tx, c = c0 + k;
            if (r < rows && c < cols) dst[c * ld + r] = tile[tx][k];
        }
        __syncthreads();
    }
}

/* ---- context helpers ------------------------------------------------------------------------ */
static cu_ctx *ctx_of(dbx_backend *be) { return (cu_ctx *)be->ctx; }

/* Makes the context's device current on the calling thread. */
static dbx_status enter(cu_ctx *c)
{
    int cur = -1;
    DBX_CU(cudaGetDevice(&cur));
    if (cur != c->device) DBX_CU(cudaSetDevice(c->device));
    return DBX_OK;
}

static size_t align16(size_t x) { return (x + 15) & ~(size_t)15; }

/* Replaces the ring by one of at least need bytes (waits for the stream first). */
static dbx_status ring_grow(cu_ctx *c, size_t need)
{
    DBX_CU(cudaStreamSynchronize(c->stream));
    c->ev_first = c->ev_count = 0;
    size_t cap = c->ring_cap ? 2 * c->ring_cap : (size_t)1 << 20;
    while (cap < need) cap *= 2;
    if (c->ring_host) cudaFreeHost(c->ring_host);
    if (c->ring_dev) cudaFree(c->ring_dev);
    c->ring_host = c->ring_dev = NULL;
    c->ring_cap = c->ring_head = 0;
    DBX_CU(cudaMallocHost((void **)&c->ring_host, cap));
    DBX_CU(cudaMalloc((void **)&c->ring_dev, cap));
    c->ring_cap = cap;
    return DBX_OK;
}

/* A range [*pos, *pos + bytes) of the ring whose earlier contents have been copied, so the
   host may overwrite it. Live blocks lie in FIFO order going forward (circularly) from the
   head, so waiting on the oldest blocks until the new range is clear is enough. */
static dbx_status ring_take(cu_ctx *c, size_t bytes, size_t *pos)
{
    /* room for a few blocks this size, so that one step's index arrays never wait for the
       previous step's copies (grows outside the steady state only) */
    if (bytes > c->ring_cap / 4) DBX_TRY(ring_grow(c, 4 * bytes));
    size_t p = c->ring_head;
    const int wrap = p + bytes > c->ring_cap;
    if (wrap) p = 0; /* the range is then [head, cap) (skipped) plus [0, bytes) */
    while (c->ev_count > 0) {
        const int f = c->ev_first;
        const size_t lo = c->ev_lo[f], hi = c->ev_hi[f];
        const int busy = wrap ? (hi > c->ring_head || lo < bytes) : (lo < p + bytes && p < hi);
        if (!busy && c->ev_count < DBX_CU_NEVENTS) break;
        DBX_CU(cudaEventSynchronize(c->ev[f]));
        c->ev_first = (f + 1) % DBX_CU_NEVENTS;
        c->ev_count--;
    }
    *pos = p;
    return DBX_OK;
}

/* Marks [pos, pos + bytes) busy until the work enqueued so far (its copy) has run. */
static dbx_status ring_commit(cu_ctx *c, size_t pos, size_t bytes)
{
    const int slot = (c->ev_first + c->ev_count) % DBX_CU_NEVENTS;
    DBX_CU(cudaEventRecord(c->ev[slot], c->stream));
    c->ev_lo[slot] = pos;
    c->ev_hi[slot] = pos + bytes;
    c->ev_count++;
    c->ring_head = pos + bytes;
    return DBX_OK;
}

typedef struct stage_part {
    const void *src; /* host bytes, or NULL */
    size_t bytes;
} stage_part;

/* Copies the parts to device memory with one asynchronous copy; dev[i] receives the address
   of part i's copy (NULL when it has no bytes). The copies stay valid for the work enqueued
   next on the stream. */
static dbx_status stage(cu_ctx *c, const stage_part *parts, int nparts, const void **dev)
{
    size_t total = 0;
    for (int i = 0; i < nparts; i++) {
        dev[i] = NULL;
        if (parts[i].src) total += align16(parts[i].bytes);
    }
    if (!total) return DBX_OK;
    size_t pos;
    DBX_TRY(ring_take(c, total, &pos));
    size_t q = pos;
    for (int i = 0; i < nparts; i++) {
        if (!parts[i].src || !parts[i].bytes) continue;
        memcpy(c->ring_host + q, parts[i].src, parts[i].bytes);
        dev[i] = c->ring_dev + q;
        q += align16(parts[i].bytes);
    }
    DBX_CU(cudaMemcpyAsync(c->ring_dev + pos, c->ring_host + pos, total, cudaMemcpyHostToDevice,
                           c->stream));
    c->n_copies++;
    return ring_commit(c, pos, total);
}

static dbx_status stage_batch(cu_ctx *c, const dbx_kbatch *b, cu_staged *s)
{
    const size_t n = (size_t)b->n, na = b->nargs > 0 ? (size_t)b->nargs : 0;
    const int want_attr = dbx__op_attr[b->op];
    if (b->d_arg_off || b->d_attr || b->d_arg_dim) { /* the executor's per-step copies */
        s->off = na ? b->d_arg_off : NULL;
        s->attr = want_attr ? b->d_attr : NULL;
        s->adim = na ? (const int32_t *)b->d_arg_dim : NULL;
        if ((na && (!s->off || !s->adim)) || (want_attr && !s->attr))
            return dbx__fail(DBX_EINVAL, "cuda backend: a batch has only some of its device "
                                         "index arrays");
        return DBX_OK;
    }
    const stage_part parts[3] = {
        {na ? b->arg_off : NULL, na * n * sizeof(int64_t)},
        {want_attr ? b->attr : NULL, n * sizeof(int32_t)},
        {na ? b->arg_dim : NULL, na * sizeof(int32_t)},
    };
    const void *dev[3];
    DBX_TRY(stage(c, parts, 3, dev));
    s->off = (const int64_t *)dev[0];
    s->attr = (const int32_t *)dev[1];
    s->adim = (const int32_t *)dev[2];
    return DBX_OK;
}

dbx_status dbx__cu_check_staged(const dbx_kbatch *b, const cu_staged *s)
{
    if (b->nargs > 0 && !s->off)
        return dbx__fail(DBX_EINVAL, "cuda backend: %s batch without argument offsets",
                         dbx__op_names[b->op]);
    if (dbx__op_attr[b->op] && !s->attr)
        return dbx__fail(DBX_EINVAL, "cuda backend: %s batch without its per-node integers",
                         dbx__op_names[b->op]);
    return DBX_OK;
}

/* ---- memory --------------------------------------------------------------------------------- */
static dbx_status cu_alloc(dbx_backend *be, size_t bytes, void **out)
{
    cu_ctx *c = ctx_of(be);
    *out = NULL;
    DBX_TRY(enter(c));
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return dbx__fail(e == cudaErrorMemoryAllocation ? DBX_ENOMEM : DBX_ECUDA,
                         "cudaMalloc of %zu bytes on GPU %d: %s", bytes, c->device,
                         cudaGetErrorString(e));
    }
    *out = p;
    return DBX_OK;
}

/* Waits for the stream first: enqueued work may still use p. */
static void cu_free(dbx_backend *be, void *p)
{
    cu_ctx *c = ctx_of(be);
    if (!p || enter(c) != DBX_OK) return;
    cudaStreamSynchronize(c->stream);
    cudaFree(p);
}

enum { UPLOAD_VIA_RING = 16 << 20 };

/* Uploads up to 16 MiB (index arrays of a step, inputs) go through the ring: asynchronous,
   and src may be reused at once. Larger ones (parameters, at set-up) are copied and waited
   for, so src may be reused at once whatever memory it is, without a ring that large. */
static dbx_status cu_upload(dbx_backend *be, void *dst, const void *src, size_t bytes)
{
    cu_ctx *c = ctx_of(be);
    if (!bytes) return DBX_OK;
    DBX_TRY(enter(c));
    if (bytes <= UPLOAD_VIA_RING) {
        size_t pos;
        DBX_TRY(ring_take(c, align16(bytes), &pos));
        memcpy(c->ring_host + pos, src, bytes);
        DBX_CU(cudaMemcpyAsync(dst, c->ring_host + pos, bytes, cudaMemcpyHostToDevice,
                               c->stream));
        c->n_copies++;
        return ring_commit(c, pos, align16(bytes));
    }
    c->n_copies++;
    DBX_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    DBX_CU(cudaStreamSynchronize(c->stream));
    return DBX_OK;
}

static dbx_status cu_download(dbx_backend *be, void *dst, const void *src, size_t bytes)
{
    cu_ctx *c = ctx_of(be);
    if (!bytes) return DBX_OK;
    DBX_TRY(enter(c));
    c->n_copies++;
    DBX_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    DBX_CU(cudaStreamSynchronize(c->stream));
    return DBX_OK;
}

/* The values at offs gathered on the device into gdev, then one copy to pinned memory. */
static dbx_status cu_gather(dbx_backend *be, float *out, const float *base, const int64_t *offs,
                            int n)
{
    cu_ctx *c = ctx_of(be);
    if (n <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    if ((size_t)n > c->gather_n) {
        DBX_CU(cudaStreamSynchronize(c->stream));
        if (c->gdev) cudaFree(c->gdev);
        if (c->ghost) cudaFreeHost(c->ghost);
        c->gdev = c->ghost = NULL;
        c->gather_n = 0;
        const size_t want = (size_t)n + (size_t)n / 2 + 256;
        DBX_CU(cudaMalloc((void **)&c->gdev, want * sizeof(float)));
        DBX_CU(cudaMallocHost((void **)&c->ghost, want * sizeof(float)));
        c->gather_n = want;
    }
    const stage_part part = {offs, (size_t)n * sizeof(int64_t)};
    const void *dev;
    DBX_TRY(stage(c, &part, 1, &dev));
    gather_offsets_k<<<dbx__cu_blocks(n, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        c->gdev, base, (const int64_t *)dev, n);
    DBX_CU_KERNEL(c, "gather_offsets_k");
    c->n_copies++;
    DBX_CU(cudaMemcpyAsync(c->ghost, c->gdev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost,
                           c->stream));
    DBX_CU(cudaStreamSynchronize(c->stream));
    memcpy(out, c->ghost, (size_t)n * sizeof(float));
    return DBX_OK;
}

static void cu_counters(dbx_backend *be, int64_t *kernels, int64_t *copies)
{
    const cu_ctx *c = ctx_of(be);
    if (kernels) *kernels = c->n_kernels;
    if (copies) *copies = c->n_copies;
}

static dbx_status cu_mark(dbx_backend *be, int slot)
{
    cu_ctx *c = ctx_of(be);
    if (slot < 0 || slot >= DBX_BE_MARKS)
        return dbx__fail(DBX_EINVAL, "cuda backend: timing marker %d out of range", slot);
    DBX_TRY(enter(c));
    DBX_CU(cudaEventRecord(c->marks[slot], c->stream));
    return DBX_OK;
}

static dbx_status cu_elapsed(dbx_backend *be, int a, int b, double *seconds)
{
    cu_ctx *c = ctx_of(be);
    *seconds = 0;
    if (a < 0 || a >= DBX_BE_MARKS || b < 0 || b >= DBX_BE_MARKS)
        return dbx__fail(DBX_EINVAL, "cuda backend: timing markers %d, %d out of range", a, b);
    DBX_TRY(enter(c));
    DBX_CU(cudaEventSynchronize(c->marks[b]));
    float ms = 0;
    DBX_CU(cudaEventElapsedTime(&ms, c->marks[a], c->marks[b]));
    *seconds = ms * 1e-3;
    return DBX_OK;
}

static dbx_status cu_memset0(dbx_backend *be, void *dst, size_t bytes)
{
    cu_ctx *c = ctx_of(be);
    if (!bytes) return DBX_OK;
    DBX_TRY(enter(c));
    c->n_kernels++;
    DBX_CU(cudaMemsetAsync(dst, 0, bytes, c->stream));
    return DBX_OK;
}

static dbx_status cu_fill(dbx_backend *be, float *dst, const int64_t *offs, int n, float v)
{
    cu_ctx *c = ctx_of(be);
    if (n <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    const stage_part part = {offs, (size_t)n * sizeof(int64_t)};
    const void *dev;
    DBX_TRY(stage(c, &part, 1, &dev));
    const int64_t *doffs = (const int64_t *)dev;
    fill_offsets_k<<<dbx__cu_blocks(n, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        dst, doffs, n, v);
    DBX_CU_KERNEL(c, "fill_offsets_k");
    return DBX_OK;
}

static dbx_status cu_sync(dbx_backend *be)
{
    cu_ctx *c = ctx_of(be);
    DBX_TRY(enter(c));
    DBX_CU(cudaStreamSynchronize(c->stream));
    return DBX_OK;
}

static dbx_status reserve_scratch(cu_ctx *c, size_t floats)
{
    if (floats <= c->scratch_floats) return DBX_OK;
    DBX_CU(cudaStreamSynchronize(c->stream));
    if (c->scratch) cudaFree(c->scratch);
    c->scratch = NULL;
    c->scratch_floats = 0;
    DBX_CU(cudaMalloc((void **)&c->scratch, floats * sizeof(float)));
    c->scratch_floats = floats;
    return DBX_OK;
}

static dbx_status cu_reserve(dbx_backend *be, size_t floats)
{
    cu_ctx *c = ctx_of(be);
    DBX_TRY(enter(c));
    return reserve_scratch(c, floats);
}

dbx_status dbx__cu_scratch(cu_ctx *c, size_t floats, float **out)
{
    DBX_TRY(reserve_scratch(c, floats)); /* a no-op when reserve() was called as planned */
    *out = c->scratch;
    return DBX_OK;
}

dbx_status dbx__cu_ones(cu_ctx *c, int n, const float **out)
{
    if ((size_t)n > c->ones_n) {
        size_t want = c->ones_n * 2 > (size_t)n ? c->ones_n * 2 : (size_t)n;
        if (want < 4096) want = 4096;
        DBX_CU(cudaStreamSynchronize(c->stream));
        if (c->ones) cudaFree(c->ones);
        c->ones = NULL;
        c->ones_n = 0;
        DBX_CU(cudaMalloc((void **)&c->ones, want * sizeof(float)));
        fill_const_k<<<dbx__cu_blocks((int64_t)want, DBX_CU_THREADS), DBX_CU_THREADS, 0,
                       c->stream>>>(c->ones, (int64_t)want, 1.0f);
        DBX_CU_KERNEL(c, "fill_const_k");
        c->ones_n = want;
    }
    *out = c->ones;
    return DBX_OK;
}

static dbx_status cu_transpose(dbx_backend *be, float *dst, int ld, const float *src, int rows,
                               int cols)
{
    cu_ctx *c = ctx_of(be);
    if (rows <= 0 || cols <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    int64_t ctiles = ((int64_t)cols + TILE - 1) / TILE;
    dim3 grid((unsigned)(((int64_t)rows + TILE - 1) / TILE),
              (unsigned)(ctiles < 65535 ? ctiles : 65535));
    transpose_k<<<grid, dim3(TILE, TILE_ROWS), 0, c->stream>>>(dst, ld, src, rows, cols);
    DBX_CU_KERNEL(c, "transpose_k");
    return DBX_OK;
}

/* ---- batches -------------------------------------------------------------------------------- */
/* With DBX_CUDA_SYNC=1 in the environment, every batch is waited for and a failure names
   it; otherwise a fault inside a kernel surfaces at a later, unrelated wait. Slow: for
   finding a faulting kernel. */
static dbx_status checked(cu_ctx *c, dbx_status s, const char *pass, const dbx_kbatch *b)
{
    if (s != DBX_OK || !c->sync_each) return s;
    const cudaError_t e = cudaStreamSynchronize(c->stream);
    if (e == cudaSuccess) return DBX_OK;
    (void)cudaGetLastError();
    return dbx__fail(DBX_ECUDA, "CUDA backend: %s of a %s batch (%d nodes, dim %d, %d args) "
                                "failed: %s", pass, dbx__op_names[b->op], b->n, b->dim, b->nargs,
                     cudaGetErrorString(e));
}

static dbx_status forward_batch(cu_ctx *c, float *vals, const dbx_kbatch *b);
static dbx_status backward_batch(cu_ctx *c, const float *vals, float *grads,
                                 const dbx_kbatch *b);

static dbx_status cu_forward(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    cu_ctx *c = ctx_of(be);
    return checked(c, forward_batch(c, vals, b), "forward", b);
}

static dbx_status cu_backward(dbx_backend *be, const float *vals, float *grads,
                              const dbx_kbatch *b)
{
    cu_ctx *c = ctx_of(be);
    return checked(c, backward_batch(c, vals, grads, b), "backward", b);
}

/* inputs: copied in by the executor; no gradient leaves them */
dbx_status dbx__cu_fwd_INPUT(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    (void)c, (void)vals, (void)b, (void)s;
    return DBX_OK;
}

dbx_status dbx__cu_bwd_INPUT(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                             const cu_staged *s)
{
    (void)c, (void)vals, (void)grads, (void)b, (void)s;
    return DBX_OK;
}

typedef struct cu_kernel {
    dbx_status (*forward)(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s);
    dbx_status (*backward)(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                           const cu_staged *s);
} cu_kernel;

/* the dispatch table, generated from the op table (in enum order) */
static const cu_kernel cu_kernels[DBX_OP_COUNT] = {
#define DBX__CU_KROW(NAME, ...) {dbx__cu_fwd_##NAME, dbx__cu_bwd_##NAME},
    DBX_OP_TABLE(DBX__CU_KROW)
#undef DBX__CU_KROW
};

extern "C" const char *dbx__cuda_missing_kernel(void)
{
    for (int op = 0; op < DBX_OP_COUNT; op++)
        if (!cu_kernels[op].forward || !cu_kernels[op].backward) return dbx__op_names[op];
    return NULL;
}

static dbx_status forward_batch(cu_ctx *c, float *vals, const dbx_kbatch *b)
{
    if ((unsigned)b->op >= DBX_OP_COUNT)
        return dbx__fail(DBX_EINVAL, "cuda backend: unknown op %d", (int)b->op);
    /* inputs: uploaded by the executor */
    if (dbx__op_shared[b->op] == DBX__SH_DATA || b->n <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    cu_staged s;
    DBX_TRY(stage_batch(c, b, &s));
    return cu_kernels[b->op].forward(c, vals, b, &s);
}

static dbx_status backward_batch(cu_ctx *c, const float *vals, float *grads,
                                 const dbx_kbatch *b)
{
    if ((unsigned)b->op >= DBX_OP_COUNT)
        return dbx__fail(DBX_EINVAL, "cuda backend: unknown op %d", (int)b->op);
    if (dbx__op_shared[b->op] == DBX__SH_DATA || b->n <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    cu_staged s;
    DBX_TRY(stage_batch(c, b, &s));
    return cu_kernels[b->op].backward(c, vals, grads, b, &s);
}

/* ---- optimizers ----------------------------------------------------------------------------- */
static dbx_status cu_optim_dense(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                                 float *m, float *v, size_t n)
{
    cu_ctx *c = ctx_of(be);
    if (!n) return DBX_OK;
    DBX_TRY(enter(c));
    return dbx__cu_optim_dense(c, o, p, g, m, v, n);
}

static dbx_status cu_optim_rows(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                                float *m, float *v, const int32_t *rows, int nrows, int dim)
{
    cu_ctx *c = ctx_of(be);
    if (nrows <= 0 || dim <= 0) return DBX_OK;
    DBX_TRY(enter(c));
    const stage_part part = {rows, (size_t)nrows * sizeof(int32_t)};
    const void *dev;
    DBX_TRY(stage(c, &part, 1, &dev));
    return dbx__cu_optim_rows(c, o, p, g, m, v, (const int32_t *)dev, nrows, dim);
}

/* ---- the table and the process-wide contexts ------------------------------------------------ */
/* The stream every batch runs on: NCCL collectives order themselves after it by events. */
static void *cu_stream(dbx_backend *be) { return (void *)((cu_ctx *)be->ctx)->stream; }

static dbx_backend_ops make_ops(void)
{
    dbx_backend_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
    o.missing_kernel = dbx__cuda_missing_kernel;
    o.device = 1;
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.upload = cu_upload;
    o.download = cu_download;
    o.memset0 = cu_memset0;
    o.fill = cu_fill;
    o.sync = cu_sync;
    o.reserve = cu_reserve;
    o.forward = cu_forward;
    o.backward = cu_backward;
    o.transpose = cu_transpose;
    o.optim_dense = cu_optim_dense;
    o.optim_rows = cu_optim_rows;
    o.stream = cu_stream;
    o.gather = cu_gather;
    o.counters = cu_counters;
    o.mark = cu_mark;
    o.elapsed = cu_elapsed;
    return o;
}

static const dbx_backend_ops cu_ops = make_ops();

enum { MAX_DEVICES = 64 };
static pthread_mutex_t contexts_lock = PTHREAD_MUTEX_INITIALIZER; /* no libstdc++ */
static cu_ctx *contexts[MAX_DEVICES];

static void ctx_destroy(cu_ctx *c)
{
    if (c->blas) cublasDestroy(c->blas);
    for (int i = 0; i < DBX_CU_NEVENTS; i++)
        if (c->ev[i]) cudaEventDestroy(c->ev[i]);
    if (c->ring_host) cudaFreeHost(c->ring_host);
    if (c->ring_dev) cudaFree(c->ring_dev);
    if (c->scratch) cudaFree(c->scratch);
    if (c->ones) cudaFree(c->ones);
    if (c->gdev) cudaFree(c->gdev);
    if (c->ghost) cudaFreeHost(c->ghost);
    for (int i = 0; i < DBX_BE_MARKS; i++)
        if (c->marks[i]) cudaEventDestroy(c->marks[i]);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

static dbx_status ctx_init(cu_ctx *c)
{
    DBX_CU(cudaSetDevice(c->device));
    /* a blocking stream: ordered after work that other code puts on the legacy stream */
    DBX_CU(cudaStreamCreate(&c->stream));
    DBX_CUBLAS(cublasCreate(&c->blas));
    DBX_CUBLAS(cublasSetStream(c->blas, c->stream));
    /* plain FP32 GEMMs (no TF32): results comparable with the CPU backend */
    DBX_CUBLAS(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    for (int i = 0; i < DBX_CU_NEVENTS; i++)
        DBX_CU(cudaEventCreateWithFlags(&c->ev[i], cudaEventDisableTiming));
    for (int i = 0; i < DBX_BE_MARKS; i++) DBX_CU(cudaEventCreate(&c->marks[i]));
    const char *sync = getenv("DBX_CUDA_SYNC");
    c->sync_each = sync && *sync && strcmp(sync, "0") != 0;
    DBX_TRY(ring_grow(c, (size_t)1 << 20));
    c->be.ops = &cu_ops;
    c->be.ctx = c;
    return DBX_OK;
}

/* The number of visible GPUs, or a status saying why none can be used. */
static dbx_status device_count(int *n)
{
    *n = 0; /* left unwritten by some failures */
    cudaError_t e = cudaGetDeviceCount(n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *n = 0;
        return dbx__fail(DBX_ECUDA, "CUDA backend: no usable GPU: cudaGetDeviceCount failed: %s "
                                    "(%s); check the NVIDIA driver and CUDA_VISIBLE_DEVICES",
                         cudaGetErrorString(e), cudaGetErrorName(e));
    }
    return DBX_OK;
}

extern "C" dbx_status dbx__cuda_backend(int device, dbx_backend **out)
{
    *out = NULL;
    int count = 0;
    DBX_TRY(device_count(&count));
    if (count <= 0) return dbx__fail(DBX_ECUDA, "CUDA backend: no CUDA device is visible");
    if (device < 0 || device >= count || device >= MAX_DEVICES)
        return dbx__fail(DBX_ECUDA, "CUDA backend: GPU %d requested, %d visible", device, count);
    pthread_mutex_lock(&contexts_lock);
    dbx_status s = DBX_OK;
    if (!contexts[device]) {
        cu_ctx *c = (cu_ctx *)calloc(1, sizeof *c);
        if (c) {
            c->device = device;
            s = ctx_init(c);
            if (s == DBX_OK) contexts[device] = c;
            else ctx_destroy(c);
        } else {
            s = dbx__fail(DBX_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&contexts_lock);
    DBX_TRY(s);
    DBX_CU(cudaSetDevice(device));
    *out = &contexts[device]->be;
    return DBX_OK;
}

/* The PCI bus ids ("0000:41:00.0") of the visible GPUs, at most max of them, in CUDA device
 * order (so that busid[d] is device d); for choosing each rank's GPU by locality. Creates no
 * context on any GPU. */
extern "C" dbx_status dbx__cuda_devices(int max, char (*busid)[32], int *count)
{
    *count = 0;
    int n = 0;
    DBX_TRY(device_count(&n));
    if (n > max) n = max;
    for (int d = 0; d < n; d++) DBX_CU(cudaDeviceGetPCIBusId(busid[d], 32, d));
    *count = n;
    return DBX_OK;
}
