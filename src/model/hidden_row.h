/* groklab: the two-layer MLP's first layer of one example in float, shared
 * by the fused training pass (src/model/fused.c) and the evaluation pass
 * (gl_mlp_eval): h = dropout(Ut[m] + Vt[n]), a = phi(h). Included after
 * model/ops.h. */
#ifndef GROKLAB_MODEL_HIDDEN_ROW_H
#define GROKLAB_MODEL_HIDDEN_ROW_H

#include "model/ops.h"

/* One row's loop over k with h = dropout(u + v) in x, for arrays u, v
 * (N), keep (N, or NULL: no dropout) and the dropout scale in scope: the
 * two variants, with a mask and without, so that each vectorizes. */
#define GL_HIDDEN_LOOP(BODY)                                                                       \
    do {                                                                                           \
        if (keep)                                                                                  \
            for (int k = 0; k < N; k++) {                                                          \
                float x = gl_drop_f32(u[k] + v[k], keep[k], scale);                                \
                BODY;                                                                              \
            }                                                                                      \
        else                                                                                       \
            for (int k = 0; k < N; k++) {                                                          \
                float x = u[k] + v[k];                                                             \
                BODY;                                                                              \
            }                                                                                      \
    } while (0)

/* a = phi(dropout(u + v)) of one row. a, u, v: (N); keep: (N) or NULL */
static inline void gl_hidden_row_f32(float *restrict a, const float *restrict u, const float *restrict v,
                                     const uint8_t *restrict keep, float scale, int N, gl_act act) {
#define GL_HIDDEN_FORWARD(A) GL_HIDDEN_LOOP(a[k] = gl_act_f32(x, A))
    GL_ACT_SWITCH(act, GL_HIDDEN_FORWARD)
#undef GL_HIDDEN_FORWARD
}

#endif
