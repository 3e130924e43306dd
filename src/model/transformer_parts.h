/* groklab: what the Transformer's two precisions share (defined in
 * transformer.c). */
#ifndef GROKLAB_MODEL_TRANSFORMER_PARTS_H
#define GROKLAB_MODEL_TRANSFORMER_PARTS_H

#include <stddef.h>

#include "groklab/transformer.h"

/* The offset of block l's mask elements within an example's E
 * (transformer.h, "Dropout masks"); l = n_layer gives E. */
long gl_tf_mask_block(const gl_tf_layout *L, int l);

/* rows and lanes <= 0 become the tuned defaults of a work */
void gl_tf_pick_shape(int *rows, int *lanes);

/* aligned_alloc on 64 bytes of at least `bytes` (free with free) */
void *gl_tf_alloc64(size_t bytes);

#endif
