/* Backend registry: maps a device name to a backend. The CPU backend is always here; the
 * CUDA backend exists when the program links the dbx_cuda object library (built when CMake
 * finds the CUDA toolkit), which defines dbx__cuda_backend and dbx__cuda_devices. The weak
 * references keep core/ and this file free of #ifdef DBX_CUDA. They are hidden: the link that
 * makes a program or libdbx.so resolves them (to the backend, or to NULL), and libdbx.so is
 * left with no dynamic reference that another object could satisfy. Thread-safe (no state
 * of its own). */
#include <string.h>

#include "core/status.h"
#include "kernels/backend.h"

extern dbx_status dbx__cuda_backend(int device, dbx_backend **out)
    __attribute__((weak, visibility("hidden")));
extern dbx_status dbx__cuda_devices(int max, char (*busid)[32], int *count)
    __attribute__((weak, visibility("hidden")));
extern const char *dbx__cuda_missing_kernel(void) __attribute__((weak, visibility("hidden")));

const char *dbx__backend_missing_kernel(const char *name)
{
    if (!name || strcmp(name, "cpu") == 0) {
        dbx_backend *be;
        if (dbx__cpu_backend(&be)) return "(not built)";
        return be->ops->missing_kernel();
    }
    if (strcmp(name, "cuda") == 0)
        return dbx__cuda_missing_kernel ? dbx__cuda_missing_kernel() : "(not built)";
    return "(not built)";
}

/* A backend whose kernel table lacks an op is refused when it is first handed out. */
static dbx_status checked(dbx_status s, dbx_backend **out)
{
    if (s) return s;
    const char *op = (*out)->ops->missing_kernel ? (*out)->ops->missing_kernel() : "(any)";
    if (op) {
        const char *name = (*out)->ops->name;
        *out = NULL;
        return dbx__fail(DBX_ENOTSUP, "the %s backend has no kernel for op '%s'", name, op);
    }
    return DBX_OK;
}

int dbx__backend_has_cuda(void) { return dbx__cuda_backend != NULL; }

dbx_status dbx__backend_get(const char *name, int device, dbx_backend **out)
{
    *out = NULL;
    if (!name || strcmp(name, "cpu") == 0) return checked(dbx__cpu_backend(out), out);
    if (strcmp(name, "cuda") == 0) {
        if (!dbx__cuda_backend)
            return dbx__fail(DBX_ENOTSUP, "this dbx was built without the CUDA backend "
                                          "(configure with the CUDA toolkit and NCCL installed)");
        return checked(dbx__cuda_backend(device, out), out);
    }
    return dbx__fail(DBX_EINVAL, "unknown device '%s' (expected cpu or cuda)", name);
}

dbx_status dbx__backend_gpus(int max, char (*busid)[32], int *count)
{
    *count = 0;
    if (!dbx__cuda_devices)
        return dbx__fail(DBX_ENOTSUP, "this dbx was built without the CUDA backend "
                                      "(configure with the CUDA toolkit and NCCL installed)");
    if (max < 0 || (max > 0 && !busid))
        return dbx__fail(DBX_EINVAL, "dbx__backend_gpus: bad arguments (max %d)", max);
    return dbx__cuda_devices(max, busid, count);
}
