/* The built-in sample formats as records (include/dbx/models.h): SST trees and token|TAG
 * sentences parsed by the readers of dbx/data.h and stored as int32 records in a dataset,
 * views of a record that validate it (records may arrive from another rank), and the
 * accuracy scoring shared by the built-in model types. Stateless; thread-safe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/models.h"

/* ---- SST trees ----------------------------------------------------------------------------- */
static dbx_status sst_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                            int unlabelled, dbx_dataset *ds)
{
    dbx_vocab *words = dbx_meta_vocab(meta, "words");
    if (!words) return dbx__fail(DBX_EINVAL, "%s: the model has no 'words' vocabulary", name);
    DBX_TRY(dbx_meta_raise(meta, "labels", 5)); /* SST: labels 0..4 (dbx_tree_opts default) */
    dbx_treebank *tb = NULL;
    dbx_tree_opts to = {.binary_only = 1, .max_label = 4, .unlabelled = unlabelled};
    DBX_TRY(dbx_treebank_parse(name, text, len, &to, words, &tb));
    int32_t *rec = NULL;
    size_t cap = 0;
    dbx_status s = DBX_OK;
    for (int32_t i = 0; i < tb->ntrees && !s; i++) {
        const dbx_tree *t = &tb->trees[i];
        size_t n = (size_t)t->n;
        if ((s = DBX_GROW(rec, cap, 1 + 5 * n))) break;
        rec[0] = t->n;
        memcpy(rec + 1, t->left, n * sizeof *rec);
        memcpy(rec + 1 + n, t->right, n * sizeof *rec);
        memcpy(rec + 1 + 2 * n, t->label, n * sizeof *rec);
        memcpy(rec + 1 + 3 * n, t->word, n * sizeof *rec);
        memcpy(rec + 1 + 4 * n, t->depth, n * sizeof *rec);
        s = dbx_dataset_add(ds, rec, (int32_t)(1 + 5 * n), t->n);
    }
    free(rec);
    dbx_treebank_free(tb);
    return s;
}

dbx_status dbx_sst_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                         dbx_dataset *ds)
{
    return sst_parse(meta, name, text, len, 0, ds);
}

dbx_status dbx_sst_parse_unlabelled(dbx_meta *meta, const char *name, const char *text,
                                    size_t len, dbx_dataset *ds)
{
    return sst_parse(meta, name, text, len, 1, ds);
}

dbx_status dbx_sst_generate(int32_t n, uint64_t seed, char **text, size_t *len)
{
    dbx_gen_opts go = {.ntrees = n, .vocab = 0, .seed = seed};
    return dbx_treebank_generate(&go, text, len);
}

dbx_status dbx_sst_tree(const dbx_sample *s, int32_t vocab, int32_t labels, dbx_tree *out)
{
    int32_t n = s->n > 0 ? s->w[0] : 0;
    if (n < 1 || (s->n - 1) / 5 != n || (s->n - 1) % 5 != 0)
        return dbx__fail(DBX_EPARSE, "tree sample: bad size (%d words, %d nodes)", s->n, n);
    const int32_t *a = s->w + 1;
    out->n = n;
    out->left = (int32_t *)a;
    out->right = (int32_t *)a + n;
    out->label = (int32_t *)a + 2 * n;
    out->word = (int32_t *)a + 3 * n;
    out->depth = (int32_t *)a + 4 * n;
    for (int32_t v = 0; v < n; v++) {
        int32_t l = out->left[v], r = out->right[v];
        /* children precede parents; a preterminal has a word, an inner node a left child */
        int bad = l >= v || r >= v || l < -1 || r < -1 || (l < 0 && r >= 0) ||
                  out->label[v] < 0 || out->label[v] >= labels ||
                  (l < 0 && (out->word[v] < 0 || out->word[v] >= vocab));
        if (bad) return dbx__fail(DBX_EPARSE, "tree sample: inconsistent node %d", v);
    }
    return DBX_OK;
}

/* ---- token|TAG sentences ------------------------------------------------------------------ */
static dbx_status tags_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                             int unlabelled, dbx_dataset *ds)
{
    dbx_vocab *words = dbx_meta_vocab(meta, "words"), *tags = dbx_meta_vocab(meta, "tags");
    if (!words || !tags)
        return dbx__fail(DBX_EINVAL, "%s: the model has no 'words' and 'tags' vocabularies",
                         name);
    dbx_tagset *ts = NULL;
    if (unlabelled) DBX_TRY(dbx_tagset_parse_untagged(name, text, len, words, &ts));
    else DBX_TRY(dbx_tagset_parse(name, text, len, words, tags, &ts));
    int32_t *rec = NULL;
    size_t cap = 0;
    dbx_status s = DBX_OK;
    for (int32_t i = 0; i < ts->nsent && !s; i++) {
        const dbx_sentence *t = &ts->sents[i];
        size_t n = (size_t)t->n;
        if ((s = DBX_GROW(rec, cap, 1 + 2 * n))) break;
        rec[0] = t->n;
        memcpy(rec + 1, t->word, n * sizeof *rec);
        memcpy(rec + 1 + n, t->tag, n * sizeof *rec);
        s = dbx_dataset_add(ds, rec, (int32_t)(1 + 2 * n), t->n);
    }
    free(rec);
    dbx_tagset_free(ts);
    return s;
}

dbx_status dbx_tags_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                          dbx_dataset *ds)
{
    return tags_parse(meta, name, text, len, 0, ds);
}

dbx_status dbx_tags_parse_unlabelled(dbx_meta *meta, const char *name, const char *text,
                                     size_t len, dbx_dataset *ds)
{
    return tags_parse(meta, name, text, len, 1, ds);
}

dbx_status dbx_tags_sentence(const dbx_sample *s, int32_t vocab, int32_t tags,
                             dbx_sentence *out)
{
    int32_t n = s->n > 0 ? s->w[0] : 0;
    if (n < 1 || (s->n - 1) / 2 != n || (s->n - 1) % 2 != 0)
        return dbx__fail(DBX_EPARSE, "sentence sample: bad size (%d words, %d tokens)", s->n, n);
    out->n = n;
    out->word = (int32_t *)s->w + 1;
    out->tag = (int32_t *)s->w + 1 + n;
    for (int32_t i = 0; i < n; i++)
        if (out->word[i] < 0 || out->word[i] >= vocab || out->tag[i] < 0 || out->tag[i] >= tags)
            return dbx__fail(DBX_EPARSE, "sentence sample: word or tag out of range at token %d",
                             i);
    return DBX_OK;
}

/* ---- scoring -------------------------------------------------------------------------------- */
void dbx_score_argmax(const float *scores, int n, int32_t gold, double *stats)
{
    int32_t best = 0;
    for (int j = 1; j < n; j++)
        if (scores[j] > scores[best]) best = j;
    stats[0] += best == gold;
    stats[1] += 1;
}

int dbx_report_accuracy(void *self, const double *stats, dbx_metric *out, int max)
{
    (void)self;
    if (max < 1) return 0;
    out[0].name = "accuracy";
    out[0].value = stats[1] > 0 ? stats[0] / stats[1] : NAN;
    return 1;
}

int dbx_probs_softmax(const float *logits, int n, double *probs)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (logits[j] > logits[best]) best = j;
    if (!probs || n < 1) return best;
    double sum = 0, mx = logits[best];
    for (int j = 0; j < n; j++) sum += probs[j] = exp((double)logits[j] - mx);
    for (int j = 0; j < n; j++) probs[j] /= sum;
    return best;
}

void dbx_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void dbx_predict_write_tags(FILE *f, int32_t n, int K, const float *const *out,
                            const char *const *names, int detail, double *probs)
{
    fputs("{\"tags\":[", f);
    for (int32_t i = 0; i < n; i++) {
        const int y = dbx_probs_softmax(out[i], K, NULL);
        if (i) fputc(',', f);
        if (names) dbx_json_string(f, names[y]);
        else fprintf(f, "%d", y);
    }
    fputs("],\"probs\":[", f);
    for (int32_t i = 0; i < n; i++)
        fprintf(f, "%s%.6g", i ? "," : "", probs[dbx_probs_softmax(out[i], K, probs)]);
    fputc(']', f);
    if (detail) {
        fputs(",\"dists\":[", f);
        for (int32_t i = 0; i < n; i++) {
            dbx_probs_softmax(out[i], K, probs);
            for (int32_t c = 0; c < K; c++) fprintf(f, "%s%.6g", c ? "," : i ? ",[" : "[", probs[c]);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputc('}', f);
}
