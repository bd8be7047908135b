/* A small explicit-state PRNG (splitmix64 seeding xoshiro256**). State is passed by the
 * caller, so runs are reproducible; no global state. */
#ifndef DBX_CORE_RNG_H
#define DBX_CORE_RNG_H

#include <stdint.h>

typedef struct dbx_rng {
    uint64_t s[4];
} dbx_rng;

static inline uint64_t dbx__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) from the splitmix64 stream *x, without modulo bias (rejects the
   2^64 mod n lowest values). */
static inline uint64_t dbx__splitmix64_below(uint64_t *x, uint64_t n)
{
    const uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t v = dbx__splitmix64(x);
        if (v >= threshold) return v % n;
    }
}

static inline void dbx_rng_seed(dbx_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = dbx__splitmix64(&seed);
}

static inline uint64_t dbx__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t dbx_rng_next(dbx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = dbx__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dbx__rotl(s[3], 45);
    return res;
}

/* Uniform in [0, 1). */
static inline double dbx_rng_uniform(dbx_rng *r)
{
    return (double)(dbx_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n). */
static inline uint64_t dbx_rng_below(dbx_rng *r, uint64_t n) { return dbx_rng_next(r) % n; }

#endif /* DBX_CORE_RNG_H */
