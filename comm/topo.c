/* Topology and binding with hwloc: each local rank gets its own cores (or NUMA node), and a
 * one-line description of the machine and the binding for the logs. Memory is sized with
 * sysconf (hwloc underreports NUMA memory in some VMs). GPU choice: each local rank gets a
 * GPU near its cores (the PCI locality that hwloc reports), spread evenly over the host's
 * GPUs; PCI discovery runs only there, as it reads much of sysfs.
 *
 * Ownership: the hwloc topology lives for one call. Thread safety: binds the whole process
 * (all its threads); call it once, early, from the thread that owns the dbx__comm. */
#define _POSIX_C_SOURCE 200809L
#include "comm/comm_internal.h"

#include <errno.h>
#include <hwloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/status.h"

dbx_status dbx__bind_parse(const char *name, dbx__bind *out)
{
    static const struct { const char *name; dbx__bind mode; } tab[] = {
        {"none", DBX_BIND_NONE}, {"core", DBX_BIND_CORE}, {"numa", DBX_BIND_NUMA}};
    for (size_t i = 0; name && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(name, tab[i].name) == 0) {
            if (out) *out = tab[i].mode;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown binding '%s' (expected none, core or numa)",
                     name ? name : "(null)");
}

const char *dbx__bind_name(dbx__bind mode)
{
    switch (mode) {
    case DBX_BIND_NONE: return "none";
    case DBX_BIND_CORE: return "core";
    case DBX_BIND_NUMA: return "numa";
    }
    return "unknown";
}

/* This rank's host name (the communicator's, else the system's, else "unknown-host"). */
static void host_name(const dbx__comm *c, char *out, size_t cap)
{
    if (c)
        snprintf(out, cap, "%s", dbx__comm_host(c));
    else if (gethostname(out, cap - 1) != 0 || !out[0])
        snprintf(out, cap, "unknown-host");
    out[cap - 1] = '\0';
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
static void choose(hwloc_topology_t t, dbx__bind mode, int l, int L, hwloc_bitmap_t set,
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

dbx_status dbx__topo_bind(dbx__comm *c, dbx__bind mode, char *desc, size_t desc_cap)
{
    if (mode != DBX_BIND_NONE && mode != DBX_BIND_CORE && mode != DBX_BIND_NUMA)
        return dbx__fail(DBX_EINVAL, "dbx__topo_bind: unknown binding %d", (int)mode);
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
    int l = dbx__comm_local_rank(c), L = dbx__comm_local_size(c);
    char what[160];
    dbx_status s = DBX_OK;
    if (mode == DBX_BIND_NONE) {
        if (hwloc_get_cpubind(t, set, HWLOC_CPUBIND_PROCESS) < 0)
            hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(t));
        snprintf(what, sizeof what, "not bound by dbx");
    } else {
        choose(t, mode, l, L, set, what, sizeof what);
        if (hwloc_bitmap_iszero(set)) {
            s = dbx__fail(DBX_ENOTSUP, "dbx__topo_bind: hwloc found no cpus to bind to");
        } else if (hwloc_set_cpubind(t, set, HWLOC_CPUBIND_PROCESS) < 0) {
            char cs[128] = "";
            hwloc_bitmap_snprintf(cs, sizeof cs, set);
            s = dbx__fail(DBX_ENOTSUP, "dbx__topo_bind: hwloc_set_cpubind(%s) for local rank "
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
        char cs[128] = "", host[256];
        hwloc_bitmap_snprintf(cs, sizeof cs, set);
        host_name(c, host, sizeof host);
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

/* ---- GPU choice ----------------------------------------------------------------------------- */
int dbx__gpu_assign(int nlocal, const uint64_t *near, int ngpu, int *assign)
{
    if (ngpu > DBX_GPU_MAX) ngpu = DBX_GPU_MAX;
    if (ngpu <= 0) {
        for (int i = 0; i < nlocal; i++) assign[i] = 0;
        return 0;
    }
    int load[DBX_GPU_MAX] = {0}, most = 0;
    int room = (nlocal + ngpu - 1) / ngpu; /* no GPU takes more: the load stays balanced */
    for (int i = 0; i < nlocal; i++) {
        uint64_t m = near ? near[i] : 0;
        int best = -1;
        for (int g = 0; g < ngpu; g++)
            if ((m >> g & 1) && load[g] < room && (best < 0 || load[g] < load[best])) best = g;
        if (best < 0) /* none near with room: the least-loaded of all */
            for (int g = 0; g < ngpu; g++)
                if (best < 0 || load[g] < load[best]) best = g;
        assign[i] = best;
        if (++load[best] > most) most = load[best];
    }
    return most;
}

/* h continued over the string s: host names and GPU lists, compared across ranks. */
static uint64_t fnv1a_str(uint64_t h, const char *s) { return dbx__fnv1a(h, s, strlen(s)); }

/* Identifies this rank's machine: the host name and the kernel's boot id (nodes started from
 * one image may share a host name; they do not share a boot id). */
static uint64_t node_key(const dbx__comm *c)
{
    char host[256], boot[64] = "";
    host_name(c, host, sizeof host);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f)) boot[0] = '\0';
        fclose(f);
    }
    return fnv1a_str(fnv1a_str(fnv1a_str(DBX_FNV_SEED, host), "/"), boot);
}

/* The cpuset of the non-I/O object above the PCI device busid (the cores it is attached to),
 * or NULL when hwloc does not know the device or its locality. */
static hwloc_const_cpuset_t gpu_cpuset(hwloc_topology_t t, const char *busid)
{
    if (!t || !busid[0]) return NULL;
    hwloc_obj_t pci = hwloc_get_pcidev_by_busidstring(t, busid);
    hwloc_obj_t up = pci ? hwloc_get_non_io_ancestor_obj(t, pci) : NULL;
    return up && up->cpuset && !hwloc_bitmap_iszero(up->cpuset) ? up->cpuset : NULL;
}

/* A topology with the important PCI devices (GPUs, NICs, storage), or NULL with the reason
 * in why: the caller then treats every GPU's locality as unknown. */
static hwloc_topology_t load_io(char *why, size_t why_cap)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) < 0) {
        snprintf(why, why_cap, "hwloc_topology_init: %s", strerror(errno));
        return NULL;
    }
    /* PCI locality is all that is needed, and hwloc's Linux component reads it from sysfs:
       not the plugins that open libpciaccess or OpenCL, OpenGL and GPU vendor libraries
       (slow; they may create GPU contexts; they leak memory at unload). Names this hwloc
       lacks are refused harmlessly. */
    static const char *const skip[] = {"pci",  "opencl", "gl",       "cuda",
                                       "nvml", "rsmi",   "levelzero"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        (void)hwloc_topology_set_components(t, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, skip[i]);
    if (hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) < 0) {
        snprintf(why, why_cap, "hwloc_topology_set_io_types_filter: %s", strerror(errno));
        hwloc_topology_destroy(t);
        return NULL;
    }
    if (hwloc_topology_load(t) < 0) {
        snprintf(why, why_cap, "hwloc_topology_load: %s", strerror(errno));
        hwloc_topology_destroy(t);
        return NULL;
    }
    return t;
}

/* What each rank tells the others about itself (all-gathered; the same layout everywhere). */
typedef struct gpu_rec {
    uint64_t node; /* node_key */
    uint64_t list; /* hash of the bus ids this rank sees, in order */
    uint64_t near; /* dbx__gpu_assign's mask */
    int32_t lrank, ngpu;
} gpu_rec;

/* The GPU a rank chose (all-gathered, to count the ranks on each GPU of each machine). */
typedef struct gpu_use {
    uint64_t node;
    char id[32]; /* bus id; "" when the rank sees no GPU */
} gpu_use;

static int use_cmp(const void *a, const void *b)
{
    const gpu_use *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The largest number of ranks of one machine on one GPU (uses: W entries, sorted here). */
static int most_sharing(gpu_use *uses, int W)
{
    qsort(uses, (size_t)W, sizeof *uses, use_cmp);
    int most = 0;
    for (int r = 0, run = 0; r < W; r++) {
        run = r > 0 && use_cmp(&uses[r], &uses[r - 1]) == 0 ? run + 1 : 1;
        if (uses[r].id[0] && run > most) most = run;
    }
    return most;
}

/* Scratch of one dbx__topo_gpu_choose call. */
typedef struct gpu_scratch {
    char (*id)[32];   /* (ngpu) terminated copies of the bus ids */
    gpu_rec *all;     /* (W) every rank's record */
    gpu_use *uses;    /* (W) every rank's choice */
    uint64_t *near;   /* (L) masks of this machine's ranks, by local rank */
    int *seen;        /* (L) records per local rank */
    int *assign;      /* (L) */
} gpu_scratch;

static void scratch_free(gpu_scratch *x)
{
    free(x->id);
    free(x->all);
    free(x->uses);
    free(x->near);
    free(x->seen);
    free(x->assign);
}

/* The GPU of local rank me->lrank from all W records: dbx__gpu_assign over the ranks of this
 * machine in local-rank order. *same = 0 when they do not all see the same GPUs (each rank
 * then chooses alone); *ambiguous = 1 when the records do not name each local rank once (the
 * masks are then ignored, so that the ranks still agree). */
static int host_choice(const gpu_rec *me, int W, int L, int ngpu, gpu_scratch *x, int *same,
                       int *ambiguous)
{
    int found = 0, gpu = 0;
    *same = 1;
    *ambiguous = me->lrank < 0 || me->lrank >= L;
    for (int r = 0; r < W; r++) {
        const gpu_rec *o = &x->all[r];
        if (o->node != me->node) continue;
        found++;
        if (o->lrank < 0 || o->lrank >= L || x->seen[o->lrank]++) *ambiguous = 1;
        else x->near[o->lrank] = o->near;
        if (o->list != me->list || o->ngpu != ngpu) *same = 0;
    }
    if (found != L) *ambiguous = 1;
    if (!*same) {
        dbx__gpu_assign(1, &me->near, ngpu, &gpu);
        return gpu;
    }
    if (*ambiguous) memset(x->near, 0, (size_t)L * sizeof *x->near);
    dbx__gpu_assign(L, x->near, ngpu, x->assign);
    return x->assign[me->lrank >= 0 && me->lrank < L ? me->lrank : 0];
}

dbx_status dbx__topo_gpu_choose(dbx__comm *c, int ngpu, char (*busid)[32], int *gpu, int *sharing,
                               char *desc, size_t desc_cap)
{
    if (desc && desc_cap) desc[0] = '\0';
    if (!gpu || ngpu < 0 || (ngpu > 0 && !busid))
        return dbx__fail(DBX_EINVAL, "dbx__topo_gpu_choose: bad arguments (ngpu %d, busid %s, "
                         "gpu %s)", ngpu, busid ? "set" : "NULL", gpu ? "set" : "NULL");
    *gpu = 0;
    if (sharing) *sharing = 0;
    if (ngpu > DBX_GPU_MAX) ngpu = DBX_GPU_MAX;
    int W = dbx__comm_size(c), L = dbx__comm_local_size(c);
    gpu_scratch x = {
        .id = calloc((size_t)ngpu + 1, sizeof *x.id),
        .all = malloc((size_t)W * sizeof *x.all),
        .uses = calloc((size_t)W, sizeof *x.uses),
        .near = calloc((size_t)L, sizeof *x.near),
        .seen = calloc((size_t)L, sizeof *x.seen),
        .assign = calloc((size_t)L, sizeof *x.assign),
    };
    if (!x.id || !x.all || !x.uses || !x.near || !x.seen || !x.assign) {
        scratch_free(&x);
        return dbx__fail(DBX_ENOMEM, "dbx__topo_gpu_choose: out of memory (%d ranks, %d GPUs)",
                         W, ngpu);
    }
    gpu_rec me = {.node = node_key(c), .list = DBX_FNV_SEED, .lrank = dbx__comm_local_rank(c),
                  .ngpu = ngpu};
    for (int g = 0; g < ngpu; g++) { /* bounded copies: busid[g] need not be terminated */
        snprintf(x.id[g], sizeof x.id[g], "%.31s", busid[g]);
        me.list = fnv1a_str(fnv1a_str(me.list, x.id[g]), ",");
    }
    /* this rank's near mask: the GPUs attached to cores it may run on (hwloc failing or not
       seeing a GPU leaves its bit 0: locality unknown, not an error) */
    char why[160] = "";
    hwloc_topology_t t = ngpu > 0 ? load_io(why, sizeof why) : NULL;
    hwloc_bitmap_t cpus = t ? hwloc_bitmap_alloc() : NULL;
    if (t && !cpus) snprintf(why, sizeof why, "hwloc_bitmap_alloc: out of memory");
    if (cpus && (hwloc_get_cpubind(t, cpus, HWLOC_CPUBIND_PROCESS) < 0 ||
                 hwloc_bitmap_iszero(cpus)))
        hwloc_bitmap_copy(cpus, hwloc_topology_get_allowed_cpuset(t));
    for (int g = 0; cpus && g < ngpu; g++) {
        hwloc_const_cpuset_t cs = gpu_cpuset(t, x.id[g]);
        if (cs && hwloc_bitmap_intersects(cs, cpus)) me.near |= (uint64_t)1 << g;
    }
    /* collective (all ranks): every rank's machine, local rank, GPU list and mask */
    dbx_status s = DBX_OK;
    if (c) s = dbx__comm_allgather(c, &me, sizeof me, x.all);
    else x.all[0] = me;
    int same = 1, ambiguous = 0;
    if (!s) *gpu = host_choice(&me, W, L, ngpu, &x, &same, &ambiguous);
    /* collective (all ranks): the GPU each rank chose, to count the ranks that share one */
    gpu_use u;
    memset(&u, 0, sizeof u);
    u.node = me.node;
    snprintf(u.id, sizeof u.id, "%s", ngpu > 0 ? x.id[*gpu] : "");
    if (!s && c) s = dbx__comm_allgather(c, &u, sizeof u, x.uses);
    else if (!s) x.uses[0] = u;
    int most = s ? 0 : most_sharing(x.uses, W);
    if (!s && sharing) *sharing = most;
    if (!s && desc && desc_cap && ngpu == 0) snprintf(desc, desc_cap, "no GPU visible");
    if (!s && desc && desc_cap && ngpu > 0) {
        char loc[192], note[96] = "";
        hwloc_const_cpuset_t cs = cpus ? gpu_cpuset(t, x.id[*gpu]) : NULL;
        if (cs) {
            char hex[128] = "";
            hwloc_bitmap_snprintf(hex, sizeof hex, cs);
            snprintf(loc, sizeof loc, "near cpuset %s (%s)", hex,
                     me.near >> *gpu & 1 ? "this rank's cpus" : "not this rank's cpus");
        } else {
            snprintf(loc, sizeof loc, "locality unknown (%s)",
                     why[0] ? why : "hwloc knows no such PCI device or no locality for it");
        }
        if (!same)
            snprintf(note, sizeof note, ", local ranks see different GPUs: chosen alone");
        else if (ambiguous)
            snprintf(note, sizeof note, ", local ranks not identified: locality ignored");
        if (most > 1)
            snprintf(note + strlen(note), sizeof note - strlen(note),
                     ", up to %d ranks share a GPU", most);
        snprintf(desc, desc_cap, "GPU %d (%s), %s, %d local rank%s on %d GPU%s%s", *gpu,
                 x.id[*gpu], loc, L, plural(L), ngpu, plural(ngpu), note);
    }
    if (cpus) hwloc_bitmap_free(cpus);
    if (t) hwloc_topology_destroy(t);
    scratch_free(&x);
    return s;
}
