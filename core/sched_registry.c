/* The scheduler registry: the built-in schedulers, listed once below, then those a program
 * registers at run time (dbx_sched_register). Adding a scheduler to dbx is one file
 * core/sched_<name>.c defining `const dbx_sched_type dbx__sched_<name>` and one X(<name>)
 * line here. Types are borrowed, never copied. Registration is not thread-safe; lookups are
 * read-only. */
#include <string.h>

#include "core/status.h"
#include "dbx/sched.h"

/* The built-in schedulers, in the order they are listed (the first is the default). */
#define DBX__SCHEDULERS(X) \
    X(none)                \
    X(depth)               \
    X(agenda)

#define DBX__SCHED_DECL(name) extern const dbx_sched_type dbx__sched_##name;
DBX__SCHEDULERS(DBX__SCHED_DECL)
#undef DBX__SCHED_DECL

enum { DBX__SCHED_MAX = 32, DBX__SCHED_NAME_MAX = 31 };

#define DBX__SCHED_REF(name) &dbx__sched_##name,
static const dbx_sched_type *registry[DBX__SCHED_MAX] = {DBX__SCHEDULERS(DBX__SCHED_REF)};
#undef DBX__SCHED_REF
#define DBX__SCHED_ONE(name) +1
static int nregistered = 0 DBX__SCHEDULERS(DBX__SCHED_ONE);
#undef DBX__SCHED_ONE

int dbx_sched_count(void) { return nregistered; }

const dbx_sched_type *dbx_sched_at(int i)
{
    return i >= 0 && i < nregistered ? registry[i] : NULL;
}

const char *dbx_sched_choices(char *buf, size_t cap)
{
    if (!cap) return buf;
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < nregistered && at < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == nregistered ? " or " : ", ";
        int w = snprintf(buf + at, cap - at, "%s%s", sep, registry[i]->name);
        if (w < 0) break;
        at += (size_t)w;
    }
    return buf;
}

dbx_status dbx_sched_find(const char *name, const dbx_sched_type **out)
{
    *out = NULL;
    if (!name || !*name) name = "none";
    for (int i = 0; i < nregistered; i++)
        if (strcmp(registry[i]->name, name) == 0) {
            *out = registry[i];
            return DBX_OK;
        }
    char choices[DBX__SCHED_MAX * (DBX__SCHED_NAME_MAX + 4)];
    return dbx__fail(DBX_EINVAL, "unknown scheduler '%s' (expected %s)", name,
                     dbx_sched_choices(choices, sizeof choices));
}

static int valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
              s[n] == '-'))
            return 0;
    return n >= 1 && n <= DBX__SCHED_NAME_MAX;
}

dbx_status dbx_sched_register(const dbx_sched_type *type)
{
    if (!type || !type->name || !valid_name(type->name))
        return dbx__fail(DBX_EINVAL, "dbx_sched_register: a name of 1..%d characters of "
                                     "[a-z0-9_-] is required", DBX__SCHED_NAME_MAX);
    if (!type->choose)
        return dbx__fail(DBX_EINVAL, "dbx_sched_register: scheduler '%s' has no choose",
                         type->name);
    if ((unsigned)type->grouping > (unsigned)DBX_SCHED_GROUP_SIG)
        return dbx__fail(DBX_EINVAL, "dbx_sched_register: scheduler '%s': unknown grouping %d",
                         type->name, (int)type->grouping);
    for (int i = 0; i < nregistered; i++)
        if (strcmp(registry[i]->name, type->name) == 0)
            return dbx__fail(DBX_EINVAL, "dbx_sched_register: a scheduler named '%s' is "
                                         "already registered", type->name);
    if (nregistered == DBX__SCHED_MAX)
        return dbx__fail(DBX_ENOMEM, "dbx_sched_register: the registry is full (%d schedulers)",
                         DBX__SCHED_MAX);
    registry[nregistered++] = type;
    return DBX_OK;
}
