/* groklab: the backends (the layer above the trainer): each fills the
 * table of src/train/backend.h. */
#ifndef GROKLAB_BACKENDS_H
#define GROKLAB_BACKENDS_H

#include "train/backend.h"

/* The CPU backend (src/backend/cpu.c). */
const gl_backend *gl_backend_cpu(void);
/* The GPU backend (src/backend/gpu/): populations of two-layer MLPs on one
 * CUDA GPU or its host emulator. */
const gl_backend *gl_backend_cuda(void);
/* The backend of a --device value, or NULL. */
const gl_backend *gl_backend_named(const char *device);

#endif
