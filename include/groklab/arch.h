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

#endif
