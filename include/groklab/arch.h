/* groklab: one view of every model family (the two-layer MLP of model.h, the
 * deep MLP of deep.h, the Transformer of transformer.h).
 *
 * A gl_net is the shape of a model built from a config: its family's layout,
 * the length of its parameter array, its BatchNorm running statistics, and
 * its tensors as they appear in files (name, shape, where they live in the
 * parameter array). The trainer, the run directory and the IPR code use it,
 * so they handle every family the same way. */
#ifndef GROKLAB_ARCH_H
#define GROKLAB_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/config.h"
#include "groklab/deep.h"
#include "groklab/model.h"
#include "groklab/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_net {
    gl_arch arch;
    int p;
    gl_layout mlp;       /* GL_ARCH_MLP        */
    gl_deep_layout deep; /* GL_ARCH_DEEP_MLP   */
    gl_tf_layout tf;     /* GL_ARCH_TRANSFORMER */
    size_t n_params;
    int n_run_layers, run_width; /* BatchNorm running statistics: (layers, width) */
    /* IPR units: the length-p vectors of the input (embedding) and output
     * layers, unit k is x[i * stride + k] for i < p (see gl_net_ipr_units). */
    int n_units;
} gl_net;

/* Builds the net of config c (resolved with gl_config_resolve first). */
int gl_net_init(gl_net *n, const gl_config *c, gl_error *err);

/* Tensors as files hold them. U and V of the MLPs are stored transposed,
 * (p, N), in the parameter array; files use the paper's (N, p) (transposed =
 * 1). Other tensors are copied as they are. */
typedef struct gl_net_tensor {
    char name[64];
    size_t off;
    int ndim;
    int64_t shape[2]; /* file shape */
    int transposed;   /* parameter array holds (shape[1], shape[0]) */
    int vector;       /* a norm's gains or shifts: one 1-D vector per layer
                       * (the deep MLP's files stack its layers' vectors) */
} gl_net_tensor;

int gl_net_tensor_count(const gl_net *n);
void gl_net_tensor_at(const gl_net *n, int i, gl_net_tensor *t);

/* Initial parameters (n->n_params) for the model seed. */
void gl_net_init_params(const gl_net *n, float *params, const gl_config *c);

/* The IPR vectors of a layer (0: input / embedding, 1: output), each of
 * length p along the vocabulary or residue axis: vector k of group g is
 * params[off[g] + i * stride + k], i < p, for k < n->n_units, g < *groups.
 *   MLP, deep MLP, input:  row k of U and of V (2 groups: Ut, Vt)
 *   MLP, deep MLP, output: column k of W (1 group)
 *   Transformer, input:    column k of the token embedding (p, d)
 *   Transformer, output:   column k of the head (p, d) (the embedding if tied)
 * Returns the stride. */
int gl_net_ipr_units(const gl_net *n, int layer, size_t off[2], int *groups);

/* The norm gains next to an IPR layer (n_units each), or NULL without a
 * norm: layer 0, the gains right after the input layer (the MLPs' first
 * hidden norm; the Transformer's first LN1); layer 1, the gains right before
 * the output layer (the MLPs' last hidden norm; the Transformer's LNf). */
const float *gl_net_gains(const gl_net *n, const float *params, int layer);

/* The Frobenius norms logged as norm_u, norm_v, norm_w:
 *   MLPs:        U, V, W (the output layer)
 *   Transformer: token embedding, everything between it and the head
 *                (position embedding, blocks, final LayerNorm), head (the
 *                token embedding again when tied). */
void gl_net_norms(const gl_net *n, const float *params, double *u, double *v, double *w);

/* ---- every family's float pass behind one interface ----
 * A gl_net_pass holds the work of net n's training pass for batches of up to
 * B examples (the two-layer MLP's layered pass with BatchNorm over batches
 * of more than one chunk and its fused pass otherwise, the deep MLP's, the
 * Transformer's; config c gives the
 * loss, dropout, norm constants and seed) and of its evaluation on up to
 * eval_rows examples at a time. n must outlive the pass. */
typedef struct gl_net_pass gl_net_pass;

/* Bytes that gl_net_pass_new allocates for n, c, B and eval_rows. */
double gl_net_pass_bytes(const gl_net *n, const gl_config *c, int B, int eval_rows);
/* 0, or GL_E_INPUT (B or eval_rows < 1) / GL_E_NOMEM with *ps NULL. */
int gl_net_pass_new(gl_net_pass **ps, const gl_net *n, const gl_config *c, int B, int eval_rows, gl_error *err);
void gl_net_pass_free(gl_net_pass *ps);

/* The loss of batch bt (at most B examples; dropout drawn for step) and its
 * gradient into grads (n_params, overwritten); with BatchNorm the running
 * statistics (n_run_layers x run_width each) move as torch.nn.BatchNorm1d's.
 * A loss that is not finite is returned as it is (NaN for a batch larger
 * than B); the gradient is then unfinished. */
double gl_net_pass_loss_grad(gl_net_pass *ps, float *grads, const float *params, float *run_mean, float *run_var,
                             long step, const gl_batch *bt);
/* Evaluation-mode logits (B, p) of the pairs (m[b], n[b]), B <= eval_rows
 * (else NULL), in the pass's own buffer (valid until its next call). */
const float *gl_net_pass_logits(gl_net_pass *ps, const float *params, const float *run_mean, const float *run_var,
                                const int32_t *m, const int32_t *n, int B);

#ifdef __cplusplus
}
#endif

#endif
