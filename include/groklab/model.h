/* groklab: the two-layer MLP, f(m, n) = W norm(phi(drop(U e_m + V e_n))).
 *
 * Each layer is a forward/backward pair over raw arrays, written once in
 * src/model/mlp_impl.h and compiled for float (_f32, training) and double
 * (_f64, gradient checks); the formula of every element and row (the
 * activations, norms, losses, dropout) is in src/model/ops.h, which every
 * pass, the optimizers and the GPU kernels share. Shapes, with B examples,
 * width N, modulus p:
 *
 *   Ut, Vt : (p, N)   first layer, stored transposed: row m is U[:, m]
 *   W      : (p, N)   output layer as in the paper
 *   gamma, beta : (N) norm gain and shift
 *   h, a, z : (B, N)  pre-activation, activation, normalized activation
 *   out     : (B, p)  network output
 *
 * Parameters of one model are one contiguous array in the order
 * Ut | Vt | W | gamma | beta (the last two only with a norm), so the
 * optimizer is a single loop and gradients share the layout. */
#ifndef GROKLAB_MODEL_H
#define GROKLAB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_layout {
    int p, N;
    gl_act act;
    gl_norm norm;
    size_t off_u, off_v, off_w, off_gamma, off_beta; /* offsets into params */
    size_t n_params;
} gl_layout;

void gl_layout_init(gl_layout *L, int p, int N, gl_act act, gl_norm norm);

#define GL_DECLARE_LAYERS(R, S)                                                                   \
    /* h[b] = Ut[m[b]] + Vt[n[b]] */                                                              \
    void gl_embed_forward_##S(R *h, const int32_t *m, const int32_t *n, const R *Ut,             \
                              const R *Vt, int B, int N);                                         \
    /* dUt[m[b]] += dh[b], dVt[n[b]] += dh[b] (accumulates) */                                    \
    void gl_embed_backward_##S(R *dUt, R *dVt, const R *dh, const int32_t *m, const int32_t *n,  \
                               int B, int N);                                                     \
    /* x *= keep ? 1/(1-p) : 0, in place; keep: (B, N) bytes */                                   \
    void gl_dropout_apply_##S(R *x, const uint8_t *keep, double prob, long len);                  \
    void gl_act_forward_##S(R *a, const R *h, long len, gl_act act);                              \
    /* dh = da * phi'(h); dh may alias da */                                                      \
    void gl_act_backward_##S(R *dh, const R *da, const R *h, long len, gl_act act);               \
    /* training mode: batch statistics; fills mean, var (N, biased) for backward */               \
    void gl_batchnorm_forward_##S(R *z, R *mean, R *var, const R *a, const R *gamma,              \
                                  const R *beta, int B, int N, double eps);                       \
    /* evaluation mode: running statistics */                                                     \
    void gl_batchnorm_eval_##S(R *z, const R *a, const R *gamma, const R *beta,                   \
                               const R *run_mean, const R *run_var, int B, int N, double eps);    \
    /* da = d/da, dgamma, dbeta accumulate; da may alias dz */                                    \
    void gl_batchnorm_backward_##S(R *da, R *dgamma, R *dbeta, const R *dz, const R *a,           \
                                   const R *mean, const R *var, const R *gamma, int B, int N,     \
                                   double eps);                                                   \
    /* per example over the N features; mean, rstd: (B) */                                        \
    void gl_layernorm_forward_##S(R *z, R *mean, R *rstd, const R *a, const R *gamma,             \
                                  const R *beta, int B, int N, double eps);                       \
    void gl_layernorm_backward_##S(R *da, R *dgamma, R *dbeta, const R *dz, const R *a,           \
                                   const R *mean, const R *rstd, const R *gamma, int B, int N);   \
    /* out = z W^T */                                                                             \
    void gl_linear_forward_##S(R *out, const R *z, const R *W, int B, int N, int p);              \
    /* dW += dout^T z; dz = dout W */                                                             \
    void gl_linear_backward_##S(R *dz, R *dW, const R *dout, const R *z, const R *W, int B,       \
                                int N, int p);                                                    \
    /* mean over B*p of (out - onehot(y))^2; dout = its gradient (if non-NULL) */                 \
    double gl_mse_loss_##S(R *dout, const R *out, const int32_t *y, int B, int p);                \
    /* mean over B of -log softmax(out)[y]; dout = its gradient (if non-NULL) */                  \
    double gl_ce_loss_##S(R *dout, const R *out, const int32_t *y, int B, int p);                 \
    /* a (rows, cols) tensor drawn in the paper's (out, in) order: element i = r*cols + q is      \
     * std * gl_normal(seed, GL_STREAM_INIT, a = i, b = id), stored at dst[i], or transposed      \
     * (transposed != 0) at dst[q*rows + r] */                                                    \
    void gl_init_normal_##S(R *dst, int rows, int cols, int transposed, double std,               \
                            uint64_t seed, uint32_t id);

GL_DECLARE_LAYERS(float, f32)
GL_DECLARE_LAYERS(double, f64)

/* Work buffers of one forward/backward pass over at most B examples. */
typedef struct gl_mlp_work {
    int B;
    float *h, *a, *z, *dz, *out; /* z == a when there is no norm */
    float *mean, *stat;         /* batchnorm: mean, var (N); layernorm: mean, rstd (B) */
    uint8_t *keep;              /* dropout mask, NULL without dropout */
} gl_mlp_work;

int gl_mlp_work_alloc(gl_mlp_work *w, const gl_layout *L, int B, int dropout);
void gl_mlp_work_free(gl_mlp_work *w);

/* One batch of a training step: rows b = 0..B-1 are examples (m[b], n[b]) with
 * labels y[b]; id[b] names the example for its dropout mask (NULL: b). */
typedef struct gl_batch {
    const int32_t *m, *n, *y, *id;
    int B;
} gl_batch;

/* Dropout mask of one example at one step: keep[k] = u >= prob for k < N,
 * u uniform from (seed, DROPOUT, a = ex*ceil(N/4) + k/4, b = step), word k % 4.
 * keep: (N) bytes. */
void gl_dropout_row(uint8_t *keep, uint64_t ex, int N, double prob, uint64_t seed, long step);

/* The masks of every model (the two-layer MLP's above, the deep MLP's, the
 * Transformer's) are ranges of one sequence per example and stream: of
 * example ex's E mask elements, element e at `step` is kept when u >= prob,
 * u = gl_u01(word e % 4 of gl_philox(seed, stream, a = ex*ceil(E/4) + e/4,
 * b = step)). keep[e - e0] for e in [e0, e1) (all kept when prob <= 0);
 * keep: (e1 - e0) bytes. */
void gl_dropout_range(uint8_t *keep, uint32_t stream, uint64_t ex, uint64_t E, uint64_t e0,
                      uint64_t e1, double prob, uint64_t seed, long step);

/* The layered training pass (the reference): forward in training mode over
 * whole-batch arrays in w, the loss, and its gradient into grads (n_params,
 * overwritten). Loss, dropout, norm epsilon and seed come from c; step picks
 * the dropout masks. Any norm; with BatchNorm, w->mean and w->stat hold the
 * batch mean and biased variance afterwards. Returns the loss; when it is not
 * finite the gradient is left unfinished. */
double gl_mlp_loss_grad(gl_mlp_work *w, float *grads, const gl_layout *L, const float *params,
                        const gl_config *c, long step, const gl_batch *bt);

/* The fused training pass (src/model/fused.c): the same loss and gradient as
 * gl_mlp_loss_grad, without BatchNorm, computed chunk by chunk so that every
 * (rows, N) array stays in cache. The batch is cut into chunks of at most
 * `rows` rows; chunk i belongs to lane i % lanes, a lane runs its chunks in
 * order into its own partial gradient, and the partials are summed in lane
 * order: results depend on rows and lanes, never on the thread count. */
typedef struct gl_fused_work {
    int rows, lanes, max_B;
    size_t slot_floats; /* floats per slot of scratch */
    float *scratch;     /* one slot per lane, used per thread: (rows, N|p) arrays and row stats */
    uint8_t *keep;      /* (lanes, rows, N) dropout masks, NULL without dropout */
    float *part;        /* (lanes, n_params) partial gradients */
    double *loss_part;  /* (chunks) loss sums of the chunks */
    float *bn_mean;     /* (N) BatchNorm: the batch's mean (NULL without BatchNorm) */
    float *bn_var;      /* (N) BatchNorm: the batch's (biased) variance */
} gl_fused_work;

/* Allocates for batches of at most max_B rows (and dropout masks if dropout);
 * rows, lanes <= 0 pick the tuned defaults. With BatchNorm, whose statistics
 * need the whole batch, max_B must be at most the rows of one chunk
 * (gl_fused_rows). Returns 0, or -1 when out of memory or for a BatchNorm
 * batch larger than a chunk. */
int gl_fused_work_alloc(gl_fused_work *f, const gl_layout *L, int max_B, int dropout, int rows,
                        int lanes);
void gl_fused_work_free(gl_fused_work *f);

/* The rows of the default chunk (rows <= 0 above): the largest BatchNorm
 * batch that the fused pass takes. */
int gl_fused_rows(const gl_layout *L);

/* Bytes that gl_fused_work_alloc allocates. */
double gl_fused_work_bytes(const gl_layout *L, int max_B, int dropout);

/* *loss and grads (n_params, overwritten) as gl_mlp_loss_grad; with
 * BatchNorm also the batch's statistics in f->bn_mean, f->bn_var. Returns 0,
 * or -1 for a batch larger than max_B, or dropout without masks allocated.
 * When *loss is not finite the gradient is left unfinished. */
int gl_fused_loss_grad(gl_fused_work *f, double *loss, float *grads, const gl_layout *L,
                       const float *params, const gl_config *c, long step, const gl_batch *bt);

/* Forward in evaluation mode (no dropout, batchnorm with running statistics)
 * over B examples; result in w->out. run_mean/run_var may be NULL without BN. */
void gl_mlp_eval(gl_mlp_work *w, const gl_layout *L, const float *params, const float *run_mean,
                 const float *run_var, double norm_eps, const int32_t *m, const int32_t *n, int B);

/* Sets the BLAS library to one thread: groklab cuts every product into
 * fixed chunks and spreads them over its own threads (src/model/blas.c). */
void gl_blas_init(void);
/* Name of the BLAS compiled in. */
const char *gl_blas_name(void);

#ifdef __cplusplus
}
#endif

#endif
