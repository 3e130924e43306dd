/* groklab: the Philox4x32-10 rounds over plain 32-bit words (Random123's
 * philox4x32, written out), for one counter. Shared by the CPU's
 * gl_philox_run (src/core/rng.c) and the GPU kernels (src/backend/gpu/kernels.h), so
 * both backends draw the same numbers; tested equal to Random123's own.
 * GL_HD marks it __host__ __device__ under nvcc. */
#ifndef GROKLAB_PHILOX_H
#define GROKLAB_PHILOX_H

#include <stdint.h>

#ifndef GL_HD
#ifdef __CUDACC__
#define GL_HD __host__ __device__ static inline
#else
#define GL_HD static inline
#endif
#endif

/* out[0..3] = philox4x32-10 of counter {a_lo, a_hi, b, stream}, key {seed_lo, seed_hi} */
GL_HD void gl_philox_words(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b,
                           uint32_t out[4]) {
    uint32_t c0 = (uint32_t)a, c1 = (uint32_t)(a >> 32), c2 = b, c3 = stream;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Uniform float in [0, 1) from the top 24 bits of a word: gl_u01 of
 * groklab/rng.h, and the dropout bit's u. */
GL_HD float gl_philox_u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

#endif
