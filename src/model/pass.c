/* groklab: every model family's float pass behind one interface (arch.h,
 * gl_net_pass): the work of the family's training pass (the two-layer MLP's
 * layered pass with BatchNorm over batches of more than one chunk, its fused
 * pass otherwise, the deep MLP's, the Transformer's) and of its evaluation,
 * so that a caller (the CPU backend) trains and evaluates any gl_net without
 * asking which family it is. */
#include <math.h>
#include <stdlib.h>

#include "groklab/arch.h"
#include "model/ops.h" /* the BatchNorm running statistics */

struct gl_net_pass {
    const gl_net *net;
    gl_config cfg;
    int B, eval_rows;
    gl_mlp_work work, ework; /* the two-layer MLP: work (the layered pass: BatchNorm over several chunks), ework (evaluation) */
    gl_fused_work fused;     /* the two-layer MLP's fused pass (otherwise) */
    int layered;             /* the two-layer MLP trains on the layered pass */
    gl_deep_work_f32 *deep;
    gl_tf_work_f32 *tf;
    float *logits; /* (eval_rows, p): the deep MLP's and the Transformer's evaluation output */
};

/* The two-layer MLP trains on the fused pass, but for BatchNorm over batches
 * of several chunks: its statistics need the whole batch. */
static int layered(const gl_net *n, const gl_config *c, int B) {
    return c->norm == GL_NORM_BATCHNORM && B > gl_fused_rows(&n->mlp);
}

double gl_net_pass_bytes(const gl_net *n, const gl_config *c, int B, int eval_rows) {
    double N = n->n_units, p = c->p, eb = eval_rows;
    switch (n->arch) {
    case GL_ARCH_DEEP_MLP: return gl_deep_work_bytes(&n->deep, B, c->dropout > 0) + 4 * eb * p;
    case GL_ARCH_TRANSFORMER: return gl_tf_work_bytes(&n->tf, B, 0, 0) + 4 * eb * p;
    case GL_ARCH_MLP: break;
    }
    double per_row = 4 * (N * (c->norm != GL_NORM_NONE ? 4 : 3) + p) + (c->dropout > 0 ? N : 0);
    double train = layered(n, c, B) ? B * per_row : gl_fused_work_bytes(&n->mlp, B, c->dropout > 0);
    return train + eb * per_row;
}

void gl_net_pass_free(gl_net_pass *ps) {
    if (!ps) return;
    gl_mlp_work_free(&ps->work);
    gl_mlp_work_free(&ps->ework);
    gl_fused_work_free(&ps->fused);
    gl_deep_work_free_f32(ps->deep);
    gl_tf_work_free_f32(ps->tf);
    free(ps->logits);
    free(ps);
}

int gl_net_pass_new(gl_net_pass **out, const gl_net *n, const gl_config *c, int B, int eval_rows, gl_error *err) {
    *out = NULL;
    if (B < 1 || eval_rows < 1) return gl_fail(err, "a pass needs a batch and evaluation rows >= 1 (got %d, %d)", B, eval_rows);
    gl_blas_init(); /* the BLAS on one thread: evaluations of the same weights agree whatever the cores */
    gl_net_pass *ps = calloc(1, sizeof *ps);
    if (!ps) return gl_fail_nomem(err, "for the model's pass");
    ps->net = n;
    ps->cfg = *c;
    ps->B = B;
    ps->eval_rows = eval_rows;
    int drop = c->dropout > 0, rc = 0;
    if (n->arch == GL_ARCH_MLP) {
        ps->layered = layered(n, c, B);
        rc = gl_mlp_work_alloc(&ps->ework, &n->mlp, eval_rows, 0) != 0 ||
             (ps->layered ? gl_mlp_work_alloc(&ps->work, &n->mlp, B, drop)
                          : gl_fused_work_alloc(&ps->fused, &n->mlp, B, drop, 0, 0)) != 0;
        if (rc) rc = gl_fail_nomem(err, "for the model's pass");
    } else {
        ps->logits = malloc((size_t)eval_rows * (size_t)c->p * sizeof(float));
        if (!ps->logits) rc = gl_fail_nomem(err, "for the model's evaluation");
        else if (n->arch == GL_ARCH_DEEP_MLP) rc = gl_deep_work_new_f32(&ps->deep, &n->deep, B, drop, err);
        else rc = gl_tf_work_new_f32(&ps->tf, &n->tf, B, 0, 0, err);
    }
    if (rc) {
        gl_net_pass_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

double gl_net_pass_loss_grad(gl_net_pass *ps, float *grads, const float *params, float *run_mean, float *run_var,
                             long step, const gl_batch *bt) {
    const gl_config *c = &ps->cfg;
    const gl_layout *L = &ps->net->mlp;
    double loss = NAN;
    gl_error e;
    switch (ps->net->arch) {
    case GL_ARCH_DEEP_MLP: {
        gl_deep_opts o = {c->loss, c->dropout, c->norm_eps, c->bn_momentum, c->seed, step};
        if (gl_deep_loss_grad_f32(ps->deep, &loss, grads, params, &o, bt, run_mean, run_var, &e) != 0)
            loss = NAN; /* a batch larger than the work's: refused by the sizes above */
        return loss;
    }
    case GL_ARCH_TRANSFORMER:
        if (gl_tf_loss_grad_f32(ps->tf, &loss, grads, params, c->loss, c->seed, step, bt, &e) != 0) loss = NAN;
        return loss;
    case GL_ARCH_MLP: break;
    }
    const float *mean, *var; /* BatchNorm: the batch's statistics */
    if (!ps->layered) {
        if (gl_fused_loss_grad(&ps->fused, &loss, grads, L, params, c, step, bt) != 0) return NAN;
        mean = ps->fused.bn_mean;
        var = ps->fused.bn_var;
    } else {
        loss = gl_mlp_loss_grad(&ps->work, grads, L, params, c, step, bt);
        mean = ps->work.mean;
        var = ps->work.stat;
    }
    /* running statistics as torch.nn.BatchNorm1d (model/ops.h) */
    if (L->norm == GL_NORM_BATCHNORM)
        for (int k = 0; k < L->N; k++)
            gl_bn_running_f32(run_mean + k, run_var + k, mean[k], var[k], bt->B, c->bn_momentum);
    return loss;
}

const float *gl_net_pass_logits(gl_net_pass *ps, const float *params, const float *run_mean, const float *run_var,
                                const int32_t *m, const int32_t *n, int B) {
    const gl_config *c = &ps->cfg;
    if (B < 0 || B > ps->eval_rows) return NULL;
    switch (ps->net->arch) {
    case GL_ARCH_DEEP_MLP:
        gl_deep_logits_f32(ps->deep, ps->logits, params, run_mean, run_var, c->norm_eps, m, n, B);
        return ps->logits;
    case GL_ARCH_TRANSFORMER:
        gl_tf_logits_f32(ps->tf, ps->logits, params, m, n, B);
        return ps->logits;
    case GL_ARCH_MLP: break;
    }
    gl_mlp_eval(&ps->ework, &ps->net->mlp, params, run_mean, run_var, c->norm_eps, m, n, B);
    return ps->ework.out;
}
