/* One to three optimizer steps of AdamW, Adam and SGD (momentum, decay)
 * against the textbook formulas written out here independently. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/optim.h"

enum { n = 5 };

int main(void) {
    const double g0[3][n] = {{0.3, -1.2, 0.0, 2.5, -0.01},
                             {0.1, 0.4, -0.7, 1.0, 0.02},
                             {-0.5, 0.2, 0.3, -2.0, 0.0}};
    const double p0[n] = {0.5, -0.25, 1.0, 0.0, -3.0};
    gl_config c;
    gl_config_default(&c);
    c.lr = 0.01;
    c.beta1 = 0.9;
    c.beta2 = 0.98;
    c.eps = 1e-8;
    for (int opt = 0; opt < 3; opt++) {
        c.optim = (gl_optim)opt;
        c.wd = opt == 0 ? 5.0 : 0.1;
        c.momentum = 0.9;
        float pf[n], m1[n] = {0}, m2[n] = {0};
        double ref[n], rm[n] = {0}, rv[n] = {0};
        for (int i = 0; i < n; i++) pf[i] = (float)(ref[i] = p0[i]);
        for (int t = 1; t <= 3; t++) {
            float gf[n];
            for (int i = 0; i < n; i++) gf[i] = (float)g0[t - 1][i];
            gl_optim_step(&c, pf, gf, m1, m2, n, t);
            for (int i = 0; i < n; i++) {
                double g = (double)(float)g0[t - 1][i];
                if (opt == 2) { /* SGD: d = g + wd p; buf = d, then mu buf + d; p -= lr buf */
                    double d = g + c.wd * ref[i];
                    rm[i] = t == 1 ? d : c.momentum * rm[i] + d;
                    ref[i] -= c.lr * rm[i];
                    continue;
                }
                if (opt == 0) ref[i] *= 1 - c.lr * c.wd; /* decoupled decay */
                else g += c.wd * ref[i];                 /* L2 in the gradient */
                rm[i] = c.beta1 * rm[i] + (1 - c.beta1) * g;
                rv[i] = c.beta2 * rv[i] + (1 - c.beta2) * g * g;
                double mhat = rm[i] / (1 - pow(c.beta1, t)), vhat = rv[i] / (1 - pow(c.beta2, t));
                ref[i] -= c.lr * mhat / (sqrt(vhat) + c.eps);
            }
            const char *names[] = {"adamw", "adam", "sgd"};
            double worst = 0;
            for (int i = 0; i < n; i++) worst = check_worse(worst, fabs(pf[i] - ref[i]));
            CHECK(worst < 2e-6, "%s step %d: max |param - formula| %.2e", names[opt], t, worst);
        }
    }
    return CHECK_DONE();
}
