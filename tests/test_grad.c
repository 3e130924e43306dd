/* Gradients of every layer (gather, dropout with a fixed mask, the four
 * activations, BatchNorm and LayerNorm in training mode, the output product,
 * MSE and cross-entropy) against central finite differences, in double. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/model.h"
#include "groklab/rng.h"

enum { P = 7, N = 6, B = 10 };

typedef struct setup {
    gl_act act;
    gl_norm norm;
    gl_loss loss;
    int dropout;
} setup;

static int32_t m_[B], n_[B], y_[B];
static uint8_t keep_[B * N];
static const double DROP = 0.3;

/* the model's loss; if grad != NULL, the analytic gradient by the layers' backward */
static double model_loss(const setup *s, const gl_layout *L, const double *prm, double *grad) {
    double h[B * N], a[B * N], zb[B * N], out[B * P], mean[B > N ? B : N], st[B > N ? B : N];
    double *z = s->norm ? zb : a;
    const double *g = prm + L->off_gamma, *be = prm + L->off_beta;
    gl_embed_forward_f64(h, m_, n_, prm + L->off_u, prm + L->off_v, B, N);
    if (s->dropout) gl_dropout_apply_f64(h, keep_, DROP, B * N);
    gl_act_forward_f64(a, h, B * N, s->act);
    if (s->norm == GL_NORM_BATCHNORM) gl_batchnorm_forward_f64(z, mean, st, a, g, be, B, N, 1e-5);
    if (s->norm == GL_NORM_LAYERNORM) gl_layernorm_forward_f64(z, mean, st, a, g, be, B, N, 1e-5);
    gl_linear_forward_f64(out, z, prm + L->off_w, B, N, P);
    double loss = s->loss == GL_LOSS_MSE ? gl_mse_loss_f64(grad ? out : NULL, out, y_, B, P)
                                         : gl_ce_loss_f64(grad ? out : NULL, out, y_, B, P);
    if (!grad) return loss;
    double dz[B * N];
    memset(grad, 0, L->n_params * sizeof(double));
    gl_linear_backward_f64(dz, grad + L->off_w, out, z, prm + L->off_w, B, N, P);
    if (s->norm == GL_NORM_BATCHNORM)
        gl_batchnorm_backward_f64(dz, grad + L->off_gamma, grad + L->off_beta, dz, a, mean, st, g, B, N, 1e-5);
    if (s->norm == GL_NORM_LAYERNORM)
        gl_layernorm_backward_f64(dz, grad + L->off_gamma, grad + L->off_beta, dz, a, mean, st, g, B, N);
    gl_act_backward_f64(dz, dz, h, B * N, s->act);
    if (s->dropout) gl_dropout_apply_f64(dz, keep_, DROP, B * N);
    gl_embed_backward_f64(grad + L->off_u, grad + L->off_v, dz, m_, n_, B, N);
    return loss;
}

static void run(const setup *s, const char *name) {
    gl_layout L;
    gl_layout_init(&L, P, N, s->act, s->norm);
    double *prm = malloc(L.n_params * sizeof(double)), *grad = malloc(L.n_params * sizeof(double));
    for (size_t i = 0; i < L.n_params; i++) prm[i] = 0.6 * gl_normal(42, 9, i, 0);
    if (s->norm)
        for (int k = 0; k < N; k++) prm[L.off_gamma + k] += 1.0;
    model_loss(s, &L, prm, grad);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < L.n_params; i++) {
        double h = 1e-6, x = prm[i];
        prm[i] = x + h;
        double lp = model_loss(s, &L, prm, NULL);
        prm[i] = x - h;
        double lm = model_loss(s, &L, prm, NULL);
        prm[i] = x;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - grad[i]);
        if (e > worst) worst = e;
        if (fabs(fd) > scale) scale = fabs(fd);
    }
    double rel = worst / (scale > 0 ? scale : 1);
    CHECK(rel < 1e-6 && scale > 0, "gradient %-40s max err %.2e of max |grad| %.2e", name, worst, scale);
    free(prm);
    free(grad);
}

int main(void) {
    for (int b = 0; b < B; b++) {
        m_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 0, P);
        n_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 1, P);
        y_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 2, P);
    }
    m_[0] = m_[1]; /* a repeated operand exercises the scatter-add */
    for (int i = 0; i < B * N; i++) keep_[i] = gl_uniform_int(1, 4, (uint64_t)i, 0, 10) >= 3;
    const char *acts[] = {"quadratic", "relu", "gelu", "identity"};
    char name[96];
    for (int a = 0; a < 4; a++)
        for (int loss = 0; loss < 2; loss++) {
            setup s = {(gl_act)a, GL_NORM_NONE, (gl_loss)loss, 0};
            snprintf(name, sizeof name, "%s, %s", acts[a], loss ? "ce" : "mse");
            run(&s, name);
        }
    const char *norms[] = {"none", "batchnorm", "layernorm"};
    for (int nm = 1; nm < 3; nm++)
        for (int loss = 0; loss < 2; loss++) {
            setup s = {GL_ACT_QUADRATIC, (gl_norm)nm, (gl_loss)loss, 0};
            snprintf(name, sizeof name, "quadratic, %s, %s", norms[nm], loss ? "ce" : "mse");
            run(&s, name);
        }
    for (int nm = 0; nm < 3; nm++) {
        setup s = {GL_ACT_RELU, (gl_norm)nm, GL_LOSS_MSE, 1};
        snprintf(name, sizeof name, "relu, dropout 0.3 (fixed mask), %s", norms[nm]);
        run(&s, name);
    }
    setup s = {GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_CE, 1};
    run(&s, "quadratic, dropout (fixed mask), ce");
    return CHECK_DONE();
}
