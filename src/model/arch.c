/* groklab: one view of every model family (see arch.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "groklab/arch.h"
#include "groklab/rng.h"

int gl_net_init(gl_net *n, const gl_config *c, gl_error *err) {
    memset(n, 0, sizeof *n);
    n->arch = c->arch;
    n->p = c->p;
    switch (c->arch) {
    case GL_ARCH_MLP:
        gl_layout_init(&n->mlp, c->p, c->width, c->act, c->norm);
        n->n_params = n->mlp.n_params;
        n->n_units = c->width;
        if (c->norm == GL_NORM_BATCHNORM) n->n_run_layers = 1, n->run_width = c->width;
        return 0;
    case GL_ARCH_DEEP_MLP:
        if (gl_deep_layout_init(&n->deep, c->p, c->width, c->depth, c->act, c->norm, c->param, err))
            return -1;
        n->n_params = n->deep.n_params;
        n->n_units = c->width;
        if (c->norm == GL_NORM_BATCHNORM) n->n_run_layers = c->depth - 1, n->run_width = c->width;
        return 0;
    case GL_ARCH_TRANSFORMER: {
        gl_tf_spec s;
        gl_tf_spec_default(&s, c->p);
        s.d = c->embed;
        s.n_layer = c->depth;
        s.n_head = c->heads;
        s.mlp_factor = c->mlp_factor;
        s.act = c->act;
        s.layernorm = c->norm == GL_NORM_LAYERNORM;
        s.tie = c->tie;
        s.mu = c->mu;
        s.s = c->scale_s;
        s.drop_emb = s.drop_attn = s.drop_resid = c->dropout;
        s.ln_eps = c->norm_eps;
        if (gl_tf_layout_init(&n->tf, &s, err)) return -1;
        n->n_params = n->tf.n_params;
        n->n_units = c->embed;
        return 0;
    }
    }
    return gl_fail(err, "--model: unknown family %d", (int)c->arch);
}

/* The MLPs' tensors: U, V (files (N, p), inside (p, N)), the deep MLP's
 * hidden H_l (N, N), W (p, N), and the norm's gains and shifts. */
static int mlp_count(const gl_net *n) {
    int hidden = n->arch == GL_ARCH_DEEP_MLP ? n->deep.depth - 2 : 0;
    gl_norm norm = n->arch == GL_ARCH_DEEP_MLP ? n->deep.norm : n->mlp.norm;
    return 3 + hidden + (norm != GL_NORM_NONE ? 2 : 0);
}

static void set2(gl_net_tensor *t, const char *name, size_t off, int ndim, int64_t a, int64_t b,
                 int transposed) {
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = off;
    t->ndim = ndim;
    t->shape[0] = a;
    t->shape[1] = ndim == 2 ? b : 1;
    t->transposed = transposed;
}

static void mlp_tensor(const gl_net *n, int i, gl_net_tensor *t) {
    int deep = n->arch == GL_ARCH_DEEP_MLP;
    int p = n->p, N = deep ? n->deep.N : n->mlp.N, hidden = deep ? n->deep.depth - 2 : 0;
    size_t off_u = deep ? n->deep.off_u : n->mlp.off_u, off_v = deep ? n->deep.off_v : n->mlp.off_v;
    size_t off_w = deep ? n->deep.off_w : n->mlp.off_w;
    size_t off_g = deep ? n->deep.off_gamma : n->mlp.off_gamma;
    size_t off_b = deep ? n->deep.off_beta : n->mlp.off_beta;
    int layers = deep ? n->deep.depth - 1 : 1;
    char name[32];
    if (i == 0) return set2(t, "U", off_u, 2, N, p, 1);
    if (i == 1) return set2(t, "V", off_v, 2, N, p, 1);
    if (i < 2 + hidden) {
        snprintf(name, sizeof name, "H%d", i - 1);
        return set2(t, name, n->deep.off_hidden + (size_t)(i - 2) * N * N, 2, N, N, 0);
    }
    i -= 2 + hidden;
    if (i == 0) return set2(t, "W", off_w, 2, p, N, 0);
    /* gains and shifts: (N) for the two-layer MLP, (depth-1, N) for the deep one */
    set2(t, i == 1 ? "norm.weight" : "norm.bias", i == 1 ? off_g : off_b, deep ? 2 : 1, deep ? layers : N, N, 0);
    t->vector = 1;
}

int gl_net_tensor_count(const gl_net *n) {
    return n->arch == GL_ARCH_TRANSFORMER ? gl_tf_tensor_count(&n->tf) : mlp_count(n);
}

void gl_net_tensor_at(const gl_net *n, int i, gl_net_tensor *t) {
    memset(t, 0, sizeof *t);
    if (n->arch != GL_ARCH_TRANSFORMER) return mlp_tensor(n, i, t);
    gl_tf_tensor tt;
    gl_tf_tensor_at(&n->tf, i, &tt);
    set2(t, tt.name, tt.off, tt.ndim, tt.shape[0], tt.shape[1], 0);
    t->vector = tt.ndim == 1; /* the LayerNorms' gains and shifts */
}

/* The paper's MLP: every weight ~ N(0, std), element i of tensor T drawn
 * from (seed, INIT, a = i, b = T) with T = 0, 1, 2 for U, V, W. U and V are
 * drawn in the paper's (N, p) order and stored transposed. */
static void mlp_init(const gl_layout *L, float *params, const gl_config *c) {
    int N = L->N, p = L->p;
    double std = gl_config_init_std(c);
    gl_init_normal_f32(params + L->off_u, N, p, 1, std, c->seed, 0);
    gl_init_normal_f32(params + L->off_v, N, p, 1, std, c->seed, 1);
    gl_init_normal_f32(params + L->off_w, p, N, 0, std, c->seed, 2);
    memset(params + L->off_gamma, 0, (L->n_params - L->off_gamma) * sizeof(float));
    if (L->norm != GL_NORM_NONE)
        for (int k = 0; k < N; k++) params[L->off_gamma + k] = 1.0f; /* beta = 0 */
}

void gl_net_init_params(const gl_net *n, float *params, const gl_config *c) {
    switch (n->arch) {
    case GL_ARCH_MLP: mlp_init(&n->mlp, params, c); break;
    case GL_ARCH_DEEP_MLP: gl_deep_init_f32(params, &n->deep, c->seed); break;
    case GL_ARCH_TRANSFORMER: gl_tf_init_f32(params, &n->tf, c->seed); break;
    }
}

int gl_net_ipr_units(const gl_net *n, int layer, size_t off[2], int *groups) {
    if (n->arch == GL_ARCH_TRANSFORMER) {
        off[0] = off[1] = layer == 0 ? n->tf.off_tok : n->tf.off_head;
        *groups = 1;
        return n->tf.spec.d;
    }
    int deep = n->arch == GL_ARCH_DEEP_MLP;
    if (layer == 0) {
        off[0] = deep ? n->deep.off_u : n->mlp.off_u;
        off[1] = deep ? n->deep.off_v : n->mlp.off_v;
        *groups = 2;
    } else {
        off[0] = off[1] = deep ? n->deep.off_w : n->mlp.off_w;
        *groups = 1;
    }
    return n->n_units;
}

static double sumsq(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

void gl_net_norms(const gl_net *n, const float *params, double *u, double *v, double *w) {
    size_t pn = (size_t)n->p * (size_t)n->n_units;
    size_t in[2];
    int groups;
    gl_net_ipr_units(n, 0, in, &groups);
    if (n->arch != GL_ARCH_TRANSFORMER) {
        size_t out[2];
        gl_net_ipr_units(n, 1, out, &groups);
        *u = sqrt(sumsq(params + in[0], pn));
        *v = sqrt(sumsq(params + in[1], pn));
        *w = sqrt(sumsq(params + out[0], pn));
        return;
    }
    const gl_tf_layout *L = &n->tf;
    double tok = sumsq(params + L->off_tok, pn), all = sumsq(params, L->n_params);
    double head = L->spec.tie ? tok : sumsq(params + L->off_head, pn);
    *u = sqrt(tok);
    *w = sqrt(head);
    double rest = all - tok - (L->spec.tie ? 0 : head);
    *v = sqrt(rest > 0 ? rest : 0);
}

const float *gl_net_gains(const gl_net *n, const float *params, int layer) {
    switch (n->arch) {
    case GL_ARCH_MLP:
        return n->mlp.norm != GL_NORM_NONE ? params + n->mlp.off_gamma : NULL;
    case GL_ARCH_DEEP_MLP:
        if (n->deep.norm == GL_NORM_NONE) return NULL;
        return params + n->deep.off_gamma + (layer == 0 ? 0 : (size_t)(n->deep.depth - 2) * n->deep.N);
    case GL_ARCH_TRANSFORMER:
        if (!n->tf.spec.layernorm) return NULL;
        return params + (layer == 0 ? n->tf.block0.ln1_w : n->tf.off_lnf_w);
    }
    return NULL;
}
