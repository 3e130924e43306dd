/* IPR against a direct DFT and closed forms; phases at the boundaries of
 * Table 2; milestones on hand-made histories. */
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

int main(void) {
    gl_error e;
    for (int p = 5; p <= 98; p += 93) { /* odd (97 below) and even (98) moduli */
        int pp = p == 5 ? 97 : p, N = 4;
        gl_ipr_plan *plan;
        if (gl_ipr_plan_create(&plan, pp, N, GL_BASIS_ADDITIVE, &e) != 0) return 1;
        float *x = malloc(sizeof(float) * (size_t)pp * N);
        double xd[4][200];
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
