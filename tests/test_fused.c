/* The fused training pass (src/model/fused.c) against the layered one
 * (gl_mlp_loss_grad), in float: loss, gradient and the parameters after one
 * AdamW step, for quadratic + MSE, relu + CE, gelu + dropout (minibatch ids),
 * LayerNorm (+ dropout, CE), at a size with several chunks per lane and a
 * short last chunk, and BatchNorm (+ dropout, CE) on a batch of one chunk,
 * the batch's statistics too; the fused pass is bit-identical for 1, 2 and
 * 3 threads; it refuses BatchNorm over several chunks. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/model.h"
#include "groklab/optim.h"
#include "groklab/rng.h"

enum { P = 13, N = 40, B = 301, NTRAIN = 500, B_BN = 200 /* BatchNorm: one chunk */ };

static int32_t m_[B], n_[B], y_[B], id_[B];

typedef struct setup {
    const char *name;
    gl_act act;
    gl_norm norm;
    gl_loss loss;
    double dropout;
    int ids; /* dropout masks by example id (a minibatch) rather than by row */
} setup;

/* max |x - ref| over max |ref|, over n values */
static double rel_err(const float *x, const float *ref, size_t n) {
    double e = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        e = check_worse(e, fabs((double)x[i] - ref[i]));
        s = fmax(s, fabs((double)ref[i]));
    }
    return e / (s > 0 ? s : 1);
}

static void run(const setup *s) {
    gl_config c;
    gl_config_default(&c);
    c.p = P;
    c.width = N;
    c.act = s->act;
    c.norm = s->norm;
    c.loss = s->loss;
    c.dropout = s->dropout;
    c.seed = 5;
    c.eps = 1e-3; /* keeps Adam's first step a smooth function of the gradient */
    gl_layout L;
    gl_layout_init(&L, P, N, s->act, s->norm);
    size_t np = L.n_params;
    float *prm = malloc(np * sizeof(float)), *gl = malloc(np * sizeof(float));
    float *gf = malloc(np * sizeof(float)), *g2 = malloc(np * sizeof(float));
    float *pl = malloc(np * sizeof(float)), *pf = malloc(np * sizeof(float));
    float *m1 = calloc(np, sizeof(float)), *m2 = calloc(np, sizeof(float));
    for (size_t i = 0; i < np; i++) prm[i] = (float)(0.3 * gl_normal(7, 9, i, 0));
    if (s->norm)
        for (int k = 0; k < N; k++) prm[L.off_gamma + k] += 1.0f;
    int bn = s->norm == GL_NORM_BATCHNORM, nb = bn ? B_BN : B;
    gl_batch bt = {m_, n_, y_, s->ids ? id_ : NULL, nb};
    long step = 3;

    gl_mlp_work w;
    gl_fused_work f, fd;
    int ok = gl_mlp_work_alloc(&w, &L, nb, s->dropout > 0) == 0 &&
             gl_fused_work_alloc(&f, &L, nb, s->dropout > 0, bn ? 0 : 32, 4) == 0 &&
             gl_fused_work_alloc(&fd, &L, nb, s->dropout > 0, 0, 0) == 0;
    CHECK(ok, "%s: work allocated", s->name);
    if (!ok) return;
    double ll = gl_mlp_loss_grad(&w, gl, &L, prm, &c, step, &bt);

    /* rows 32, lanes 4: 12 chunks of 26 rows (the last 15), 3 per lane;
     * BatchNorm: one chunk of B_BN rows */
    double lf = NAN;
    int rc = gl_fused_loss_grad(&f, &lf, gf, &L, prm, &c, step, &bt);
    CHECK(rc == 0, "%s: fused pass runs", s->name);
    if (bn) {
        double e = fmax(rel_err(f.bn_mean, w.mean, N), rel_err(f.bn_var, w.stat, N));
        CHECK(e == 0, "%s: the batch's mean and variance = layered (max err %.2e)", s->name, e);
    }
    char what[128];
    snprintf(what, sizeof what, "%s: fused loss (rows 32, lanes 4) = layered loss", s->name);
    CHECK_REL(lf, ll, 1e-6, what);
    struct {
        const char *what;
        size_t off, len;
    } parts[] = {{"dUt", L.off_u, (size_t)P * N}, {"dVt", L.off_v, (size_t)P * N},
                 {"dW", L.off_w, (size_t)P * N},  {"dgamma", L.off_gamma, (size_t)N},
                 {"dbeta", L.off_beta, (size_t)N}};
    for (int k = 0; k < (s->norm ? 5 : 3); k++) {
        double e = rel_err(gf + parts[k].off, gl + parts[k].off, parts[k].len);
        CHECK(e < 1e-5, "%s: fused %s = layered (max err %.2e of max |grad|)", s->name,
              parts[k].what, e);
    }
    memcpy(pl, prm, np * sizeof(float));
    memcpy(pf, prm, np * sizeof(float));
    gl_optim_step(&c, pl, gl, m1, m2, np, 1);
    memset(m1, 0, np * sizeof(float));
    memset(m2, 0, np * sizeof(float));
    gl_optim_step(&c, pf, gf, m1, m2, np, 1);
    double e = 0;
    for (size_t i = 0; i < np; i++)
        e = check_worse(e, fabs((double)pf[i] - pl[i]) / fmax(1.0, fabs((double)pl[i])));
    CHECK(e < 1e-5, "%s: parameters after one AdamW step agree (max rel err %.2e)", s->name, e);

    /* default rows and lanes: other chunks, same answer */
    rc = gl_fused_loss_grad(&fd, &lf, g2, &L, prm, &c, step, &bt);
    CHECK(rc == 0 && fabs(lf - ll) <= 1e-6 * fmax(1, fabs(ll)) && rel_err(g2, gl, np) < 1e-5,
          "%s: default chunking agrees too (loss %.9g vs %.9g)", s->name, lf, ll);

    /* any thread count: bit-identical */
    int same = 1;
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        double lt = NAN;
        gl_fused_loss_grad(&f, &lt, g2, &L, prm, &c, step, &bt);
        if (th == 1) {
            memcpy(gf, g2, np * sizeof(float));
            lf = lt;
        }
        same = same && lt == lf && memcmp(gf, g2, np * sizeof(float)) == 0;
    }
    omp_set_num_threads(omp_get_num_procs());
    CHECK(same, "%s: 1, 2 and 3 threads give bit-identical loss and gradient", s->name);

    gl_mlp_work_free(&w);
    gl_fused_work_free(&f);
    gl_fused_work_free(&fd);
    float *bufs[] = {prm, gl, gf, g2, pl, pf, m1, m2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

int main(void) {
    for (int b = 0; b < B; b++) {
        m_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 0, P);
        n_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 1, P);
        y_[b] = (m_[b] + n_[b]) % P;
        id_[b] = (int32_t)gl_uniform_int(1, 2, (uint64_t)b, 0, NTRAIN);
    }
    const setup setups[] = {
        {"quadratic, mse", GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, 0, 0},
        {"relu, ce", GL_ACT_RELU, GL_NORM_NONE, GL_LOSS_CE, 0, 0},
        {"gelu, dropout 0.3 by id, mse", GL_ACT_GELU, GL_NORM_NONE, GL_LOSS_MSE, 0.3, 1},
        {"quadratic, dropout 0.2, mse", GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, 0.2, 0},
        {"quadratic, layernorm, mse", GL_ACT_QUADRATIC, GL_NORM_LAYERNORM, GL_LOSS_MSE, 0, 0},
        {"relu, layernorm, dropout 0.1, ce", GL_ACT_RELU, GL_NORM_LAYERNORM, GL_LOSS_CE, 0.1, 1},
        {"quadratic, batchnorm, mse", GL_ACT_QUADRATIC, GL_NORM_BATCHNORM, GL_LOSS_MSE, 0, 0},
        {"gelu, batchnorm, dropout 0.2 by id, ce", GL_ACT_GELU, GL_NORM_BATCHNORM, GL_LOSS_CE, 0.2, 1},
    };
    for (size_t i = 0; i < sizeof setups / sizeof setups[0]; i++) run(&setups[i]);

    /* BatchNorm needs whole-batch statistics: the fused pass refuses a batch
     * of several chunks, at the allocation and at the pass */
    gl_config c;
    gl_config_default(&c);
    gl_layout L;
    gl_layout_init(&L, P, N, GL_ACT_QUADRATIC, GL_NORM_BATCHNORM);
    gl_fused_work f;
    float *prm = calloc(L.n_params, sizeof(float)), *g = calloc(L.n_params, sizeof(float));
    gl_batch bt = {m_, n_, y_, NULL, 33};
    double loss;
    CHECK(gl_fused_work_alloc(&f, &L, gl_fused_rows(&L) + 1, 0, 0, 0) == -1 && !f.scratch,
          "the fused pass refuses BatchNorm over more rows than one chunk");
    gl_layout Ln;
    gl_layout_init(&Ln, P, N, GL_ACT_QUADRATIC, GL_NORM_NONE);
    int ok = gl_fused_work_alloc(&f, &Ln, B, 0, 0, 0) == 0;
    CHECK(ok && gl_fused_loss_grad(&f, &loss, g, &L, prm, &c, 0, &bt) == -1,
          "... and BatchNorm on a work allocated without its statistics");
    L = Ln;
    bt.B = B + 1;
    CHECK(ok && gl_fused_loss_grad(&f, &loss, g, &L, prm, &c, 0, &bt) == -1,
          "the fused pass refuses a batch larger than its work");
    gl_fused_work_free(&f);
    free(prm);
    free(g);
    return CHECK_DONE();
}
