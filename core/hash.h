/* FNV-1a (64 bits): checksums of parameter files and models (core/model.c), keys compared
 * across ranks (comm/topo.c) and canonical signature hashes (core/sig.c). Not for hash
 * tables (core/graph.c mixes with multiplies). */
#ifndef DBX_CORE_HASH_H
#define DBX_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define DBX_FNV_SEED 0xcbf29ce484222325ULL

/* h continued over data[0, n). */
static inline uint64_t dbx__fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif /* DBX_CORE_HASH_H */
