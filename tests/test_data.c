/* Tests for the data module (include/dbx/data.h): vocabulary, SST treebank reader, token|TAG
 * reader, file reading and the synthetic treebank generator. Self-contained: the test on
 * the real SST files runs only when they are present (DBX_DATA_DIR or ../shared/data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbx/data.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Word string of node i of tree t ("<inner>" for inner nodes). */
static const char *word_of(const dbx_vocab *v, const dbx_tree *t, int i)
{
    const char *s = t->word[i] >= 0 ? dbx_vocab_str(v, t->word[i]) : "<inner>";
    return s ? s : "<bad id>";
}

static dbx_treebank *parse_ok(const char *text, const dbx_tree_opts *opts, dbx_vocab *v)
{
    dbx_treebank *tb = NULL;
    dbx_status s = dbx_treebank_parse("t.txt", text, strlen(text), opts, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_OK);
    if (s != DBX_OK) printf("\n  unexpected error: %s\n", dbx_last_error());
    return tb;
}

/* Parses text[0..len) expecting DBX_EPARSE and a message containing where and what. */
static void tree_err_n(const char *text, size_t len, const dbx_tree_opts *opts,
                       const char *where, const char *what)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_treebank *tb = (dbx_treebank *)&tb; /* must be reset to NULL */
    dbx_status s = dbx_treebank_parse("t.txt", text, len, opts, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NULL(tb);
    const char *e = dbx_last_error();
    int ok = strstr(e, where) != NULL && strstr(e, what) != NULL;
    CU_ASSERT(ok);
    if (!ok) printf("\n  input '%.60s': got message '%s', want '%s' and '%s'\n", text, e, where,
                    what);
    if (s == DBX_OK) dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

static void tree_err(const char *text, const dbx_tree_opts *opts, const char *where,
                     const char *what)
{
    tree_err_n(text, strlen(text), opts, where, what);
}

static void tags_err_n(const char *text, size_t len, dbx_vocab *tags, const char *where,
                       const char *what)
{
    dbx_vocab *w = NULL, *own = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&w), DBX_OK);
    if (!tags) {
        CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&own), DBX_OK);
        tags = own;
    }
    dbx_tagset *ts = (dbx_tagset *)&ts;
    dbx_status s = dbx_tagset_parse("p.txt", text, len, w, tags, &ts);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NULL(ts);
    const char *e = dbx_last_error();
    int ok = strstr(e, where) != NULL && strstr(e, what) != NULL;
    CU_ASSERT(ok);
    if (!ok) printf("\n  input '%.60s': got message '%s', want '%s' and '%s'\n", text, e, where,
                    what);
    if (s == DBX_OK) dbx_tagset_free(ts);
    dbx_vocab_free(own);
    dbx_vocab_free(w);
}

static void tags_err(const char *text, dbx_vocab *tags, const char *where, const char *what)
{
    tags_err_n(text, strlen(text), tags, where, what);
}

/* ---- vocabulary ------------------------------------------------------------------------ */

static void test_vocab_basic(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    CU_ASSERT_EQUAL(dbx_vocab_size(v), 1);
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(v, 0), "<unk>");
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "<unk>", 5), 0);
    const char *unk = dbx_vocab_str(v, 0);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "cat", 3), 1);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "catalog", 3), 1); /* only len bytes count */
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "dog", 3), 2);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "", 0), 3);
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "", 0), 3);
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "cow", 3), -1);
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "ca", 2), -1);
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(v, 2), "dog");
    CU_ASSERT_PTR_NULL(dbx_vocab_str(v, 4));
    CU_ASSERT_PTR_NULL(dbx_vocab_str(v, -1));
    /* Many strings: the table grows, ids stay dense and strings stay put. */
    char buf[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(buf, sizeof buf, "word%d", i);
        CU_ASSERT_EQUAL_FATAL(dbx_vocab_id(v, buf, (size_t)n), 4 + i);
    }
    CU_ASSERT_EQUAL(dbx_vocab_size(v), 100004);
    CU_ASSERT_PTR_EQUAL(dbx_vocab_str(v, 0), unk);
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(v, 4 + 77777), "word77777");
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "word12345", 9), 4 + 12345);
    /* A very long string. */
    size_t big = 200000;
    char *s = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, 'x', big);
    int32_t id = dbx_vocab_id(v, s, big);
    CU_ASSERT_EQUAL(id, 100004);
    CU_ASSERT_EQUAL(strlen(dbx_vocab_str(v, id)), big);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "after", 5), 100005);
    free(s);
    /* Frozen: known words keep their ids, unknown ones map to <unk> without growing. */
    dbx_vocab_freeze(v);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "dog", 3), 2);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "zebra", 5), 0);
    CU_ASSERT_EQUAL(dbx_vocab_find(v, "zebra", 5), -1);
    CU_ASSERT_EQUAL(dbx_vocab_size(v), 100006);
    dbx_vocab_free(v);
    dbx_vocab_free(NULL);
    dbx_treebank_free(NULL);
    dbx_tagset_free(NULL);
}

/* ---- SST treebanks: well-formed input -------------------------------------------------- */

static void test_sst_example(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    const char *text = "(3 (2 An) (3 (4 imaginative) (3 (2 comedy\\/thriller) (2 .))))\n";
    dbx_treebank *tb = parse_ok(text, NULL, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL(tb->ntrees, 1);
    CU_ASSERT_EQUAL(tb->nnodes, 7);
    CU_ASSERT_EQUAL(tb->nwords, 4);
    CU_ASSERT_EQUAL(tb->max_depth, 4);
    const dbx_tree *t = &tb->trees[0];
    CU_ASSERT_EQUAL_FATAL(t->n, 7);
    /* Post-order: An, imaginative, comedy\/thriller, ., (3 c .), (3 imag ..), root. */
    static const int32_t left[7] = {-1, -1, -1, -1, 2, 1, 0};
    static const int32_t right[7] = {-1, -1, -1, -1, 3, 4, 5};
    static const int32_t label[7] = {2, 4, 2, 2, 3, 3, 3};
    static const int32_t depth[7] = {1, 1, 1, 1, 2, 3, 4};
    static const char *const words[7] = {"An", "imaginative", "comedy\\/thriller", ".", NULL,
                                         NULL, NULL};
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(t->left[i], left[i]);
        CU_ASSERT_EQUAL(t->right[i], right[i]);
        CU_ASSERT_EQUAL(t->label[i], label[i]);
        CU_ASSERT_EQUAL(t->depth[i], depth[i]);
        if (words[i]) {
            CU_ASSERT_STRING_EQUAL(word_of(v, t, i), words[i]);
        } else {
            CU_ASSERT_EQUAL(t->word[i], -1);
        }
    }
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

static void test_sst_lines(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    /* CRLF, blank lines, surrounding blanks, no final newline, escapes, UTF-8, no space
     * before '(' after a label. */
    const char *text = "\r\n(1 (2 -LRB-) (0 bad))\r\n\r\n  \t\n"
                       "  (4 (2(2 it) (3 's)) (4 caf\xc3\xa9))  \r\n"
                       "(2 single)";
    dbx_treebank *tb = parse_ok(text, NULL, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL(tb->ntrees, 3);
    CU_ASSERT_EQUAL(tb->nnodes, 3 + 5 + 1);
    CU_ASSERT_EQUAL(tb->nwords, 2 + 3 + 1);
    CU_ASSERT_EQUAL(tb->max_depth, 3);
    const dbx_tree *t0 = &tb->trees[0], *t1 = &tb->trees[1], *t2 = &tb->trees[2];
    CU_ASSERT_STRING_EQUAL(word_of(v, t0, 0), "-LRB-");
    CU_ASSERT_STRING_EQUAL(word_of(v, t0, 1), "bad");
    CU_ASSERT_EQUAL(t0->label[2], 1);
    CU_ASSERT_EQUAL(t1->n, 5);
    CU_ASSERT_STRING_EQUAL(word_of(v, t1, 1), "'s");
    CU_ASSERT_STRING_EQUAL(word_of(v, t1, 3), "caf\xc3\xa9");
    CU_ASSERT_EQUAL(t1->depth[4], 3);
    CU_ASSERT_EQUAL(t1->left[4], 2);
    CU_ASSERT_EQUAL(t1->right[4], 3);
    CU_ASSERT_EQUAL(t2->n, 1);
    CU_ASSERT_EQUAL(t2->depth[0], 1);
    CU_ASSERT_STRING_EQUAL(word_of(v, t2, 0), "single");
    /* The arrays of successive trees are contiguous slices of one pool. */
    CU_ASSERT_PTR_EQUAL(t1->label, t0->label + t0->n);
    CU_ASSERT_PTR_EQUAL(t2->word, t1->word + t1->n);
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

/* Labels optional (dbx_tree_opts.unlabelled): bare trees, labelled trees as before. */
static void test_sst_unlabelled(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_tree_opts o = {1, 4, 1};
    dbx_treebank *tb = parse_ok("((the cat) (sat down))\n(hello)\n((a b) c)\n(3 (2 a) (4 b))\n"
                                "(2 dogs)\n(2)\n  ( (x)  (y) )  \n",
                                &o, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL_FATAL(tb->ntrees, 7);
    const dbx_tree *t = &tb->trees[0];
    CU_ASSERT_EQUAL_FATAL(t->n, 7);
    static const char *const w0[] = {"the", "cat", "<inner>", "sat", "down", "<inner>", "<inner>"};
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_STRING_EQUAL(word_of(v, t, i), w0[i]);
        CU_ASSERT_EQUAL(t->label[i], 0);
    }
    CU_ASSERT(t->left[2] == 0 && t->right[2] == 1 && t->left[5] == 3 && t->right[5] == 4);
    CU_ASSERT(t->left[6] == 2 && t->right[6] == 5 && t->depth[6] == 3 && t->depth[0] == 1);
    t = &tb->trees[1]; /* "(hello)": one preterminal */
    CU_ASSERT(t->n == 1 && t->left[0] == -1 && t->depth[0] == 1);
    CU_ASSERT_STRING_EQUAL(word_of(v, t, 0), "hello");
    t = &tb->trees[2];
    CU_ASSERT(t->n == 5 && t->left[4] == 2 && t->right[4] == 3 && t->depth[4] == 3);
    t = &tb->trees[3]; /* labelled: labels kept */
    CU_ASSERT(t->n == 3 && t->label[0] == 2 && t->label[1] == 4 && t->label[2] == 3);
    t = &tb->trees[4]; /* a label and a token: a labelled preterminal */
    CU_ASSERT(t->n == 1 && t->label[0] == 2);
    CU_ASSERT_STRING_EQUAL(word_of(v, t, 0), "dogs");
    t = &tb->trees[5]; /* a number alone is a token */
    CU_ASSERT(t->n == 1 && t->label[0] == 0);
    CU_ASSERT_STRING_EQUAL(word_of(v, t, 0), "2");
    t = &tb->trees[6];
    CU_ASSERT(t->n == 3 && t->left[2] == 0 && t->right[2] == 1);
    dbx_treebank_free(tb);
    tree_err("(a b c)\n", &o, "t.txt:1:6:", "expected ')' after two children (got 'c')");
    tree_err("((a b) (c d) e)\n", &o, "t.txt:1:14:", "expected ')' after two children");
    tree_err("()\n", &o, "t.txt:1:2:", "expected a token or '(' (got ')')");
    tree_err("(a b)\n((a) b\n", &o, "t.txt:2:7:", "expected ')' to close the '(' at column 1");
    tree_err("((a))\n", &o, "t.txt:1:5:", "expected a second child (binary tree)");
    tree_err("(a b))\n", &o, "t.txt:1:6:", "expected end of line after the tree");
    tree_err("(a \x01)\n", &o, "t.txt:1:4:", "expected printable text, got byte 0x01");
    tree_err("(3 (2 a) (b c))\n", &o, "t.txt:1:11:", "expected label 0..4 (got 'b')");
    tree_err("a b\n", &o, "t.txt:1:1:", "expected '(' to start a tree");
    tree_err("\n\n", &o, "t.txt", "expected at least one tree");
    /* without the option, bare trees are refused as before */
    tree_err("((a b) c)\n", NULL, "t.txt:1:2:", "expected label 0..4 (got '(')");
    dbx_tree_opts u = {0, 4, 1}; /* unary nodes allowed */
    tb = parse_ok("((a))\n", &u, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT(tb->trees[0].n == 2 && tb->trees[0].left[1] == 0 && tb->trees[0].right[1] == -1);
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

static void test_sst_unary(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_tree_opts o = {0, 4, 0};
    dbx_treebank *tb = parse_ok("(3 (1 (2 a)) (4 b))\n(0 (1 (2 (3 x))))\n", &o, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    const dbx_tree *t = &tb->trees[0];
    CU_ASSERT_EQUAL_FATAL(t->n, 4);
    CU_ASSERT_EQUAL(t->left[1], 0);
    CU_ASSERT_EQUAL(t->right[1], -1);
    CU_ASSERT_EQUAL(t->word[1], -1);
    CU_ASSERT_EQUAL(t->depth[1], 2);
    CU_ASSERT_EQUAL(t->left[3], 1);
    CU_ASSERT_EQUAL(t->right[3], 2);
    CU_ASSERT_EQUAL(t->depth[3], 3);
    t = &tb->trees[1];
    CU_ASSERT_EQUAL_FATAL(t->n, 4);
    CU_ASSERT_EQUAL(t->depth[3], 4);
    CU_ASSERT_EQUAL(t->label[3], 0);
    CU_ASSERT_EQUAL(t->left[3], 2);
    CU_ASSERT_EQUAL(t->right[3], -1);
    CU_ASSERT_EQUAL(tb->max_depth, 4);
    dbx_treebank_free(tb);
    /* The binary model rejects the same input. */
    tree_err("(3 (1 (2 a)) (4 b))\n", NULL, "t.txt:1:12:", "expected a second child");
    /* Wider labels with max_label. */
    dbx_tree_opts o9 = {1, 9, 0};
    tb = parse_ok("(9 (7 a) (0 b))", &o9, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL(tb->trees[0].label[2], 9);
    dbx_treebank_free(tb);
    dbx_tree_opts o1 = {1, 1, 0};
    tree_err("(1 (0 a) (2 b))", &o1, "t.txt:1:11:", "expected label 0..1 (got '2')");
    dbx_vocab_free(v);
}

static void test_sst_frozen_vocab(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    CU_ASSERT_EQUAL(dbx_vocab_id(v, "good", 4), 1);
    dbx_vocab_freeze(v);
    dbx_treebank *tb = parse_ok("(3 (2 very) (3 good))", NULL, v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL(tb->trees[0].word[0], 0);
    CU_ASSERT_EQUAL(tb->trees[0].word[1], 1);
    CU_ASSERT_EQUAL(dbx_vocab_size(v), 2);
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

/* ---- SST treebanks: malformed input ---------------------------------------------------- */

static void test_sst_errors(void)
{
    /* Unbalanced parentheses. */
    tree_err("(3 (2 a) (2 b)\n(2 c)\n", NULL, "t.txt:1:15:",
             "expected ')' to close the '(' at column 1 (got end of line)");
    tree_err("(2 (2 a) (2 b)", NULL, "t.txt:1:15:", "(got end of file)");
    tree_err("(2 (2 a", NULL, "t.txt:1:8:", "expected ')' after the token (got end of file)");
    tree_err("(3 (2 a) (2 b)))\n", NULL, "t.txt:1:16:", "expected end of line after the tree");
    tree_err(")", NULL, "t.txt:1:1:", "expected '(' to start a tree (got ')')");
    tree_err("(", NULL, "t.txt:1:2:", "expected label 0..4 (got end of file)");
    /* Missing or bad labels. */
    tree_err("( (2 a) (2 b))", NULL, "t.txt:1:3:", "expected label 0..4 (got '(')");
    tree_err("(x (2 a))", NULL, "t.txt:1:2:", "expected label 0..4 (got 'x')");
    tree_err("(3 (2 a) (b c))", NULL, "t.txt:1:11:", "expected label 0..4 (got 'b')");
    tree_err("(3 (-1 a) (2 c))", NULL, "t.txt:1:5:", "expected label 0..4 (got '-1')");
    tree_err("(3 (2 a) (5 c))", NULL, "t.txt:1:11:", "expected label 0..4 (got '5')");
    tree_err("(99999999999999999999 a)", NULL, "t.txt:1:2:", "expected label 0..4");
    /* Shape. */
    tree_err("(3 (2 a) (2 b) (2 c))", NULL, "t.txt:1:16:", "expected ')' after two children");
    dbx_tree_opts o = {0, 4, 0};
    tree_err("(3 (2 a) (2 b) (2 c))", &o, "t.txt:1:16:", "expected ')' after two children");
    tree_err("(3 (2 ) (2 b))", NULL, "t.txt:1:7:", "expected token or '(' after the label "
                                                   "(got ')')");
    tree_err("(3)", NULL, "t.txt:1:3:", "expected token or '('");
    tree_err("(2 a b)", NULL, "t.txt:1:6:", "expected ')' after the token (got 'b')");
    tree_err("(2 a (2 b))", NULL, "t.txt:1:6:", "expected ')' after the token (got '(')");
    /* Text outside parentheses. */
    tree_err("hello (2 a)", NULL, "t.txt:1:1:", "expected '(' to start a tree (got 'hello')");
    tree_err("(2 a) junk", NULL, "t.txt:1:7:", "expected end of line after the tree (got 'junk')");
    tree_err("(2 a) (2 b)", NULL, "t.txt:1:7:", "expected end of line after the tree (got '(')");
    tree_err("(3 (2 a) b)", NULL, "t.txt:1:10:", "expected '(' or ')' (got 'b')");
    tree_err("(3 (2 a) (2 b) c)", NULL, "t.txt:1:16:", "expected ')' (got 'c')");
    /* Line and column numbers after blank lines, CRLF and tabs. */
    tree_err("(2 a)\r\n\r\n\t(3 (2 a) (2 b)))\r\n", NULL, "t.txt:3:17:", "expected end of line");
    /* Empty files. */
    tree_err("", NULL, "t.txt: expected at least one tree, file is empty", "");
    tree_err("\n \n\t\r\n\n", NULL, "t.txt: expected at least one tree, file is empty", "");
    tree_err_n(NULL, 0, NULL, "t.txt: expected at least one tree", "");
    /* Binary garbage. */
    tree_err_n("(2 a\0b)", 7, NULL, "t.txt:1:5:", "expected printable text, got byte 0x00");
    tree_err_n("\0\0\0\0", 4, NULL, "t.txt:1:1:", "expected printable text, got byte 0x00");
    tree_err("(2 a)\n(2 \x01)", NULL, "t.txt:2:4:", "got byte 0x01");
    tree_err("(2 a\x7f)", NULL, "t.txt:1:5:", "got byte 0x7f");
    tree_err("\x1b[0m", NULL, "t.txt:1:1:", "got byte 0x1b");
    const unsigned char bin[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    tree_err_n((const char *)bin, sizeof bin, NULL, "t.txt:1:1:", "got byte 0x7f");
    /* Long tokens are shortened in messages. */
    char longtok[200];
    memset(longtok, 'z', sizeof longtok);
    longtok[sizeof longtok - 1] = '\0';
    tree_err(longtok, NULL, "t.txt:1:1:", "zzzz...')");
}

static void test_sst_args(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_treebank *tb = NULL;
    CU_ASSERT_EQUAL(dbx_treebank_parse("t", "(2 a)", 5, NULL, NULL, &tb), DBX_EINVAL);
    CU_ASSERT_EQUAL(dbx_treebank_parse("t", NULL, 5, NULL, v, &tb), DBX_EINVAL);
    CU_ASSERT_EQUAL(dbx_treebank_parse("t", "(2 a)", 5, NULL, v, NULL), DBX_EINVAL);
    dbx_tree_opts bad = {1, -1, 0};
    CU_ASSERT_EQUAL(dbx_treebank_parse("t", "(2 a)", 5, &bad, v, &tb), DBX_EINVAL);
    CU_ASSERT_PTR_NULL(tb);
    /* A NULL name still gives a usable message. */
    CU_ASSERT_EQUAL(dbx_treebank_parse(NULL, "(2 a", 4, NULL, v, &tb), DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), ":1:5: expected ')'"));
    dbx_vocab_free(v);
}

/* ---- huge lines and deep nesting ------------------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t n, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void test_sst_huge_lines(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    /* A valid right-branching tree of > 5 MB on one line, nested ~450000 deep. */
    strbuf b = {0};
    const int nleaves = 460000;
    char w[32];
    for (int i = 0; i < nleaves - 1; i++) {
        snprintf(w, sizeof w, "(2 (3 w%d) ", i % 1000);
        sb_puts(&b, w);
    }
    sb_puts(&b, "(1 end)");
    for (int i = 0; i < nleaves - 1; i++) sb_put(&b, ")", 1);
    sb_puts(&b, "\n(2 next)\n");
    CU_ASSERT(b.n > 5u * 1000 * 1000);
    double t0 = now_s();
    dbx_treebank *tb = NULL;
    dbx_status s = dbx_treebank_parse("big.txt", b.p, b.n, NULL, v, &tb);
    double dt = now_s() - t0;
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    CU_ASSERT_EQUAL(tb->ntrees, 2);
    CU_ASSERT_EQUAL(tb->nwords, nleaves + 1);
    CU_ASSERT_EQUAL(tb->nnodes, 2 * nleaves - 1 + 1);
    CU_ASSERT_EQUAL(tb->max_depth, nleaves);
    CU_ASSERT_EQUAL(tb->trees[0].depth[tb->trees[0].n - 1], nleaves);
    /* Post-order of a right-branching tree: all leaves first, then the inner nodes. */
    CU_ASSERT_STRING_EQUAL(word_of(v, &tb->trees[0], nleaves - 1), "end");
    CU_ASSERT_STRING_EQUAL(word_of(v, &tb->trees[0], nleaves), "<inner>");
    CU_ASSERT_EQUAL(tb->trees[0].left[nleaves], nleaves - 2);
    CU_ASSERT_EQUAL(tb->trees[0].right[nleaves], nleaves - 1);
    CU_ASSERT(dt < 30.0);
    dbx_treebank_free(tb);

    /* The same line without its last ')': the error is found at the end of the line. */
    char *nl = strchr(b.p, '\n');
    size_t line_len = (size_t)(nl - b.p);
    memmove(nl - 1, nl, b.n - line_len);
    b.n--;
    char where[128];
    snprintf(where, sizeof where, "big.txt:1:%zu:", line_len);
    t0 = now_s();
    s = dbx_treebank_parse("big.txt", b.p, b.n, NULL, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), where));
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "expected ')' to close the '(' at column"));
    CU_ASSERT(now_s() - t0 < 30.0);

    /* A deep unary chain (binary_only = 0): no recursion, so no stack overflow. */
    b.n = 0;
    const int deep = 200000;
    for (int i = 0; i < deep; i++) sb_puts(&b, "(2 ");
    sb_puts(&b, "(4 leaf)");
    for (int i = 0; i < deep; i++) sb_put(&b, ")", 1);
    dbx_tree_opts o = {0, 4, 0};
    s = dbx_treebank_parse("deep.txt", b.p, b.n, &o, v, &tb);
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    CU_ASSERT_EQUAL(tb->max_depth, deep + 1);
    CU_ASSERT_EQUAL(tb->trees[0].n, deep + 1);
    dbx_treebank_free(tb);

    /* 5 MB of garbage on one line fails fast, at the first byte. */
    b.n = 0;
    for (int i = 0; i < 5 * 1024 * 1024 / 16; i++) sb_puts(&b, "garbage-garbage ");
    t0 = now_s();
    s = dbx_treebank_parse("junk.txt", b.p, b.n, NULL, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "junk.txt:1:1: expected '('"));
    CU_ASSERT(now_s() - t0 < 1.0);
    /* 5 MB of '(' fails at column 2. */
    memset(b.p, '(', b.n);
    s = dbx_treebank_parse("junk.txt", b.p, b.n, NULL, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "junk.txt:1:2: expected label"));
    /* 5 MB of "(2 " opens 1.7 million nodes and fails at the end of the file, linearly. */
    for (size_t i = 0; i + 3 <= b.n; i += 3) memcpy(b.p + i, "(2 ", 3);
    b.n -= b.n % 3;
    t0 = now_s();
    s = dbx_treebank_parse("junk.txt", b.p, b.n, NULL, v, &tb);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    snprintf(where, sizeof where, "junk.txt:1:%zu: expected token or '(' after the label (got end "
             "of file)", b.n + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), where));
    CU_ASSERT(now_s() - t0 < 30.0);
    /* A single 5 MB token as a leaf. */
    memset(b.p, 'k', b.n);
    memcpy(b.p, "(2 ", 3);
    b.p[b.n - 1] = ')';
    s = dbx_treebank_parse("tok.txt", b.p, b.n, NULL, v, &tb);
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    CU_ASSERT_EQUAL(strlen(word_of(v, &tb->trees[0], 0)), b.n - 4);
    dbx_treebank_free(tb);
    free(b.p);
    dbx_vocab_free(v);
}

/* ---- files ----------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_files(void)
{
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s", dbx_test_tmp_path("trees.txt"));
    write_file(path, "(3 (2 a) (4 b))\n(1 c)\n");
    dbx_treebank *tb = NULL;
    CU_ASSERT_EQUAL(dbx_treebank_read(path, NULL, v, &tb), DBX_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_EQUAL(tb->ntrees, 2);
    dbx_treebank_free(tb);
    /* Errors name the path. */
    write_file(path, "(3 (2 a) (4 b))\n(1 c\n");
    CU_ASSERT_EQUAL(dbx_treebank_read(path, NULL, v, &tb), DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "trees.txt:2:5: expected ')'"));
    write_file(path, "");
    CU_ASSERT_EQUAL(dbx_treebank_read(path, NULL, v, &tb), DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "trees.txt: expected at least one tree"));
    /* Tags from a file. */
    write_file(path, "a|DT b|NN\n");
    dbx_vocab *tags = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&tags), DBX_OK);
    dbx_tagset *ts = NULL;
    CU_ASSERT_EQUAL(dbx_tagset_read(path, v, tags, &ts), DBX_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ts);
    CU_ASSERT_EQUAL(ts->ntokens, 2);
    dbx_tagset_free(ts);
    /* dbx_read_file. */
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(dbx_read_file(path, &text, &len), DBX_OK);
    CU_ASSERT_EQUAL(len, 10);
    CU_ASSERT_STRING_EQUAL(text, "a|DT b|NN\n");
    free(text);
    unlink(path);
    /* Missing files and directories. */
    CU_ASSERT_EQUAL(dbx_treebank_read(path, NULL, v, &tb), DBX_EIO);
    CU_ASSERT_PTR_NULL(tb);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "trees.txt: cannot open: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "No such file"));
    CU_ASSERT_EQUAL(dbx_tagset_read(path, v, tags, &ts), DBX_EIO);
    CU_ASSERT_PTR_NULL(ts);
    CU_ASSERT_EQUAL(dbx_read_file("/", &text, &len), DBX_EIO);
    CU_ASSERT_PTR_NULL(text);
    CU_ASSERT_EQUAL(dbx_read_file(NULL, &text, &len), DBX_EINVAL);
    dbx_vocab_free(tags);
    dbx_vocab_free(v);
}

/* ---- tagged sentences ------------------------------------------------------------------ */

static void test_tags_ok(void)
{
    dbx_vocab *w = NULL, *g = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&w), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&g), DBX_OK);
    const char *text = "The|DT dog|NN\tbarks|VBZ\r\n\r\n  \n a|b|c|SYM  1\\/2|CD |||X\n"
                       "dog|NN";
    dbx_tagset *ts = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_tagset_parse("p.txt", text, strlen(text), w, g, &ts), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(ts->nsent, 3);
    CU_ASSERT_EQUAL(ts->ntokens, 7);
    CU_ASSERT_EQUAL(ts->sents[0].n, 3);
    CU_ASSERT_EQUAL(ts->sents[1].n, 3);
    CU_ASSERT_EQUAL(ts->sents[2].n, 1);
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[0].word[2]), "barks");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(g, ts->sents[0].tag[2]), "VBZ");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[1].word[0]), "a|b|c");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(g, ts->sents[1].tag[0]), "SYM");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[1].word[1]), "1\\/2");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[1].word[2]), "||");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(g, ts->sents[1].tag[2]), "X");
    CU_ASSERT_EQUAL(ts->sents[2].word[0], ts->sents[0].word[1]);
    CU_ASSERT_EQUAL(ts->sents[2].tag[0], ts->sents[0].tag[1]);
    CU_ASSERT_PTR_EQUAL(ts->sents[1].word, ts->sents[0].word + 3);
    CU_ASSERT_EQUAL(dbx_vocab_size(g), 1 + 6);
    dbx_tagset_free(ts);
    /* Frozen vocabularies: unknown words become <unk>, known tags are accepted. */
    dbx_vocab_freeze(w);
    dbx_vocab_freeze(g);
    text = "zebra|NN The|DT\n";
    CU_ASSERT_EQUAL_FATAL(dbx_tagset_parse("p.txt", text, strlen(text), w, g, &ts), DBX_OK);
    CU_ASSERT_EQUAL(ts->sents[0].word[0], 0);
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(g, ts->sents[0].tag[0]), "NN");
    CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[0].word[1]), "The");
    dbx_tagset_free(ts);
    /* ... and an unknown tag is an error. */
    tags_err("The|DT dog|VB\n", g, "p.txt:1:12:", "unknown tag 'VB'");
    dbx_vocab_free(w);
    dbx_vocab_free(g);
}

static void test_tags_errors(void)
{
    tags_err("The|DT dog\n", NULL, "p.txt:1:8:", "expected token|TAG (got 'dog')");
    tags_err("The|DT\n|NN\n", NULL, "p.txt:2:1:", "expected token|TAG (got '|NN')");
    tags_err("The|DT\n\r\n  dog| x|Y\n", NULL, "p.txt:3:3:", "expected token|TAG (got 'dog|')");
    tags_err("|", NULL, "p.txt:1:1:", "expected token|TAG");
    tags_err("", NULL, "p.txt: expected at least one sentence, file is empty", "");
    tags_err(" \n\t\r\n", NULL, "p.txt: expected at least one sentence, file is empty", "");
    tags_err_n("a|B\0c|D", 7, NULL, "p.txt:1:4:", "expected printable text, got byte 0x00");
    tags_err("a|B\n\x02", NULL, "p.txt:2:1:", "got byte 0x02");
}

/* Untagged sentences: tokens, tag 0; lines of token|TAG items read with the tags ignored. */
static void test_tags_untagged(void)
{
    dbx_vocab *w = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&w), DBX_OK);
    const char *text = "the cat|x sat\n\n  a|DET|NN b|NN \t\nc|| |d e|\n";
    dbx_tagset *ts = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_tagset_parse_untagged("u.txt", text, strlen(text), w, &ts), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(ts->nsent, 3);
    CU_ASSERT_EQUAL(ts->ntokens, 8);
    static const char *const want[3][3] = {
        {"the", "cat|x", "sat"}, {"a|DET", "b"}, {"c||", "|d", "e|"}};
    static const int32_t n[3] = {3, 2, 3};
    for (int s = 0; s < 3; s++) {
        CU_ASSERT_EQUAL_FATAL(ts->sents[s].n, n[s]);
        for (int i = 0; i < n[s]; i++) {
            CU_ASSERT_STRING_EQUAL(dbx_vocab_str(w, ts->sents[s].word[i]), want[s][i]);
            CU_ASSERT_EQUAL(ts->sents[s].tag[i], 0);
        }
    }
    dbx_tagset_free(ts);
    /* a frozen vocabulary maps unknown tokens to <unk> */
    dbx_vocab_freeze(w);
    CU_ASSERT_EQUAL_FATAL(dbx_tagset_parse_untagged("u.txt", "the dog", 7, w, &ts), DBX_OK);
    CU_ASSERT(ts->nsent == 1 && ts->sents[0].word[0] > 0 && ts->sents[0].word[1] == 0);
    dbx_tagset_free(ts);
    ts = (dbx_tagset *)&ts;
    CU_ASSERT_EQUAL(dbx_tagset_parse_untagged("u.txt", "a b\nc \x02", 7, w, &ts), DBX_EPARSE);
    CU_ASSERT_PTR_NULL(ts);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "u.txt:2:3: expected printable text"));
    CU_ASSERT_EQUAL(dbx_tagset_parse_untagged("u.txt", " \n\n", 3, w, &ts), DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "u.txt: expected at least one sentence"));
    dbx_vocab_free(w);
}

static void test_tags_huge(void)
{
    dbx_vocab *w = NULL, *g = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&w), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&g), DBX_OK);
    strbuf b = {0};
    const int n = 600000;
    char item[32];
    for (int i = 0; i < n; i++) {
        snprintf(item, sizeof item, "w%d|T%d ", i % 5000, i % 40);
        sb_puts(&b, item);
    }
    CU_ASSERT(b.n > 5u * 1000 * 1000);
    dbx_tagset *ts = NULL;
    double t0 = now_s();
    CU_ASSERT_EQUAL_FATAL(dbx_tagset_parse("p.txt", b.p, b.n, w, g, &ts), DBX_OK);
    CU_ASSERT(now_s() - t0 < 30.0);
    CU_ASSERT_EQUAL(ts->nsent, 1);
    CU_ASSERT_EQUAL(ts->sents[0].n, n);
    CU_ASSERT_EQUAL(dbx_vocab_size(g), 41);
    dbx_tagset_free(ts);
    /* The same line with a bad last item fails at its column. */
    sb_puts(&b, "oops");
    char where[64];
    snprintf(where, sizeof where, "p.txt:1:%zu: expected token|TAG", b.n - 3);
    CU_ASSERT_EQUAL(dbx_tagset_parse("p.txt", b.p, b.n, w, g, &ts), DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), where));
    free(b.p);
    dbx_vocab_free(w);
    dbx_vocab_free(g);
}

/* ---- generator ------------------------------------------------------------------------- */

typedef struct tb_stats {
    double mean_leaves, mean_height;
    int min_leaves, max_leaves;
} tb_stats;

static tb_stats stats_of(const dbx_treebank *tb)
{
    tb_stats st = {0, 0, 1 << 30, 0};
    for (int32_t i = 0; i < tb->ntrees; i++) {
        const dbx_tree *t = &tb->trees[i];
        int leaves = 0;
        for (int32_t j = 0; j < t->n; j++) leaves += t->word[j] >= 0;
        st.mean_leaves += leaves;
        st.mean_height += t->depth[t->n - 1];
        if (leaves < st.min_leaves) st.min_leaves = leaves;
        if (leaves > st.max_leaves) st.max_leaves = leaves;
    }
    st.mean_leaves /= tb->ntrees;
    st.mean_height /= tb->ntrees;
    return st;
}

static void test_gen_determinism(void)
{
    dbx_gen_opts o = {300, 0, 42};
    char *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &a, &na), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &b, &nb), DBX_OK);
    o.seed = 43;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &c, &nc), DBX_OK);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT(na == nb && memcmp(a, b, na) == 0);
    CU_ASSERT(na != nc || memcmp(a, c, na) != 0);
    CU_ASSERT_EQUAL(strlen(a), na);
    CU_ASSERT_EQUAL(a[na - 1], '\n');
    size_t lines = 0;
    for (size_t i = 0; i < na; i++) lines += a[i] == '\n';
    CU_ASSERT_EQUAL(lines, 300);
    /* The first trees do not depend on how many are asked for. */
    o.seed = 42;
    o.ntrees = 10;
    free(b);
    b = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &b, &nb), DBX_OK);
    CU_ASSERT(nb < na && memcmp(a, b, nb) == 0);
    free(a);
    free(b);
    free(c);
    /* Invalid options. */
    char *t = (char *)&t;
    size_t n = 1;
    o.ntrees = 0;
    CU_ASSERT_EQUAL(dbx_treebank_generate(&o, &t, &n), DBX_EINVAL);
    CU_ASSERT_PTR_NULL(t);
    o.ntrees = -5;
    CU_ASSERT_EQUAL(dbx_treebank_generate(&o, &t, &n), DBX_EINVAL);
    o.ntrees = 5;
    o.vocab = -1;
    CU_ASSERT_EQUAL(dbx_treebank_generate(&o, &t, &n), DBX_EINVAL);
    CU_ASSERT_EQUAL(dbx_treebank_generate(NULL, &t, &n), DBX_EINVAL);
}

static void test_gen_parse_stats(void)
{
    dbx_gen_opts o = {2000, 0, 7};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &text, &len), DBX_OK);
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_treebank *tb = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_parse("gen", text, len, NULL, v, &tb), DBX_OK);
    CU_ASSERT_EQUAL(tb->ntrees, 2000);
    tb_stats st = stats_of(tb);
    printf("\n  generated: mean leaves %.2f (%d..%d), mean height %.2f, vocab %d ",
           st.mean_leaves, st.min_leaves, st.max_leaves, st.mean_height, dbx_vocab_size(v));
    CU_ASSERT(st.mean_leaves >= 17 && st.mean_leaves <= 21);
    CU_ASSERT(st.mean_height >= 9.5 && st.mean_height <= 12.5);
    CU_ASSERT(st.min_leaves >= 1 && st.max_leaves <= 52 && st.max_leaves >= 40);
    CU_ASSERT(dbx_vocab_size(v) > 1000 && dbx_vocab_size(v) <= 5001);
    /* Words are w0..w4999; a word's preterminal label is nearly always the same (hidden
     * polarity, 5% noise), and labels are not all neutral. */
    int32_t nv = dbx_vocab_size(v);
    int *counts = calloc((size_t)nv * 5, sizeof(int));
    CU_ASSERT_PTR_NOT_NULL_FATAL(counts);
    long label_counts[5] = {0};
    for (int32_t i = 0; i < tb->ntrees; i++) {
        const dbx_tree *t = &tb->trees[i];
        for (int32_t j = 0; j < t->n; j++) {
            CU_ASSERT_FATAL(t->label[j] >= 0 && t->label[j] <= 4);
            label_counts[t->label[j]]++;
            if (t->word[j] >= 0) counts[t->word[j] * 5 + t->label[j]]++;
        }
    }
    long agree = 0;
    for (int32_t id = 1; id < nv; id++) {
        const char *s = dbx_vocab_str(v, id);
        CU_ASSERT(s[0] == 'w' && atoi(s + 1) >= 0 && atoi(s + 1) < 5000);
        int best = 0;
        for (int l = 0; l < 5; l++)
            if (counts[id * 5 + l] > best) best = counts[id * 5 + l];
        agree += best;
    }
    CU_ASSERT((double)agree / (double)tb->nwords > 0.9);
    for (int l = 0; l < 5; l++) CU_ASSERT(label_counts[l] > 0);
    CU_ASSERT(label_counts[2] < tb->nnodes * 8 / 10);
    free(counts);
    dbx_treebank_free(tb);
    free(text);
    /* A small vocabulary. */
    o.ntrees = 50;
    o.vocab = 10;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&o, &text, &len), DBX_OK);
    dbx_vocab *v2 = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v2), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_parse("gen", text, len, NULL, v2, &tb), DBX_OK);
    CU_ASSERT(dbx_vocab_size(v2) <= 11);
    dbx_treebank_free(tb);
    dbx_vocab_free(v2);
    free(text);
    dbx_vocab_free(v);
}

/* ---- the real SST files, when present -------------------------------------------------- */

static void test_real_sst(void)
{
    char path[4096];
    const char *dir = getenv("DBX_DATA_DIR");
    if (dir)
        snprintf(path, sizeof path, "%s/sst/train.txt", dir);
    else
        snprintf(path, sizeof path, "%s", dbx_test_src_path("../shared/data/sst/train.txt"));
    struct stat sb;
    if (stat(path, &sb) != 0) {
        printf("\n  skipped: %s not found (set DBX_DATA_DIR) ", path);
        return;
    }
    dbx_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_vocab_new(&v), DBX_OK);
    dbx_treebank *tb = NULL;
    dbx_status s = dbx_treebank_read(path, NULL, v, &tb);
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    tb_stats st = stats_of(tb);
    printf("\n  %s: %d trees, mean leaves %.2f (%d..%d), mean height %.2f, vocab %d ", path,
           tb->ntrees, st.mean_leaves, st.min_leaves, st.max_leaves, st.mean_height,
           dbx_vocab_size(v));
    CU_ASSERT(st.mean_leaves > 17 && st.mean_leaves < 21);
    CU_ASSERT(st.mean_height > 9.5 && st.mean_height < 12.5);
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_vocab_basic),      DBX_TEST(test_sst_example),
        DBX_TEST(test_sst_lines),        DBX_TEST(test_sst_unary), DBX_TEST(test_sst_unlabelled),
        DBX_TEST(test_sst_frozen_vocab), DBX_TEST(test_sst_errors),
        DBX_TEST(test_sst_args),         DBX_TEST(test_sst_huge_lines),
        DBX_TEST(test_files),            DBX_TEST(test_tags_ok),
        DBX_TEST(test_tags_errors),      DBX_TEST(test_tags_huge), DBX_TEST(test_tags_untagged),
        DBX_TEST(test_gen_determinism),  DBX_TEST(test_gen_parse_stats),
        DBX_TEST(test_real_sst),         DBX_TEST_END,
    };
    return dbx_test_run("data", tests);
}
