/* groklab: the GPU backend (CUDA) for the two-layer MLP.
 *
 * A population of M trainers of one shape (gl_gpu_compatible) trains in
 * lockstep: every step is one set of kernel launches and batched GEMMs for
 * all members, and metrics are computed on the GPU and copied back only at
 * logging steps. Trainers are created as usual (config device "cuda"): their
 * data, initial weights and Philox streams are the CPU's, and the results
 * (weights, optimizer state, logged rows, divergence) come back into them, so
 * run files, checkpoints and sweeps work unchanged. Precision: FP32
 * throughout (cuBLAS with TF32 tensor cores off), sums over examples in
 * example order as on the CPU; see README for the measured agreement. */
#ifndef GROKLAB_GPU_H
#define GROKLAB_GPU_H

#include <stddef.h>

#include "groklab/config.h"
#include "groklab/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this build has the CUDA backend and a GPU is usable; otherwise 0 with
 * the reason in why (found once per process). gl_runtime's gpu_emulate makes
 * the backend run on the host emulator instead (1: tests without a GPU; 2:
 * strict, which also checks what a GPU would enforce: no host access to
 * device memory, no kernel that depends on the order of its threads, copies
 * and GEMM arguments that cudaMemcpy and cuBLAS accept;
 * src/backend/gpu/dev_host.c). */
int gl_gpu_available(char *why, size_t cap);

/* Whether runs a and b can train in one population: same task, p, width,
 * activation, norm, loss, optimizer, batch size, steps, IPR convention and
 * basis and logging schedule, snapshots, and the training methods used
 * (GrokFast's kind and MA window, clipping and weight norm on or off, the
 * decay's target and groups, the frozen tensors). They may differ in
 * alpha, xi, seeds, lr, wd, betas, eps, momentum, dropout and norm
 * settings, and in the methods' values. */
int gl_gpu_compatible(const gl_config *a, const gl_config *b);

/* Checks that config c can run on the GPU backend (the two-layer MLP, a
 * usable device: GL_E_NODEVICE otherwise). */
int gl_gpu_check_config(const gl_config *c, gl_error *err);

/* Members of config c's shape that fit in the GPU's free memory at once. */
int gl_gpu_population_fit(const gl_config *c, gl_error *err);

/* Trains members[0..M) (compatible, at the same step) in lockstep to step
 * until (or the end) on the device of the runtime settings. When the GPU's
 * memory cannot hold them all, each half trains in turn. GL_E_INTERRUPTED
 * after a whole step when gl_stop_request asked for it. */
int gl_gpu_population_advance(gl_trainer **members, int M, long until, gl_error *err);

/* Where a training step's time goes: every kernel and product of the step,
 * each synchronized and timed on its own. */
enum { GL_GPU_PROFILE_OPS = 48 };
typedef struct gl_gpu_profile {
    int steps; /* in: the steps to profile (after the timed ones) */
    int n;     /* out: the operations seen, in the order they first ran */
    struct {
        char name[40];   /* a kernel's name, or "gemm ..." for a product */
        long calls;      /* over all the profiled steps */
        double ms;       /* the same: divide by steps for a step's share */
    } op[GL_GPU_PROFILE_OPS];
} gl_gpu_profile;

/* Benchmark: the members train warmup + steps steps; each timed step is
 * synchronized, and ms[0..steps) gets its milliseconds. With log_every > 0,
 * a step whose count is a multiple of it is followed by the evaluation of a
 * logging step (everything a logged row needs, on the device; no row is
 * kept), inside its time. Then, with prof (NULL: none), prof->steps more
 * steps are profiled (operation by operation). The trainers are left as
 * they were. device (cap bytes) names the GPU, the precision of its products,
 * whether the timed steps were replayed as recorded graphs and how many
 * launches, products and replays each timed step submitted, and *peak
 * is its FP32 peak in FLOP/s (0 if unknown). */
int gl_gpu_bench(gl_trainer **members, int M, int warmup, int steps, int log_every, double *ms,
                 char *device, size_t cap, double *peak, gl_gpu_profile *prof, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
