/* The registry of model types (include/dbx/model_type.h): the built-in types, listed once
 * below, and types registered at run time. Adding a built-in model is its file plus one line
 * in DBX_BUILTIN_MODELS. Process-wide table; register before training starts (not
 * thread-safe against concurrent registration). */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "dbx/model_type.h"
#include "dbx/models.h"
#include "models/meta.h"

/* X(variable): a const dbx_model_type defined in models/<model>.c and declared in
   dbx/models.h */
#define DBX_BUILTIN_MODELS(X)                                                                \
    X(dbx_treelstm_type)                                                                     \
    X(dbx_tagger_type)                                                                       \
    X(dbx_lattice_type)

enum { MAX_TYPES = 64 };

static const dbx_model_type *user_types[MAX_TYPES];
static int nuser;

#define DBX__MODEL_PTR(var) &var,
static const dbx_model_type *const builtin[] = {DBX_BUILTIN_MODELS(DBX__MODEL_PTR)};
#undef DBX__MODEL_PTR
enum { NBUILTIN = sizeof builtin / sizeof *builtin };

const dbx_model_type *dbx_model_type_at(int i)
{
    if (i < 0) return NULL;
    if (i < NBUILTIN) return builtin[i];
    return i - NBUILTIN < nuser ? user_types[i - NBUILTIN] : NULL;
}

const char *dbx_model_type_names(void)
{
    static char names[1024];
    size_t at = 0;
    names[0] = '\0';
    for (int i = 0; dbx_model_type_at(i) && at < sizeof names; i++)
        at += (size_t)snprintf(names + at, sizeof names - at, "%s%s",
                               i == 0 ? "" : dbx_model_type_at(i + 1) ? ", " : " or ",
                               dbx_model_type_at(i)->name);
    return names;
}

dbx_status dbx_model_type_find(const char *name, const dbx_model_type **out)
{
    *out = NULL;
    for (int i = 0; name && dbx_model_type_at(i); i++)
        if (strcmp(dbx_model_type_at(i)->name, name) == 0) {
            *out = dbx_model_type_at(i);
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown model '%s' (expected %s)", name ? name : "(null)",
                     dbx_model_type_names());
}

dbx_status dbx__model_type_check(const dbx_model_type *t)
{
    if (!t || !t->name || !t->parse || !t->create || !t->build)
        return dbx__fail(DBX_EINVAL, "model type '%s': needs a name and parse, create and build "
                         "callbacks", t && t->name ? t->name : "(unnamed)");
    if (t->nstats < 0 || t->nstats > DBX_MAX_STATS)
        return dbx__fail(DBX_EINVAL, "model type '%s': nstats must be 0..%d", t->name,
                         DBX_MAX_STATS);
    return DBX_OK;
}

dbx_status dbx_model_type_register(const dbx_model_type *t)
{
    DBX_TRY(dbx__model_type_check(t));
    const dbx_model_type *have = NULL;
    if (dbx_model_type_find(t->name, &have) == DBX_OK)
        return have == t ? DBX_OK
                         : dbx__fail(DBX_EINVAL, "model type '%s' is already registered", t->name);
    if (nuser == MAX_TYPES) return dbx__fail(DBX_EINVAL, "too many model types registered");
    user_types[nuser++] = t;
    return DBX_OK;
}
