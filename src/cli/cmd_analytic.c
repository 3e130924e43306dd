/* groklab analytic: the weights of Eq. 2 as a run directory, and the width
 * they need (PAPER.md section 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/analysis.h"
#include "groklab/io.h"

static void analytic_help(FILE *f) {
    fprintf(f,
            "usage: groklab analytic [--p 97] [--width 500] [--seed S] [--out DIR] [--force] [--quiet]\n"
            "       groklab analytic --scan LO:HI [--p 97] [--seed S] [--out DIR] [--force]\n\n"
            "Writes the analytic solution of modular addition (Eq. 2: neuron k is a cosine of\n"
            "frequency sigma(k) with random phases, W cancels the phases, phi(x) = x^2) as a\n"
            "run directory that ipr, spectrum, prune and plot accept, and prints its accuracy\n"
            "over all p^2 pairs. Amplitude (2/N)^(1/3), so the output at the answer is about 1.\n\n"
            "  --out DIR     default runs/analytic-p<P>-N<WIDTH>-s<SEED> (runs/analytic-scan-p<P>-s<SEED>)\n"
            "  --scan LO:HI  accuracy for widths LO..HI (steps of 2^(1/4)), into DIR/scan.csv\n"
            "                and DIR/scan.png; prints the smallest width that reaches 100%%\n");
}

/* Fraction of the p^2 pairs whose argmax is (m + n) mod p. */
static double all_pairs_accuracy(const gl_layout *L, const float *params, gl_error *err) {
    int p = L->p, B = 1024;
    gl_mlp_work w;
    if (gl_mlp_work_alloc(&w, L, B, 0) != 0) return gl_fail(err, "out of memory"), NAN;
    int32_t m[1024], n[1024];
    long hit = 0, total = (long)p * p;
    for (long s = 0; s < total; s += B) {
        int b = (int)(total - s < B ? total - s : B);
        for (int i = 0; i < b; i++) m[i] = (int32_t)((s + i) / p), n[i] = (int32_t)((s + i) % p);
        gl_mlp_eval(&w, L, params, NULL, NULL, 0, m, n, b);
        for (int i = 0; i < b; i++) {
            const float *o = w.out + (size_t)i * p;
            int best = 0;
            for (int q = 1; q < p; q++)
                if (o[q] > o[best]) best = q;
            hit += best == (m[i] + n[i]) % p;
        }
    }
    gl_mlp_work_free(&w);
    return (double)hit / total;
}

static int analytic_scan(const char *out, int p, uint64_t seed, int lo, int hi, int force, int quiet) {
    gl_error err;
    if (gl_run_prepare(out, force, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    gl_blas_init();
    cli_buf b = {0};
    cli_buf_printf(&b, "width,accuracy\n");
    int first = -1, stable = -1;
    if (!quiet) printf("analytic solution, p %d, seed %llu: accuracy over all %d pairs\n%8s %10s\n", p,
                       (unsigned long long)seed, p * p, "width", "accuracy");
    for (double x = lo;;) {
        int N = (int)lround(x);
        gl_layout L;
        gl_layout_init(&L, p, N, GL_ACT_QUADRATIC, GL_NORM_NONE);
        float *params = calloc(L.n_params, sizeof(float));
        if (!params) {
            cli_error("out of memory for width %d", N);
            cli_buf_free(&b);
            return EXIT_FAIL;
        }
        gl_analytic_weights(&L, params, seed);
        double acc = all_pairs_accuracy(&L, params, &err);
        free(params);
        cli_buf_printf(&b, "%d,%.9g\n", N, acc);
        if (!quiet) printf("%8d %10.6f\n", N, acc);
        if (acc == 1.0 && first < 0) first = N;
        if (acc == 1.0 && stable < 0) stable = N;
        if (acc < 1.0) stable = -1;
        if (N >= hi) break;
        double nx = x * pow(2.0, 0.25);
        x = lround(nx) <= N ? N + 1 : nx;
        if (lround(x) > hi) x = hi;
    }
    int rc = cli_buf_save(&b, out, "scan.csv", &err);
    cli_buf_free(&b);
    if (rc == 0) {
        cli_buf s = {0};
        cli_buf_printf(&s, "set logscale x 2\nset grid\nset xlabel 'width N'\nset ylabel 'accuracy over all pairs'\n"
                           "set yrange [0:1.02]\nset key off\nset title 'analytic solution (Eq. 2), p %d, seed %llu'\n"
                           "plot 'scan.csv' skip 1 using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '#1f77b4'\n",
                       p, (unsigned long long)seed);
        rc = s.failed ? gl_fail(&err, "out of memory") : cli_gnuplot(out, "scan", 640, 420, s.data, &err);
        cli_buf_free(&s);
    }
    if (rc != 0) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (first < 0) printf("no width in %d..%d reaches 100%%\n", lo, hi);
    else printf("smallest width reaching 100%%: %d; 100%% at every scanned width from %d on\n", first, stable);
    if (!quiet) printf("wrote %s/scan.csv, scan.png\n", out);
    return EXIT_OK;
}

int cmd_analytic(int argc, char **argv) {
    gl_config c;
    gl_config_default(&c);
    c.steps = 0;
    c.checkpoint_every = 0;
    const char *out = NULL;
    int force = 0, quiet = 0, scan = 0, lo = 0, hi = 0;
    gl_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            analytic_help(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--force")) { force = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (i + 1 >= argc || strncmp(a, "--", 2)) {
            cli_error("analytic: unexpected '%s' (options: --p, --width, --seed, --out, --scan LO:HI, --force, --quiet)", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--scan")) {
            char *end;
            long l = strtol(v, &end, 10), h = *end == ':' ? strtol(end + 1, &end, 10) : -1;
            if (*end || l < 1 || h < l || h > (1 << 20)) {
                cli_error("--scan: '%s' is not LO:HI with 1 <= LO <= HI <= %d", v, 1 << 20);
                return EXIT_USAGE;
            }
            scan = 1, lo = (int)l, hi = (int)h;
        } else if (!strcmp(a, "--p") || !strcmp(a, "--width") || !strcmp(a, "--seed") || !strcmp(a, "--threads")) {
            if (gl_config_set(&c, a + 2, v, &err) != 0) {
                cli_error("%s", err.msg);
                return EXIT_USAGE;
            }
        } else {
            cli_error("analytic: unknown option '%s' (options: --p, --width, --seed, --out, --scan LO:HI, --force, --quiet)", a);
            return EXIT_USAGE;
        }
    }
    if (gl_config_validate(&c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    char def[512];
    if (scan) {
        snprintf(def, sizeof def, "runs/analytic-scan-p%d-s%llu", c.p, (unsigned long long)c.seed);
        return analytic_scan(out ? out : def, c.p, c.seed, lo, hi, force, quiet);
    }
    snprintf(def, sizeof def, "runs/analytic-p%d-N%d-s%llu", c.p, c.width, (unsigned long long)c.seed);
    if (!out) out = def;
    gl_trainer *t;
    if (gl_trainer_create(&t, &c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    if (gl_run_prepare(out, force, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK) {
        gl_analytic_weights(gl_trainer_layout(t), gl_trainer_params(t), c.seed);
        gl_metrics m;
        gl_trainer_evaluate(t, &m, c.threads);
        if (gl_trainer_restore(t, 0, &m, 1, 0.0, &err) != 0 || gl_run_write_config(out, &c, &err) != 0 ||
            gl_run_write_data(out, gl_trainer_data(t), &err) != 0 || gl_run_save_all(out, t, &err) != 0)
            rc = EXIT_FAIL;
        if (rc == EXIT_OK) {
            const gl_dataset *d = gl_trainer_data(t);
            double all = (m.train_acc * d->n_train + m.test_acc * d->n_test) / (d->n_train + d->n_test);
            printf("analytic solution of addition mod %d, width %d, seed %llu: accuracy over all %d pairs %.6f\n",
                   c.p, c.width, (unsigned long long)c.seed, d->n_train + d->n_test, all);
            printf("  mean IPR %.4f (rfft, additive basis); MSE loss %.4g\n", m.mean_ipr, m.train_loss);
            if (!quiet) printf("  wrote the run directory %s (groklab ipr|spectrum|prune|plot %s)\n", out, out);
        }
    }
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    gl_trainer_free(t);
    return rc;
}
