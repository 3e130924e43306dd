/* groklab: the process's runtime settings and facts about the machine.
 *
 * Settings that change where and how runs execute (never what they compute,
 * except tf32) are parameters of the library, set by the program that uses
 * it: the groklab CLI reads them from its environment (gl_runtime_environment;
 * docs/commands.md, "Exit codes and environment") and calls gl_runtime_set
 * once; a C or Python program sets them the same way (Python:
 * groklab.runtime). The library itself reads no environment variable unless
 * asked to (and GROKLAB_CUDA_MODULE, the CUDA module's path, when it loads
 * it). */
#ifndef GROKLAB_RUNTIME_H
#define GROKLAB_RUNTIME_H

#include <stddef.h>

#include "groklab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_runtime {
    double memory_limit;  /* bytes runs may use; > 80% of it is refused (0: physical memory) */
    int gpu;              /* the GPU to use (-1: local_rank modulo the GPUs present, or 0) */
    int local_rank;       /* this process's rank on its machine under MPI (-1: none) */
    int tf32;             /* 1: cuBLAS may use TF32 tensor cores (about 10-bit mantissas) */
    int gpu_emulate;      /* --device cuda on 0: the GPU, 1: the host emulator, 2: the emulator
                             with its strict checks (src/backend/gpu/dev_host.c) */
    double emulate_bytes; /* the emulated device's memory (0: half of physical memory) */
    int gpu_direct;       /* 1: a GPU step's kernels and products are launched one by one;
                             0: the step is recorded once as a graph and replayed (same numbers) */
    int gpu_sync;         /* 1: the GPU synchronizes after every operation, so that a fault is
                             reported under the operation that caused it (slow, for debugging;
                             steps are then not recorded) */
} gl_runtime;

/* memory_limit 0, gpu -1, local_rank -1, tf32 0, gpu_emulate 0, emulate_bytes 0, gpu_direct 0,
 * gpu_sync 0 */
void gl_runtime_default(gl_runtime *r);
/* Sets the process's settings (copied); call before creating trainers. */
void gl_runtime_set(const gl_runtime *r);
/* The settings in force (the defaults until gl_runtime_set). */
const gl_runtime *gl_runtime_get(void);

/* The settings by name, as text, for programs that take them as strings (the
 * groklab CLI from its environment, Python's groklab.runtime):
 *   memory_limit       bytes (0: physical memory)     GROKLAB_MEMORY_LIMIT
 *   gpu                -1 or an index 0 to 65535       GROKLAB_GPU
 *   local_rank         -1 or an index 0 to 65535       OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID
 *   tf32               0 or 1                          GROKLAB_TF32
 *   gpu_emulate        0, 1 or strict (gpu_emulate 2)  GROKLAB_GPU_EMULATE
 *   gpu_emulate_bytes  bytes (0: half of the memory)   GROKLAB_GPU_EMULATE_BYTES
 *   gpu_graphs         1, or 0 for gpu_direct          GROKLAB_GPU_GRAPHS
 *   gpu_sync           0 or 1                          GROKLAB_GPU_SYNC
 * The names, space separated, in that order. */
const char *gl_runtime_names(void);
/* Sets r's setting name from text; GL_E_INPUT naming the setting and the
 * allowed values (r unchanged) when the name or the value is not one. */
int gl_runtime_parse(gl_runtime *r, const char *name, const char *text, gl_error *err);
/* r's setting name as text into out (cap bytes); GL_E_INPUT for an unknown name. */
int gl_runtime_format(const gl_runtime *r, const char *name, char *out, size_t cap, gl_error *err);
/* r: the defaults, then each variable of the list above that is set and not
 * empty (the library reads the environment only here, when asked). A bad
 * value: GL_E_INPUT naming the first such variable; r holds the others. */
int gl_runtime_environment(gl_runtime *r, gl_error *err);

/* Physical memory of this machine in bytes (0 if unknown). */
double gl_system_memory(void);
/* Processors OpenMP may use. */
int gl_cores(void);
/* Monotonic seconds. */
double gl_now(void);

/* Stopping on request: gl_stop_request (async-signal-safe, so a signal
 * handler may call it) makes every training loop return GL_E_INTERRUPTED
 * after the step it is in, with its state consistent (a checkpoint written
 * then resumes bit-identically), and sweeps stop claiming runs.
 * gl_stop_clear resets it. */
void gl_stop_request(void);
int gl_stop_requested(void);
void gl_stop_clear(void);
/* A signal handler that calls gl_stop_request: programs that have no
 * handler of their own (a Python session) install it while training. */
void gl_stop_signal_handler(int sig);

#ifdef __cplusplus
}
#endif

#endif
