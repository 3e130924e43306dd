/* groklab GPU backend: builds without CUDA have no device but the emulator. */
#include "backend/gpu/dev.h"

const gl_dev_ops *gl_dev_cuda_ops(void) { return NULL; }
