/* groklab: Philox4x32-10 streams (Random123). See rng.h for the counter layout. */
#include "groklab/rng.h"

#include <math.h>
#include <Random123/philox.h>

#include "core/philox.h"

void gl_philox(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b, uint32_t out[4]) {
    philox4x32_ctr_t ctr = {{(uint32_t)a, (uint32_t)(a >> 32), b, stream}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(ctr, key);
    for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

/* The same rounds over plain 32-bit words (src/core/philox.h), so that the
 * loop over counters vectorizes (tested equal to gl_philox). */
void gl_philox_run(uint64_t seed, uint32_t stream, uint64_t a0, uint32_t b, int count,
                   uint32_t *restrict out) {
    for (int i = 0; i < count; i++) gl_philox_words(seed, stream, a0 + (uint64_t)i, b, out + 4 * i);
}

float gl_u01(uint32_t x) { return gl_philox_u01(x); }

double gl_normal(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b) {
    uint32_t r[4];
    gl_philox(seed, stream, a, b, r);
    /* u1 in (0, 1] so the log is finite; 53-bit uniforms from word pairs */
    double u1 = ((double)(((uint64_t)r[0] << 21) ^ (r[1] >> 11)) + 1.0) / 9007199254740992.0;
    double u2 = (double)(((uint64_t)r[2] << 21) ^ (r[3] >> 11)) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint32_t gl_uniform_int(uint64_t seed, uint32_t stream, uint64_t a, uint32_t b, uint32_t n) {
    uint32_t r[4];
    gl_philox(seed, stream, a, b, r);
    uint64_t x = ((uint64_t)r[0] << 32) | r[1];
    return (uint32_t)(((unsigned __int128)x * n) >> 64);
}

void gl_shuffle(int32_t *perm, int32_t n, uint64_t seed, uint32_t stream, uint32_t b) {
    for (int32_t i = n - 1; i >= 1; i--) {
        int32_t j = (int32_t)gl_uniform_int(seed, stream, (uint64_t)i, b, (uint32_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
