/* groklab GPU backend: the CUDA module's interface.
 *
 * The CUDA device (dev_cuda.cu) is built as its own shared object,
 * groklab-cuda.so, that the library loads with dlopen the first time
 * --device cuda is asked for (dev_load.c): a CPU run maps no CUDA library,
 * and one build runs on machines with and without CUDA. The module takes
 * nothing from the library by name (the program links the library
 * statically, and a module cannot see a static program's symbols): what it
 * needs, it is handed here. */
#ifndef GROKLAB_GPU_DEV_MODULE_H
#define GROKLAB_GPU_DEV_MODULE_H

#include "backend/gpu/dev.h"
#include "groklab/runtime.h"

/* raised whenever this interface, gl_dev_ops, gl_gview, the kernel list
 * (kernels.h) or gl_runtime changes */
#define GL_CUDA_MODULE_ABI 6
#define GL_CUDA_MODULE_FILE "groklab-cuda.so"
#define GL_CUDA_MODULE_ENTRY "gl_cuda_module_ops"

typedef struct gl_cuda_host {
    int abi;                      /* GL_CUDA_MODULE_ABI of the library */
    size_t view_bytes, ops_bytes; /* sizeof(gl_gview), sizeof(gl_dev_ops) as the library sees them */
    const gl_runtime *(*runtime)(void);
    int (*failc)(gl_error *err, int code, const char *fmt, ...);
} gl_cuda_host;

/* The module's one exported function: its table of operations, or NULL if
 * host describes another interface than the module's. */
typedef const gl_dev_ops *(*gl_cuda_module_fn)(const gl_cuda_host *host); /* host: kept, must outlive the module */

#endif
