/* groklab: the encoder-only Transformer of the paper's Section 2.2 / Appendix G.
 *
 * The input is the two-token sequence (m, n) over a vocabulary of p symbols
 * (T = 2 positions). With d = n_embd, H = n_head, dh = d / H, F = mlp_factor*d:
 *
 *   x = drop_emb(tok_emb[m | n] + pos_emb[0 | 1])                   x: (T, d)
 *   for each of n_layer blocks:
 *       x = mu*x + drop_resid(Attn(LN1(x)) Wproj^T)
 *       x = mu*x + drop_resid(act(LN2(x) Wfc^T) Wfcproj^T)
 *   logits = LNf(x[T-1]) Whead^T * d^(-(1+s)/2)                    logits: (p)
 *
 * Attn: q, k, v = rows of LN1(x) Wqkv^T (Wqkv is one (3d, d) weight, rows
 * 0..d-1 make q, d..2d-1 k, 2d..3d-1 v, as PyTorch's single c_attn Linear);
 * per head h, scores S[t][u] = q_t . k_u / dh^((1+s)/2), P = softmax over u,
 * drop_attn(P), y_t = sum_u P[t][u] v_u, the heads concatenated in order.
 * The attention is bidirectional: no causal mask. (With one block this is
 * the same function as causal attention, since only the last position, which
 * sees both positions either way, reaches the head; with two or more blocks
 * position 0 also attends to position 1.)
 *
 * Every linear map is bias-free. LN1, LN2 and LNf are PyTorch LayerNorms
 * (weight and bias, eps ln_eps) when layernorm is on, the identity otherwise
 * (then they have no parameters). With tie, the head weight is tok_emb (one
 * tensor, the two gradients summed). Dropout acts in training mode only.
 *
 * Only the last position reaches the head, so the last block computes its
 * queries, attention output, residual and MLP at position T-1 alone (keys
 * and values at both positions). The function is the same; the cost of the
 * last block drops by about 40%.
 *
 * Parameters: one contiguous array (so one optimizer loop covers the model,
 * and gradients share the layout), in this order, each row-major in
 * PyTorch's (out_features, in_features) shape, named by the state_dict key of
 * tests/python/torch_transformer.py (a nanoGPT-style module):
 *
 *   tok_emb    (p, d)     transformer.wte.weight
 *   pos_emb    (T, d)     transformer.wpe.weight
 *   per block l = 0..n_layer-1, each block block_size floats:
 *     ln1_w, ln1_b (d)    transformer.h.<l>.ln_1.weight / .bias    (layernorm only)
 *     qkv        (3d, d)  transformer.h.<l>.attn.c_attn.weight
 *     proj       (d, d)   transformer.h.<l>.attn.c_proj.weight
 *     ln2_w, ln2_b (d)    transformer.h.<l>.ln_2.weight / .bias    (layernorm only)
 *     fc         (F, d)   transformer.h.<l>.mlp.c_fc.weight
 *     fcproj     (d, F)   transformer.h.<l>.mlp.c_proj.weight
 *   lnf_w, lnf_b (d)      transformer.ln_f.weight / .bias          (layernorm only)
 *   head       (p, d)     lm_head.weight                           (not with tie)
 *
 * Initialization (the authors' code): linear weights kaiming-normal with
 * fan_in and linear gain, N(0, 1/fan_in); embeddings N(0, 1); LayerNorm
 * weight 1, bias 0. Element i of a tensor (row-major index) is
 * gl_normal(seed, GL_STREAM_INIT, a = i, b = tensor id) * std, with ids
 *   16 tok_emb, 17 pos_emb, 18 head,
 *   32 + 4l + {0 qkv, 1 proj, 2 fc, 3 fcproj} for block l,
 * fixed whatever the options, so turning LayerNorm or tying on or off does
 * not change the other tensors' values. Tied, the head is tok_emb's N(0, 1).
 *
 * Dropout masks are counter-based: every example has E = gl_tf_mask_len()
 * mask elements, laid out as
 *   [0, T*d)                          embeddings, (t, k)
 *   then per block l, from T*d + l*(H*T*T + 2*T*d):
 *     H*T*T                           attention probabilities, (h, t, u)
 *     T*d                             after the attention projection, (t, k)
 *     T*d                             after the MLP projection, (t, k)
 * and element e of example `id` at step `step` is kept when
 * u >= prob of its kind, u = gl_u01(word e % 4 of gl_philox(seed,
 * GL_STREAM_TF_DROPOUT, a = id * ceil(E/4) + e/4, b = step)). Kept values
 * are scaled by 1/(1 - prob), as PyTorch does. So masks depend on the
 * example, the step and the element, never on threads or on batching.
 *
 * Precision: everything is written once (src/model/transformer_layers.h,
 * transformer_impl.h; the elements and rows in src/model/ops.h) and compiled
 * for float (_f32, training) and double (_f64, gradient checks).
 *
 * Determinism: a batch is cut into chunks of examples; chunk i belongs to
 * lane i % lanes, a lane runs its chunks in order into its own partial
 * gradient, the partials are summed in lane order and the chunks' losses in
 * chunk order. Results depend on rows and lanes (fixed by the work), never on
 * the number of threads. */
#ifndef GROKLAB_TRANSFORMER_H
#define GROKLAB_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/config.h"
#include "groklab/error.h"
#include "groklab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Philox stream of the Transformer's dropout masks (see rng.h). */
#define GL_STREAM_TF_DROPOUT 7

/* Sequence length: the two operands. */
#define GL_TF_T 2

/* The knobs of one Transformer. gl_tf_spec_default gives the paper's. */
typedef struct gl_tf_spec {
    int p;          /* vocabulary = modulus                                  */
    int d;          /* n_embd (128)                                          */
    int n_layer;    /* blocks (1)                                            */
    int n_head;     /* heads (4); divides d                                  */
    int mlp_factor; /* MLP hidden width = mlp_factor * d (4)                 */
    gl_act act;     /* MLP activation: GL_ACT_RELU (default) or GL_ACT_GELU  */
    int layernorm;  /* LN1, LN2, LNf on (1) or identity (0, default)         */
    int tie;        /* head weight = tok_emb (0)                             */
    double mu;      /* residual scale (1)                                    */
    double s;       /* scaling exponent (1): scores / dh^((1+s)/2), logits * d^(-(1+s)/2) */
    double drop_emb, drop_attn, drop_resid; /* dropout probabilities (0)     */
    double ln_eps;  /* LayerNorm epsilon (1e-5)                              */
} gl_tf_spec;

void gl_tf_spec_default(gl_tf_spec *s, int p);

/* Offsets of one block's tensors into the parameter array (block l: see
 * gl_tf_block_at). Without LayerNorm the ln fields point at the next tensor
 * and have length 0. */
typedef struct gl_tf_block {
    size_t ln1_w, ln1_b, qkv, proj, ln2_w, ln2_b, fc, fcproj;
} gl_tf_block;

typedef struct gl_tf_layout {
    gl_tf_spec spec;
    int d_head, d_ff;          /* d / n_head, mlp_factor * d */
    double attn_scale;         /* dh^(-(1+s)/2) */
    double out_scale;          /* d^(-(1+s)/2) */
    size_t off_tok, off_pos;   /* (p, d), (T, d) */
    gl_tf_block block0;        /* block 0's offsets */
    size_t block_size;         /* floats per block; block l = block0 + l * block_size */
    size_t off_lnf_w, off_lnf_b; /* (d) each, layernorm only */
    size_t off_head;           /* (p, d); == off_tok with tie */
    size_t n_params;
} gl_tf_layout;

/* Validates spec (p >= 2, d >= 1, 1 <= n_layer <= 64, n_head divides d,
 * mlp_factor >= 1, probabilities in [0, 1), ln_eps > 0, mu and s finite) and
 * fills L. Returns 0, or -1 with the reason in err. */
int gl_tf_layout_init(gl_tf_layout *L, const gl_tf_spec *spec, gl_error *err);

/* Offsets of block l's tensors. */
static inline gl_tf_block gl_tf_block_at(const gl_tf_layout *L, int l) {
    gl_tf_block b = L->block0;
    size_t o = (size_t)l * L->block_size;
    b.ln1_w += o;
    b.ln1_b += o;
    b.qkv += o;
    b.proj += o;
    b.ln2_w += o;
    b.ln2_b += o;
    b.fc += o;
    b.fcproj += o;
    return b;
}

/* Dropout mask elements per example (E above). */
long gl_tf_mask_len(const gl_tf_layout *L);

/* The dropout mask of example `id` at `step`: keep (E) bytes, 1 = kept. */
void gl_tf_dropout_row(uint8_t *keep, const gl_tf_layout *L, uint64_t id, uint64_t seed,
                       long step);

/* The tensors of the parameter array, in order: name (the state_dict key),
 * offset, shape, how it is initialized. */
typedef enum { GL_TF_INIT_NORMAL, GL_TF_INIT_LINEAR, GL_TF_INIT_ONE, GL_TF_INIT_ZERO } gl_tf_init;
typedef struct gl_tf_tensor {
    char name[64];
    size_t off;
    int ndim;
    int shape[2];   /* rows, cols (cols = 1 for ndim 1) */
    gl_tf_init init; /* NORMAL N(0,1); LINEAR N(0, 1/shape[1]); ONE; ZERO */
    uint32_t id;     /* init tensor id (GL_STREAM_INIT's b); 0 for ONE/ZERO */
} gl_tf_tensor;

int gl_tf_tensor_count(const gl_tf_layout *L);
/* Tensor i < gl_tf_tensor_count(L). */
void gl_tf_tensor_at(const gl_tf_layout *L, int i, gl_tf_tensor *t);

/* Bytes that gl_tf_work_new_f32 allocates (rows, lanes <= 0: defaults). */
double gl_tf_work_bytes(const gl_tf_layout *L, int max_B, int rows, int lanes);

/*
 * Per precision S (f32, f64), with R the real type:
 *
 * gl_tf_init_S(params, L, seed)
 *     params: (n_params), the initialization above.
 * gl_tf_work_new_S(&w, L, max_B, rows, lanes, err)
 *     Work buffers for batches of at most max_B examples, chunks of `rows`
 *     examples and `lanes` partial gradients (<= 0: the tuned defaults);
 *     w keeps a copy of L. Returns 0, or -1 (out of memory, bad size).
 * gl_tf_loss_grad_S(w, &loss, grads, params, loss_kind, seed, step, bt, err)
 *     Training mode (dropout masks of `step`, keyed by bt->id[b], or b when
 *     id is NULL): forward over the bt->B examples, the mean loss
 *     (GL_LOSS_MSE: over B*p entries of (logits - onehot(y))^2;
 *     GL_LOSS_CE: over B of -log softmax(logits)[y]) into *loss, and its
 *     gradient into grads (n_params, overwritten). Returns 0, or -1 when
 *     B is not in [1, max_B]. When *loss is not finite the gradient is
 *     left unfinished.
 * gl_tf_logits_S(w, logits, params, m, n, B)
 *     Evaluation mode (no dropout): logits (B, p) of the examples (m[b], n[b]),
 *     any B >= 0 (chunked; not limited by max_B).
 */
#define GL_TF_DECLARE(R, S)                                                                        \
    typedef struct gl_tf_work_##S gl_tf_work_##S;                                                  \
    void gl_tf_init_##S(R *params, const gl_tf_layout *L, uint64_t seed);                          \
    int gl_tf_work_new_##S(gl_tf_work_##S **w, const gl_tf_layout *L, int max_B, int rows,         \
                           int lanes, gl_error *err);                                              \
    void gl_tf_work_free_##S(gl_tf_work_##S *w);                                                   \
    int gl_tf_loss_grad_##S(gl_tf_work_##S *w, double *loss, R *grads, const R *params,            \
                            gl_loss loss_kind, uint64_t seed, long step, const gl_batch *bt,      \
                            gl_error *err);                                                        \
    void gl_tf_logits_##S(gl_tf_work_##S *w, R *logits, const R *params, const int32_t *m,         \
                          const int32_t *n, int B);

GL_TF_DECLARE(float, f32)
GL_TF_DECLARE(double, f64)

#ifdef __cplusplus
}
#endif

#endif
