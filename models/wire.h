/* The wire format of samples shipped from the coordinator to workers: a sample is a run of
 * int32 words, [kind, n, then the sample's arrays], and a message is a concatenation of
 * samples. Unpacking makes dbx_tree / dbx_sentence views that point into the message buffer
 * (no copies); the buffer must outlive them and be 4-byte aligned. Not thread-safe per
 * buffer. */
#ifndef DBX_MODELS_WIRE_H
#define DBX_MODELS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/data.h"

enum { DBX_WIRE_TREE = 0x54524545, DBX_WIRE_SENT = 0x53454e54 }; /* "TREE", "SENT" */

/* int32 words a sample occupies on the wire */
static inline size_t dbx_wire_tree_words(const dbx_tree *t) { return 2 + 5 * (size_t)t->n; }
static inline size_t dbx_wire_sent_words(const dbx_sentence *s) { return 2 + 2 * (size_t)s->n; }

/* Appends the sample at dst (capacity checked by the caller); returns words written. */
size_t dbx_wire_put_tree(int32_t *dst, const dbx_tree *t);
size_t dbx_wire_put_sent(int32_t *dst, const dbx_sentence *s);

/* Reads the sample at words[*pos], advancing *pos; validates sizes and indices against the
 * message length (nwords) and the vocabulary sizes (words < vocab, tags/labels < labels).
 * DBX_EPARSE on a malformed message. */
dbx_status dbx_wire_get_tree(const int32_t *words, size_t nwords, size_t *pos, int32_t vocab,
                             int32_t labels, dbx_tree *out);
dbx_status dbx_wire_get_sent(const int32_t *words, size_t nwords, size_t *pos, int32_t vocab,
                             int32_t tags, dbx_sentence *out);

#endif /* DBX_MODELS_WIRE_H */
