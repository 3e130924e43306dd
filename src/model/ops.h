/* groklab: the numerics of every model, written once per element or per row.
 *
 * The two-layer MLP's layered pass (mlp_impl.h) and fused pass (fused.c),
 * the deep MLP (deep_impl.h), the Transformer (transformer_*.h), the
 * optimizers (src/train/optim.c) and the GPU kernels
 * (src/backend/gpu/k_*.h) compute their activations, norms, losses,
 * optimizer steps and dropout masks with these functions, so that the
 * formulas, and the order and precision of every operation in them, exist
 * once. The bodies are plain C that nvcc compiles as __host__ __device__
 * (GL_HD); they allocate nothing, and loops over whole batches (threads,
 * blocks, the BLAS) stay with their callers.
 *
 * The functions that depend on the precision are written once in
 * ops_impl.h and compiled here for float (_f32: training, and the GPU) and
 * double (_f64: the gradient checks of the tests). Where a formula mixes
 * precisions it says so: the result of a CPU and a GPU pass is the same to
 * the bit when they call the same function on the same inputs.
 *
 * Include this before defining a template's R and S (mlp_impl.h and the
 * others): it defines and undefines them itself. */
#ifndef GROKLAB_MODEL_OPS_H
#define GROKLAB_MODEL_OPS_H

#if defined(R) || defined(S)
#error "model/ops.h: include it before defining a template's R and S"
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/philox.h" /* GL_HD */
#include "groklab/config.h"

#ifdef __CUDACC__
#define GL_RESTRICT __restrict__
#else
#define GL_RESTRICT restrict
#endif

/* M_SQRT1_2 and M_PI, spelled out: nvcc's math.h need not define them */
#define GL_SQRT1_2 0.70710678118654752440
#define GL_PI 3.14159265358979323846

GL_HD int gl_imin(int a, int b) { return a < b ? a : b; }

/* ---------------------------------------------------------------------------
 * Activations (the precision-dependent ones in ops_impl.h: gl_act_*,
 * gl_act_back_*). */

/* d/dx GELU(x) = Phi(x) + x phi(x), in double (the callers round it) */
GL_HD double gl_gelu_grad(double x) {
    double cdf = 0.5 * (1.0 + erf(x * GL_SQRT1_2));
    double pdf = exp(-0.5 * x * x) / sqrt(2.0 * GL_PI);
    return cdf + x * pdf;
}

/* The CPU's loops over an activation: one loop per activation, so that each
 * vectorizes (gcc does not hoist a switch out of a loop). BODY(A) is the
 * loop for the constant activation A. */
#define GL_ACT_SWITCH(act, BODY)                                                                   \
    switch (act) {                                                                                 \
    case GL_ACT_QUADRATIC: BODY(GL_ACT_QUADRATIC); break;                                          \
    case GL_ACT_RELU: BODY(GL_ACT_RELU); break;                                                    \
    case GL_ACT_GELU: BODY(GL_ACT_GELU); break;                                                    \
    case GL_ACT_IDENTITY:                                                                          \
    case GL_ACT_AUTO: /* resolved before any layer runs (gl_config_resolve) */                     \
        BODY(GL_ACT_IDENTITY);                                                                     \
        break;                                                                                     \
    }

/* ---------------------------------------------------------------------------
 * BatchNorm and LayerNorm, per element (the rows and precision-dependent
 * parts in ops_impl.h). xhat = (a - mean) * rstd, rstd = 1 / sqrt(var + eps)
 * with the biased variance, as torch.nn.BatchNorm1d and LayerNorm in
 * training mode. */

GL_HD double gl_rstd(double var, double eps) { return 1.0 / sqrt(var + eps); }

/* z = xhat * gamma + beta from statistics in double (the CPU passes its
 * unrounded ones, and so do the GPU kernels) */
GL_HD double gl_norm_apply(double a, double mean, double rstd, double gamma, double beta) {
    return (a - mean) * rstd * gamma + beta;
}

/* dL/da of one element of a norm over n values, from g = dL/dxhat, its sum
 * sg over the n values and the sum sgx of g * xhat: scale / n * (n g - sg -
 * xhat sgx), scale = rstd (LayerNorm, g = dz * gamma) or gamma * rstd
 * (BatchNorm, g = dz); gl_norm_back_c takes c = scale / n computed once
 * for a column (the same number, without a division per element) */
GL_HD double gl_norm_back_c(double c, double n, double g, double sg, double xhat, double sgx) {
    return c * (n * g - sg - xhat * sgx);
}
GL_HD double gl_norm_back(double scale, double n, double g, double sg, double xhat, double sgx) {
    return gl_norm_back_c(scale / n, n, g, sg, xhat, sgx);
}

/* ---------------------------------------------------------------------------
 * Losses: MSE against one-hot targets and cross-entropy, both means over
 * the batch (MSE over its B * p entries). The rows are in ops_impl.h. */

/* dL/dout = g * (out - onehot) of the MSE: g = 2 / (B p) */
GL_HD double gl_mse_scale(int B, int p) { return 2.0 / ((double)B * p); }

/* dL/do_j of the mean cross-entropy over B rows: (softmax_j - [j == y]) / B
 * with softmax_j = e / zs (e = exp(o_j - max), zs their sum) */
GL_HD double gl_ce_grad(double e, double zs, int hit, int B) {
    return hit ? (e / zs - 1.0) / B : e / zs / B;
}

/* ---------------------------------------------------------------------------
 * Optimizers: one parameter's AdamW, Adam or SGD update with PyTorch's
 * formulas (groklab/optim.h), gl_optim_elem_* in ops_impl.h. */

/* One step's settings and constants; t is the 1-based step. */
typedef struct gl_optim_k {
    int optim; /* gl_optim */
    int first; /* t == 1: SGD's momentum buffer starts as the gradient */
    double lr, wd, momentum, beta1, beta2, eps;
    double decay;     /* 1 - lr wd (AdamW's decoupled decay) */
    double step_size; /* lr / (1 - beta1^t) */
    double bc2_sqrt;  /* sqrt(1 - beta2^t) */
} gl_optim_k;

GL_HD gl_optim_k gl_optim_consts(int optim, double lr, double wd, double momentum, double beta1,
                                 double beta2, double eps, long t) {
    gl_optim_k k;
    k.optim = optim;
    k.first = t == 1;
    k.lr = lr;
    k.wd = wd;
    k.momentum = momentum;
    k.beta1 = beta1;
    k.beta2 = beta2;
    k.eps = eps;
    k.decay = 1.0 - lr * wd;
    k.step_size = lr / (1.0 - pow(beta1, (double)t));
    k.bc2_sqrt = sqrt(1.0 - pow(beta2, (double)t));
    return k;
}

/* ---------------------------------------------------------------------------
 * The training methods' numerics (src/train/methods.c, the GPU's k_optim.h) */

/* The learning rate's factor at the 1-based step t: a linear warmup over
 * the first `warmup` steps, then decay (gl_lr_decay) over the rest of
 * `steps`: cosine 0.5 (1 + cos(pi u)) or linear 1 - u, u = 0 at the first
 * decayed step. */
GL_HD double gl_lr_schedule(long warmup, int decay, long steps, long t) {
    if (t < 1) t = 1;
    if (t <= warmup) return (double)t / (double)warmup;
    if (decay == GL_DECAY_NONE || steps <= warmup) return 1.0;
    double u = (double)(t - 1 - warmup) / (double)(steps - warmup);
    return decay == GL_DECAY_COSINE ? 0.5 * (1.0 + cos(3.14159265358979323846 * u)) : 1.0 - u;
}

/* GrokFast's EMA filter on one gradient g: s <- a s + b g (b = 1 - a; s
 * starts as the first gradient), g + lam s returned */
GL_HD float gl_grokfast_ema_f32(float *s, float g, float a, float b, float lam) {
    *s = *s * a + g * b;
    return g + *s * lam;
}

/* ---------------------------------------------------------------------------
 * Dropout. Every model draws its masks from one counter-based sequence per
 * example: with E mask elements per example, element e of example ex at a
 * step is word e % 4 of the Philox counter gl_dropout_ctr0(ex, E) + e / 4
 * (b = step) of the model's stream (groklab/rng.h), kept when its uniform
 * is at least the probability; kept values are scaled by 1 / (1 - prob).
 * CPU masks: gl_dropout_range (model.h). */

GL_HD uint64_t gl_dropout_ctr0(uint64_t ex, uint64_t E) { return ex * ((E + 3) / 4); }

/* u >= thr for u = gl_philox_u01(word) (= gl_u01, the top 24 bits),
 * thr = (float)prob */
GL_HD uint8_t gl_dropout_kept(uint32_t word, float thr) {
    return gl_philox_u01(word) >= thr;
}

GL_HD double gl_dropout_scale(double prob) { return 1.0 / (1.0 - prob); }

/* ---------------------------------------------------------------------------
 * Chunks and lanes: how the CPU passes cut a batch, so that every sum over
 * examples runs in an order that depends on the batch alone, never on the
 * thread count. */

enum {
    GL_ROW_CHUNK = 256,   /* rows of one BLAS call of a whole-batch product */
    GL_COL_CHUNK = 128,   /* columns of one BLAS call of a weight gradient */
    GL_COL_BLOCK = 64,    /* columns per thread of a sum over the batch */
    GL_LOSS_CHUNKS = 1024, /* at most this many chunks of a whole-batch loss */
    GL_RED_BLOCK = 4096,  /* elements per thread of the lanes' reduction */
    GL_ALIGN = 16         /* arrays of a chunked pass start at multiples of this many elements */
};

GL_HD size_t gl_round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* The chunks of a whole-batch loss: fixed chunks of at least 64 rows, at
 * most GL_LOSS_CHUNKS of them. Returns the chunk's rows; *nch = the count. */
GL_HD int gl_loss_chunks(int B, int *nch) {
    int chunk = (B + GL_LOSS_CHUNKS - 1) / GL_LOSS_CHUNKS;
    if (chunk < 64) chunk = 64;
    *nch = (B + chunk - 1) / chunk;
    return chunk;
}

/* The chunks of a chunked pass (fused.c, the Transformer) over B rows:
 * about B / rows of them, rounded up to a multiple of the lanes once there
 * are more than lanes, so that every lane gets as many; all of Rc rows but
 * the last. Chunk i belongs to lane i % lanes, which runs its chunks in
 * order into its own partial gradient; the partials are then summed in
 * lane order (gl_lanes_sum_*) and the chunks' losses in chunk order.
 * Returns Rc; *nch = the chunk count. */
GL_HD int gl_chunking(int B, int rows, int lanes, int *nch) {
    int c = (B + rows - 1) / rows;
    if (c > lanes) c = (c + lanes - 1) / lanes * lanes;
    int Rc = (B + c - 1) / c;
    *nch = (B + Rc - 1) / Rc;
    return Rc;
}

/* At most this many chunks for a batch of at most max_B rows */
GL_HD size_t gl_max_chunks(int max_B, int rows, int lanes) {
    return (size_t)((max_B + rows - 1) / rows) + (size_t)lanes;
}

/* Minibatches: an epoch of n examples in slices of `batch` (the last may be
 * short; with drop_last it is left out) has this many; step s takes slice
 * s % count. */
GL_HD long gl_minibatch_count(long n, long batch, int drop_last) {
    return drop_last ? n / batch : (n + batch - 1) / batch;
}

/* ---------------------------------------------------------------------------
 * The precision-dependent functions, for float and double. */
#define R float
#define S f32
#define RBITS uint32_t
#include "model/ops_impl.h"

#define R double
#define S f64
#define RBITS uint64_t
#include "model/ops_impl.h"

#endif
