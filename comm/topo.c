/* Topology and binding with hwloc: each local rank gets its own cores (or NUMA node), and a
 * one-line description of the machine and the binding for the logs. Memory is sized with
 * sysconf (hwloc underreports NUMA memory in some VMs).
 *
 * Ownership: the hwloc topology lives for one call. Thread safety: binds the whole process
 * (all its threads); call it once, early, from the thread that owns the dbx_comm. */
#define _POSIX_C_SOURCE 200809L
#include "comm/comm_internal.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

dbx_status dbx_bind_parse(const char *name, dbx_bind *out)
{
    static const struct { const char *name; dbx_bind mode; } tab[] = {
        {"none", DBX_BIND_NONE}, {"core", DBX_BIND_CORE}, {"numa", DBX_BIND_NUMA}};
    for (size_t i = 0; name && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(name, tab[i].name) == 0) {
            if (out) *out = tab[i].mode;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown binding '%s' (expected none, core or numa)",
                     name ? name : "(null)");
}

const char *dbx_bind_name(dbx_bind mode)
{
    switch (mode) {
    case DBX_BIND_NONE: return "none";
    case DBX_BIND_CORE: return "core";
    case DBX_BIND_NUMA: return "numa";
    }
    return "unknown";
}

static const char *plural(int n) { return n == 1 ? "" : "s"; }

/* The union of the cpusets of objects [lo, hi) of the given type. */
static void union_of(hwloc_topology_t t, hwloc_obj_type_t type, int lo, int hi,
                     hwloc_bitmap_t set)
{
    hwloc_bitmap_zero(set);
    for (int i = lo; i < hi; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, type, (unsigned)i);
        if (o && o->cpuset) hwloc_bitmap_or(set, set, o->cpuset);
    }
}

/* Chooses the cpuset for mode and writes "bound to ..." into what. */
static void choose(hwloc_topology_t t, dbx_bind mode, int l, int L, hwloc_bitmap_t set,
                   char *what, size_t what_cap)
{
    int ncore = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    hwloc_obj_type_t unit = HWLOC_OBJ_CORE;
    const char *uname = "core";
    if (ncore <= 0) { /* no core objects: bind to PUs */
        ncore = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
        unit = HWLOC_OBJ_PU;
        uname = "PU";
    }
    int nnuma = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    if (mode == DBX_BIND_NUMA && nnuma > 0) {
        int k = l % nnuma;
        union_of(t, HWLOC_OBJ_NUMANODE, k, k + 1, set);
        snprintf(what, what_cap, "bound to NUMA node %d%s", k,
                 L > nnuma ? " (shared: more local ranks than NUMA nodes)" : "");
        return;
    }
    if (ncore <= 0) { /* nothing to choose from: the whole machine */
        hwloc_bitmap_copy(set, hwloc_topology_get_topology_cpuset(t));
        snprintf(what, what_cap, "bound to the whole machine");
        return;
    }
    if (mode == DBX_BIND_NUMA) { /* no NUMA objects: one node, the whole machine */
        union_of(t, unit, 0, ncore, set);
        snprintf(what, what_cap, "bound to NUMA node 0");
        return;
    }
    if (L > ncore) {
        int k = l % ncore;
        union_of(t, unit, k, k + 1, set);
        snprintf(what, what_cap, "bound to %s %d (oversubscribed: %d local ranks, %d %ss)",
                 uname, k, L, ncore, uname);
        return;
    }
    int lo = (int)((long long)l * ncore / L), hi = (int)((long long)(l + 1) * ncore / L);
    union_of(t, unit, lo, hi, set);
    if (hi - lo == 1)
        snprintf(what, what_cap, "bound to %ss %d", uname, lo);
    else
        snprintf(what, what_cap, "bound to %ss %d-%d", uname, lo, hi - 1);
}

dbx_status dbx_topo_bind(dbx_comm *c, dbx_bind mode, char *desc, size_t desc_cap)
{
    if (mode != DBX_BIND_NONE && mode != DBX_BIND_CORE && mode != DBX_BIND_NUMA)
        return dbx__fail(DBX_EINVAL, "dbx_topo_bind: unknown binding %d", (int)mode);
    if (desc && desc_cap) desc[0] = '\0';
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) < 0)
        return dbx__fail(DBX_ENOMEM, "hwloc_topology_init: %s", strerror(errno));
    if (hwloc_topology_load(t) < 0) {
        int e = errno;
        hwloc_topology_destroy(t);
        return dbx__fail(DBX_EIO, "hwloc_topology_load: %s", strerror(e));
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) {
        hwloc_topology_destroy(t);
        return dbx__fail(DBX_ENOMEM, "hwloc_bitmap_alloc: out of memory");
    }
    int l = dbx_comm_local_rank(c), L = dbx_comm_local_size(c);
    char what[160];
    dbx_status s = DBX_OK;
    if (mode == DBX_BIND_NONE) {
        if (hwloc_get_cpubind(t, set, HWLOC_CPUBIND_PROCESS) < 0)
            hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(t));
        snprintf(what, sizeof what, "not bound by dbx");
    } else {
        choose(t, mode, l, L, set, what, sizeof what);
        if (hwloc_bitmap_iszero(set)) {
            s = dbx__fail(DBX_ENOTSUP, "dbx_topo_bind: hwloc found no cpus to bind to");
        } else if (hwloc_set_cpubind(t, set, HWLOC_CPUBIND_PROCESS) < 0) {
            char cs[128] = "";
            hwloc_bitmap_snprintf(cs, sizeof cs, set);
            s = dbx__fail(DBX_ENOTSUP, "dbx_topo_bind: hwloc_set_cpubind(%s) for local rank "
                          "%d/%d: %s", cs, l, L, strerror(errno));
        }
    }
    if (s == DBX_OK && desc && desc_cap) {
        int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
        int ncore = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
        int npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
        int nnuma = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        double gib = pages > 0 && psz > 0 ? (double)pages * (double)psz / 1073741824.0 : 0;
        char cs[128] = "", host[256] = "";
        hwloc_bitmap_snprintf(cs, sizeof cs, set);
        if (c)
            snprintf(host, sizeof host, "%s", dbx_comm_host(c));
        else if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "unknown-host");
        snprintf(desc, desc_cap,
                 "%s: %d package%s, %d core%s, %d PU%s, %d NUMA node%s, %.1f GiB; local rank "
                 "%d/%d %s (cpuset %s)",
                 host, npkg, plural(npkg), ncore, plural(ncore), npu, plural(npu),
                 nnuma, plural(nnuma), gib, l, L, what, cs);
    }
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(t);
    return s;
}
