/* Packing and in-place unpacking of samples for shipping between ranks (see wire.h).
 * Unpacking validates everything a worker later indexes with, so a corrupt message is an
 * error, never an out-of-bounds access. Stateless; thread-safe. */
#include <string.h>

#include "core/status.h"
#include "models/wire.h"

size_t dbx_wire_put_tree(int32_t *dst, const dbx_tree *t)
{
    size_t n = (size_t)t->n;
    dst[0] = DBX_WIRE_TREE;
    dst[1] = t->n;
    memcpy(dst + 2, t->left, n * sizeof *dst);
    memcpy(dst + 2 + n, t->right, n * sizeof *dst);
    memcpy(dst + 2 + 2 * n, t->label, n * sizeof *dst);
    memcpy(dst + 2 + 3 * n, t->word, n * sizeof *dst);
    memcpy(dst + 2 + 4 * n, t->depth, n * sizeof *dst);
    return 2 + 5 * n;
}

size_t dbx_wire_put_sent(int32_t *dst, const dbx_sentence *s)
{
    size_t n = (size_t)s->n;
    dst[0] = DBX_WIRE_SENT;
    dst[1] = s->n;
    memcpy(dst + 2, s->word, n * sizeof *dst);
    memcpy(dst + 2 + n, s->tag, n * sizeof *dst);
    return 2 + 2 * n;
}

static dbx_status header(const int32_t *w, size_t nw, size_t pos, int32_t kind, size_t per,
                         int32_t *n)
{
    if (nw - pos < 2 || w[pos] != kind)
        return dbx__fail(DBX_EPARSE, "sample message: expected a %s header at word %zu",
                         kind == DBX_WIRE_TREE ? "tree" : "sentence", pos);
    *n = w[pos + 1];
    if (*n < 1 || (size_t)*n > (nw - pos - 2) / per)
        return dbx__fail(DBX_EPARSE, "sample message: bad sample size %d at word %zu", *n, pos);
    return DBX_OK;
}

dbx_status dbx_wire_get_tree(const int32_t *w, size_t nw, size_t *pos, int32_t vocab,
                             int32_t labels, dbx_tree *out)
{
    int32_t n = 0;
    DBX_TRY(header(w, nw, *pos, DBX_WIRE_TREE, 5, &n));
    const int32_t *a = w + *pos + 2;
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
        if (bad) return dbx__fail(DBX_EPARSE, "sample message: inconsistent tree node %d", v);
    }
    *pos += 2 + 5 * (size_t)n;
    return DBX_OK;
}

dbx_status dbx_wire_get_sent(const int32_t *w, size_t nw, size_t *pos, int32_t vocab,
                             int32_t tags, dbx_sentence *out)
{
    int32_t n = 0;
    DBX_TRY(header(w, nw, *pos, DBX_WIRE_SENT, 2, &n));
    const int32_t *a = w + *pos + 2;
    out->n = n;
    out->word = (int32_t *)a;
    out->tag = (int32_t *)a + n;
    for (int32_t i = 0; i < n; i++)
        if (out->word[i] < 0 || out->word[i] >= vocab || out->tag[i] < 0 || out->tag[i] >= tags)
            return dbx__fail(DBX_EPARSE, "sample message: word or tag out of range at token %d",
                             i);
    *pos += 2 + 2 * (size_t)n;
    return DBX_OK;
}
