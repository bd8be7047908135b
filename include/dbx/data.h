/* dbx data sets: readers for SST-style binary treebanks, token|TAG sentences and word/character
 * lattices, a string vocabulary, and deterministic generators of synthetic SST-like treebanks
 * and lattices.
 *
 * Readers never crash on bad input: they return DBX_EPARSE (or DBX_EIO) and leave a message
 * "file:line:col: expected ..." in dbx_last_error(). Results are owned by the caller and
 * freed with the matching _free(), which accepts NULL. Not thread-safe per object.
 */
#ifndef DBX_DATA_H
#define DBX_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- vocabulary ------------------------------------------------------------------------ */
typedef struct dbx_vocab dbx_vocab;

dbx_status dbx_vocab_new(dbx_vocab **out);
void dbx_vocab_free(dbx_vocab *v);
/* Returns the id of s (len bytes), adding it unless the vocabulary is frozen; a frozen
 * vocabulary returns the id of "<unk>" (added as id 0 by dbx_vocab_new) for unknown
 * strings. Returns -1 only on allocation failure. */
int32_t dbx_vocab_id(dbx_vocab *v, const char *s, size_t len);
/* Lookup without adding: -1 if absent. */
int32_t dbx_vocab_find(const dbx_vocab *v, const char *s, size_t len);
void dbx_vocab_freeze(dbx_vocab *v);
int32_t dbx_vocab_size(const dbx_vocab *v);
const char *dbx_vocab_str(const dbx_vocab *v, int32_t id);

/* ---- binary treebanks (SST) ------------------------------------------------------------ */
/* One tree; nodes in post-order (children before parents; the root is node n-1).
 * A preterminal "(label token)" has left = right = -1 and word >= 0; an inner node has
 * word = -1 and one (unary) or two children. */
typedef struct dbx_tree {
    int32_t n;        /* nodes */
    int32_t *left;    /* (n) child index or -1 */
    int32_t *right;   /* (n) child index or -1 (unary inner node: right = -1) */
    int32_t *label;   /* (n) 0..4 */
    int32_t *word;    /* (n) vocabulary id or -1 */
    int32_t *depth;   /* (n) height above the leaves: preterminal 1, inner 1 + max(children) */
} dbx_tree;

typedef struct dbx_treebank {
    int32_t ntrees;
    dbx_tree *trees;  /* (ntrees); arrays point into one pool owned by the treebank */
    int64_t nnodes;   /* total nodes */
    int64_t nwords;   /* total preterminals */
    int32_t max_depth;
} dbx_treebank;

typedef struct dbx_tree_opts {
    int binary_only;  /* 1: reject inner nodes with other than two children (default 1) */
    int max_label;    /* labels must be 0..max_label (default 4) */
    int unlabelled;   /* 1: labels are optional (default 0: required). A tree may then be
                         written without them, "((the cat) (sat down))": a node is '(' ITEM
                         [ITEM] ')', an item a node or a bare token (a preterminal), "(token)"
                         the preterminal itself; every node of such a tree has label 0. A tree
                         whose root starts with a label 0..max_label followed by a token or a
                         '(' is read as labelled (every node then needs its label), so
                         labelled treebanks read as before. */
} dbx_tree_opts;

/* Reads PTB-style S-expressions, one tree per line: (3 (2 An) (3 (4 good) (2 film))).
 * Words are mapped through vocab (borrowed; frozen vocabularies map unknown words to <unk>).
 * name is used in error messages ("train.txt:12:7: expected ')'"). Empty lines are skipped;
 * a file without any tree is an error. Lines of any length are handled. Not a crash on
 * binary input: NUL bytes and other control bytes are reported as errors. */
dbx_status dbx_treebank_parse(const char *name, const char *text, size_t len,
                              const dbx_tree_opts *opts, dbx_vocab *vocab,
                              dbx_treebank **out);
dbx_status dbx_treebank_read(const char *path, const dbx_tree_opts *opts, dbx_vocab *vocab,
                             dbx_treebank **out);
void dbx_treebank_free(dbx_treebank *tb);

/* ---- tagged sentences (token|TAG) ------------------------------------------------------ */
typedef struct dbx_sentence {
    int32_t n;        /* tokens */
    int32_t *word;    /* (n) word vocabulary ids */
    int32_t *tag;     /* (n) tag vocabulary ids */
} dbx_sentence;

typedef struct dbx_tagset {
    int32_t nsent;
    dbx_sentence *sents;  /* arrays point into one pool owned by the tagset */
    int64_t ntokens;
} dbx_tagset;

/* One sentence per line, tokens separated by spaces or tabs, each "token|TAG" (the last
 * '|' splits; token and tag non-empty). Empty lines are skipped; no sentence is an error. */
dbx_status dbx_tagset_parse(const char *name, const char *text, size_t len, dbx_vocab *words,
                            dbx_vocab *tags, dbx_tagset **out);
dbx_status dbx_tagset_read(const char *path, dbx_vocab *words, dbx_vocab *tags,
                           dbx_tagset **out);
/* Untagged sentences (input to prediction): one sentence per line, tokens separated by spaces
 * or tabs, every tag id 0. A line whose every item has the form token|TAG (the last '|'
 * splits; token and tag non-empty) is tagged text: its tokens are the parts before the '|'
 * and the tags are ignored. Empty lines are skipped; control bytes and input without any
 * sentence are errors ("name:line:col: expected ..."). */
dbx_status dbx_tagset_parse_untagged(const char *name, const char *text, size_t len,
                                     dbx_vocab *words, dbx_tagset **out);
void dbx_tagset_free(dbx_tagset *ts);

/* ---- synthetic treebank ---------------------------------------------------------------- */
typedef struct dbx_gen_opts {
    int32_t ntrees;      /* trees to generate */
    int32_t vocab;       /* distinct words (Zipf-distributed); default 5000 */
    uint64_t seed;
} dbx_gen_opts;

/* Writes ntrees SST-format lines (one tree per line, '\n'-terminated) into a malloc'd
 * NUL-terminated buffer (*text, *len; caller frees). Deterministic given the options.
 * Shapes follow SST: about 19 leaves per tree on average (1 to 52), mean height about 11;
 * each word has a hidden polarity and node labels (0..4) follow the polarity of the words
 * below, so a model can learn them. */
dbx_status dbx_treebank_generate(const dbx_gen_opts *opts, char **text, size_t *len);

/* ---- word/character lattices (Lattice-LSTM) -------------------------------------------- */
/* One lattice: a DAG over nodes 0..n-1 in topological order (every arc enters a later node).
 * The arcs entering node i are arc_start[i] .. arc_start[i+1]-1 (offsets local to this
 * lattice: arc_start[0] = 0); an arc from i - 1 is a character arc, any other a word arc. */
typedef struct dbx_lattice {
    int32_t n;          /* nodes (>= 1); node 0 is the start node and has no arcs */
    int32_t *tag;       /* (n) output tag of each node, >= 0 */
    int32_t *arc_start; /* (n + 1) the arcs entering node i are arc_start[i] .. arc_start[i+1]-1 */
    int32_t *arc_from;  /* (arcs) source node of each arc, < the node it enters */
    int32_t *arc_id;    /* (arcs) character id (arc from i - 1) or word id (any other arc), >= 0 */
} dbx_lattice;

typedef struct dbx_latticeset {
    int32_t nlat;
    dbx_lattice *lats;  /* (nlat); arrays point into one pool owned by the set */
    int64_t nnodes, narcs, nchar_arcs; /* totals; word arcs: narcs - nchar_arcs */
    int32_t max_tag, max_char, max_word; /* largest ids seen, -1 if none */
    int32_t max_indegree;  /* most arcs entering one node */
    int32_t max_n;         /* nodes of the longest lattice */
} dbx_latticeset;

/* Reads lattices in the format of shared/data/lattice (whitespace-separated integers):
 *     N_LATTICES, then per lattice: LENGTH, LENGTH tags, then per node i in 0..LENGTH-1:
 *     N_ARCS followed by N_ARCS pairs FROM ID (0 <= FROM < i; node 0 has no arcs).
 * Blanks (spaces, tabs, CR, LF) separate tokens; line structure is not required. name is
 * used in error messages. Every error is DBX_EPARSE with "name:line:col: expected ..." at
 * the offending token: non-numbers, numbers beyond 32 bits, negative tags, ids or FROM,
 * FROM >= i, arcs into node 0, LENGTH or N_LATTICES < 1, counts larger than the tokens that
 * follow (checked before anything is reserved for them, so memory stays proportional to
 * len), control bytes, tokens after the last lattice, an empty file. Nodes i >= 1 without
 * arcs are accepted. Linear in len. */
dbx_status dbx_latticeset_parse(const char *name, const char *text, size_t len,
                                dbx_latticeset **out);
/* The same on a whole file ("-": standard input); DBX_EIO when it cannot be read. */
dbx_status dbx_latticeset_read(const char *path, dbx_latticeset **out);
void dbx_latticeset_free(dbx_latticeset *ls);

typedef struct dbx_lattice_gen_opts {
    int32_t nlat;   /* lattices to generate (> 0) */
    int32_t chars;  /* character vocabulary; 0: 2212 (as the real data) */
    int32_t words;  /* word vocabulary; 0: 10130 */
    int32_t tags;   /* tags; 0: 18 */
    uint64_t seed;
} dbx_lattice_gen_opts;

/* Writes nlat lattices in the format above into a malloc'd NUL-terminated buffer (*text,
 * *len; caller frees). Deterministic given the options. Shapes follow the real data: about
 * 44 nodes per lattice (3 to 200), a character arc from i - 1 into every node i >= 1, word
 * arcs from 2 to 4 nodes back (in-degrees 1 to 4), Zipf-like ids. Node 0 has tag 0; the tag
 * of node i >= 1 is a hidden class of the longest word arc entering it, or of its character
 * arc when none (with a little noise), so a model can learn it. */
dbx_status dbx_lattice_generate(const dbx_lattice_gen_opts *o, char **text, size_t *len);

/* Reads a whole file ("-": standard input) into a malloc'd NUL-terminated buffer; DBX_EIO
 * with "path: reason". */
dbx_status dbx_read_file(const char *path, char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* DBX_DATA_H */
