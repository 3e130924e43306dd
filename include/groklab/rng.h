/* groklab: counter-based random numbers (Philox4x32-10, Random123).
 *
 * Every random number is a pure function of (seed, stream, a, b): no state
 * advances, so results do not depend on thread count, backend or on where a
 * run was resumed. Streams name the purpose of a draw. */
#ifndef GROKLAB_RNG_H
#define GROKLAB_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gl_stream {
    GL_STREAM_SPLIT = 1,     /* a: shuffle position                      */
    GL_STREAM_CORRUPT = 2,   /* a: training example index                */
    GL_STREAM_INIT = 3,      /* a: element index, b: tensor id           */
    GL_STREAM_DROPOUT = 4,   /* a: example id * ceil(N/4) + k/4, b: step */
    GL_STREAM_MINIBATCH = 5, /* a: shuffle position, b: epoch            */
    GL_STREAM_PRUNE = 6,     /* a: shuffle position, b: draw (random order) */
    /* 7: Transformer dropout (groklab/transformer.h) */
    GL_STREAM_ANALYTIC = 8,  /* a: neuron, b: 0 phases / 1+block permutation */
    GL_STREAM_DEEP_DROPOUT = 9, /* deep MLP: a: example id * ceil((depth-1)*N/4) + e/4, b: step */
};

/* The raw generator: counter {a_lo, a_hi, b, stream}, key {seed_lo, seed_hi}. */
void gl_philox(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b, uint32_t out[4]);

/* count consecutive counters at once: out[4i + j] = word j of
 * gl_philox(seed, stream, a0 + i, b), for i < count (a loop that vectorizes). */
void gl_philox_run(uint64_t seed, uint32_t stream, uint64_t a0, uint32_t b, int count,
                   uint32_t *out);

/* Uniform float in [0, 1) from the top 24 bits of x. */
float gl_u01(uint32_t x);

/* A standard normal (Box-Muller on out[0], out[1] of one Philox call). */
double gl_normal(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b);

/* Uniform integer in [0, n) from two 32-bit words (64 x 64 -> 128 multiply,
 * bias below 2^-40 for n < 2^24). */
uint32_t gl_uniform_int(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b, uint32_t n);

/* Fisher-Yates shuffle of perm[0..n): for i = n-1 down to 1, swap i with
 * j = gl_uniform_int(seed, stream, i, b, i + 1). */
void gl_shuffle(int32_t *perm, int32_t n, uint64_t seed, uint32_t stream, uint32_t b);

#ifdef __cplusplus
}
#endif

#endif
