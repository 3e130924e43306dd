/* The deep MLP's state (groklab/deep.h), against deep_ref.h's reference:
 *  - BatchNorm running statistics after a pass, from the reference's batch
 *    statistics; untouched when the loss is not finite;
 *  - initialization statistics and element values, standard and lazy;
 *  - bit-identical loss, gradient and statistics on 1 and 2 threads (float,
 *    BatchNorm and dropout, a size where the layers run in parallel); the
 *    evaluation pass for batches larger than the work;
 *  - the family's pass through gl_net_pass (arch.h): loss, running
 *    statistics and evaluation logits against the reference, its refusals. */
#include "deep_ref.h"
#include "groklab/arch.h"

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
        e = check_worse(e, fmax(fabs(rm[i] - wm), fabs(rv[i] - wv)));
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
        e = check_worse(e, fabs(o1[i] - ref[i]));
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

/* ---------------------------------------------------------------------------
 * The family's pass through gl_net_pass (arch.h), as the CPU backend calls
 * it: its training loss and running statistics and its evaluation logits
 * against the double reference, and its refusals. */

static void check_net_pass(void) {
    enum { depth = 3, Hn = depth - 1 };
    make_data(MAXB, P);
    gl_config c;
    gl_config_default(&c);
    gl_error e = {{0}, 0};
    const char *sets[][2] = {{"model", "deep-mlp"}, {"p", "7"},       {"width", "6"},     {"depth", "3"},
                             {"norm", "batchnorm"}, {"act", "gelu"},  {"dropout", "0.3"}, {"loss", "ce"},
                             {"bn-momentum", "0.3"}, {"seed", "6"}};
    int bad = 0;
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) bad += gl_config_set(&c, sets[i][0], sets[i][1], &e) != 0;
    gl_config_resolve(&c);
    gl_net net;
    bad += gl_net_init(&net, &c, &e) != 0;
    CHECK(!bad && net.arch == GL_ARCH_DEEP_MLP && net.n_run_layers == Hn && net.run_width == NW,
          "a deep-MLP net of depth 3 from a config (%s)", bad ? e.msg : "");
    if (bad) return;
    float *prm = malloc(net.n_params * sizeof(float)), *g = malloc(net.n_params * sizeof(float));
    double *pd = malloc(net.n_params * sizeof(double));
    gl_net_init_params(&net, prm, &c);
    for (size_t i = 0; i < net.n_params; i++) pd[i] = prm[i];
    float rm[Hn * NW], rv[Hn * NW];
    double rm0[Hn * NW], rv0[Hn * NW], bm[Hn * NW], bv[Hn * NW], out[B * P], rmd[Hn * NW], rvd[Hn * NW];
    for (int i = 0; i < Hn * NW; i++) {
        rm[i] = (float)(rm0[i] = 0.1 * i - 0.5);
        rv[i] = (float)(rv0[i] = 1.0 + 0.05 * i);
    }

    gl_net_pass *ps = NULL;
    int rc = gl_net_pass_new(&ps, &net, &c, B, 4, &e);
    CHECK(rc == 0 && ps, "gl_net_pass_new for batches of %d, evaluation rows 4 (%s)", B, rc ? e.msg : "");
    if (rc) return;
    gl_batch bt = {m_, n_, y_, id_, B};
    double loss = gl_net_pass_loss_grad(ps, g, prm, rm, rv, 17, &bt);
    ref_opts ro = {1, 0.3, c.norm_eps, 6, 17, id_, NULL, NULL};
    ref_forward(out, &net.deep, pd, m_, n_, B, &ro, bm, bv, NULL);
    double want = ref_loss(out, y_, B, P, GL_LOSS_CE), es = 0;
    for (int i = 0; i < Hn * NW; i++) {
        es = check_worse(es, fabs(rm[i] - ((1 - 0.3) * rm0[i] + 0.3 * bm[i])));
        es = check_worse(es, fabs(rv[i] - ((1 - 0.3) * rv0[i] + 0.3 * bv[i] * B / (B - 1.0))));
    }
    CHECK(fabs(loss - want) <= 1e-5 * fabs(want) && es < 1e-5,
          "pass loss (dropout 0.3, CE, BatchNorm) %.9g = reference %.9g; running statistics max err %.1e", loss, want,
          es);

    const float *lg = gl_net_pass_logits(ps, prm, rm, rv, m_, n_, 4);
    for (int i = 0; i < Hn * NW; i++) rmd[i] = rm[i], rvd[i] = rv[i];
    ref_opts ev = {0, 0, c.norm_eps, 6, 0, NULL, rmd, rvd};
    ref_forward(out, &net.deep, pd, m_, n_, 4, &ev, NULL, NULL, NULL);
    double el = 0;
    for (int i = 0; lg && i < 4 * P; i++) {
        double d = fabs(lg[i] - out[i]) / fmax(1.0, fabs(out[i]));
        el = isfinite(d) ? fmax(el, d) : INFINITY; /* fmax would drop a NaN */
    }
    CHECK(lg && el < 1e-5, "pass evaluation logits (4 rows, running statistics) = reference (max err %.1e)", el);
    CHECK(gl_net_pass_logits(ps, prm, rm, rv, m_, n_, 5) == NULL, "logits of 5 rows past the 4 it was made for: NULL");
    bt.B = B + 1;
    CHECK(isnan(gl_net_pass_loss_grad(ps, g, prm, rm, rv, 17, &bt)), "a batch of %d past the %d it was made for: NaN",
          B + 1, B);
    gl_net_pass_free(ps);

    gl_net_pass *ps2 = NULL;
    rc = gl_net_pass_new(&ps2, &net, &c, 0, 4, &e);
    CHECK(rc == GL_E_INPUT && !ps2 && strstr(e.msg, "batch"), "a pass for batches of 0 is refused: %s", e.msg);
    CHECK(gl_net_pass_bytes(&net, &c, B, 4) >= gl_deep_work_bytes(&net.deep, B, 1) + 4.0 * 4 * P,
          "its bytes cover the deep work and the evaluation logits (%.0f)", gl_net_pass_bytes(&net, &c, B, 4));
    free(prm);
    free(g);
    free(pd);
}

int main(void) {
    make_data(MAXB, P);
    check_running_stats(0);
    check_running_stats(0.3);
    check_init(GL_PARAM_STANDARD);
    check_init(GL_PARAM_LAZY);
    check_threads();
    check_net_pass();
    return CHECK_DONE();
}
