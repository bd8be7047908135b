/* Datasets of sample records (include/dbx/model_type.h): one pool of int32 words, an offset
 * per sample and its size in units. The pool only grows; records never move once the
 * dataset is complete (dbx_dataset_get views stay valid until the next add or the free).
 * Not thread-safe per object. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/model_type.h"

struct dbx_dataset {
    int32_t *words;
    size_t nwords, cap_words;
    int64_t *start;   /* (n + 1) record offsets */
    int32_t *units;   /* (n) */
    size_t n, cap_start, cap_units;
    int64_t total_units;
};

dbx_status dbx_dataset_new(dbx_dataset **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return dbx__fail(DBX_ENOMEM, "out of memory");
    return DBX_OK;
}

void dbx_dataset_free(dbx_dataset *ds)
{
    if (!ds) return;
    free(ds->words);
    free(ds->start);
    free(ds->units);
    free(ds);
}

dbx_status dbx_dataset_add(dbx_dataset *ds, const int32_t *w, int32_t n, int32_t units)
{
    if (!ds || !w || n < 1) return dbx__fail(DBX_EINVAL, "dbx_dataset_add: empty record");
    if (ds->n >= (size_t)INT32_MAX - 1) return dbx__fail(DBX_EINVAL, "dataset: too many samples");
    DBX_TRY(DBX_GROW(ds->words, ds->cap_words, ds->nwords + (size_t)n));
    DBX_TRY(DBX_GROW(ds->start, ds->cap_start, ds->n + 2));
    DBX_TRY(DBX_GROW(ds->units, ds->cap_units, ds->n + 1));
    if (ds->n == 0) ds->start[0] = 0;
    memcpy(ds->words + ds->nwords, w, (size_t)n * sizeof *w);
    ds->nwords += (size_t)n;
    ds->start[ds->n + 1] = (int64_t)ds->nwords;
    ds->units[ds->n] = units;
    ds->total_units += units;
    ds->n++;
    return DBX_OK;
}

int32_t dbx_dataset_size(const dbx_dataset *ds) { return ds ? (int32_t)ds->n : 0; }
int64_t dbx_dataset_units(const dbx_dataset *ds) { return ds ? ds->total_units : 0; }
int32_t dbx_dataset_units_of(const dbx_dataset *ds, int32_t i) { return ds->units[i]; }

dbx_sample dbx_dataset_get(const dbx_dataset *ds, int32_t i)
{
    dbx_sample s = {ds->words + ds->start[i], (int32_t)(ds->start[i + 1] - ds->start[i])};
    return s;
}

dbx_status dbx_dataset_read(const dbx_model_type *t, dbx_meta *meta, const char *path,
                            dbx_dataset **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_dataset *ds = NULL;
    dbx_status s = dbx_dataset_new(&ds);
    if (!s) s = t->parse(meta, path, text, len, ds);
    free(text);
    if (!s && dbx_dataset_size(ds) == 0)
        s = dbx__fail(DBX_EPARSE, "%s: expected at least one sample (%s)", path, t->data_help);
    if (s) {
        dbx_dataset_free(ds);
        return s;
    }
    *out = ds;
    return DBX_OK;
}
