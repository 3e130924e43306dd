/* groklab: dropout masks on the CPU (model.h), from runs of Philox counters;
 * the GPU draws the same words one counter at a time (src/backend/gpu). */
#include <string.h>

#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/ops.h"

void gl_dropout_range(uint8_t *keep, uint32_t stream, uint64_t ex, uint64_t E, uint64_t e0,
                      uint64_t e1, double prob, uint64_t seed, long step) {
    enum { RUN = 64 }; /* counters per gl_philox_run */
    if (e1 <= e0) return;
    if (prob <= 0) {
        memset(keep, 1, (size_t)(e1 - e0));
        return;
    }
    float thr = (float)prob;
    uint64_t ctr0 = gl_dropout_ctr0(ex, E), g1 = (e1 + 3) / 4;
    uint32_t r[4 * RUN];
    /* counters g0.. g0+ng-1 hold elements 4*g0.. of which those in [e0, e1)
     * are kept (a counter that straddles e0 or e1 gives only some of its
     * words) */
    for (uint64_t g0 = e0 / 4; g0 < g1; g0 += RUN) {
        int ng = g1 - g0 < RUN ? (int)(g1 - g0) : RUN;
        gl_philox_run(seed, stream, ctr0 + g0, (uint32_t)step, ng, r);
        uint64_t lo = 4 * g0 > e0 ? 4 * g0 : e0, hi = 4 * (g0 + (uint64_t)ng);
        if (hi > e1) hi = e1;
        for (uint64_t e = lo; e < hi; e++) keep[e - e0] = gl_dropout_kept(r[e - 4 * g0], thr);
    }
}

void gl_dropout_row(uint8_t *keep, uint64_t ex, int N, double prob, uint64_t seed, long step) {
    gl_dropout_range(keep, GL_STREAM_DROPOUT, ex, (uint64_t)N, 0, (uint64_t)N, prob, seed, step);
}
