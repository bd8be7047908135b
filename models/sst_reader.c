/* Reader for SST-style treebanks: one PTB S-expression per line, "(3 (2 An) (4 good))", and
 * with labels optional (dbx_tree_opts.unlabelled) also bare trees, "((An) (good film))".
 *
 * The parser is a single linear pass with an explicit stack (no recursion, so nesting depth
 * is bounded by memory only, and a line may be of any length). Nodes are appended to one
 * growing array in post-order; at the end the treebank header, the tree records and all
 * node arrays are laid out in a single malloc'd block, which dbx_treebank_free() releases.
 * Tokens are stored raw (PTB escapes such as "\/" or "-LRB-" are not undone).
 * The result is owned by the caller; the vocabulary is borrowed. Not thread-safe per
 * vocabulary: parsing adds words to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/data.h"

typedef enum sst_tok_kind { TOK_LP, TOK_RP, TOK_ATOM, TOK_EOL, TOK_EOF, TOK_BAD } sst_tok_kind;

typedef struct sst_tok {
    sst_tok_kind kind;
    size_t start, len; /* byte range in the text (atoms; start also for the others) */
} sst_tok;

typedef struct sst_node {
    int32_t left, right, label, word, depth;
} sst_node;

typedef struct sst_frame {
    int32_t label, nchild, child[2];
    int32_t bare;  /* unlabelled trees: the first child is a bare token */
    size_t open;   /* offset of the '(' */
} sst_frame;

typedef struct sst_tree_rec {
    int64_t start; /* first node in the node array */
    int32_t n;
} sst_tree_rec;

typedef struct sst_parser {
    const char *name, *text;
    size_t len, pos, line, line_start;
    int binary_only, max_label, unlabelled;
    dbx_vocab *vocab;
    sst_node *nodes;
    size_t nnodes, nodes_cap;
    sst_tree_rec *trees;
    size_t ntrees, trees_cap;
    sst_frame *stack;
    size_t depth, stack_cap;
} sst_parser;

static int sst_is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int sst_is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

static size_t sst_col(const sst_parser *p, size_t off) { return off - p->line_start + 1; }

/* Sets the error for a control byte at p->pos. */
static dbx_status sst_bad_byte(const sst_parser *p)
{
    return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected printable text, got byte 0x%02x",
                     p->name, p->line, sst_col(p, p->pos), (unsigned char)p->text[p->pos]);
}

/* The next token of the current line. '\n' is not consumed (TOK_EOL). TOK_BAD leaves pos at
 * the offending byte. */
static sst_tok sst_next(sst_parser *p)
{
    const unsigned char *t = (const unsigned char *)p->text;
    while (p->pos < p->len && sst_is_space(t[p->pos])) p->pos++;
    sst_tok k = {TOK_EOF, p->pos, 0};
    if (p->pos >= p->len) return k;
    unsigned char c = t[p->pos];
    if (c == '\n') {
        k.kind = TOK_EOL;
    } else if (sst_is_control(c)) {
        k.kind = TOK_BAD;
    } else if (c == '(' || c == ')') {
        k.kind = c == '(' ? TOK_LP : TOK_RP;
        k.len = 1;
        p->pos++;
    } else {
        size_t e = p->pos;
        while (e < p->len && t[e] != '(' && t[e] != ')' && t[e] != '\n' && !sst_is_space(t[e]) &&
               !sst_is_control(t[e]))
            e++;
        k.kind = TOK_ATOM;
        k.len = e - p->pos;
        p->pos = e;
    }
    return k;
}

/* Fails with "name:line:col: expected <what> (got <token>)". */
static dbx_status sst_expected(const sst_parser *p, const sst_tok *k, const char *what)
{
    if (k->kind == TOK_BAD) return sst_bad_byte(p);
    size_t line = p->line, col = sst_col(p, k->start);
    switch (k->kind) {
    case TOK_LP:
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s (got '(')", p->name, line, col, what);
    case TOK_RP:
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s (got ')')", p->name, line, col, what);
    case TOK_EOL:
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s (got end of line)", p->name, line,
                         col, what);
    case TOK_EOF:
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s (got end of file)", p->name, line,
                         col, what);
    default: {
        int shown = k->len > 40 ? 40 : (int)k->len;
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s (got '%.*s%s')", p->name, line, col,
                         what, shown, p->text + k->start, k->len > 40 ? "..." : "");
    }
    }
}

static dbx_status sst_push(sst_parser *p, size_t open)
{
    DBX_TRY(DBX_GROW(p->stack, p->stack_cap, p->depth + 1));
    p->stack[p->depth++] = (sst_frame){-1, 0, {-1, -1}, 0, open};
    return DBX_OK;
}

static dbx_status sst_label(sst_parser *p, sst_frame *f)
{
    char what[48];
    snprintf(what, sizeof what, "label 0..%d", p->max_label);
    sst_tok k = sst_next(p);
    if (k.kind != TOK_ATOM) return sst_expected(p, &k, what);
    long long v = 0;
    for (size_t i = 0; i < k.len; i++) {
        char c = p->text[k.start + i];
        if (c < '0' || c > '9') return sst_expected(p, &k, what);
        if (v <= p->max_label) v = v * 10 + (c - '0');
    }
    if (v > p->max_label) return sst_expected(p, &k, what);
    f->label = (int32_t)v;
    return DBX_OK;
}

/* Appends the node of the top frame (closed by the ')' at close) and pops it. */
static dbx_status sst_emit(sst_parser *p, int64_t tree_start, int32_t word)
{
    sst_frame *f = &p->stack[p->depth - 1];
    int64_t idx = (int64_t)p->nnodes - tree_start;
    if (idx >= INT32_MAX)
        return dbx__fail(DBX_EPARSE, "%s:%zu: tree has more than %d nodes", p->name, p->line,
                         INT32_MAX - 1);
    DBX_TRY(DBX_GROW(p->nodes, p->nodes_cap, p->nnodes + 1));
    sst_node *nd = &p->nodes[p->nnodes++];
    const sst_node *base = p->nodes + tree_start;
    nd->label = f->label;
    nd->word = word;
    nd->left = f->child[0];
    nd->right = f->child[1];
    nd->depth = 1;
    if (word < 0) {
        int32_t d = base[f->child[0]].depth;
        if (f->child[1] >= 0 && base[f->child[1]].depth > d) d = base[f->child[1]].depth;
        nd->depth = d + 1;
    }
    p->depth--;
    if (p->depth) {
        sst_frame *parent = &p->stack[p->depth - 1];
        parent->child[parent->nchild++] = (int32_t)idx;
    }
    return DBX_OK;
}

/* Parses one tree whose '(' (at open) was just consumed, through its matching ')'. */
static dbx_status sst_tree(sst_parser *p, size_t open)
{
    int64_t start = (int64_t)p->nnodes;
    DBX_TRY(sst_push(p, open));
    for (;;) {
        /* A node was just opened: label, then a token or the first child. */
        sst_frame *f = &p->stack[p->depth - 1];
        DBX_TRY(sst_label(p, f));
        sst_tok k = sst_next(p);
        if (k.kind == TOK_LP) {
            DBX_TRY(sst_push(p, k.start));
            continue;
        }
        if (k.kind != TOK_ATOM) return sst_expected(p, &k, "token or '(' after the label");
        int32_t w = dbx_vocab_id(p->vocab, p->text + k.start, k.len);
        if (w < 0) return dbx__fail(DBX_ENOMEM, "%s: out of memory adding a word", p->name);
        k = sst_next(p);
        if (k.kind != TOK_RP) return sst_expected(p, &k, "')' after the token");
        DBX_TRY(sst_emit(p, start, w));
        /* A child was just closed: another child, or the parent's ')'. */
        while (p->depth) {
            f = &p->stack[p->depth - 1];
            k = sst_next(p);
            if (k.kind == TOK_LP) {
                if (f->nchild == 2) return sst_expected(p, &k, "')' after two children");
                DBX_TRY(sst_push(p, k.start));
                break;
            }
            if (k.kind == TOK_RP) {
                if (f->nchild == 1 && p->binary_only)
                    return sst_expected(p, &k, "a second child (binary tree)");
                DBX_TRY(sst_emit(p, start, -1));
                continue;
            }
            if (k.kind == TOK_EOL || k.kind == TOK_EOF) {
                char what[96];
                snprintf(what, sizeof what, "')' to close the '(' at column %zu",
                         sst_col(p, f->open));
                return sst_expected(p, &k, what);
            }
            return sst_expected(p, &k, f->nchild == 2 ? "')'" : "'(' or ')'");
        }
        if (!p->depth) break;
    }
    int64_t n = (int64_t)p->nnodes - start;
    if (p->ntrees >= INT32_MAX)
        return dbx__fail(DBX_EPARSE, "%s:%zu: more than %d trees", p->name, p->line, INT32_MAX);
    DBX_TRY(DBX_GROW(p->trees, p->trees_cap, p->ntrees + 1));
    p->trees[p->ntrees++] = (sst_tree_rec){start, (int32_t)n};
    return DBX_OK;
}

/* Appends the node of a bare token (a preterminal of label 0) as a child of the top frame. */
static dbx_status sst_bare_leaf(sst_parser *p, int64_t tree_start, const sst_tok *k)
{
    int32_t w = dbx_vocab_id(p->vocab, p->text + k->start, k->len);
    if (w < 0) return dbx__fail(DBX_ENOMEM, "%s: out of memory adding a word", p->name);
    int64_t idx = (int64_t)p->nnodes - tree_start;
    if (idx >= INT32_MAX)
        return dbx__fail(DBX_EPARSE, "%s:%zu: tree has more than %d nodes", p->name, p->line,
                         INT32_MAX - 1);
    DBX_TRY(DBX_GROW(p->nodes, p->nodes_cap, p->nnodes + 1));
    p->nodes[p->nnodes++] = (sst_node){-1, -1, 0, w, 1};
    sst_frame *f = &p->stack[p->depth - 1];
    if (f->nchild == 0) f->bare = 1;
    f->child[f->nchild++] = (int32_t)idx;
    return DBX_OK;
}

/* Parses one tree without labels whose '(' (at open) was just consumed, through its matching
 * ')': a node is '(' ITEM [ITEM] ')', an item a node or a bare token, and "(token)" is the
 * preterminal itself; every node gets label 0. */
static dbx_status sst_tree_bare(sst_parser *p, size_t open)
{
    int64_t start = (int64_t)p->nnodes;
    DBX_TRY(sst_push(p, open));
    p->stack[0].label = 0;
    while (p->depth) {
        sst_frame *f = &p->stack[p->depth - 1];
        sst_tok k = sst_next(p);
        if (k.kind == TOK_LP || k.kind == TOK_ATOM) {
            if (f->nchild == 2) return sst_expected(p, &k, "')' after two children");
            if (k.kind == TOK_ATOM) {
                DBX_TRY(sst_bare_leaf(p, start, &k));
            } else {
                DBX_TRY(sst_push(p, k.start));
                p->stack[p->depth - 1].label = 0;
            }
            continue;
        }
        if (k.kind == TOK_RP) {
            if (f->nchild == 0) return sst_expected(p, &k, "a token or '('");
            if (f->nchild == 1 && f->bare) { /* "(token)": the preterminal itself */
                int32_t leaf = f->child[0];
                p->depth--;
                if (p->depth) {
                    sst_frame *parent = &p->stack[p->depth - 1];
                    parent->child[parent->nchild++] = leaf;
                }
                continue;
            }
            if (f->nchild == 1 && p->binary_only)
                return sst_expected(p, &k, "a second child (binary tree)");
            DBX_TRY(sst_emit(p, start, -1));
            continue;
        }
        if (k.kind == TOK_EOL || k.kind == TOK_EOF) {
            char what[96];
            snprintf(what, sizeof what, "')' to close the '(' at column %zu", sst_col(p, f->open));
            return sst_expected(p, &k, what);
        }
        return sst_expected(p, &k, "a token, '(' or ')'");
    }
    int64_t n = (int64_t)p->nnodes - start;
    if (p->ntrees >= INT32_MAX)
        return dbx__fail(DBX_EPARSE, "%s:%zu: more than %d trees", p->name, p->line, INT32_MAX);
    DBX_TRY(DBX_GROW(p->trees, p->trees_cap, p->ntrees + 1));
    p->trees[p->ntrees++] = (sst_tree_rec){start, (int32_t)n};
    return DBX_OK;
}

/* With labels optional: is the tree whose '(' was just consumed labelled, i.e. does it start
 * with a label 0..max_label followed by a token or a '('? Consumes nothing. */
static int sst_root_labelled(sst_parser *p)
{
    size_t pos = p->pos;
    sst_tok k = sst_next(p), next = sst_next(p);
    p->pos = pos;
    if (k.kind != TOK_ATOM || k.len > 9 || (next.kind != TOK_ATOM && next.kind != TOK_LP))
        return 0;
    long v = 0;
    for (size_t i = 0; i < k.len; i++) {
        char c = p->text[k.start + i];
        if (c < '0' || c > '9') return 0;
        v = v * 10 + (c - '0');
    }
    return v <= p->max_label;
}

static dbx_status sst_lines(sst_parser *p)
{
    if (p->len >= 3 && memcmp(p->text, "\xEF\xBB\xBF", 3) == 0) p->pos = 3; /* UTF-8 BOM */
    for (;;) {
        sst_tok k = sst_next(p);
        if (k.kind == TOK_EOF) break;
        if (k.kind == TOK_EOL) {
            p->pos++;
            p->line++;
            p->line_start = p->pos;
            continue;
        }
        if (k.kind != TOK_LP) return sst_expected(p, &k, "'(' to start a tree");
        if (p->unlabelled && !sst_root_labelled(p)) DBX_TRY(sst_tree_bare(p, k.start));
        else DBX_TRY(sst_tree(p, k.start));
        k = sst_next(p);
        if (k.kind != TOK_EOL && k.kind != TOK_EOF)
            return sst_expected(p, &k, "end of line after the tree");
    }
    if (!p->ntrees)
        return dbx__fail(DBX_EPARSE, "%s: expected at least one tree, file is empty", p->name);
    return DBX_OK;
}

/* Lays the header, the tree records and the node arrays out in one block. */
static dbx_status sst_build(const sst_parser *p, dbx_treebank **out)
{
    size_t head = (sizeof(dbx_treebank) + 15) & ~(size_t)15;
    size_t trees = (p->ntrees * sizeof(dbx_tree) + 15) & ~(size_t)15;
    size_t n = p->nnodes;
    if (n > (SIZE_MAX - head - trees) / (5 * sizeof(int32_t)))
        return dbx__fail(DBX_ENOMEM, "%s: treebank too large", p->name);
    char *mem = malloc(head + trees + 5 * n * sizeof(int32_t));
    if (!mem) return dbx__fail(DBX_ENOMEM, "%s: out of memory building the treebank", p->name);
    dbx_treebank *tb = (dbx_treebank *)mem;
    tb->ntrees = (int32_t)p->ntrees;
    tb->trees = (dbx_tree *)(mem + head);
    tb->nnodes = (int64_t)n;
    tb->nwords = 0;
    tb->max_depth = 0;
    int32_t *pool = (int32_t *)(mem + head + trees);
    int32_t *left = pool, *right = pool + n, *label = pool + 2 * n, *word = pool + 3 * n;
    int32_t *depth = pool + 4 * n;
    for (size_t i = 0; i < n; i++) {
        const sst_node *nd = &p->nodes[i];
        left[i] = nd->left;
        right[i] = nd->right;
        label[i] = nd->label;
        word[i] = nd->word;
        depth[i] = nd->depth;
        if (nd->word >= 0) tb->nwords++;
    }
    for (size_t t = 0; t < p->ntrees; t++) {
        size_t s = (size_t)p->trees[t].start;
        int32_t tn = p->trees[t].n;
        tb->trees[t] = (dbx_tree){tn, left + s, right + s, label + s, word + s, depth + s};
        if (depth[s + (size_t)tn - 1] > tb->max_depth) tb->max_depth = depth[s + (size_t)tn - 1];
    }
    *out = tb;
    return DBX_OK;
}

dbx_status dbx_treebank_parse(const char *name, const char *text, size_t len,
                              const dbx_tree_opts *opts, dbx_vocab *vocab,
                              dbx_treebank **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_treebank_parse: out is NULL");
    *out = NULL;
    if (!name) name = "<input>";
    if ((!text && len) || !vocab)
        return dbx__fail(DBX_EINVAL, "dbx_treebank_parse: NULL text or vocabulary");
    if (opts && opts->max_label < 0)
        return dbx__fail(DBX_EINVAL, "dbx_treebank_parse: max_label %d < 0", opts->max_label);
    sst_parser p = {0};
    p.name = name;
    p.text = text;
    p.len = len;
    p.line = 1;
    p.binary_only = opts ? opts->binary_only != 0 : 1;
    p.max_label = opts ? opts->max_label : 4;
    p.unlabelled = opts ? opts->unlabelled != 0 : 0;
    p.vocab = vocab;
    dbx_status s = sst_lines(&p);
    if (s == DBX_OK) s = sst_build(&p, out);
    free(p.nodes);
    free(p.trees);
    free(p.stack);
    return s;
}

dbx_status dbx_treebank_read(const char *path, const dbx_tree_opts *opts, dbx_vocab *vocab,
                             dbx_treebank **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_treebank_read: out is NULL");
    *out = NULL;
    char *text;
    size_t len;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_status s = dbx_treebank_parse(path, text, len, opts, vocab, out);
    free(text);
    return s;
}

void dbx_treebank_free(dbx_treebank *tb) { free(tb); }
