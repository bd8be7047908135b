/* Tests for the word/character lattice reader and generator (include/dbx/data.h,
 * models/lattice_reader.c, models/latticegen.c): exact arrays of a hand-written file, one
 * test per kind of malformed input with its exact message, every truncation of a valid file,
 * random byte mutations (never a crash; an error points at a token as name:line:col), huge
 * counts, the generator's determinism and shapes. Self-contained: the check of the real
 * files runs only when they are present (DBX_DATA_DIR or ../shared/data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "dbx/data.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* 1 if ls satisfies everything the header promises, with statistics that match its arrays. */
static int lattices_valid(const dbx_latticeset *ls)
{
    int64_t nodes = 0, arcs = 0, chars = 0;
    int32_t max_tag = -1, max_char = -1, max_word = -1, max_deg = 0, max_n = 0;
    for (int32_t j = 0; j < ls->nlat; j++) {
        const dbx_lattice *L = &ls->lats[j];
        if (L->n < 1 || L->arc_start[0] != 0 || L->arc_start[1] != 0) return 0;
        for (int32_t i = 0; i < L->n; i++) {
            if (L->tag[i] < 0 || L->arc_start[i + 1] < L->arc_start[i]) return 0;
            if (L->tag[i] > max_tag) max_tag = L->tag[i];
            int32_t deg = L->arc_start[i + 1] - L->arc_start[i];
            if (deg > max_deg) max_deg = deg;
            for (int32_t a = L->arc_start[i]; a < L->arc_start[i + 1]; a++) {
                if (L->arc_from[a] < 0 || L->arc_from[a] >= i || L->arc_id[a] < 0) return 0;
                int is_char = L->arc_from[a] == i - 1;
                chars += is_char;
                int32_t *m = is_char ? &max_char : &max_word;
                if (L->arc_id[a] > *m) *m = L->arc_id[a];
            }
        }
        if (j + 1 < ls->nlat && (ls->lats[j + 1].tag != L->tag + L->n ||
                                 ls->lats[j + 1].arc_from != L->arc_from + L->arc_start[L->n]))
            return 0; /* one pool, lattice after lattice */
        nodes += L->n;
        arcs += L->arc_start[L->n];
        if (L->n > max_n) max_n = L->n;
    }
    return ls->nlat >= 1 && nodes == ls->nnodes && arcs == ls->narcs && chars == ls->nchar_arcs &&
           max_tag == ls->max_tag && max_char == ls->max_char && max_word == ls->max_word &&
           max_deg == ls->max_indegree && max_n == ls->max_n;
}

static dbx_latticeset *parse_ok(const char *text, size_t len)
{
    dbx_latticeset *ls = NULL;
    dbx_status s = dbx_latticeset_parse("t.txt", text, len, &ls);
    CU_ASSERT_EQUAL(s, DBX_OK);
    if (s != DBX_OK) printf("\n  unexpected error: %s\n", dbx_last_error());
    if (ls) CU_ASSERT(lattices_valid(ls));
    return ls;
}

/* Parses text[0..len) as "t.txt" expecting DBX_EPARSE with exactly the message msg. */
static void lat_err_n(const char *text, size_t len, const char *msg)
{
    dbx_latticeset *ls = (dbx_latticeset *)&ls; /* must be reset to NULL */
    dbx_status s = dbx_latticeset_parse("t.txt", text, len, &ls);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NULL(ls);
    int ok = strcmp(dbx_last_error(), msg) == 0;
    CU_ASSERT(ok);
    if (!ok)
        printf("\n  input '%.50s':\n   got  '%s'\n   want '%s'\n", text, dbx_last_error(), msg);
    if (s == DBX_OK) dbx_latticeset_free(ls);
}

static void lat_err(const char *text, const char *msg) { lat_err_n(text, strlen(text), msg); }

/* Checks that an error message reads "name:L:C: expected " with L:C the start of a token of
 * text (a control byte, or the end of the input). */
static int message_points_at_token(const char *name, const char *text, size_t len)
{
    const char *e = dbx_last_error();
    size_t nl = strlen(name), line = 0, col = 0;
    int used = 0;
    if (strncmp(e, name, nl) != 0 ||
        sscanf(e + nl, ":%zu:%zu: expected %n", &line, &col, &used) < 2 || used == 0 || line < 1 ||
        col < 1)
        return 0;
    size_t off = 0;
    for (size_t l = 1; l < line; l++) {
        const char *nlp = memchr(text + off, '\n', len - off);
        if (!nlp) return 0;
        off = (size_t)(nlp - text) + 1;
    }
    const char *eol = memchr(text + off, '\n', len - off);
    size_t line_len = (eol ? (size_t)(eol - text) : len) - off;
    if (col - 1 > line_len) return 0;
    off += col - 1;
    if (off == len) return 1;
    unsigned char c = (unsigned char)text[off];
    if (is_blank(c)) return 0;
    if (c < 0x20 || c == 0x7f) return 1; /* a control byte is reported where it stands */
    return off == 0 || is_blank((unsigned char)text[off - 1]) ||
           (off == 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0);
}

/* ---- well-formed input ----------------------------------------------------------------- */

/* Lattice 0: 4 nodes; node 2 has a character arc (from 1) and a word arc (from 0); node 3 a
 * character arc and two word arcs. Lattice 1: 2 nodes, node 1 without arcs. */
static const char example[] = "2\n"
                              "4\n0 1 2 1\n"
                              "0\n1 0 5\n"
                              "2 1 6 0 7\n3 2 8 1 9 0 10\n"
                              "\n2\n"
                              "3 0\n0\n"
                              "0\n";

static void test_lattice_example(void)
{
    dbx_latticeset *ls = parse_ok(example, strlen(example));
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_EQUAL(ls->nlat, 2);
    CU_ASSERT_EQUAL(ls->nnodes, 6);
    CU_ASSERT_EQUAL(ls->narcs, 6);
    CU_ASSERT_EQUAL(ls->nchar_arcs, 3);
    CU_ASSERT_EQUAL(ls->max_tag, 3);
    CU_ASSERT_EQUAL(ls->max_char, 8);
    CU_ASSERT_EQUAL(ls->max_word, 10);
    CU_ASSERT_EQUAL(ls->max_indegree, 3);
    CU_ASSERT_EQUAL(ls->max_n, 4);
    const dbx_lattice *L = &ls->lats[0];
    CU_ASSERT_EQUAL_FATAL(L->n, 4);
    static const int32_t tag0[4] = {0, 1, 2, 1}, start0[5] = {0, 0, 1, 3, 6};
    static const int32_t from0[6] = {0, 1, 0, 2, 1, 0}, id0[6] = {5, 6, 7, 8, 9, 10};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(L->tag[i], tag0[i]);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(L->arc_start[i], start0[i]);
    for (int a = 0; a < 6; a++) {
        CU_ASSERT_EQUAL(L->arc_from[a], from0[a]);
        CU_ASSERT_EQUAL(L->arc_id[a], id0[a]);
    }
    L = &ls->lats[1];
    CU_ASSERT_EQUAL_FATAL(L->n, 2);
    CU_ASSERT_EQUAL(L->tag[0], 3);
    CU_ASSERT_EQUAL(L->tag[1], 0);
    CU_ASSERT_EQUAL(L->arc_start[0], 0);
    CU_ASSERT_EQUAL(L->arc_start[1], 0);
    CU_ASSERT_EQUAL(L->arc_start[2], 0);
    /* The arrays of successive lattices are slices of one pool. */
    CU_ASSERT_PTR_EQUAL(ls->lats[1].tag, ls->lats[0].tag + 4);
    CU_ASSERT_PTR_EQUAL(ls->lats[1].arc_from, ls->lats[0].arc_from + 6);
    dbx_latticeset_free(ls);
    dbx_latticeset_free(NULL);

    /* One node, no arcs at all: no character or word ids. */
    ls = parse_ok("1 1 7 0", 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_EQUAL(ls->narcs, 0);
    CU_ASSERT_EQUAL(ls->max_char, -1);
    CU_ASSERT_EQUAL(ls->max_word, -1);
    CU_ASSERT_EQUAL(ls->max_tag, 7);
    CU_ASSERT_EQUAL(ls->max_indegree, 0);
    dbx_latticeset_free(ls);

    /* The largest int32 values are accepted; "-0" is 0. */
    ls = parse_ok("1 2 2147483647 -0 0 1 0 2147483647", 34);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_EQUAL(ls->max_tag, 2147483647);
    CU_ASSERT_EQUAL(ls->lats[0].tag[1], 0);
    CU_ASSERT_EQUAL(ls->max_char, 2147483647);
    dbx_latticeset_free(ls);
}

static void test_lattice_whitespace(void)
{
    /* The example with CRLF, tabs, blank lines, a BOM, no final newline; then all on one line. */
    const char *crlf = "\xEF\xBB\xBF\r\n  2\r\n4\t\r\n0\t1 2  1\r\n0\r\n1 0 5\r\n2 1 6 0 7\r\n"
                       "3 2 8 1 9 0 10\r\n\r\n\r\n2\r\n3 0\r\n0\r\n0";
    const char *flat = "2 4 0 1 2 1 0 1 0 5 2 1 6 0 7 3 2 8 1 9 0 10 2 3 0 0 0";
    dbx_latticeset *a = parse_ok(example, strlen(example));
    dbx_latticeset *b = parse_ok(crlf, strlen(crlf));
    dbx_latticeset *c = parse_ok(flat, strlen(flat));
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* Same pool contents: 6 tags + 8 starts + 6 froms + 6 ids. */
    CU_ASSERT(memcmp(a->lats[0].tag, b->lats[0].tag, 26 * sizeof(int32_t)) == 0);
    CU_ASSERT(memcmp(a->lats[0].tag, c->lats[0].tag, 26 * sizeof(int32_t)) == 0);
    dbx_latticeset_free(a);
    dbx_latticeset_free(b);
    dbx_latticeset_free(c);
    /* Line and column after CRLF, tabs and a BOM (columns count bytes). */
    lat_err("\xEF\xBB\xBF"
            "1\r\n\t2\r\n \t0 1\r\n0\r\n\t\t1 0 -3\r\n",
            "t.txt:5:7: expected the character ID of arc 0 into node 1 of lattice 0, an integer "
            ">= 0 (got '-3')");
    lat_err("\xEF\xBB\xBFx", "t.txt:1:4: expected N_LATTICES, an integer >= 1 (got 'x')");
    /* A lone CR does not end a line. */
    lat_err("1\r2\r0 1\r0\r1 0 x", "t.txt:1:15: expected the character ID of arc 0 into node 1 "
                                   "of lattice 0, an integer >= 0 (got 'x')");
}

/* ---- malformed input: one kind at a time, exact messages -------------------------------- */

static void test_lattice_err_arcs(void)
{
    /* FROM == i, FROM > i, negative FROM. */
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n2 2 6 0 7\n",
            "t.txt:6:3: expected FROM of arc 0 into node 2 of lattice 0, a node 0..1 (got '2')");
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n2 1 6 5 7\n",
            "t.txt:6:7: expected FROM of arc 1 into node 2 of lattice 0, a node 0..1 (got '5')");
    lat_err("1\n3\n0 1 2\n0\n1 -1 5\n2 1 6 0 7\n",
            "t.txt:5:3: expected FROM of arc 0 into node 1 of lattice 0, a node 0..0 (got '-1')");
    /* Node 0 with arcs. */
    lat_err("1\n3\n0 1 2\n1 0 0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:4:1: expected N_ARCS of node 0 of lattice 0, 0 as node 0 is the start node "
            "(got '1')");
    /* Negative ids and tags; negative N_ARCS. */
    lat_err("1\n3\n0 1 2\n0\n1 0 -5\n2 1 6 0 7\n",
            "t.txt:5:5: expected the character ID of arc 0 into node 1 of lattice 0, an integer "
            ">= 0 (got '-5')");
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n2 1 6 0 -7\n",
            "t.txt:6:9: expected the word ID of arc 1 into node 2 of lattice 0, an integer >= 0 "
            "(got '-7')");
    lat_err("1\n3\n0 -1 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:3: expected the tag of node 1 of lattice 0, an integer >= 0 (got '-1')");
    lat_err("1\n3\n0 1 2\n0\n-1 0 5\n",
            "t.txt:5:1: expected N_ARCS of node 1 of lattice 0, an integer >= 0 (got '-1')");
    /* The second lattice is numbered 1. */
    lat_err("2\n1\n0\n0\n2\n0 0\n0\n1 1 3\n",
            "t.txt:8:3: expected FROM of arc 0 into node 1 of lattice 1, a node 0..0 (got '1')");
}

static void test_lattice_err_numbers(void)
{
    lat_err("1\n3\n0 1 x2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:5: expected the tag of node 2 of lattice 0, an integer >= 0 (got 'x2')");
    lat_err("1\n3\n0 1 1.5\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:5: expected the tag of node 2 of lattice 0, an integer >= 0 (got '1.5')");
    lat_err("1\n3\n0 +1 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:3: expected the tag of node 1 of lattice 0, an integer >= 0 (got '+1')");
    lat_err("1\n3\n0 0x10 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:3: expected the tag of node 1 of lattice 0, an integer >= 0 (got '0x10')");
    lat_err("1\n3\n0 1 2\n0\n1 0 5a\n", "t.txt:5:5: expected the character ID of arc 0 into node "
                                        "1 of lattice 0, an integer >= 0 (got '5a')");
    lat_err("1\n3\n0 1 2\n0\n1 0 -\n", "t.txt:5:5: expected the character ID of arc 0 into node 1 "
                                       "of lattice 0, an integer >= 0 (got '-')");
    lat_err("one\n", "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got 'one')");
    lat_err("1\nthree\n0 0\n", "t.txt:2:1: expected LENGTH of lattice 0, an integer >= 1 (got "
                               "'three')");
    /* Numbers beyond 32 bits, including very long ones. */
    lat_err("1\n3\n0 2147483648 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:3:3: expected the tag of node 1 of lattice 0, an "
            "integer >= 0 (got '2147483648', beyond 32 bits)");
    lat_err("1\n3\n0 1 2\n0\n1 0 99999999999999999999999\n",
            "t.txt:5:5: expected the character ID of arc 0 into node 1 of lattice 0, an integer "
            ">= 0 (got '99999999999999999999999', beyond 32 bits)");
    lat_err("1\n3\n0 1 2\n0\n1 -2147483649 0\n",
            "t.txt:5:3: expected FROM of arc 0 into node 1 of lattice 0, a node 0..0 (got "
            "'-2147483649', beyond 32 bits)");
    lat_err("4294967297\n", "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got '4294967297', "
                            "beyond 32 bits)");
    /* Long tokens are shortened in messages. */
    char longtok[200];
    memset(longtok, '7', sizeof longtok);
    longtok[sizeof longtok - 1] = '\0';
    char want[200];
    snprintf(want, sizeof want,
             "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got '%.40s...', beyond 32 bits)",
             longtok);
    lat_err(longtok, want);
}

static void test_lattice_err_counts(void)
{
    /* LENGTH 0 and N_LATTICES 0. */
    lat_err("1\n0\n0\n0\n", "t.txt:2:1: expected LENGTH of lattice 0, an integer >= 1 (got '0')");
    lat_err("0\n", "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got '0')");
    /* Counts that the rest of the input cannot hold are reported at the count, before
     * anything is reserved for them: 13 tokens follow N_LATTICES (>= 3 per lattice), 12
     * follow LENGTH (>= 2 per node), 4 follow N_ARCS (2 per arc). */
    lat_err("2000000000\n3\n0 1 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:1:1: expected N_LATTICES, at most 4 for the 13 tokens that follow (got "
            "'2000000000')");
    lat_err("1\n2000000000\n0 1 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:2:1: expected LENGTH of lattice 0, at most 6 for the 12 tokens that follow (got "
            "'2000000000')");
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n3 1 6 0 7\n",
            "t.txt:6:1: expected N_ARCS of node 2 of lattice 0, at most 2 for the 4 tokens that "
            "follow (got '3')");
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n2147483647 1 6 0 7\n",
            "t.txt:6:1: expected N_ARCS of node 2 of lattice 0, at most 2 for the 4 tokens that "
            "follow (got '2147483647')");
    lat_err("1\n2\n0\n0\n", "t.txt:2:1: expected LENGTH of lattice 0, at most 1 for the 2 tokens "
                            "that follow (got '2')");
    lat_err("3", "t.txt:1:1: expected N_LATTICES, at most 0 for the 0 tokens that follow (got "
                 "'3')");
    /* Counts within what follows but larger than the data: the end of the input is reported. */
    lat_err("2\n3\n0 1 2\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:7:1: expected LENGTH of lattice 1, an integer >= 1 (got end of file)");
    lat_err("1\n4\n0 1 2 3\n0\n1 0 5\n2 1 6 0 7\n",
            "t.txt:7:1: expected N_ARCS of node 3 of lattice 0, an integer >= 0 (got end of file)");
}

static void test_lattice_err_trailing(void)
{
    lat_err("1\n3\n0 1 2\n0\n1 0 5\n2 1 6 0 7\n8\n",
            "t.txt:7:1: expected end of file after the 1 lattice declared (got '8')");
    lat_err("2\n1\n0\n0\n1 0 0\n  junk",
            "t.txt:6:3: expected end of file after the 2 lattices declared (got 'junk')");
    lat_err_n("1 1 0 0 \0", 9,
              "t.txt:1:9: expected end of file after the 1 lattice declared (got byte 0x00)");
}

static void test_lattice_err_binary(void)
{
    /* Complete files, so that the counts hold and the parser reaches the byte. */
    static const char nul[] = "1\n3\n0 1\0 2\n0\n1 0 5\n2 1 6 0 7\n";
    lat_err_n(nul, sizeof nul - 1,
              "t.txt:3:4: expected the tag of node 2 of lattice 0, an integer >= 0 (got byte "
              "0x00)");
    lat_err_n("\0\0\0\0", 4, "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got byte 0x00)");
    lat_err("\x01", "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got byte 0x01)");
    lat_err("1\n3\n0 1 2\n\x1b[0m 1 0 5\n2 1 6 0 7\n",
            "t.txt:4:1: expected N_ARCS of node 0 of lattice 0, 0 as node 0 is the start node (got "
            "byte 0x1b)");
    lat_err("1 2\v0 1 0 1 0 5", "t.txt:1:4: expected the tag of node 0 of lattice 0, an integer "
                                ">= 0 (got byte 0x0b)");
    lat_err("1 2\f0 1 0 1 0 5", "t.txt:1:4: expected the tag of node 0 of lattice 0, an integer "
                                ">= 0 (got byte 0x0c)");
    lat_err("1 1 0 0\x7f", "t.txt:1:8: expected end of file after the 1 lattice declared (got "
                           "byte 0x7f)");
    const unsigned char elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    lat_err_n((const char *)elf, sizeof elf,
              "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got byte 0x7f)");
    /* Bytes >= 0x80 are text, not numbers. */
    lat_err("1 1 caf\xc3\xa9 0", "t.txt:1:5: expected the tag of node 0 of lattice 0, an integer "
                                 ">= 0 (got 'caf\xc3\xa9')");
    /* A control byte after a count that the rest cannot hold: the count is reported. */
    lat_err("1 5 0 0\x01", "t.txt:1:3: expected LENGTH of lattice 0, at most 1 for the 2 tokens "
                           "that follow (got '5')");
}

static void test_lattice_err_empty(void)
{
    lat_err("", "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got end of file: the file is "
                "empty)");
    lat_err("\n \n\t\r\n", "t.txt:4:1: expected N_LATTICES, an integer >= 1 (got end of file: the "
                           "file is empty)");
    lat_err("\xEF\xBB\xBF", "t.txt:1:4: expected N_LATTICES, an integer >= 1 (got end of file: "
                            "the file is empty)");
    lat_err_n(NULL, 0,
              "t.txt:1:1: expected N_LATTICES, an integer >= 1 (got end of file: the "
              "file is empty)");
}

static void test_lattice_args(void)
{
    dbx_latticeset *ls = NULL;
    CU_ASSERT_EQUAL(dbx_latticeset_parse("t", "1 1 0 0", 7, NULL), DBX_EINVAL);
    CU_ASSERT_EQUAL(dbx_latticeset_parse("t", NULL, 7, &ls), DBX_EINVAL);
    CU_ASSERT_PTR_NULL(ls);
    CU_ASSERT_EQUAL(dbx_latticeset_read("x", NULL), DBX_EINVAL);
    /* A NULL name still gives a usable message. */
    CU_ASSERT_EQUAL(dbx_latticeset_parse(NULL, "1 1 0 1", 7, &ls), DBX_EPARSE);
    CU_ASSERT_STRING_EQUAL(dbx_last_error(), "<input>:1:7: expected N_ARCS of node 0 of lattice "
                                             "0, 0 as node 0 is the start node (got '1')");
}

/* ---- every truncation, random mutations --------------------------------------------------- */

static void test_lattice_truncation(void)
{
    const char *text = example;
    size_t len = strlen(text);
    /* Every prefix that ends after a whole token but the last (and after the blank that
     * follows it) is an error, reported at a count or at the end of the input. */
    size_t ends[64];
    int ntok = 0;
    for (size_t i = 0; i < len; i++)
        if (!is_blank((unsigned char)text[i]) &&
            (i + 1 == len || is_blank((unsigned char)text[i + 1])))
            if (ntok < 64) ends[ntok++] = i + 1;
    CU_ASSERT_EQUAL_FATAL(ntok, 27);
    for (int k = 0; k + 1 < ntok; k++) {
        for (size_t cut = ends[k]; cut <= ends[k] + 1; cut++) {
            dbx_latticeset *ls = NULL;
            dbx_status s = dbx_latticeset_parse("p.txt", text, cut, &ls);
            CU_ASSERT_EQUAL(s, DBX_EPARSE);
            CU_ASSERT_PTR_NULL(ls);
            int ok = s == DBX_EPARSE && message_points_at_token("p.txt", text, cut);
            CU_ASSERT(ok);
            if (!ok) printf("\n  prefix of %zu bytes: %s\n", cut, s ? dbx_last_error() : "ok");
            dbx_latticeset_free(ls);
        }
    }
    /* Every byte prefix: never a crash; OK only when a number of the last node was cut short. */
    for (size_t cut = 0; cut <= len; cut++) {
        dbx_latticeset *ls = NULL;
        dbx_status s = dbx_latticeset_parse("p.txt", text, cut, &ls);
        if (s == DBX_OK) {
            CU_ASSERT(cut >= len - 2);
            CU_ASSERT(lattices_valid(ls));
            dbx_latticeset_free(ls);
        } else {
            CU_ASSERT_EQUAL(s, DBX_EPARSE);
            CU_ASSERT(message_points_at_token("p.txt", text, cut));
        }
    }
}

static void test_lattice_mutations(void)
{
    dbx_lattice_gen_opts o = {4, 30, 40, 5, 11};
    char *base = NULL;
    size_t blen = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &base, &blen), DBX_OK);
    char *buf = malloc(blen + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    static const char interesting[] = "0123456789- \n\t\r\0\x01\x7f\xff+x";
    uint64_t rs = 12345;
    int nok = 0, nerr = 0, bad_msg = 0, bad_set = 0, bad_status = 0;
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(buf, base, blen);
        size_t n = blen;
        int muts = 1 + (int)dbx__splitmix64_below(&rs, 3);
        for (int m = 0; m < muts; m++) {
            size_t at = (size_t)dbx__splitmix64_below(&rs, n);
            uint64_t kind = dbx__splitmix64_below(&rs, 4);
            char c = dbx__splitmix64_below(&rs, 2)
                         ? (char)dbx__splitmix64_below(&rs, 256)
                         : interesting[dbx__splitmix64_below(&rs, sizeof interesting - 1)];
            if (kind == 0 || kind == 1) {
                buf[at] = c; /* replace */
            } else if (kind == 2 && n + 1 < blen + 16) {
                memmove(buf + at + 1, buf + at, n - at); /* insert */
                buf[at] = c;
                n++;
            } else if (n > 1) {
                memmove(buf + at, buf + at + 1, n - at - 1); /* delete */
                n--;
            }
        }
        dbx_latticeset *ls = NULL;
        dbx_status s = dbx_latticeset_parse("m.txt", buf, n, &ls);
        if (s == DBX_OK) {
            nok++;
            bad_set += !lattices_valid(ls);
        } else if (s == DBX_EPARSE) {
            nerr++;
            bad_set += ls != NULL;
            if (!message_points_at_token("m.txt", buf, n)) {
                if (bad_msg++ < 5) printf("\n  bad message: %s\n", dbx_last_error());
            }
        } else {
            bad_status++;
        }
        dbx_latticeset_free(ls);
    }
    printf("\n  20000 mutated files: %d parse, %d errors ", nok, nerr);
    CU_ASSERT_EQUAL(bad_msg, 0);
    CU_ASSERT_EQUAL(bad_set, 0);
    CU_ASSERT_EQUAL(bad_status, 0);
    CU_ASSERT(nok > 100 && nerr > 10000); /* both outcomes are exercised */
    free(buf);
    free(base);
}

/* ---- big inputs ---------------------------------------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t n, cap;
} strbuf;

static void sb_puts(strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *q = realloc(b->p, nc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n + 1);
    b->n += n;
}

static void test_lattice_big(void)
{
    /* One lattice of a million nodes, each with a character arc: linear and quick. */
    const int n = 1000000;
    strbuf b = {0};
    char item[64];
    snprintf(item, sizeof item, "1\n%d\n", n);
    sb_puts(&b, item);
    for (int i = 0; i < n; i++)
        sb_puts(&b, i % 2 ? "1 " : "0 ");
    sb_puts(&b, "\n0\n");
    for (int i = 1; i < n; i++) {
        snprintf(item, sizeof item, "1 %d %d\n", i - 1, i % 1000);
        sb_puts(&b, item);
    }
    dbx_latticeset *ls = NULL;
    double t0 = now_s();
    CU_ASSERT_EQUAL_FATAL(dbx_latticeset_parse("big.txt", b.p, b.n, &ls), DBX_OK);
    double dt = now_s() - t0;
    printf("\n  %zu MB, 1 lattice of %d nodes: %.1f ms ", b.n >> 20, n, dt * 1e3);
    CU_ASSERT(dt < 5.0);
    CU_ASSERT_EQUAL(ls->lats[0].n, n);
    CU_ASSERT_EQUAL(ls->narcs, n - 1);
    CU_ASSERT_EQUAL(ls->nchar_arcs, n - 1);
    CU_ASSERT_EQUAL(ls->max_char, 999);
    CU_ASSERT(lattices_valid(ls));
    dbx_latticeset_free(ls);
    /* A huge LENGTH in front of the same megabytes fails at once, at the count. */
    size_t head = strlen("1\n1000000\n");
    strbuf h = {0};
    sb_puts(&h, "1\n2000000000\n");
    sb_puts(&h, b.p + head);
    t0 = now_s();
    CU_ASSERT_EQUAL(dbx_latticeset_parse("big.txt", h.p, h.n, &ls), DBX_EPARSE);
    CU_ASSERT(now_s() - t0 < 5.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "big.txt:2:1: expected LENGTH of lattice 0, "
                                                    "at most 1999999 for the 3999998 tokens"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "(got '2000000000')"));
    free(h.p);
    /* 5 MB of one digit run: one number beyond 32 bits, reported at 1:1. */
    b.n = 0;
    for (int i = 0; i < 5 * 1024 * 1024 / 16; i++)
        sb_puts(&b, "9999999999999999");
    t0 = now_s();
    CU_ASSERT_EQUAL(dbx_latticeset_parse("junk.txt", b.p, b.n, &ls), DBX_EPARSE);
    CU_ASSERT(now_s() - t0 < 1.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "junk.txt:1:1: expected N_LATTICES"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "beyond 32 bits"));
    free(b.p);
}

/* ---- files ----------------------------------------------------------------------------- */

static void test_lattice_files(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dbx_test_tmp_path("lattice.txt"));
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(example, f);
    fclose(f);
    dbx_latticeset *ls = NULL;
    CU_ASSERT_EQUAL(dbx_latticeset_read(path, &ls), DBX_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
    CU_ASSERT_EQUAL(ls->nlat, 2);
    dbx_latticeset_free(ls);
    /* Errors name the path. */
    f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("1\n2\n0 0\n0\n1 1 4\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(dbx_latticeset_read(path, &ls), DBX_EPARSE);
    char want[4200];
    snprintf(want, sizeof want,
             "%s:5:3: expected FROM of arc 0 into node 1 of lattice 0, a node 0..0 (got '1')",
             path);
    CU_ASSERT_STRING_EQUAL(dbx_last_error(), want);
    unlink(path);
    CU_ASSERT_EQUAL(dbx_latticeset_read(path, &ls), DBX_EIO);
    CU_ASSERT_PTR_NULL(ls);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "lattice.txt: cannot open: "));
    CU_ASSERT_EQUAL(dbx_latticeset_read("/", &ls), DBX_EIO);
}

/* ---- generator ------------------------------------------------------------------------- */

static void test_lattice_gen_determinism(void)
{
    dbx_lattice_gen_opts o = {200, 0, 0, 0, 42};
    char *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &a, &na), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &b, &nb), DBX_OK);
    o.seed = 43;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &c, &nc), DBX_OK);
    CU_ASSERT(na == nb && memcmp(a, b, na) == 0);
    CU_ASSERT(na != nc || memcmp(a, c, na) != 0);
    CU_ASSERT_EQUAL(strlen(a), na);
    CU_ASSERT(strncmp(a, "200\n", 4) == 0);
    /* The first lattices do not depend on how many are asked for (after the count line). */
    o.seed = 42;
    o.nlat = 10;
    free(b);
    b = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &b, &nb), DBX_OK);
    CU_ASSERT(strncmp(b, "10\n", 3) == 0);
    CU_ASSERT(nb - 3 < na - 4 && memcmp(a + 4, b + 3, nb - 3) == 0);
    free(a);
    free(b);
    free(c);
    /* Invalid options. */
    char *t = (char *)&t;
    size_t n = 1;
    dbx_lattice_gen_opts bad[] = {
        {0, 0, 0, 0, 1}, {-3, 0, 0, 0, 1}, {5, -1, 0, 0, 1}, {5, 0, -1, 0, 1}, {5, 0, 0, -1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(dbx_lattice_generate(&bad[i], &t, &n), DBX_EINVAL);
        CU_ASSERT_PTR_NULL(t);
    }
    CU_ASSERT_EQUAL(dbx_lattice_generate(NULL, &t, &n), DBX_EINVAL);
    CU_ASSERT_EQUAL(dbx_lattice_generate(&o, NULL, &n), DBX_EINVAL);
}

static void test_lattice_gen_shapes(void)
{
    enum { NLAT = 2000, CHARS = 2212, WORDS = 10130, TAGS = 18 };
    dbx_lattice_gen_opts o = {NLAT, 0, 0, 0, 7};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&o, &text, &len), DBX_OK);
    dbx_latticeset *ls = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_latticeset_parse("gen", text, len, &ls), DBX_OK);
    CU_ASSERT(lattices_valid(ls));
    CU_ASSERT_EQUAL(ls->nlat, NLAT);
    double mean_n = (double)ls->nnodes / NLAT;
    int32_t min_n = INT32_MAX;
    int64_t deg[5] = {0}, span[5] = {0}, bad_shape = 0, char_freq[2] = {0};
    int64_t tag_count[TAGS] = {0};
    /* How often the tag of a node is the majority tag of its key: the id of the longest word
     * arc entering it, else of its character arc. */
    int32_t *votes = calloc((size_t)(CHARS + WORDS) * TAGS, sizeof(int32_t));
    CU_ASSERT_PTR_NOT_NULL_FATAL(votes);
    for (int pass = 0; pass < 2; pass++) {
        int64_t agree = 0, labelled = 0;
        for (int32_t j = 0; j < ls->nlat; j++) {
            const dbx_lattice *L = &ls->lats[j];
            if (pass == 0 && L->n < min_n) min_n = L->n;
            bad_shape += pass == 0 && L->tag[0] != 0;
            for (int32_t i = 1; i < L->n; i++) {
                int32_t b = L->arc_start[i], e = L->arc_start[i + 1], key = -1, longest = 0;
                if (pass == 0) {
                    deg[e - b <= 4 ? e - b : 4]++;
                    bad_shape += e - b < 1 || e - b > 4 || L->arc_from[b] != i - 1;
                    tag_count[L->tag[i] < TAGS ? L->tag[i] : 0]++;
                    bad_shape += L->tag[i] < 1 || L->tag[i] >= TAGS;
                    char_freq[0] += L->arc_id[b] == 0;
                    char_freq[1] += L->arc_id[b] == 100;
                }
                for (int32_t a = b; a < e; a++) {
                    int32_t s = i - L->arc_from[a];
                    if (pass == 0) {
                        span[s <= 4 ? s : 0]++;
                        bad_shape += s > 4 || L->arc_id[a] >= (s == 1 ? CHARS : WORDS);
                    }
                    if (s > longest) {
                        longest = s;
                        key = s == 1 ? L->arc_id[a] : CHARS + L->arc_id[a];
                    }
                }
                if (key < 0 || key >= CHARS + WORDS) continue;
                if (pass == 0) {
                    votes[(size_t)key * TAGS + (size_t)L->tag[i]]++;
                } else {
                    int32_t best = 0;
                    for (int t = 1; t < TAGS; t++)
                        if (votes[(size_t)key * TAGS + t] > votes[(size_t)key * TAGS + best])
                            best = t;
                    agree += best == L->tag[i];
                    labelled++;
                }
            }
        }
        if (pass == 1) {
            double acc = (double)agree / (double)labelled;
            printf("\n  %d lattices: mean nodes %.1f (%d..%d), in-degree 1:%lld 2:%lld 3:%lld "
                   "4:%lld, word spans 2:%lld 3:%lld 4:%lld, tag from key %.3f ",
                   NLAT, mean_n, (int)min_n, (int)ls->max_n, (long long)deg[1], (long long)deg[2],
                   (long long)deg[3], (long long)deg[4], (long long)span[2], (long long)span[3],
                   (long long)span[4], acc);
            CU_ASSERT(acc > 0.9);
        }
    }
    CU_ASSERT_EQUAL(bad_shape, 0);
    CU_ASSERT(mean_n > 35 && mean_n < 55);
    CU_ASSERT(min_n >= 3 && ls->max_n <= 200 && ls->max_n >= 100);
    CU_ASSERT(ls->max_indegree == 4);
    CU_ASSERT(deg[1] > deg[3] && deg[2] > deg[3] && deg[3] > deg[4] && deg[4] > 0);
    CU_ASSERT(span[0] == 0 && span[2] > span[3] && span[3] > span[4] && span[4] > 0);
    CU_ASSERT(ls->max_tag == TAGS - 1 && ls->max_char < CHARS && ls->max_word < WORDS);
    CU_ASSERT(ls->max_char > CHARS / 2 && ls->max_word > WORDS / 2);
    CU_ASSERT(char_freq[0] > 10 * char_freq[1]); /* Zipf-like */
    int distinct = 0;
    for (int t = 1; t < TAGS; t++)
        distinct += tag_count[t] > 0;
    CU_ASSERT(distinct == TAGS - 1);
    CU_ASSERT(tag_count[1] < ls->nnodes * 8 / 10); /* not all "outside" */
    free(votes);
    dbx_latticeset_free(ls);
    free(text);
    /* Small vocabularies; a single tag. */
    dbx_lattice_gen_opts s = {50, 3, 2, 1, 9};
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_generate(&s, &text, &len), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_latticeset_parse("gen", text, len, &ls), DBX_OK);
    CU_ASSERT(ls->max_tag == 0 && ls->max_char <= 2 && ls->max_word <= 1);
    dbx_latticeset_free(ls);
    free(text);
}

/* ---- the real files, when present ------------------------------------------------------- */

static void test_lattice_real(void)
{
    char path[4096];
    const char *dir = getenv("DBX_DATA_DIR");
    if (dir)
        snprintf(path, sizeof path, "%s/lattice/train.txt", dir);
    else
        snprintf(path, sizeof path, "%s", dbx_test_src_path("../shared/data/lattice/train.txt"));
    struct stat sb;
    if (stat(path, &sb) != 0) {
        printf("\n  skipped: %s not found (set DBX_DATA_DIR) ", path);
        return;
    }
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        dbx_latticeset *ls = NULL;
        double t0 = now_s();
        dbx_status s = dbx_latticeset_read(path, &ls);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
        CU_ASSERT(lattices_valid(ls));
        CU_ASSERT_EQUAL(ls->nlat, 1147);
        CU_ASSERT_EQUAL(ls->nnodes, 50618);
        CU_ASSERT_EQUAL(ls->narcs, 76248);
        CU_ASSERT_EQUAL(ls->nchar_arcs, 49471);
        CU_ASSERT_EQUAL(ls->max_tag, 17);
        CU_ASSERT_EQUAL(ls->max_char, 2211);
        CU_ASSERT_EQUAL(ls->max_word, 10129);
        CU_ASSERT_EQUAL(ls->max_indegree, 5);
        CU_ASSERT_EQUAL(ls->max_n, 211);
        dbx_latticeset_free(ls);
    }
    printf("\n  %s: read in %.1f ms ", path, best * 1e3);
    CU_ASSERT(best < 0.1);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_lattice_example),
        DBX_TEST(test_lattice_whitespace),
        DBX_TEST(test_lattice_err_arcs),
        DBX_TEST(test_lattice_err_numbers),
        DBX_TEST(test_lattice_err_counts),
        DBX_TEST(test_lattice_err_trailing),
        DBX_TEST(test_lattice_err_binary),
        DBX_TEST(test_lattice_err_empty),
        DBX_TEST(test_lattice_args),
        DBX_TEST(test_lattice_truncation),
        DBX_TEST(test_lattice_mutations),
        DBX_TEST(test_lattice_big),
        DBX_TEST(test_lattice_files),
        DBX_TEST(test_lattice_gen_determinism),
        DBX_TEST(test_lattice_gen_shapes),
        DBX_TEST(test_lattice_real),
        DBX_TEST_END,
    };
    return dbx_test_run("lattice_data", tests);
}
