/* Internal to the model interface (include/dbx/model_type.h): the meta as text in memory, for
 * broadcasting it to every rank in the P.vocab format, and the check of a model type's table.
 * Not thread-safe per object. */
#ifndef DBX_MODELS_META_H
#define DBX_MODELS_META_H

#include <stddef.h>

#include "dbx/model_type.h"

/* DBX_EINVAL unless t has a name, the parse, create and build callbacks, and nstats in
 * 0..DBX_MAX_STATS (models/registry.c). */
dbx_status dbx__model_type_check(const dbx_model_type *t);

/* The P.vocab text of m (malloc'd, NUL-terminated; *len without the NUL). */
dbx_status dbx__meta_pack(const dbx_meta *m, char **text, size_t *len);
/* Parses P.vocab text (modified in place: lines are NUL-terminated) into a new frozen meta;
 * errors name path and line. */
dbx_status dbx__meta_unpack(const char *path, char *text, size_t len, dbx_meta **out);

#endif /* DBX_MODELS_META_H */
