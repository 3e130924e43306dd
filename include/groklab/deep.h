/* groklab: the deep MLP of the paper's Section 2.2 / Appendix G.
 *
 * depth L >= 2 weight matrices, bias-free, with L-1 hidden layers of width N:
 *
 *   h_1 = Ut[m] + Vt[n]                 (one-hot inputs as a gather)
 *   z_l = norm_l(drop_l(phi(h_l)))      l = 1..L-1
 *   h_{l+1} = z_l H_l^T                 l = 1..L-2, H_l: (N, N)
 *   out = z_{L-1} W^T                   W: (p, N)
 *
 * norm_l is BatchNorm1d (batch statistics in training, running statistics
 * in evaluation, as PyTorch), LayerNorm, or the identity; it sits after the
 * activation of every hidden layer, where the two-layer MLP has it. With
 * L = 2 the function is the two-layer MLP of model.h (gl_mlp_loss_grad) with
 * the same activation and norm. Dropout (probability `dropout`) acts on every
 * hidden layer's activation in training mode.
 *
 * Parameters: one contiguous array (so one optimizer loop and gradients share
 * the layout):
 *
 *   Ut, Vt      (p, N) each, stored transposed as in model.h (row m is U[:, m])
 *   H_1..H_{L-2} (N, N) each, row-major (out, in) as PyTorch's Linear.weight
 *   W           (p, N)
 *   gamma_l, beta_l (N) each for l = 1..L-1, all gammas then all betas
 *                (BatchNorm / LayerNorm only)
 *
 * Initialization: N(0, std^2), element i (row-major index in the paper's
 * (out, in) shape: U and V are (N, p)) drawn from
 * gl_normal(seed, GL_STREAM_INIT, a = i, b = tensor id), ids 0 U, 1 V, 2 W,
 * 48 + l for H_l (l = 1..L-2). Standard: std = sqrt(2 / fan_in), with
 * fan_in = 2p for the first layer (the concatenated one-hot input), N for
 * the others. Lazy: std = sqrt(2 / N^(2/3)) for every layer. Gains 1,
 * shifts 0.
 *
 * Dropout masks: E = (L-1) * N elements per example, element e = (l-1)*N + k
 * of example `id` at `step` kept when u >= dropout,
 * u = gl_u01(word e % 4 of gl_philox(seed, GL_STREAM_DEEP_DROPOUT,
 * a = id * ceil(E/4) + e/4, b = step)); kept values scaled by 1/(1-dropout).
 *
 * Determinism: every product goes through the chunked layers of model.h and
 * every reduction over examples runs over fixed blocks in a fixed order, so
 * results do not depend on the number of threads. */
#ifndef GROKLAB_DEEP_H
#define GROKLAB_DEEP_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/config.h"
#include "groklab/error.h"
#include "groklab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GL_DEEP_MAX_DEPTH 16

typedef struct gl_deep_layout {
    int p, N, depth;
    gl_act act;
    gl_norm norm;
    gl_param param;
    size_t off_u, off_v;   /* (p, N) each, transposed */
    size_t off_hidden;     /* H_l at off_hidden + (l-1) * N * N, l = 1..depth-2 */
    size_t off_w;          /* (p, N) */
    size_t off_gamma, off_beta; /* (depth-1, N) each; == n_params without a norm */
    size_t n_params;
} gl_deep_layout;

/* Validates (p >= 2, N >= 1, 2 <= depth <= GL_DEEP_MAX_DEPTH) and fills L.
 * Returns 0, or -1 with the reason in err. */
int gl_deep_layout_init(gl_deep_layout *L, int p, int N, int depth, gl_act act, gl_norm norm,
                        gl_param param, gl_error *err);

/* Initialization std of weight layer l = 1..depth (1: U and V, depth: W). */
double gl_deep_init_std(const gl_deep_layout *L, int layer);

/* The training knobs of one pass. */
typedef struct gl_deep_opts {
    gl_loss loss;
    double dropout;     /* probability on hidden activations (0: none)     */
    double norm_eps;    /* BatchNorm / LayerNorm epsilon                    */
    double bn_momentum; /* running statistics update (BatchNorm)            */
    uint64_t seed;      /* dropout masks                                    */
    long step;          /* dropout masks                                    */
} gl_deep_opts;

/*
 * Per precision S (f32, f64), with R the real type:
 *
 * gl_deep_init_S(params, L, seed)
 *     params (n_params): the initialization above.
 * gl_deep_work_new_S(&w, L, max_B, dropout, err) / gl_deep_work_free_S(w)
 *     Buffers for batches of at most max_B examples (dropout masks when
 *     dropout is nonzero); w keeps a copy of L. Returns 0, or -1.
 * gl_deep_loss_grad_S(w, &loss, grads, params, o, bt, run_mean, run_var, err)
 *     Training mode: forward over bt->B examples (dropout masks keyed by
 *     bt->id[b], or b when id is NULL), the mean loss (MSE over B*p entries
 *     of (out - onehot(y))^2, or CE over B) into *loss, its gradient into
 *     grads (n_params, overwritten). With BatchNorm and run_mean/run_var
 *     non-NULL ((depth-1, N) each), updates the running statistics as
 *     torch.nn.BatchNorm1d: r = (1-momentum) r + momentum * batch statistic,
 *     the variance unbiased (B/(B-1)). Returns 0, or -1 when B is not in
 *     [1, max_B] (err filled). When *loss is not finite the gradient is left
 *     unfinished and the running statistics are not updated.
 * gl_deep_logits_S(w, out, params, run_mean, run_var, norm_eps, m, n, B)
 *     Evaluation mode (no dropout; BatchNorm with running statistics, which
 *     may be NULL otherwise): out (B, p), any B >= 0 (chunked internally).
 */
#define GL_DEEP_DECLARE(R, S)                                                                      \
    typedef struct gl_deep_work_##S gl_deep_work_##S;                                              \
    void gl_deep_init_##S(R *params, const gl_deep_layout *L, uint64_t seed);                      \
    int gl_deep_work_new_##S(gl_deep_work_##S **w, const gl_deep_layout *L, int max_B,             \
                             int dropout, gl_error *err);                                          \
    void gl_deep_work_free_##S(gl_deep_work_##S *w);                                               \
    int gl_deep_loss_grad_##S(gl_deep_work_##S *w, double *loss, R *grads, const R *params,        \
                              const gl_deep_opts *o, const gl_batch *bt, R *run_mean, R *run_var,  \
                              gl_error *err);                                                      \
    void gl_deep_logits_##S(gl_deep_work_##S *w, R *out, const R *params, const R *run_mean,       \
                            const R *run_var, double norm_eps, const int32_t *m, const int32_t *n, \
                            int B);

GL_DEEP_DECLARE(float, f32)
GL_DEEP_DECLARE(double, f64)

/* Bytes that gl_deep_work_new_f32 allocates. */
double gl_deep_work_bytes(const gl_deep_layout *L, int max_B, int dropout);

#ifdef __cplusplus
}
#endif

#endif
