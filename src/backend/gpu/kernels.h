/* groklab GPU backend: the kernels of a population step, one body per thread.
 *
 * Each kernel is a function gl_k_NAME(row, col, v) of one cell of a rows x
 * cols grid (the "over (rows, cols)" of its comment: e.g. (M*R, N), a batch
 * row and a neuron) and the population's view v (device pointers and
 * sizes). The grid's shape spares the kernels 64-bit divisions per element.
 * The bodies are plain C that nvcc compiles as __host__ __device__:
 * src/backend/gpu/dev_cuda.cu launches them over a CUDA grid, src/backend/gpu/dev_host.c
 * runs them in loops (the emulator the tests use on machines without a GPU). The math is the CPU's:
 * every activation, norm, loss, optimizer and dropout formula is a function
 * of src/model/ops.h that the CPU passes call too, and sums over examples
 * run in example order with double accumulators, as there.
 *
 * A population is M members of one shape (p, N, activation, norm, loss,
 * optimizer, batch size) that may differ in their data (alpha, xi, split and
 * noise seeds), model seed, lr, wd, betas, dropout and norm settings. Member
 * i's rows are [i*R, i*R + rows_i): batches are padded to R rows. A
 * training GEMM covers its group's rows (pop.c groups members by rows, and
 * merges groups of nearly equal rows); where a member has fewer rows than
 * its GEMM (merged groups, minibatches: pad_zero), the padding is zero in
 * every gradient, so it adds exact zeros. Shapes (per member, stacked over M):
 *
 *   P, G, M1, M2 : (np)     parameters Ut | Vt | W | gamma | beta (model.h)
 *   run_mean/var : (N)      BatchNorm running statistics
 *   bm, bn, by, by2, bid : (R)  the current rows: operands, label, true
 *                           label (evaluation), example id (dropout)
 *   a, z         : (R, N)   activation, normalized activation (z is a
 *                           without a norm); backward reuses z for dz and
 *                           da. The pre-activation h is recomputed from the
 *                           weights where it is needed (gl_k_pre), not stored
 *   keep         : (R, N)   dropout masks
 *   out          : (R, ldo) output, then dL/dout in place (columns p..ldo
 *                           padding, never read: rows 32-byte aligned for cuBLAS)
 *   s1, s2       : BatchNorm (N) batch mean and biased variance; LayerNorm
 *                  (R) row mean and 1/std.  s3, s4: the same shapes, in
 *                  double: the forward's mean and 1/std unrounded (the
 *                  norm applies them, as the CPU does), then the
 *                  backward's sums
 *   rowloss      : (R) double  loss of each row (evaluation);  rowhit: (R) flags
 *   pred         : (T)      the evaluation's argmax of each training example,
 *                           in the data's order (the examples' story)
 *   csr_off      : (2, p+1)  rows grouped by operand: the rows b with
 *   csr_idx      : (2, R)    bm[b] == r are csr_idx[0][csr_off[0][r] ..
 *                            csr_off[0][r+1]), in increasing b (bn likewise) */
#ifndef GROKLAB_GPU_KERNELS_H
#define GROKLAB_GPU_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "core/philox.h"
#include "groklab/rng.h"
#include "model/ops.h" /* the numerics, shared with the CPU */

/* Per-member settings and state. */
typedef struct gl_gmember {
    double lr, wd, beta1, beta2, eps, momentum, dropout, bn_momentum, norm_eps;
    uint64_t seed;
    int n_train, n_test, n_corrupt;
    int rows;           /* rows of the current batch (or evaluation chunk) */
    long step;          /* the trainer's step (0-based) being taken: dropout masks, the
                           minibatch, the optimizer's bias corrections; gl_k_optim_prep
                           advances it. On the device, so that a step replayed as a
                           recorded graph (dev.h) sees the step it is */
    int alive;          /* 0 once a loss was not finite */
    long diverged_at;   /* the step whose loss was not finite, or -1 */
    /* the training methods (src/train/methods.c): the schedule, GrokFast's
     * alpha and lambda, --clip, --weight-norm and the initial weights' norm */
    long warmup, steps;
    int lr_decay;
    double gf_alpha, gf_lambda, clip, weight_norm, init_norm;
    double lr_now;      /* this step's scheduled learning rate */
    float step_size, bc2_sqrt, decay; /* this step's optimizer constants */
    float clip_f, norm_f; /* this step's clipping and weight-norm factors (1: none) */
} gl_gmember;

/* Evaluation accumulators per member: GL_ACC doubles. */
enum {
    GL_ACC_TRAIN_LOSS, GL_ACC_TRAIN_HIT, GL_ACC_LO_HIT, GL_ACC_LO_HIT2, GL_ACC_HI_HIT,
    GL_ACC_TEST_LOSS, GL_ACC_TEST_HIT, GL_ACC_SQ_U, GL_ACC_SQ_V, GL_ACC_SQ_W, GL_ACC_IPR,
    GL_ACC
};

/* Enum values as in groklab/config.h (kept as ints: this header is also CUDA). */
enum { GK_ACT_QUADRATIC, GK_ACT_RELU, GK_ACT_GELU, GK_ACT_IDENTITY };
enum { GK_NORM_NONE, GK_NORM_BATCHNORM, GK_NORM_LAYERNORM };
enum { GK_LOSS_MSE, GK_LOSS_CE };
enum { GK_OPT_ADAMW, GK_OPT_ADAM, GK_OPT_SGD };
enum { GK_SET_TRAIN, GK_SET_TEST };

typedef struct gl_gview {
    int M, R, N, p;
    int ldo;            /* out's row stride: p rounded up to a multiple of 8 */
    long np, off_u, off_v, off_w, off_g, off_b;
    int act, norm, loss, optim;
    int batch;          /* examples per step; 0: full batch */
    int drop_last;      /* minibatches: an epoch leaves out its short last slice */
    int T, S;           /* train and test rows per member in tr_*, te_* */
    int n_ipr, nb;      /* IPR transform length and one-sided bins */
    int ipr_full;       /* full-DFT convention (bins counted twice) */
    /* the training methods the population shares (the values are per member) */
    int gf, gf_window;  /* GrokFast: GL_GROKFAST_*, the MA filter's window */
    int clip, wnorm;    /* --clip, --weight-norm on */
    int wd_init;        /* weight decay toward the initial weights */
    int wd_matrices;    /* the norms' gains and shifts are not decayed */
    int train_norm;     /* only the norms' gains and shifts train */
    int nchunk;         /* GL_RED_BLOCK chunks of np: the norms' partial sums */
    /* per launch (recorded with the launch in a graph: dev.h) */
    int training;       /* training mode (dropout, batch statistics) */
    int pad_zero;       /* zero the padding rows (GEMMs read them: minibatches) */
    int set;            /* evaluation: GK_SET_TRAIN | GK_SET_TEST */
    int start;          /* evaluation: first row of this chunk */
    int sq_params;      /* gl_k_sq_part sums the weights (1) or the gradient (0) */
    gl_gmember *mem;
    float *P, *G, *M1, *M2, *run_mean, *run_var;
    float *filter;      /* (M, gf_window for MA else 1, np) GrokFast's state */
    float *init;        /* (M, np) the initial weights (decay toward them) */
    int32_t *tr_m, *tr_n, *tr_y, *tr_true, *te_m, *te_n, *te_y, *perm;
    int32_t *bm, *bn, *by, *by2, *bid;
    int32_t *csr_off, *csr_idx;
    float *a, *z, *out, *s1, *s2;
    double *s3, *s4;
    double *rstd;       /* BatchNorm (N): the backward's 1/std of each column, from s2 */
    uint8_t *keep;
    double *rowloss;
    int32_t *rowhit;
    int32_t *pred;      /* (M, T) evaluation: each training example's predicted class */
    double *acc;        /* (M, GL_ACC) */
    float *spec;        /* (M, 3, 2*nb, N) DFT of Ut, Vt, W (column-major (N, 2nb) each) */
    double *part;       /* (M, 3, p) norm partial sums; (M, N) per-neuron IPR; (M, 5, runs)
                           an evaluation chunk's sums (k_metrics.h); (M, nchunk) the
                           methods' norms (k_optim.h) */
} gl_gview;

GL_HD long gl_k_min(long a, long b) { return a < b ? a : b; }

/* The kernels, one family per file. */
#include "backend/gpu/k_batch.h"
#include "backend/gpu/k_forward.h"
#include "backend/gpu/k_loss.h"
#include "backend/gpu/k_backward.h"
#include "backend/gpu/k_optim.h"
#include "backend/gpu/k_metrics.h"

/* The kernel list, for the launchers: X(name) for every gl_k_name of the families above. */
#define GL_GPU_KERNELS(X)                                                                          \
    X(batch_rows) X(gather) X(csr_count) X(csr_scan) X(csr_fill) X(hidden) X(bn_stats)            \
    X(ln_stats) X(norm) X(mse_grad) X(loss_rows) X(bn_back_sums) X(ln_back_rows)                  \
    X(ln_back_cols) X(norm_back) X(embed_back) X(optim_prep) X(grad_filter) X(sq_part) X(clip_factor) \
    X(optim) X(norm_factor) X(rescale) X(acc_zero) X(eval_part) X(eval_acc) X(norm_rows) X(norm_sum)    \
    X(ipr) X(ipr_mean)

#define GL_K_ENUM(name) GL_K_##name,
typedef enum { GL_GPU_KERNELS(GL_K_ENUM) GL_K_COUNT } gl_kernel;
#undef GL_K_ENUM

/* the kernel's name, for host code (messages, profiles) */
static inline const char *gl_kernel_name(gl_kernel k) {
#define GL_K_NAME(name) #name,
    static const char *const names[] = {GL_GPU_KERNELS(GL_K_NAME)};
#undef GL_K_NAME
    return k >= 0 && k < GL_K_COUNT ? names[k] : "?";
}

#endif
