/* Setup of a training or evaluation run (worker/worker.h): vocabularies, data sets (files or
 * the embedded synthetic treebank), the model with its graph and executor, per-sample graph
 * building, and the "<params>.vocab" file that records the model kind, sizes and the
 * vocabularies next to a parameter file. Owned by the worker module. Not thread-safe per
 * run object. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/backend.h"
#include "worker/worker.h"

#define VOCAB_MAGIC "dbx-vocab 1"
#define MAX_SIZE 65536

dbx_status dbx__run_vocab_new(dbx__run *r, dbx_model_kind kind)
{
    r->kind = kind;
    DBX_TRY(dbx_vocab_new(&r->words));
    if (kind == DBX_MODEL_TAGGER) DBX_TRY(dbx_vocab_new(&r->tags));
    return DBX_OK;
}

/* ---- data -------------------------------------------------------------------------------- */
static dbx_status load_synthetic(dbx__run *r, int ntrees, uint64_t seed, dbx_treebank **tb)
{
    if (ntrees <= 0)
        return dbx__fail(DBX_EINVAL, "synthetic treebank size must be positive (got %d)", ntrees);
    dbx_gen_opts go = {.ntrees = ntrees, .vocab = 0, .seed = seed};
    char *text = NULL;
    size_t len = 0;
    DBX_TRY(dbx_treebank_generate(&go, &text, &len));
    dbx_status s = dbx_treebank_parse("<synthetic>", text, len, NULL, r->words, tb);
    free(text);
    return s;
}

dbx_status dbx__data_load(dbx__run *r, const char *path, int synth_trees, uint64_t seed,
                          dbx__data *d)
{
    memset(d, 0, sizeof *d);
    if (r->kind == DBX_MODEL_TREELSTM) {
        if (path) DBX_TRY(dbx_treebank_read(path, NULL, r->words, &d->tb));
        else DBX_TRY(load_synthetic(r, synth_trees, seed, &d->tb));
        d->n = d->tb->ntrees;
        d->labelled = d->nodes = d->tb->nnodes;
        return DBX_OK;
    }
    if (!path) return dbx__fail(DBX_EINVAL, "bilstm-tagger needs --data (a token|TAG file)");
    DBX_TRY(dbx_tagset_read(path, r->words, r->tags, &d->ts));
    d->n = d->ts->nsent;
    d->labelled = d->nodes = d->ts->ntokens;
    return DBX_OK;
}

void dbx__data_free(dbx__data *d)
{
    dbx_treebank_free(d->tb);
    dbx_tagset_free(d->ts);
    memset(d, 0, sizeof *d);
}

int32_t dbx__data_labelled(const dbx__data *d, int32_t i)
{
    return d->tb ? d->tb->trees[i].n : d->ts->sents[i].n;
}

/* ---- model ------------------------------------------------------------------------------- */
dbx_status dbx__run_model(dbx__run *r, uint64_t seed, const char *scheduler, int dedup,
                          int fuse, const char *device, int device_index)
{
    DBX_TRY(dbx_model_new(&r->model));
    int V = dbx_vocab_size(r->words);
    if (r->kind == DBX_MODEL_TREELSTM) {
        dbx_treelstm_opts to = {.vocab = V, .embed = r->embed, .hidden = r->hidden,
                                .labels = r->labels};
        DBX_TRY(dbx_treelstm_new(r->model, &to, &r->tl));
    } else {
        dbx_tagger_opts to = {.vocab = V, .embed = r->embed, .hidden = r->hidden,
                              .mlp = r->mlp, .tags = r->labels};
        DBX_TRY(dbx_tagger_new(r->model, &to, &r->tg));
    }
    if (device) DBX_TRY(dbx_model_set_device(r->model, device, device_index));
    DBX_TRY(dbx_model_init(r->model, seed));
    dbx_exec_opts eo = {.scheduler = scheduler, .fuse = fuse, .device = device,
                        .device_index = device_index};
    DBX_TRY(dbx_exec_new(&eo, &r->ex));
    DBX_TRY(dbx_graph_new(r->model, dedup, &r->g));
    r->scores = malloc((size_t)r->labels * sizeof(float));
    if (!r->scores) return dbx__fail(DBX_ENOMEM, "out of memory");
    return DBX_OK;
}

dbx_status dbx__gpu_pick(dbx_comm *c, const char *device, int *index, int *sharing, char *desc,
                         size_t desc_cap)
{
    *index = dbx_comm_local_rank(c);
    *sharing = 0;
    if (desc && desc_cap) desc[0] = '\0';
    if (!device || strcmp(device, "cuda") != 0) return DBX_OK;
    char busid[DBX_GPU_MAX][32];
    int n = 0;
    DBX_TRY(dbx__backend_gpus(DBX_GPU_MAX, busid, &n));
    return dbx_topo_gpu_choose(c, n, busid, index, sharing, desc, desc_cap);
}

dbx_status dbx__build(dbx__run *r, const dbx__data *d, int32_t i, dbx_node *logits)
{
    if (r->tl) return dbx_treelstm_build(r->tl, r->g, &d->tb->trees[i], logits);
    return dbx_tagger_build(r->tg, r->g, &d->ts->sents[i], logits);
}

void dbx__run_free(dbx__run *r)
{
    dbx_graph_free(r->g);
    dbx_exec_free(r->ex);
    dbx_treelstm_free(r->tl);
    dbx_tagger_free(r->tg);
    dbx_model_free(r->model);
    dbx_vocab_free(r->words);
    dbx_vocab_free(r->tags);
    free(r->logits);
    free(r->scores);
    memset(r, 0, sizeof *r);
}

/* ---- the .vocab file ----------------------------------------------------------------------- */
static char *vocab_path(const char *params)
{
    size_t n = strlen(params) + 7;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.vocab", params);
    return p;
}

static void write_words(FILE *f, const char *what, const dbx_vocab *v)
{
    int32_t n = dbx_vocab_size(v);
    fprintf(f, "%s %d\n", what, (int)n);
    for (int32_t i = 0; i < n; i++) fprintf(f, "%s\n", dbx_vocab_str(v, i));
}

dbx_status dbx__vocab_save(const dbx__run *r, const char *params)
{
    char *path = vocab_path(params);
    if (!path) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx__afile a;
    dbx_status s = dbx__afile_open(&a, path);
    free(path);
    if (s) return s;
    fprintf(a.f, VOCAB_MAGIC " model=%s embed=%d hidden=%d mlp=%d labels=%d\n",
            dbx_model_kind_name(r->kind), r->embed, r->hidden, r->mlp, r->labels);
    write_words(a.f, "words", r->words);
    if (r->tags) write_words(a.f, "tags", r->tags);
    return dbx__afile_commit(&a);
}

/* A cursor over the lines of a text buffer, for error messages "path:line: ...". */
typedef struct lines {
    const char *path;
    char *p, *end;
    int line;
} lines;

/* Next line (NUL-terminated in place, without '\n'), or NULL at the end. */
static char *next_line(lines *L, size_t *len)
{
    if (L->p >= L->end) return NULL;
    char *s = L->p, *nl = memchr(s, '\n', (size_t)(L->end - s));
    char *e = nl ? nl : L->end;
    *e = '\0';
    L->p = e + 1;
    L->line++;
    *len = (size_t)(e - s);
    return s;
}

/* Reads "<what> N" and N entries into v (a fresh vocabulary, then frozen). */
static dbx_status read_words(lines *L, const char *what, dbx_vocab *v)
{
    size_t len;
    char *s = next_line(L, &len);
    int n = -1, used = 0;
    size_t wl = strlen(what);
    if (!s || strncmp(s, what, wl) != 0 || sscanf(s + wl, " %d%n", &n, &used) != 1 ||
        s[wl + (size_t)used] != '\0' || n < 1)
        return dbx__fail(DBX_EPARSE, "%s:%d: expected '%s N' with N >= 1", L->path,
                         L->line + (s ? 0 : 1), what);
    for (int i = 0; i < n; i++) {
        s = next_line(L, &len);
        if (!s)
            return dbx__fail(DBX_EPARSE, "%s:%d: expected %d %s, found %d (truncated?)",
                             L->path, L->line + 1, n, what, i);
        if (len == 0 || memchr(s, '\0', len))
            return dbx__fail(DBX_EPARSE, "%s:%d: expected a non-empty entry", L->path, L->line);
        int32_t id = dbx_vocab_id(v, s, len);
        if (id < 0) return dbx__fail(DBX_ENOMEM, "out of memory");
        if (id != i)
            return dbx__fail(DBX_EPARSE, "%s:%d: expected entry %d, found duplicate '%.40s'",
                             L->path, L->line, i, s);
    }
    dbx_vocab_freeze(v);
    return DBX_OK;
}

static dbx_status parse_vocab(dbx__run *r, lines *L, dbx_model_kind want)
{
    size_t len;
    char *s = next_line(L, &len);
    char kind[32];
    int e = 0, h = 0, m = 0, lab = 0, used = 0;
    if (!s || strncmp(s, VOCAB_MAGIC " ", sizeof VOCAB_MAGIC) != 0)
        return dbx__fail(DBX_EPARSE, "%s:1: expected a '" VOCAB_MAGIC "' header", L->path);
    if (sscanf(s + sizeof VOCAB_MAGIC, "model=%31s embed=%d hidden=%d mlp=%d labels=%d%n", kind,
               &e, &h, &m, &lab, &used) != 5 || s[sizeof VOCAB_MAGIC + (size_t)used] != '\0')
        return dbx__fail(DBX_EPARSE,
                         "%s:1: expected 'model=M embed=E hidden=H mlp=X labels=L'", L->path);
    dbx_model_kind k;
    if (dbx_model_kind_parse(kind, &k))
        return dbx__fail(DBX_EPARSE, "%s:1: unknown model '%s'", L->path, kind);
    if (k != want)
        return dbx__fail(DBX_EINVAL, "%s: the parameters are of a %s model, not %s "
                         "(use --model %s)", L->path, kind, dbx_model_kind_name(want), kind);
    if (e < 1 || e > MAX_SIZE || h < 1 || h > MAX_SIZE || m < 1 || m > MAX_SIZE || lab < 2 ||
        lab > 1 << 24)
        return dbx__fail(DBX_EPARSE, "%s:1: sizes out of range", L->path);
    r->embed = e;
    r->hidden = h;
    r->mlp = m;
    r->labels = lab;
    DBX_TRY(dbx__run_vocab_new(r, k));
    DBX_TRY(read_words(L, "words", r->words));
    if (k == DBX_MODEL_TAGGER) {
        DBX_TRY(read_words(L, "tags", r->tags));
        if (dbx_vocab_size(r->tags) != lab)
            return dbx__fail(DBX_EPARSE, "%s: labels=%d but %d tags", L->path, lab,
                             (int)dbx_vocab_size(r->tags));
    }
    while ((s = next_line(L, &len)) != NULL)
        if (len) return dbx__fail(DBX_EPARSE, "%s:%d: expected the end of the file", L->path,
                                  L->line);
    return DBX_OK;
}

dbx_status dbx__vocab_load(dbx__run *r, const char *params, dbx_model_kind want)
{
    char *path = vocab_path(params), *text = NULL;
    size_t len = 0;
    if (!path) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_status s = dbx_read_file(path, &text, &len);
    if (s == DBX_OK) {
        lines L = {path, text, text + len, 0};
        s = parse_vocab(r, &L, want);
    }
    free(text);
    free(path);
    return s;
}
