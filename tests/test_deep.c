/* The deep MLP (groklab/deep.h), against computations written here:
 *  - the layout's offsets from the formulas of deep.h, and the refusals of bad
 *    shapes and batches;
 *  - a hand-computed depth-3 network (p 3, N 2): its logits;
 *  - the plain reference of deep_ref.h: evaluation logits and training losses
 *    equal it, and every gradient element equals its central finite
 *    difference, for depth 2, 3, 4 x relu, gelu, quadratic x no norm,
 *    BatchNorm, LayerNorm x MSE, CE x dropout 0 and 0.3, standard and lazy
 *    initialization;
 *  - depth 2 is the two-layer MLP: the same loss, gradient and evaluation
 *    logits as gl_mlp_loss_grad and gl_mlp_eval (float).
 * Running statistics, initialization and threads are test_deep_state.c. */
#include "deep_ref.h"

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
    for (int i = 0; i < 9; i++) worst = check_worse(worst, fabs(out[i] - want[i]));
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
        le = check_worse(le, fabs(out[i] - ref[i]));
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
        worst = check_worse(worst, e);
    }
    worst_grad_err = check_worse(worst_grad_err, worst);
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
        e = check_worse(e, fabs((double)gd[i] - gm[i]));
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
        e = check_worse(e, fabs((double)od[i] - mw.out[i]));
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
    return CHECK_DONE();
}
