/* groklab: the two-layer MLP, f(m, n) = W norm(phi(drop(U e_m + V e_n))).
 *
 * Each layer is a forward/backward pair over raw arrays, written once in
 * src/model/mlp_impl.h and compiled for float (_f32, training) and double
 * (_f64, gradient checks). Shapes, with B examples, width N, modulus p:
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
    double gl_ce_loss_##S(R *dout, const R *out, const int32_t *y, int B, int p);

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

/* Forward in evaluation mode (no dropout, batchnorm with running statistics)
 * over B examples; result in w->out. run_mean/run_var may be NULL without BN. */
void gl_mlp_eval(gl_mlp_work *w, const gl_layout *L, const float *params, const float *run_mean,
                 const float *run_var, double norm_eps, const int32_t *m, const int32_t *n, int B);

#endif
