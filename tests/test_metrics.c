/* IPR against a direct DFT and closed forms; phases at the boundaries of
 * Table 2; the subset rule at its thresholds and in agreement with Table 2
 * wherever Table 2 is unambiguous (a dense grid of consistent accuracies);
 * Wilson intervals against published values and the closed form;
 * milestones on hand-made histories. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/metrics.h"
#include "groklab/rng.h"

static double ipr_direct(const double *x, int p, int full) {
    /* |DFT|^2 by the definition, over j in [0, p) (full) or [0, p/2] (rfft) */
    int nj = full ? p : p / 2 + 1;
    double s2 = 0, s4 = 0;
    for (int j = 0; j < nj; j++) {
        double re = 0, im = 0;
        for (int i = 0; i < p; i++) {
            re += x[i] * cos(2 * M_PI * j * i / p);
            im -= x[i] * sin(2 * M_PI * j * i / p);
        }
        double a2 = re * re + im * im;
        s2 += a2;
        s4 += a2 * a2;
    }
    return s4 / (s2 * s2);
}

/* ---- the subset rule against the paper's, on synthetic networks ----
 *
 * A network answers a fraction c of the clean training examples right, a
 * fraction g of the corrupted ones with their given label and t with their
 * true label (g + t <= 1); with corruption fraction xi its train accuracy
 * is (1 - xi) c + xi g. The paper's rule (Table 2) reads the corrupted
 * examples through that train accuracy; it is *unambiguous* (docs/paper.md
 * section 6) when, with margin M:
 *   - xi >= 0.15 + M: the partial-inversion band [1.05 - xi, 0.9) exists
 *     and the train accuracy of a fully inverted network, at most 1 - xi,
 *     is clear of the 90% line;
 *   - test is at least M from 0.9, and train at least M from 0.9 and from
 *     1.05 - xi;
 *   - test >= 0.9: the network fits its clean examples (c >= 0.9 + M), and
 *     answers the corrupted examples all one way (g >= 1 - M or
 *     t >= 1 - M), or mixed (g, t <= 0.9 - M) with train inside the paper's
 *     partial band;
 *   - test < 0.9: g >= 1 - M or g <= M, or train <= 0.9 - M. */
#define MARGIN 0.02
static int paper_unambiguous(double train, double test, double g, double t, double c, double xi) {
    const double m = MARGIN;
    if (xi < 0.15 + m) return 0;
    if (fabs(test - 0.9) < m || fabs(train - 0.9) < m || fabs(train - (1.05 - xi)) < m) return 0;
    if (test >= 0.9) {
        if (c < 0.9 + m) return 0;
        if (g >= 1 - m || t >= 1 - m) return 1;
        return g <= 0.9 - m && t <= 0.9 - m && train >= 1.05 - xi + m && train <= 0.9 - m;
    }
    return g >= 1 - m || g <= m || train <= 0.9 - m;
}

static void check_subset_rule(void) {
    /* thresholds, xi = 0.35 */
    double xi = 0.35;
    CHECK(gl_phase_classify_subset(0.97, 0.95, 0.92, 0.05, xi, 1) == GL_PHASE_COEXISTENCE, "subset: coexistence (corrupted 92%%)");
    CHECK(gl_phase_classify_subset(0.94, 0.95, 0.89, 0.10, xi, 1) == GL_PHASE_PARTIAL_INVERSION,
          "subset: partial inversion at corrupted 89%%, train 94%% (Table 2: coexistence)");
    CHECK(gl_phase_classify_subset(0.66, 0.99, 0.02, 0.90, xi, 1) == GL_PHASE_FULL_INVERSION, "subset: full inversion at corrupted_true 90%%");
    CHECK(gl_phase_classify_subset(0.66, 0.99, 0.02, 0.89, xi, 1) == GL_PHASE_PARTIAL_INVERSION, "subset: partial inversion at corrupted_true 89%%");
    CHECK(gl_phase_classify_subset(0.99, 0.20, 0.97, 0.01, xi, 0) == GL_PHASE_MEMORIZATION, "subset: memorization");
    CHECK(gl_phase_classify_subset(0.92, 0.20, 0.80, 0.01, xi, 0) == GL_PHASE_CONFUSION, "subset: train 92%% but corrupted 80%%: confusion");
    CHECK(gl_phase_classify_subset(0.92, 0.20, 0.80, 0.01, xi, 1) == GL_PHASE_FORGETTING, "subset: ... forgetting when test had 90%%");
    /* the case the subset rule exists for: xi = 0.1, every corrupted example answered with its true label */
    CHECK(gl_phase_classify(0.90, 1.0, 0.1, 1) == GL_PHASE_COEXISTENCE &&
              gl_phase_classify_subset(0.90, 1.0, 0.0, 1.0, 0.1, 1) == GL_PHASE_FULL_INVERSION,
          "xi 0.1, train 1 - xi: Table 2 says coexistence, the subset rule full inversion");
    /* no corrupted examples: Table 2 */
    int same = 1;
    for (int i = 0; i <= 20; i++)
        for (int j = 0; j <= 20; j++)
            for (int r = 0; r < 2; r++)
                same &= gl_phase_classify_subset(i / 20.0, j / 20.0, NAN, NAN, 0.0, r) == gl_phase_classify(i / 20.0, j / 20.0, 0.0, r);
    CHECK(same, "subset rule without corrupted examples (NaN) = Table 2 on 21 x 21 x 2 points");

    /* the grid: xi 0.05..0.95, c, g, t in steps of 1/50, nine test accuracies, reached or not */
    const double tests[] = {0.0, 0.3, 0.6, 0.85, 0.89, 0.9, 0.91, 0.95, 1.0};
    long n = 0, n_unamb = 0, n_bad = 0, n_differ = 0, unamb_by_phase[6] = {0};
    char first[256] = "";
    for (int ix = 1; ix <= 19; ix++)
        for (int ic = 0; ic <= 50; ic++)
            for (int ig = 0; ig <= 50; ig++)
                for (int it = 0; ig + it <= 50; it++)
                    for (int k = 0; k < 9; k++)
                        for (int r = 0; r < 2; r++) {
                            double x = ix / 20.0, c = ic / 50.0, g = ig / 50.0, t = it / 50.0, te = tests[k];
                            double train = (1 - x) * c + x * g;
                            gl_phase p = gl_phase_classify(train, te, x, r);
                            gl_phase q = gl_phase_classify_subset(train, te, g, t, x, r);
                            n++;
                            n_differ += p != q;
                            if (!paper_unambiguous(train, te, g, t, c, x)) continue;
                            n_unamb++;
                            unamb_by_phase[p]++;
                            if (p != q && !n_bad++)
                                snprintf(first, sizeof first, "xi %g clean %g given %g true %g test %g: %s vs %s", x, c, g,
                                         t, te, gl_phase_name(p), gl_phase_name(q));
                        }
    CHECK(n_bad == 0, "subset rule = Table 2 at all %ld unambiguous points of %ld (%ld points differ in all)%s%s", n_unamb, n,
          n_differ, n_bad ? "; first: " : "", first);
    int every = 1;
    for (int i = 0; i < 6; i++) every &= unamb_by_phase[i] > 500;
    CHECK(every && n_unamb > n / 5, "the unambiguous points are %.0f%% of the grid, > 500 in each phase (C %ld, PI %ld, FI %ld, M %ld, F %ld, X %ld)",
          100.0 * n_unamb / n, unamb_by_phase[0], unamb_by_phase[1], unamb_by_phase[2], unamb_by_phase[3],
          unamb_by_phase[4], unamb_by_phase[5]);
}

/* Wilson intervals: published 95% values, and the closed form of
 * docs/paper.md section 10 written out here. */
static void check_wilson(void) {
    const long kn[][2] = {{2, 3}, {5, 10}, {9, 10}, {0, 10}, {3, 3}};
    const double want[][2] = {{0.2077, 0.9385}, {0.2366, 0.7634}, {0.5958, 0.9821}, {0.0, 0.2775}, {0.4385, 1.0}};
    for (int i = 0; i < 5; i++) {
        double lo, hi;
        gl_wilson(kn[i][0], kn[i][1], 1.96, &lo, &hi);
        CHECK(fabs(lo - want[i][0]) < 1e-4 && fabs(hi - want[i][1]) < 1e-4, "Wilson %ld/%ld: [%.4f, %.4f] (published [%.4f, %.4f])",
              kn[i][0], kn[i][1], lo, hi, want[i][0], want[i][1]);
    }
    double worst = 0;
    for (long nn = 1; nn <= 40; nn++)
        for (long k = 0; k <= nn; k++) {
            double z = 1.96, c = (k + z * z / 2) / (nn + z * z);
            double h = z * sqrt((double)k * (nn - k) / nn + z * z / 4) / (nn + z * z), lo, hi;
            gl_wilson(k, nn, z, &lo, &hi);
            worst = check_worse(worst, check_worse(fabs(lo - fmax(0, c - h)), fabs(hi - fmin(1, c + h))));
        }
    CHECK(worst < 1e-15, "Wilson = closed form for every k <= n <= 40 (max error %.2g)", worst);
    CHECK(!gl_phase_uncertain(3, 3) && gl_phase_uncertain(2, 3) && !gl_phase_uncertain(9, 10) && gl_phase_uncertain(7, 10) &&
              !gl_phase_uncertain(1, 1) && !gl_phase_uncertain(15, 20) && gl_phase_uncertain(14, 20),
          "uncertain: 2/3, 7/10, 14/20 (Wilson lower bound < 0.5); not 3/3, 1/1 (all agree), 9/10, 15/20");
}

/* gl_argmax_f32 against the loop it stands for, on rows drawn from a few
 * values (ties everywhere), NaNs, infinities and both zeros, every p 1..100 */
static void test_argmax(void) {
    const float vals[] = {-1.0f, 0.0f, -0.0f, 2.0f, 2.0f, 3.5f, -INFINITY, INFINITY, NAN, 1e-30f};
    float o[100];
    long bad = 0, rows = 0;
    for (int p = 1; p <= 100; p++)
        for (int r = 0; r < 200; r++, rows++) {
            for (int j = 0; j < p; j++) {
                /* NaNs and infinities rarely, so that finite maxima occur too */
                int k = (int)gl_uniform_int(7, 11, (uint64_t)rows * 100 + (uint64_t)j, 0, 64);
                o[j] = vals[k < 56 ? k % 6 : 6 + (k - 56) % 4];
            }
            int best = 0;
            for (int j = 1; j < p; j++)
                if (o[j] > o[best]) best = j;
            bad += gl_argmax_f32(o, p) != best;
        }
    CHECK(bad == 0, "argmax = the loop's first maximum on %ld rows with ties, NaNs, infinities, signed zeros (%ld differ)",
          rows, bad);
}

int main(void) {
    gl_error e;
    test_argmax();
    /* odd and even moduli of the product path (p <= 512), and 601 of FFTW's */
    static const int moduli[] = {97, 98, 601};
    for (int mi = 0; mi < 3; mi++) {
        int pp = moduli[mi], N = 4;
        gl_ipr_plan *plan;
        if (gl_ipr_plan_create(&plan, pp, N, GL_BASIS_ADDITIVE, &e) != 0) return 1;
        float *x = malloc(sizeof(float) * (size_t)pp * N);
        static double xd[4][1024];
        for (int i = 0; i < pp; i++) {
            double v[4] = {cos(2 * M_PI * 5 * i / pp + 0.3), i == 3 ? 1.0 : 0.0,
                           gl_normal(1, 3, (uint64_t)i, 0), cos(2 * M_PI * 3 * i / pp) + 0.5 * sin(2 * M_PI * 7 * i / pp)};
            for (int k = 0; k < N; k++) {
                x[i * N + k] = (float)v[k];
                xd[k][i] = (double)(float)v[k];
            }
        }
        double ipr[4];
        for (int full = 0; full < 2; full++) {
            gl_ipr_batch(plan, ipr, x, N, 1, full ? GL_IPR_FULL : GL_IPR_RFFT, 2.0);
            const char *conv = full ? "full" : "rfft";
            char what[96];
            for (int k = 0; k < N; k++) {
                snprintf(what, sizeof what, "IPR p=%d %s vector %d vs direct DFT", pp, conv, k);
                CHECK_REL(ipr[k], ipr_direct(xd[k], pp, full), 1e-5, what);
            }
            snprintf(what, sizeof what, "IPR p=%d %s of a cosine (closed form %s)", pp, conv, full ? "1/2" : "1");
            CHECK_REL(ipr[0], full ? 0.5 : 1.0, 1e-5, what);
            double nc = full ? pp : pp / 2 + 1;
            snprintf(what, sizeof what, "IPR p=%d %s of a delta (closed form 1/%g)", pp, conv, nc);
            CHECK_REL(ipr[1], 1.0 / nc, 1e-5, what);
        }
        free(x);
        gl_ipr_plan_free(plan);
    }

    /* Table 2, xi = 0.35: 100(1.05 - xi) = 70 */
    double xi = 0.35;
    CHECK(gl_phase_classify(0.95, 0.95, xi, 1) == GL_PHASE_COEXISTENCE, "coexistence");
    CHECK(gl_phase_classify(0.90, 0.90, xi, 1) == GL_PHASE_COEXISTENCE, "coexistence at 90/90");
    CHECK(gl_phase_classify(0.80, 0.99, xi, 1) == GL_PHASE_PARTIAL_INVERSION, "partial inversion");
    CHECK(gl_phase_classify(0.65, 0.99, xi, 1) == GL_PHASE_FULL_INVERSION, "full inversion");
    CHECK(gl_phase_classify(0.99, 0.20, xi, 0) == GL_PHASE_MEMORIZATION, "memorization");
    CHECK(gl_phase_classify(0.50, 0.20, xi, 1) == GL_PHASE_FORGETTING, "forgetting (had 90%% test)");
    CHECK(gl_phase_classify(0.50, 0.20, xi, 0) == GL_PHASE_CONFUSION, "confusion");

    check_subset_rule();
    check_wilson();

    gl_metrics rows[6];
    memset(rows, 0, sizeof rows);
    double tr[6] = {0.1, 0.95, 1.0, 1.0, 0.8, 0.66}, te[6] = {0.0, 0.2, 0.5, 0.93, 0.99, 1.0},
           co[6] = {0.0, 0.6, 0.9, 0.8, 0.3, 0.05};
    for (int i = 0; i < 6; i++) {
        rows[i].step = 100 * i;
        rows[i].train_acc = tr[i];
        rows[i].test_acc = te[i];
        rows[i].corrupted_acc = co[i];
    }
    gl_milestones ms;
    gl_milestones_compute(&ms, rows, 6);
    CHECK(ms.train90 == 100 && ms.test90 == 300 && ms.unlearn == 500,
          "milestones train90 %ld test90 %ld unlearn %ld (expected 100, 300, 500)", ms.train90,
          ms.test90, ms.unlearn);
    rows[1].corrupted_acc = 0.4;
    rows[2].corrupted_acc = 0.45;
    rows[3].corrupted_acc = 0.2;
    rows[4].corrupted_acc = 0.4;
    gl_milestones_compute(&ms, rows, 6);
    CHECK(ms.unlearn == -1, "no unlearning without first memorizing above 50%%");
    return CHECK_DONE();
}
