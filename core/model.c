/* Parameters: declaration, deterministic initialisation, one flat buffer each for values,
 * gradients and optimizer moments (tensors are views), optimizer steps with sparse
 * lookup-table updates, checksums, and atomic save/load. Not thread-safe. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/model.h"
#include "core/rng.h"
#include "core/status.h"

dbx_status dbx_model_new(dbx_model **out)
{
    *out = NULL;
    dbx_model *m = calloc(1, sizeof *m);
    if (!m) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx__cpu_backend(&m->be);
    if (s) {
        free(m);
        return s;
    }
    m->host = 1;
    *out = m;
    return DBX_OK;
}

dbx_status dbx_model_set_device(dbx_model *m, const char *device, int index)
{
    if (m->inited)
        return dbx__fail(DBX_EINVAL, "dbx_model_set_device: call it before dbx_model_init");
    dbx_backend *be;
    DBX_TRY(dbx__backend_get(device, index, &be));
    m->be = be;
    m->host = !device || strcmp(device, "cpu") == 0;
    return DBX_OK;
}

dbx_status dbx_model_read_values(const dbx_model *m, float *out, size_t cap)
{
    if (!m->inited) return dbx__fail(DBX_EINVAL, "dbx_model_read_values: model not initialised");
    if (cap < m->nfloats)
        return dbx__fail(DBX_EINVAL, "dbx_model_read_values: %zu floats needed", m->nfloats);
    DBX_TRY(m->be->ops->sync(m->be));
    return m->be->ops->download(m->be, out, m->val, m->nfloats * sizeof(float));
}

/* Host copy of the values: m->val itself on the CPU, else a malloc'd download (*owned = 1). */
static const float *host_values(const dbx_model *m, int *owned)
{
    *owned = 0;
    if (m->host) return m->val;
    float *h = malloc(m->nfloats * sizeof *h + 1);
    if (!h || dbx_model_read_values(m, h, m->nfloats)) {
        free(h);
        return NULL;
    }
    *owned = 1;
    return h;
}

void dbx_model_free(dbx_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nparams; i++) {
        free(m->params[i].touched);
        free(m->params[i].trows);
    }
    free(m->params);
    if (m->be) {
        m->be->ops->free(m->be, m->val);
        m->be->ops->free(m->be, m->grad);
        m->be->ops->free(m->be, m->m1);
        m->be->ops->free(m->be, m->m2);
        m->be->ops->free(m->be, m->valt);
    }
    free(m);
}

static dbx_status add_param(dbx_model *m, const char *name, int rows, int cols, dbx_init init,
                            float scale, int lookup, dbx_param *out)
{
    if (m->inited) return dbx__fail(DBX_EINVAL, "parameter '%s' added after dbx_model_init", name);
    if (rows <= 0 || cols <= 0)
        return dbx__fail(DBX_EINVAL, "parameter '%s': shape (%d, %d) must be positive", name, rows,
                         cols);
    if (!name || strlen(name) >= sizeof m->params[0].name)
        return dbx__fail(DBX_EINVAL, "parameter name missing or longer than 63 bytes");
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return dbx__fail(DBX_EINVAL, "parameter '%s' declared twice", name);
    DBX_TRY(DBX_GROW(m->params, m->cap_params, m->nparams + 1));
    dbx__param *p = &m->params[m->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->init = init;
    p->scale = scale;
    p->lookup = lookup;
    p->off = m->nfloats;
    /* keep every tensor 64-byte aligned in the flat buffers */
    m->nfloats += ((size_t)rows * (size_t)cols + 15) & ~(size_t)15;
    if (!lookup && cols > 1) {
        p->tld = rows + 16;
        p->toff = m->ntfloats;
        m->ntfloats += (size_t)p->tld * (size_t)cols;
    }
    if (lookup) {
        p->touched = calloc((size_t)rows, 1);
        if (!p->touched) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    *out = (dbx_param)m->nparams++;
    return DBX_OK;
}

dbx_status dbx_model_add(dbx_model *m, const char *name, int rows, int cols, dbx_init init,
                         float scale, dbx_param *out)
{
    return add_param(m, name, rows, cols, init, scale, 0, out);
}

dbx_status dbx_model_add_lookup(dbx_model *m, const char *name, int rows, int dim, float scale,
                                dbx_param *out)
{
    return add_param(m, name, rows, dim, DBX_INIT_UNIFORM, scale, 1, out);
}

dbx_status dbx_model_init(dbx_model *m, uint64_t seed)
{
    if (m->inited) return dbx__fail(DBX_EINVAL, "dbx_model_init called twice");
    if (!m->nparams) return dbx__fail(DBX_EINVAL, "dbx_model_init: the model has no parameters");
    size_t bytes = m->nfloats * sizeof(float);
    float **bufs[4] = {&m->val, &m->grad, &m->m1, &m->m2};
    for (int i = 0; i < 4; i++) {
        DBX_TRY(m->be->ops->alloc(m->be, bytes, (void **)bufs[i]));
        DBX_TRY(m->be->ops->memset0(m->be, *bufs[i], bytes));
    }
    DBX_TRY(m->be->ops->alloc(m->be, (m->ntfloats + 16) * sizeof(float), (void **)&m->valt));
    float *host = calloc(m->nfloats, sizeof *host);
    if (!host) return dbx__fail(DBX_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nparams; i++) {
        dbx__param *p = &m->params[i];
        dbx_rng r;
        dbx_rng_seed(&r, seed ^ (0x9e3779b97f4a7c15ULL * (i + 1)));
        float a = p->init == DBX_INIT_GLOROT ? sqrtf(6.0f / (float)(p->rows + p->cols)) : p->scale;
        size_t n = (size_t)p->rows * (size_t)p->cols;
        float *v = host + p->off;
        if (p->init == DBX_INIT_CONSTANT)
            for (size_t j = 0; j < n; j++) v[j] = p->scale;
        else if (p->init != DBX_INIT_ZERO)
            for (size_t j = 0; j < n; j++) v[j] = (float)((2.0 * dbx_rng_uniform(&r) - 1.0) * a);
    }
    dbx_status s = m->be->ops->upload(m->be, m->val, host, bytes);
    free(host);
    DBX_TRY(s);
    m->inited = 1;
    return DBX_OK;
}

int dbx_model_num_params(const dbx_model *m) { return (int)m->nparams; }
size_t dbx_model_num_floats(const dbx_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nparams; i++)
        n += (size_t)m->params[i].rows * (size_t)m->params[i].cols;
    return n;
}
const char *dbx_model_param_name(const dbx_model *m, dbx_param p)
{
    return p >= 0 && (size_t)p < m->nparams ? m->params[p].name : NULL;
}
void dbx_model_param_shape(const dbx_model *m, dbx_param p, int *rows, int *cols)
{
    *rows = m->params[p].rows;
    *cols = m->params[p].cols;
}
float *dbx_model_values(dbx_model *m) { return m->host ? m->val : NULL; }
float *dbx_model_grads(dbx_model *m) { return m->host ? m->grad : NULL; }
size_t dbx_model_param_offset(const dbx_model *m, dbx_param p) { return m->params[p].off; }

dbx_status dbx__model_touch(dbx_model *m, dbx_param p, int32_t r)
{
    dbx__param *pr = &m->params[p];
    if (pr->touched[r]) return DBX_OK;
    DBX_TRY(DBX_GROW(pr->trows, pr->cap_trows, pr->ntrows + 1));
    pr->touched[r] = 1;
    pr->trows[pr->ntrows++] = r;
    return DBX_OK;
}

dbx_optim dbx_optim_default(dbx_optim_kind kind)
{
    dbx_optim o = {.kind = kind, .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                   .grad_scale = 1.0f};
    if (kind == DBX_OPT_ADAM) o.lr = 0.001f;
    return o;
}

static const char *const optim_names[] = {"sgd", "adagrad", "adam"};

dbx_status dbx_optim_parse(const char *name, dbx_optim_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, optim_names[i]) == 0) {
            *out = (dbx_optim_kind)i;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown optimizer '%s' (expected sgd, adagrad or adam)", name);
}

const char *dbx_optim_name(dbx_optim_kind kind) { return optim_names[kind]; }

dbx_status dbx_precision_parse(const char *name, dbx_precision *out)
{
    if (name && strcmp(name, "fp32") == 0) *out = DBX_PRECISION_FP32;
    else if (name && strcmp(name, "bf16") == 0) *out = DBX_PRECISION_BF16;
    else return dbx__fail(DBX_EINVAL, "unknown precision '%s' (expected fp32 or bf16)",
                          name ? name : "(null)");
    return DBX_OK;
}

const char *dbx_precision_name(dbx_precision p)
{
    return p == DBX_PRECISION_FP32 ? "fp32" : p == DBX_PRECISION_BF16 ? "bf16" : "?";
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

dbx_status dbx_model_update(dbx_model *m, const dbx_optim *opt)
{
    if (!m->inited) return dbx__fail(DBX_EINVAL, "dbx_model_update: model not initialised");
    m->steps++;
    dbx_koptim o = {.kind = opt->kind, .lr = opt->lr, .beta1 = opt->beta1, .beta2 = opt->beta2,
                    .eps = opt->eps, .grad_scale = opt->grad_scale};
    o.bc1 = 1.0f - powf(opt->beta1, (float)m->steps);
    o.bc2 = 1.0f - powf(opt->beta2, (float)m->steps);
    const dbx_backend_ops *ops = m->be->ops;
    /* dense parameters: update runs of adjacent dense tensors in one call */
    size_t i = 0;
    while (i < m->nparams) {
        if (m->params[i].lookup) {
            dbx__param *p = &m->params[i];
            /* sorted rows: a deterministic update order whatever order rows were touched in */
            if (p->ntrows) qsort(p->trows, p->ntrows, sizeof *p->trows, cmp_i32);
            DBX_TRY(ops->optim_rows(m->be, &o, m->val + p->off, m->grad + p->off, m->m1 + p->off,
                                    m->m2 + p->off, p->trows, (int)p->ntrows, p->cols));
            for (size_t r = 0; r < p->ntrows; r++) p->touched[p->trows[r]] = 0;
            p->ntrows = 0;
            i++;
            continue;
        }
        size_t j = i;
        while (j < m->nparams && !m->params[j].lookup) j++;
        size_t lo = m->params[i].off;
        size_t hi = j < m->nparams ? m->params[j].off : m->nfloats;
        DBX_TRY(ops->optim_dense(m->be, &o, m->val + lo, m->grad + lo, m->m1 + lo, m->m2 + lo,
                                 hi - lo));
        i = j;
    }
    return DBX_OK;
}

void dbx_model_zero_grads(dbx_model *m)
{
    if (!m->inited) return;
    m->be->ops->memset0(m->be, m->grad, m->nfloats * sizeof(float));
    for (size_t i = 0; i < m->nparams; i++) {
        dbx__param *p = &m->params[i];
        for (size_t r = 0; r < p->ntrows; r++) p->touched[p->trows[r]] = 0;
        p->ntrows = 0;
    }
}

uint64_t dbx_model_checksum(const dbx_model *m)
{
    uint64_t h = DBX_FNV_SEED;
    int owned;
    const float *v = host_values(m, &owned);
    if (!v) return 0; /* out of memory or a device error: no checksum */
    for (size_t i = 0; i < m->nparams; i++) {
        const dbx__param *p = &m->params[i];
        h = dbx__fnv1a(h, v + p->off, (size_t)p->rows * (size_t)p->cols * sizeof(float));
    }
    if (owned) free((void *)v);
    return h;
}

/* ---- save / load --------------------------------------------------------------------------
 * Format (little-endian): "DBXPARAM" u32 version=1 u32 nparams; per param: u32 namelen,
 * name bytes, i32 rows, i32 cols, rows*cols f32; then u64 FNV-1a of everything before. */
#define DBX__MAGIC "DBXPARAM"

typedef struct wbuf {
    FILE *f;
    uint64_t h;
    int err;
} wbuf;

static void wput(wbuf *w, const void *p, size_t n)
{
    if (w->err) return;
    w->h = dbx__fnv1a(w->h, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->err = 1;
}

dbx_status dbx_model_save(const dbx_model *m, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return dbx__fail(DBX_EINVAL, "%s: path too long", path);
    int owned;
    const float *vals = host_values(m, &owned);
    if (!vals) return dbx__fail(DBX_ENOMEM, "%s: cannot copy the parameters to host memory", path);
    wbuf w = {.f = fopen(tmp, "wb"), .h = DBX_FNV_SEED};
    if (!w.f) {
        if (owned) free((void *)vals);
        return dbx__fail(DBX_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    uint32_t ver = 1, np = (uint32_t)m->nparams;
    wput(&w, DBX__MAGIC, 8);
    wput(&w, &ver, 4);
    wput(&w, &np, 4);
    for (size_t i = 0; i < m->nparams; i++) {
        const dbx__param *p = &m->params[i];
        uint32_t nl = (uint32_t)strlen(p->name);
        int32_t rc[2] = {p->rows, p->cols};
        wput(&w, &nl, 4);
        wput(&w, p->name, nl);
        wput(&w, rc, 8);
        wput(&w, vals + p->off, (size_t)p->rows * (size_t)p->cols * sizeof(float));
    }
    if (owned) free((void *)vals);
    uint64_t h = w.h;
    if (!w.err && fwrite(&h, 1, 8, w.f) != 8) w.err = 1;
    if (!w.err && fflush(w.f) != 0) w.err = 1;
    if (!w.err && fsync(fileno(w.f)) != 0) w.err = 1;
    int e = errno;
    if (fclose(w.f) != 0) w.err = 1;
    if (w.err || rename(tmp, path) != 0) {
        if (!w.err) e = errno;
        unlink(tmp);
        return dbx__fail(DBX_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return DBX_OK;
}

/* Walks the parameter records of a loaded file (after the 16-byte header, n bytes without
 * the checksum): checks names and shapes against m, and with copy = 1 uploads the values. */
static dbx_status load_records(dbx_model *m, const char *path, const unsigned char *buf, size_t n,
                               int copy)
{
    size_t pos = 16;
#define NEED(k, what)                                                                        \
    do {                                                                                     \
        if (n - pos < (size_t)(k))                                                           \
            return dbx__fail(DBX_EPARSE, "%s: truncated at byte %zu: expected %s", path,    \
                             pos, what);                                                     \
    } while (0)
    for (size_t i = 0; i < m->nparams; i++) {
        const dbx__param *p = &m->params[i];
        uint32_t nl;
        int32_t rc[2];
        NEED(4, "name length");
        memcpy(&nl, buf + pos, 4);
        pos += 4;
        NEED(nl, "parameter name");
        if (nl != strlen(p->name) || memcmp(buf + pos, p->name, nl) != 0)
            return dbx__fail(DBX_EINVAL, "%s: parameter %zu is '%.*s', model expects '%s'", path,
                             i, (int)(nl > 63 ? 63 : nl), (const char *)buf + pos, p->name);
        pos += nl;
        NEED(8, "shape");
        memcpy(rc, buf + pos, 8);
        pos += 8;
        if (rc[0] != p->rows || rc[1] != p->cols)
            return dbx__fail(DBX_EINVAL, "%s: '%s' has shape (%d, %d), model expects (%d, %d)",
                             path, p->name, rc[0], rc[1], p->rows, p->cols);
        size_t bytes = (size_t)p->rows * (size_t)p->cols * sizeof(float);
        NEED(bytes, "parameter values");
        if (copy) DBX_TRY(m->be->ops->upload(m->be, m->val + p->off, buf + pos, bytes));
        pos += bytes;
    }
#undef NEED
    if (pos != n) return dbx__fail(DBX_EPARSE, "%s: %zu trailing bytes", path, n - pos);
    return DBX_OK;
}

/* Reads a parameter file and checks its magic, checksum and version; *buf (caller frees)
 * holds the file, *n its length without the checksum, *np the parameter count. */
static dbx_status read_param_file(const char *path, unsigned char **buf, size_t *n, uint32_t *np)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dbx__fail(DBX_EIO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = sz > 0 ? malloc((size_t)sz) : NULL;
    if (sz <= 0 || !b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(b);
        return dbx__fail(DBX_EPARSE, "%s: empty or unreadable parameter file", path);
    }
    fclose(f);
    size_t len = (size_t)sz;
    uint64_t h;
    uint32_t ver;
    dbx_status st = DBX_OK;
    if (len < 16 + 8)
        st = dbx__fail(DBX_EPARSE, "%s: truncated at byte %zu: expected the header", path, len);
    else if (memcmp(b, DBX__MAGIC, 8) != 0)
        st = dbx__fail(DBX_EPARSE, "%s: not a dbx parameter file (bad magic)", path);
    if (!st) {
        memcpy(&h, b + len - 8, 8);
        if (dbx__fnv1a(DBX_FNV_SEED, b, len - 8) != h)
            st = dbx__fail(DBX_EPARSE, "%s: checksum mismatch: the file is truncated or corrupted",
                           path);
    }
    if (!st) {
        memcpy(&ver, b + 8, 4);
        memcpy(np, b + 12, 4);
        if (ver != 1)
            st = dbx__fail(DBX_EPARSE, "%s: unsupported version %u (expected 1)", path, ver);
    }
    if (st) {
        free(b);
        return st;
    }
    *buf = b;
    *n = len - 8;
    return DBX_OK;
}

dbx_status dbx_model_load(dbx_model *m, const char *path)
{
    if (!m->inited) return dbx__fail(DBX_EINVAL, "dbx_model_load: initialise the model first");
    unsigned char *buf;
    size_t n;
    uint32_t np;
    DBX_TRY(read_param_file(path, &buf, &n, &np));
    dbx_status st = DBX_OK;
    if (np != m->nparams)
        st = dbx__fail(DBX_EINVAL, "%s: file has %u parameters, model has %zu", path, np,
                       m->nparams);
    /* validate the whole file first, then copy: a refused file changes nothing */
    if (!st) st = load_records(m, path, buf, n, 0);
    if (!st) st = load_records(m, path, buf, n, 1);
    free(buf);
    return st;
}

dbx_status dbx_model_file_compare(const char *a, const char *b, double *max_rel, char *worst,
                                  size_t worst_cap)
{
    unsigned char *ba = NULL, *bb = NULL;
    size_t na = 0, nb = 0;
    uint32_t pa = 0, pb = 0;
    *max_rel = 0;
    if (worst && worst_cap) worst[0] = 0;
    dbx_status st = read_param_file(a, &ba, &na, &pa);
    if (!st) st = read_param_file(b, &bb, &nb, &pb);
    if (!st && (pa != pb || na != nb))
        st = dbx__fail(DBX_EINVAL, "%s and %s hold different models", a, b);
    size_t pos = 16;
    for (uint32_t i = 0; i < pa && !st; i++) {
        uint32_t nl;
        int32_t rc[2];
        memcpy(&nl, ba + pos, 4);
        if (nl > na - pos - 12 || memcmp(ba + pos, bb + pos, 12 + (size_t)nl) != 0) {
            st = dbx__fail(DBX_EINVAL, "%s and %s: parameter %u differs in name or shape", a, b, i);
            break;
        }
        memcpy(rc, ba + pos + 4 + nl, 8);
        const char *name = (const char *)ba + pos + 4;
        pos += 12 + (size_t)nl;
        size_t cnt = (size_t)rc[0] * (size_t)rc[1];
        if (cnt > (na - pos) / sizeof(float)) {
            st = dbx__fail(DBX_EPARSE, "%s: truncated", a);
            break;
        }
        double ref = 0, diff = 0;
        for (size_t k = 0; k < cnt; k++) {
            float x, y;
            memcpy(&x, ba + pos + 4 * k, 4);
            memcpy(&y, bb + pos + 4 * k, 4);
            double ax = fabs((double)x), dx = fabs((double)x - (double)y);
            if (ax > ref) ref = ax;
            if (!(dx <= diff)) diff = dx; /* NaN counts as worst */
        }
        double rel = ref > 0 ? diff / ref : diff;
        if (!(rel <= *max_rel)) {
            *max_rel = rel;
            if (worst && worst_cap) snprintf(worst, worst_cap, "%.*s", (int)nl, name);
        }
        pos += cnt * sizeof(float);
    }
    free(ba);
    free(bb);
    return st;
}
