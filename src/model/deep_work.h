/* groklab: what the deep MLP's two precisions share (defined in deep.c):
 * how a work's block of reals is carved into its arrays, and the dropout
 * masks. Below, Hn = depth - 1 is the number of hidden layers. */
#ifndef GROKLAB_MODEL_DEEP_WORK_H
#define GROKLAB_MODEL_DEEP_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/deep.h"

/* Element offsets of the work's arrays in one block of reals. */
typedef struct gl_deep_carve {
    size_t h, a, z;      /* (Hn, max_B, N) each; z == a without a norm */
    size_t mean, stat;   /* (Hn, max(max_B, N)) each, with a norm */
    size_t out;          /* (max_B, p) outputs, then dL/dout */
    size_t g[2];         /* (max_B, N) each: gradients flowing down (ping-pong) */
    size_t stat_stride;  /* max(max_B, N) */
    size_t total;
} gl_deep_carve;

void gl_deep_carve_init(gl_deep_carve *c, const gl_deep_layout *L, int max_B);

/* Dropout masks of the B examples of a batch for every hidden layer (deep.h,
 * "Dropout masks"), stored per layer: the mask of layer l for example b at
 * keep + ((l-1) * B + b) * N, so that a layer's (B, N) mask is contiguous.
 * Example b is id[b] (b when id is NULL). */
void gl_deep_dropout_masks(uint8_t *keep, const gl_deep_layout *L, const int32_t *id, int B,
                           double prob, uint64_t seed, long step);

#endif
