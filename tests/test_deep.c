/* The deep MLP (groklab/deep.h), against computations written here:
 *  - the layout's offsets from the formulas of deep.h, and the refusals of bad
 *    shapes and batches;
 *  - a hand-computed depth-3 network (p 3, N 2): its logits;
 *  - a plain reference of the whole network (loops in double, no library
 *    layer, dropout masks drawn here from gl_philox as deep.h specifies):
 *    evaluation logits and training losses equal it, and every gradient
 *    element equals its central finite difference, for depth 2, 3, 4 x
 *    relu, gelu, quadratic x no norm, BatchNorm, LayerNorm x MSE, CE x
 *    dropout 0 and 0.3, standard and lazy initialization;
 *  - depth 2 is the two-layer MLP: the same loss, gradient and evaluation
 *    logits as gl_mlp_loss_grad and gl_mlp_eval (float);
 *  - BatchNorm running statistics after a pass, from the reference's batch
 *    statistics; untouched when the loss is not finite;
 *  - initialization statistics and element values, standard and lazy;
 *  - bit-identical loss, gradient and statistics on 1 and 2 threads (float,
 *    BatchNorm and dropout, a size where the layers run in parallel); the
 *    evaluation pass for batches larger than the work. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/deep.h"
#include "groklab/model.h"
#include "groklab/rng.h"

enum { P = 7, NW = 6, B = 9, MAXB = 4096 };

static int32_t m_[MAXB], n_[MAXB], y_[MAXB], id_[MAXB];

static void make_data(int nb, int p) {
    for (int b = 0; b < nb; b++) {
        m_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 0, (uint32_t)p);
        n_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 1, (uint32_t)p);
        y_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 2, (uint32_t)p);
        id_[b] = 1000 + 7 * b;
    }
    m_[1] = m_[0]; /* a repeated operand exercises the scatter-add */
    n_[2] = m_[0];
}

static const char *act_name(gl_act a) {
    return a == GL_ACT_RELU        ? "relu"
           : a == GL_ACT_GELU      ? "gelu"
           : a == GL_ACT_QUADRATIC ? "quadratic"
                                   : "identity";
}
static const char *norm_name(gl_norm n) {
    return n == GL_NORM_BATCHNORM ? "batchnorm" : n == GL_NORM_LAYERNORM ? "layernorm" : "none";
}

/* ---------------------------------------------------------------------------
 * The reference: one plain loop per formula of deep.h, in double. */

typedef struct ref_opts {
    int train;              /* batch statistics and dropout */
    double dropout, eps;
    uint64_t seed;
    long step;
    const int32_t *id;      /* dropout keys (NULL: the row) */
    const double *run_mean, *run_var; /* (depth-1, N), evaluation with BatchNorm */
} ref_opts;

static double ref_act(double x, gl_act a) {
    switch (a) {
    case GL_ACT_QUADRATIC: return x * x;
    case GL_ACT_RELU: return x > 0 ? x : 0;
    case GL_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default: return x;
    }
}

/* Whether element e of example `ex`'s mask keeps its value (deep.h). */
static int ref_keep(const gl_deep_layout *L, uint64_t ex, long e, double prob, uint64_t seed,
                    long step) {
    long E = (long)(L->depth - 1) * L->N;
    uint32_t r[4];
    gl_philox(seed, GL_STREAM_DEEP_DROPOUT, ex * (uint64_t)((E + 3) / 4) + (uint64_t)(e / 4),
              (uint32_t)step, r);
    return gl_u01(r[e % 4]) >= (float)prob;
}

/* out (B, p) of the network with parameters P (the layout of deep.h).
 * bmean, bvar ((depth-1, N), may be NULL): the batch mean and biased
 * variance of each hidden layer's norm input. pos ((depth-1, B, N), may be
 * NULL): whether each pre-activation is positive (ReLU's side of its kink). */
static void ref_forward(double *out, const gl_deep_layout *L, const double *P, const int32_t *m,
                        const int32_t *n, int nb, const ref_opts *o, double *bmean, double *bvar,
                        uint8_t *pos) {
    int p = L->p, N = L->N, Hn = L->depth - 1;
    double *h = malloc(sizeof(double) * (size_t)nb * N);
    double *a = malloc(sizeof(double) * (size_t)nb * N);
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < N; k++) /* U[k][m] + V[k][n], U stored as Ut[m][k] */
            h[b * N + k] = P[L->off_u + (size_t)m[b] * N + k] + P[L->off_v + (size_t)n[b] * N + k];
    for (int l = 1; l <= Hn; l++) {
        for (int i = 0; i < nb * N; i++) {
            if (pos) pos[(size_t)(l - 1) * nb * N + i] = h[i] > 0;
            a[i] = ref_act(h[i], L->act);
        }
        if (o->train && o->dropout > 0)
            for (int b = 0; b < nb; b++)
                for (int k = 0; k < N; k++) {
                    uint64_t ex = o->id ? (uint64_t)o->id[b] : (uint64_t)b;
                    int kp = ref_keep(L, ex, (long)(l - 1) * N + k, o->dropout, o->seed, o->step);
                    a[b * N + k] = kp ? a[b * N + k] / (1 - o->dropout) : 0;
                }
        const double *g = P + L->off_gamma + (size_t)(l - 1) * N;
        const double *be = P + L->off_beta + (size_t)(l - 1) * N;
        if (L->norm == GL_NORM_BATCHNORM)
            for (int k = 0; k < N; k++) {
                double mu, var;
                if (o->train) {
                    mu = 0, var = 0;
                    for (int b = 0; b < nb; b++) mu += a[b * N + k] / nb;
                    for (int b = 0; b < nb; b++)
                        var += (a[b * N + k] - mu) * (a[b * N + k] - mu) / nb;
                    if (bmean) bmean[(l - 1) * N + k] = mu;
                    if (bvar) bvar[(l - 1) * N + k] = var;
                } else {
                    mu = o->run_mean[(l - 1) * N + k];
                    var = o->run_var[(l - 1) * N + k];
                }
                for (int b = 0; b < nb; b++)
                    a[b * N + k] = (a[b * N + k] - mu) / sqrt(var + o->eps) * g[k] + be[k];
            }
        if (L->norm == GL_NORM_LAYERNORM)
            for (int b = 0; b < nb; b++) {
                double mu = 0, var = 0;
                for (int k = 0; k < N; k++) mu += a[b * N + k] / N;
                for (int k = 0; k < N; k++) var += (a[b * N + k] - mu) * (a[b * N + k] - mu) / N;
                for (int k = 0; k < N; k++)
                    a[b * N + k] = (a[b * N + k] - mu) / sqrt(var + o->eps) * g[k] + be[k];
            }
        /* a is z_l now: the next pre-activation, or the output */
        const double *Wt = l < Hn ? P + L->off_hidden + (size_t)(l - 1) * N * N : P + L->off_w;
        int rows = l < Hn ? N : p;
        double *dst = l < Hn ? h : out;
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < rows; i++) {
                double s = 0;
                for (int k = 0; k < N; k++) s += Wt[(size_t)i * N + k] * a[b * N + k];
                dst[b * rows + i] = s;
            }
    }
    free(h);
    free(a);
}

static double ref_loss(const double *out, const int32_t *y, int nb, int p, gl_loss loss) {
    double s = 0;
    for (int b = 0; b < nb; b++) {
        const double *o = out + (size_t)b * p;
        if (loss == GL_LOSS_MSE) {
            for (int j = 0; j < p; j++) s += (o[j] - (j == y[b])) * (o[j] - (j == y[b]));
        } else {
            double mx = o[0], z = 0;
            for (int j = 1; j < p; j++) mx = fmax(mx, o[j]);
            for (int j = 0; j < p; j++) z += exp(o[j] - mx);
            s += mx + log(z) - o[y[b]];
        }
    }
    return loss == GL_LOSS_MSE ? s / ((double)nb * p) : s / nb;
}

/* ---------------------------------------------------------------------------
 * Layout and refusals. */

static void check_layout(void) {
    gl_deep_layout L;
    gl_error err;
    int p = 11, N = 5;
    for (int depth = 2; depth <= 5; depth++)
        for (int nm = 0; nm < 3; nm++) {
            int rc = gl_deep_layout_init(&L, p, N, depth, GL_ACT_RELU, (gl_norm)nm,
                                         GL_PARAM_STANDARD, &err);
            size_t pn = (size_t)p * N, hid = (size_t)(depth - 2) * N * N;
            size_t gn = nm ? (size_t)(depth - 1) * N : 0;
            int ok = rc == 0 && L.off_u == 0 && L.off_v == pn && L.off_hidden == 2 * pn &&
                     L.off_w == 2 * pn + hid && L.off_gamma == 3 * pn + hid &&
                     L.off_beta == 3 * pn + hid + gn && L.n_params == 3 * pn + hid + 2 * gn &&
                     L.p == p && L.N == N && L.depth == depth;
            CHECK(ok, "layout depth %d, %-9s: Ut|Vt|H_1..H_%d|W|gammas|betas, %zu parameters",
                  depth, norm_name((gl_norm)nm), depth - 2, L.n_params);
        }

    struct {
        int p, N, depth;
        const char *what;
    } bad[] = {{7, 6, 1, "depth 1"}, {7, 6, 17, "depth 17"}, {1, 6, 3, "p 1"}, {7, 0, 3, "N 0"}};
    for (int i = 0; i < 4; i++) {
        err.msg[0] = 0;
        int rc = gl_deep_layout_init(&L, bad[i].p, bad[i].N, bad[i].depth, GL_ACT_RELU,
                                     GL_NORM_NONE, GL_PARAM_STANDARD, &err);
        CHECK(rc == -1 && err.msg[0], "layout refuses %s: %s", bad[i].what, err.msg);
    }
    int rc = gl_deep_layout_init(&L, 7, 6, 16, GL_ACT_RELU, GL_NORM_NONE, GL_PARAM_STANDARD, &err);
    CHECK(rc == 0, "layout accepts depth 16 (GL_DEEP_MAX_DEPTH)");

    gl_deep_layout_init(&L, 7, 6, 3, GL_ACT_RELU, GL_NORM_NONE, GL_PARAM_STANDARD, NULL);
    gl_deep_work_f64 *w = NULL;
    err.msg[0] = 0;
    rc = gl_deep_work_new_f64(&w, &L, 0, 0, &err);
    CHECK(rc == -1 && !w && err.msg[0], "work refuses max_B 0: %s", err.msg);
    gl_deep_work_new_f64(&w, &L, 4, 0, NULL);
    double *prm = calloc(L.n_params, sizeof(double)), *g = calloc(L.n_params, sizeof(double));
    gl_deep_opts o = {GL_LOSS_MSE, 0, 1e-5, 0.1, 1, 0};
    double loss;
    const char *what[] = {"B 0", "B 5 > max_B 4"};
    int sizes[] = {0, 5};
    for (int i = 0; i < 2; i++) {
        gl_batch bt = {m_, n_, y_, NULL, sizes[i]};
        err.msg[0] = 0;
        rc = gl_deep_loss_grad_f64(w, &loss, g, prm, &o, &bt, NULL, NULL, &err);
        CHECK(rc == -1 && err.msg[0], "loss_grad refuses %s: %s", what[i], err.msg);
    }
    gl_batch bt = {m_, n_, y_, NULL, 4};
    o.dropout = 0.2;
    err.msg[0] = 0;
    rc = gl_deep_loss_grad_f64(w, &loss, g, prm, &o, &bt, NULL, NULL, &err);
    CHECK(rc == -1 && err.msg[0], "loss_grad refuses dropout with a work made without masks: %s",
          err.msg);
    gl_deep_work_free_f64(w);
    free(prm);
    free(g);
}

/* ---------------------------------------------------------------------------
 * A network small enough to compute by hand: p 3, N 2, depth 3, ReLU. */

static void check_hand(void) {
    gl_deep_layout L;
    gl_deep_layout_init(&L, 3, 2, 3, GL_ACT_RELU, GL_NORM_NONE, GL_PARAM_STANDARD, NULL);
    double prm[] = {
        1, -1, 0.5, 2, -1, 1, /* Ut: rows U[:, 0], U[:, 1], U[:, 2] */
        0, 1, 1, 0, 2, -2,    /* Vt */
        1, 2, -1, 1,          /* H_1 (out, in) */
        1, 0, 0, 1, 1, -1,    /* W (out, in) */
    };
    /* (m, n) = (0, 1): h1 = (1, -1) + (1, 0) = (2, -1) -> relu (2, 0);
     *   h2 = H_1 (2, 0) = (2, -2) -> (2, 0); out = W (2, 0) = (2, 0, 2).
     * (2, 2): h1 = (-1, 1) + (2, -2) = (1, -1) -> (1, 0); h2 = (1, -1) -> (1, 0);
     *   out = (1, 0, 1).
     * (1, 0): h1 = (0.5, 2) + (0, 1) = (0.5, 3); h2 = (0.5 + 6, -0.5 + 3) = (6.5, 2.5);
     *   out = (6.5, 2.5, 4). */
    int32_t m[] = {0, 2, 1}, n[] = {1, 2, 0};
    double want[] = {2, 0, 2, 1, 0, 1, 6.5, 2.5, 4}, out[9];
    gl_deep_work_f64 *w;
    gl_deep_work_new_f64(&w, &L, 2, 0, NULL); /* max_B 2: two chunks */
    gl_deep_logits_f64(w, out, prm, NULL, NULL, 1e-5, m, n, 3);
    double worst = 0;
    for (int i = 0; i < 9; i++) worst = fmax(worst, fabs(out[i] - want[i]));
    CHECK(L.n_params == 22 && worst < 1e-15,
          "hand-computed depth-3 network (p 3, N 2, relu): logits max err %.2e", worst);
    gl_deep_work_free_f64(w);
}

/* ---------------------------------------------------------------------------
 * The reference against the library: evaluation logits, training loss and
 * gradients (finite differences of the reference loss). */

typedef struct gcase {
    int depth;
    gl_act act;
    gl_norm norm;
    gl_loss loss;
    double dropout;
    gl_param param;
} gcase;

/* The model's own initialization, gains and shifts moved off 1 and 0. */
static double *test_params(const gl_deep_layout *L, uint64_t seed) {
    double *w = malloc(L->n_params * sizeof(double));
    gl_deep_init_f64(w, L, seed);
    for (size_t i = L->off_gamma; i < L->n_params; i++) w[i] += 0.3 * gl_normal(9, 9, i, 0);
    return w;
}

static double worst_grad_err = 0;

static void check_case(const gcase *gc) {
    char name[128];
    snprintf(name, sizeof name, "depth %d, %-9s %-9s %s, dropout %.1f, %s", gc->depth,
             act_name(gc->act), norm_name(gc->norm), gc->loss == GL_LOSS_MSE ? "mse" : "ce ",
             gc->dropout, gc->param == GL_PARAM_LAZY ? "lazy" : "standard");
    gl_deep_layout L;
    gl_error err;
    if (gl_deep_layout_init(&L, P, NW, gc->depth, gc->act, gc->norm, gc->param, &err)) {
        CHECK(0, "%s: %s", name, err.msg);
        return;
    }
    gl_deep_work_f64 *w;
    if (gl_deep_work_new_f64(&w, &L, B, gc->dropout > 0, &err)) {
        CHECK(0, "%s: %s", name, err.msg);
        return;
    }
    size_t np = L.n_params;
    double *prm = test_params(&L, 5), *g = malloc(np * sizeof(double));
    int Hn = gc->depth - 1;
    double *rm = malloc(sizeof(double) * Hn * NW), *rv = malloc(sizeof(double) * Hn * NW);
    for (int i = 0; i < Hn * NW; i++) {
        rm[i] = 0.1 * gl_normal(3, 3, (uint64_t)i, 0);
        rv[i] = 0.5 + 0.1 * i;
    }
    const double eps = 1e-5;
    ref_opts ro = {1, gc->dropout, eps, 11, 3, id_, rm, rv};
    gl_deep_opts o = {gc->loss, gc->dropout, eps, 0.1, 11, 3};
    gl_batch bt = {m_, n_, y_, id_, B};

    /* evaluation logits */
    double out[B * P], ref[B * P];
    ro.train = 0;
    ref_forward(ref, &L, prm, m_, n_, B, &ro, NULL, NULL, NULL);
    ro.train = 1;
    gl_deep_logits_f64(w, out, prm, rm, rv, eps, m_, n_, B);
    double le = 0, ls = 0;
    for (int i = 0; i < B * P; i++) {
        le = fmax(le, fabs(out[i] - ref[i]));
        ls = fmax(ls, fabs(ref[i]));
    }

    /* training loss and gradient */
    double loss = NAN;
    size_t npos = (size_t)Hn * B * NW;
    uint8_t *pos0 = malloc(npos), *pos = malloc(npos);
    int rc = gl_deep_loss_grad_f64(w, &loss, g, prm, &o, &bt, NULL, NULL, &err);
    ref_forward(ref, &L, prm, m_, n_, B, &ro, NULL, NULL, pos0);
    double rl = ref_loss(ref, y_, B, P, gc->loss);

    /* Fourth-order central differences of the reference loss: truncation
     * O(h^4), rounding about 1e-16 |loss| / h. The loss is smooth except at
     * ReLU's kink: a difference is used only when no pre-activation changes
     * side across its four points (then it differentiates the same smooth
     * piece as the backward pass); otherwise smaller steps are tried, and an
     * element none of them fits is counted as skipped. */
    const double hs[] = {1e-4, 1e-5, 1e-6};
    double worst = 0, gmax = 0;
    int smaller = 0, skipped = 0;
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
    for (size_t i = 0; i < np; i++) {
        double x0 = prm[i], lv[4], fd = NAN;
        for (int t = 0; t < 3 && isnan(fd); t++) {
            const double h = hs[t], steps[4] = {2 * h, h, -h, -2 * h};
            int same = 1;
            for (int s = 0; s < 4; s++) {
                prm[i] = x0 + steps[s];
                ref_forward(ref, &L, prm, m_, n_, B, &ro, NULL, NULL, pos);
                lv[s] = ref_loss(ref, y_, B, P, gc->loss);
                same &= gc->act != GL_ACT_RELU || !memcmp(pos, pos0, npos);
            }
            if (same) fd = (8 * (lv[1] - lv[2]) - (lv[0] - lv[3])) / (12 * h);
            if (same && t > 0) smaller++;
        }
        prm[i] = x0;
        if (isnan(fd)) {
            skipped++;
            continue;
        }
        /* relative to the larger of the two, floored at 1e-3 of the largest
         * gradient element (elements that are zero, or nearly, compare
         * absolutely) */
        double e = fabs(fd - g[i]) / fmax(fmax(fabs(fd), fabs(g[i])), 1e-3 * gmax);
        worst = fmax(worst, e);
    }
    worst_grad_err = fmax(worst_grad_err, worst);
    char kinks[64] = "";
    if (smaller || skipped)
        snprintf(kinks, sizeof kinks, " (near a kink: %d smaller steps, %d skipped)", smaller,
                 skipped);
    CHECK(rc == 0 && le <= 1e-12 * ls && fabs(loss - rl) <= 1e-12 * fabs(rl) && worst < 1e-6 &&
              gmax > 0 && skipped == 0,
          "%s: logits err %.1e, loss %.6f err %.1e, gradient %zu el. rel err %.2e%s", name,
          le / ls, loss, fabs(loss - rl) / fabs(rl), np, worst, kinks);
    free(pos0);
    free(pos);
    gl_deep_work_free_f64(w);
    free(prm);
    free(g);
    free(rm);
    free(rv);
}

static void check_gradients(void) {
    const gl_act acts[] = {GL_ACT_RELU, GL_ACT_GELU, GL_ACT_QUADRATIC};
    int i = 0;
    for (int depth = 2; depth <= 4; depth++)
        for (int a = 0; a < 3; a++)
            for (int nm = 0; nm < 3; nm++)
                for (int loss = 0; loss < 2; loss++)
                    for (int d = 0; d < 2; d++, i++) {
                        gcase gc = {depth, acts[a], (gl_norm)nm, (gl_loss)loss, d ? 0.3 : 0.0,
                                    i % 4 < 2 ? GL_PARAM_STANDARD : GL_PARAM_LAZY};
                        check_case(&gc);
                    }
    gcase deeper = {6, GL_ACT_GELU, GL_NORM_BATCHNORM, GL_LOSS_CE, 0.2, GL_PARAM_LAZY};
    check_case(&deeper);
    gcase ident = {3, GL_ACT_IDENTITY, GL_NORM_LAYERNORM, GL_LOSS_MSE, 0.3, GL_PARAM_STANDARD};
    check_case(&ident);
    printf("# worst gradient relative error over all cases: %.2e\n", worst_grad_err);
}

/* ---------------------------------------------------------------------------
 * Depth 2 is the two-layer MLP. */

static void check_two_layer(gl_act act, gl_norm norm, gl_loss loss) {
    enum { p = 13, N = 24, nb = 40 };
    char name[96];
    snprintf(name, sizeof name, "%s, %s, %s", act_name(act), norm_name(norm),
             loss == GL_LOSS_MSE ? "mse" : "ce");
    gl_deep_layout D;
    gl_layout L;
    gl_deep_layout_init(&D, p, N, 2, act, norm, GL_PARAM_STANDARD, NULL);
    gl_layout_init(&L, p, N, act, norm);
    int same = D.off_u == L.off_u && D.off_v == L.off_v && D.off_w == L.off_w &&
               D.off_gamma == L.off_gamma && D.off_beta == L.off_beta && D.n_params == L.n_params;
    CHECK(same, "depth 2 layout = the two-layer MLP's (%s)", name);
    if (!same) return;
    size_t np = L.n_params;
    float *prm = malloc(np * sizeof(float)), *gd = malloc(np * sizeof(float));
    float *gm = malloc(np * sizeof(float));
    gl_deep_init_f32(prm, &D, 4);
    for (size_t i = L.off_gamma; i < np; i++) prm[i] += (float)(0.3 * gl_normal(9, 9, i, 1));

    gl_config c;
    gl_config_default(&c);
    c.p = p;
    c.width = N;
    c.act = act;
    c.norm = norm;
    c.loss = loss;
    c.dropout = 0; /* the two-layer MLP draws its masks from another stream */
    c.norm_eps = 1e-5;
    c.seed = 2;
    gl_batch bt = {m_, n_, y_, id_, nb};
    gl_mlp_work mw;
    gl_mlp_work_alloc(&mw, &L, nb, 0);
    double lm = gl_mlp_loss_grad(&mw, gm, &L, prm, &c, 0, &bt);

    gl_deep_work_f32 *w;
    gl_deep_work_new_f32(&w, &D, nb, 0, NULL);
    gl_deep_opts o = {loss, 0, 1e-5, 0.1, 2, 0};
    double ld = NAN;
    gl_deep_loss_grad_f32(w, &ld, gd, prm, &o, &bt, NULL, NULL, NULL);
    double e = 0, s = 0;
    for (size_t i = 0; i < np; i++) {
        e = fmax(e, fabs((double)gd[i] - gm[i]));
        s = fmax(s, fabs((double)gm[i]));
    }
    CHECK(fabs(ld - lm) <= 1e-5 * fabs(lm) && e <= 1e-5 * s,
          "depth 2 = two-layer MLP, %-28s loss %.7f vs %.7f, gradient max err %.1e of %.1e%s",
          name, ld, lm, e, s,
          !memcmp(gd, gm, np * sizeof(float)) && ld == lm ? " (bit-identical)" : "");

    /* evaluation, BatchNorm with running statistics */
    float rm[N], rv[N], od[nb * p];
    for (int k = 0; k < N; k++) {
        rm[k] = (float)(0.2 * gl_normal(4, 4, (uint64_t)k, 0));
        rv[k] = 0.3f + 0.05f * (float)k;
    }
    gl_mlp_eval(&mw, &L, prm, rm, rv, 1e-5, m_, n_, nb);
    gl_deep_logits_f32(w, od, prm, rm, rv, 1e-5, m_, n_, nb);
    e = 0;
    s = 0;
    for (int i = 0; i < nb * p; i++) {
        e = fmax(e, fabs((double)od[i] - mw.out[i]));
        s = fmax(s, fabs((double)mw.out[i]));
    }
    CHECK(e <= 1e-5 * s, "depth 2 evaluation logits = gl_mlp_eval, %-24s max err %.1e of %.1e",
          name, e, s);
    gl_deep_work_free_f32(w);
    gl_mlp_work_free(&mw);
    free(prm);
    free(gd);
    free(gm);
}

/* ---------------------------------------------------------------------------
 * BatchNorm running statistics. */

static void check_running_stats(double dropout) {
    enum { depth = 4, Hn = depth - 1 };
    gl_deep_layout L;
    gl_deep_layout_init(&L, P, NW, depth, GL_ACT_GELU, GL_NORM_BATCHNORM, GL_PARAM_STANDARD, NULL);
    gl_deep_work_f64 *w;
    gl_deep_work_new_f64(&w, &L, B, dropout > 0, NULL);
    double *prm = test_params(&L, 8), *g = malloc(L.n_params * sizeof(double));
    double rm[Hn * NW], rv[Hn * NW], rm0[Hn * NW], rv0[Hn * NW], bm[Hn * NW], bv[Hn * NW];
    double out[B * P];
    for (int i = 0; i < Hn * NW; i++) {
        rm[i] = rm0[i] = 0.1 * i - 0.5;
        rv[i] = rv0[i] = 1.0 + 0.05 * i;
    }
    const double mom = 0.3;
    gl_deep_opts o = {GL_LOSS_CE, dropout, 1e-5, mom, 6, 17};
    gl_batch bt = {m_, n_, y_, id_, B};
    double loss;
    gl_deep_loss_grad_f64(w, &loss, g, prm, &o, &bt, rm, rv, NULL);
    ref_opts ro = {1, dropout, 1e-5, 6, 17, id_, NULL, NULL};
    ref_forward(out, &L, prm, m_, n_, B, &ro, bm, bv, NULL);
    double e = 0;
    for (int i = 0; i < Hn * NW; i++) {
        double wm = (1 - mom) * rm0[i] + mom * bm[i];
        double wv = (1 - mom) * rv0[i] + mom * bv[i] * B / (B - 1.0);
        e = fmax(e, fmax(fabs(rm[i] - wm), fabs(rv[i] - wv)));
    }
    CHECK(e < 1e-12, "running statistics (depth %d, momentum %.1f, dropout %.1f) = (1-m) r + m "
                     "batch stat, variance unbiased: max err %.1e",
          depth, mom, dropout, e);

    /* a pass whose loss is not finite leaves them alone */
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    for (size_t i = L.off_w; i < L.off_gamma; i++) prm[i] = 1e300;
    o.loss = GL_LOSS_MSE;
    int rc = gl_deep_loss_grad_f64(w, &loss, g, prm, &o, &bt, rm, rv, NULL);
    CHECK(rc == 0 && !isfinite(loss) && !memcmp(rm, rm0, sizeof rm) && !memcmp(rv, rv0, sizeof rv),
          "loss %g (not finite): running statistics unchanged", loss);
    gl_deep_work_free_f64(w);
    free(prm);
    free(g);
}

/* ---------------------------------------------------------------------------
 * Initialization. */

static void check_init(gl_param param) {
    enum { p = 97, N = 512, depth = 4 };
    const char *pn = param == GL_PARAM_LAZY ? "lazy" : "standard";
    gl_deep_layout L;
    gl_deep_layout_init(&L, p, N, depth, GL_ACT_RELU, GL_NORM_LAYERNORM, param, NULL);
    float *w = malloc(L.n_params * sizeof(float));
    const uint64_t seed = 21;
    gl_deep_init_f32(w, &L, seed);

    /* the scales from their formulas */
    double lazy = sqrt(2.0 / pow(N, 2.0 / 3.0));
    double want[depth + 1];
    for (int l = 1; l <= depth; l++)
        want[l] = param == GL_PARAM_LAZY ? lazy : l == 1 ? sqrt(2.0 / (2 * p)) : sqrt(2.0 / N);
    int ok = 1;
    for (int l = 1; l <= depth; l++)
        ok &= fabs(gl_deep_init_std(&L, l) - want[l]) <= 1e-15 * want[l];
    CHECK(ok, "init %s: std of layer 1 %.5f, hidden %.5f, output %.5f as deep.h", pn,
          gl_deep_init_std(&L, 1), gl_deep_init_std(&L, 2), gl_deep_init_std(&L, depth));

    struct {
        const char *name;
        size_t off, len;
        int layer;
    } t[] = {{"U", L.off_u, (size_t)p * N, 1},
             {"V", L.off_v, (size_t)p * N, 1},
             {"H_1", L.off_hidden, (size_t)N * N, 2},
             {"H_2", L.off_hidden + (size_t)N * N, (size_t)N * N, 3},
             {"W", L.off_w, (size_t)p * N, depth}};
    for (int i = 0; i < 5; i++) {
        double s = 0, q = 0;
        for (size_t e = 0; e < t[i].len; e++) {
            s += w[t[i].off + e];
            q += (double)w[t[i].off + e] * w[t[i].off + e];
        }
        double mean = s / t[i].len, sd = sqrt(q / t[i].len - mean * mean);
        double ws = want[t[i].layer];
        CHECK(fabs(sd / ws - 1) < 0.03 && fabs(mean) < 0.03 * ws,
              "init %s: %-3s std %.5f (want %.5f), mean %+.5f", pn, t[i].name, sd, ws, mean);
    }

    /* elements: (seed, INIT, a = row-major index in (out, in), b = tensor id) */
    int k = 3, r = 5; /* U[k][r] is Ut[r][k] */
    float u0 = (float)(gl_normal(seed, GL_STREAM_INIT, 0, 0) * want[1]);
    float u = (float)(gl_normal(seed, GL_STREAM_INIT, (uint64_t)k * p + r, 0) * want[1]);
    float v = (float)(gl_normal(seed, GL_STREAM_INIT, (uint64_t)k * p + r, 1) * want[1]);
    float h2 = (float)(gl_normal(seed, GL_STREAM_INIT, 7, 48 + 2) * want[3]);
    float wl = (float)(gl_normal(seed, GL_STREAM_INIT, (uint64_t)r * N + k, 2) * want[depth]);
    CHECK(w[L.off_u] == u0 && w[L.off_u + (size_t)r * N + k] == u &&
              w[L.off_v + (size_t)r * N + k] == v && w[L.off_hidden + (size_t)N * N + 7] == h2 &&
              w[L.off_w + (size_t)r * N + k] == wl,
          "init %s: U[0][0] = %.6f = gl_normal(seed, INIT, 0, 0) * std; U, V, H_2, W elements "
          "by (index, id)",
          pn, w[L.off_u]);
    int gains = 1;
    for (size_t e = 0; e < (size_t)(depth - 1) * N; e++)
        gains &= w[L.off_gamma + e] == 1.0f && w[L.off_beta + e] == 0.0f;
    CHECK(gains, "init %s: gains 1, shifts 0", pn);
    free(w);
}

/* ---------------------------------------------------------------------------
 * Threads, and evaluation beyond the work's batch. */

static void check_threads(void) {
    enum { p = 31, N = 200, nb = 600, depth = 4, Hn = depth - 1 };
    make_data(MAXB, p);
    gl_deep_layout L;
    gl_deep_layout_init(&L, p, N, depth, GL_ACT_RELU, GL_NORM_BATCHNORM, GL_PARAM_STANDARD, NULL);
    size_t np = L.n_params;
    float *prm = malloc(np * sizeof(float)), *g1 = malloc(np * sizeof(float));
    float *g2 = malloc(np * sizeof(float));
    float rm1[Hn * N], rv1[Hn * N], rm2[Hn * N], rv2[Hn * N];
    gl_deep_init_f32(prm, &L, 13);
    for (int i = 0; i < Hn * N; i++) {
        rm1[i] = rm2[i] = 0;
        rv1[i] = rv2[i] = 1;
    }
    gl_deep_work_f32 *w;
    gl_deep_work_new_f32(&w, &L, nb, 1, NULL);
    gl_deep_opts o = {GL_LOSS_CE, 0.2, 1e-5, 0.1, 3, 5};
    gl_batch bt = {m_, n_, y_, id_, nb};
    double l1, l2;
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    gl_deep_loss_grad_f32(w, &l1, g1, prm, &o, &bt, rm1, rv1, NULL);
    omp_set_num_threads(2);
    gl_deep_loss_grad_f32(w, &l2, g2, prm, &o, &bt, rm2, rv2, NULL);
    CHECK(l1 == l2 && !memcmp(g1, g2, np * sizeof(float)) && !memcmp(rm1, rm2, sizeof rm1) &&
              !memcmp(rv1, rv2, sizeof rv1),
          "float pass bit-identical on 1 and 2 threads (B %d, N %d, p %d, depth %d, batchnorm, "
          "dropout 0.2): loss %.7f",
          nb, N, p, depth, l1);

    /* evaluation of 2.5 works' worth of examples, on 1 and 2 threads, against
     * the reference in double */
    enum { ne = 1500 };
    float *o1 = malloc(sizeof(float) * ne * p), *o2 = malloc(sizeof(float) * ne * p);
    omp_set_num_threads(1);
    gl_deep_logits_f32(w, o1, prm, rm1, rv1, 1e-5, m_, n_, ne);
    omp_set_num_threads(2);
    gl_deep_logits_f32(w, o2, prm, rm1, rv1, 1e-5, m_, n_, ne);
    omp_set_num_threads(nt);
    double *pd = malloc(np * sizeof(double)), *ref = malloc(sizeof(double) * ne * p);
    double rmd[Hn * N], rvd[Hn * N];
    for (size_t i = 0; i < np; i++) pd[i] = prm[i];
    for (int i = 0; i < Hn * N; i++) {
        rmd[i] = rm1[i];
        rvd[i] = rv1[i];
    }
    ref_opts ro = {0, 0, 1e-5, 0, 0, NULL, rmd, rvd};
    ref_forward(ref, &L, pd, m_, n_, ne, &ro, NULL, NULL, NULL);
    double e = 0, s = 0;
    for (int i = 0; i < ne * p; i++) {
        e = fmax(e, fabs(o1[i] - ref[i]));
        s = fmax(s, fabs(ref[i]));
    }
    CHECK(!memcmp(o1, o2, sizeof(float) * ne * p) && e <= 1e-5 * s,
          "evaluation of %d examples with a work of %d: = reference (max err %.1e of %.1e), "
          "bit-identical on 1 and 2 threads",
          ne, nb, e, s);
    /* 0 examples: no work at all. The output is a buffer of sentinels that
     * must stay as it is; the index arrays are blocks of one zero index, so
     * that evaluating an example anyway is defined and shows in the
     * sentinels, and under ASan reading past that one index is an error. */
    for (int i = 0; i < ne * p; i++) o1[i] = -7.25f;
    memcpy(o2, o1, sizeof(float) * ne * p);
    int32_t *m0 = calloc(1, sizeof(int32_t)), *n0 = calloc(1, sizeof(int32_t));
    gl_deep_logits_f32(w, o1, prm, rm1, rv1, 1e-5, m0, n0, 0);
    int changed = 0;
    for (int i = 0; i < ne * p; i++) changed += memcmp(&o1[i], &o2[i], sizeof(float)) != 0;
    CHECK(changed == 0, "evaluation of 0 examples writes nothing (%d of %d sentinel outputs changed)",
          changed, ne * p);
    free(m0);
    free(n0);
    gl_deep_work_free_f32(w);
    free(prm);
    free(g1);
    free(g2);
    free(o1);
    free(o2);
    free(pd);
    free(ref);
}

int main(void) {
    make_data(MAXB, P);
    check_layout();
    check_hand();
    check_gradients();

    make_data(MAXB, 13);
    const gl_act acts[] = {GL_ACT_RELU, GL_ACT_QUADRATIC};
    for (int a = 0; a < 2; a++)
        for (int nm = 0; nm < 3; nm++)
            for (int loss = 0; loss < 2; loss++)
                check_two_layer(acts[a], (gl_norm)nm, (gl_loss)loss);

    make_data(MAXB, P);
    check_running_stats(0);
    check_running_stats(0.3);
    check_init(GL_PARAM_STANDARD);
    check_init(GL_PARAM_LAZY);
    check_threads();
    return CHECK_DONE();
}
