/* groklab analytic: the weights of Eq. 2 as a run directory, and the width
 * they need (docs/paper.md section 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

static int analytic_scan(const char *out, int p, uint64_t seed, int lo, int hi, int force, int quiet) {
    gl_error err;
    int rc = gl_run_prepare(out, force, &err);
    if (rc != 0) return cli_fail(&err);
    gl_blas_init();
    gl_text b = {0};
    gl_text_printf(&b, "width,accuracy\n");
    int first = -1, stable = -1;
    if (!quiet)
        printf("analytic solution, p %d, seed %llu: accuracy over all %d pairs\n%8s %10s\n", p, (unsigned long long)seed,
               p * p, "width", "accuracy");
    for (double x = lo; rc == 0;) {
        int N = (int)lround(x);
        gl_layout L;
        gl_layout_init(&L, p, N, GL_ACT_QUADRATIC, GL_NORM_NONE);
        float *params = calloc(L.n_params, sizeof(float));
        double acc = 0;
        rc = params ? gl_analytic_weights(&L, params, seed, &err) : gl_failc(&err, GL_E_NOMEM, "out of memory for width %d", N);
        if (rc == 0) rc = gl_analytic_accuracy(&L, params, &acc, &err);
        free(params);
        if (rc != 0) break;
        gl_text_printf(&b, "%d,%.9g\n", N, acc);
        if (!quiet) printf("%8d %10.6f\n", N, acc);
        if (acc == 1.0 && first < 0) first = N;
        if (acc == 1.0 && stable < 0) stable = N;
        if (acc < 1.0) stable = -1;
        if (N >= hi) break;
        double nx = x * pow(2.0, 0.25);
        x = lround(nx) <= N ? N + 1 : nx;
        if (lround(x) > hi) x = hi;
    }
    if (rc == 0) rc = gl_text_save(&b, out, "scan.csv", &err);
    gl_text_free(&b);
    if (rc == 0) rc = gl_figure_scan(out, p, (unsigned long long)seed, &err);
    if (rc != 0) return cli_fail(&err);
    if (first < 0) printf("no width in %d..%d reaches 100%%\n", lo, hi);
    else printf("smallest width reaching 100%%: %d; 100%% at every scanned width from %d on\n", first, stable);
    if (!quiet) printf("wrote %s/scan.csv, scan.png\n", out);
    return EXIT_OK;
}

/* --p, --width, --seed, --threads: the knobs of the analytic run */
static int set_knob(void *ctx, const char *name, const char *value, gl_error *err) {
    if (strcmp(name, "p") && strcmp(name, "width") && strcmp(name, "seed") && strcmp(name, "threads"))
        return gl_fail(err, "analytic: unknown option '--%s' (options: --p, --width, --seed, --out, --scan LO:HI, --force, --quiet)",
                       name);
    return gl_config_set(ctx, name, value, err);
}

/* The analytic solution as a run directory: its config, data, weights,
 * and one logged row; the accuracy over all pairs. */
static int analytic_run(const char *out, const gl_config *c, int force, int quiet) {
    gl_error err;
    gl_metrics m;
    double all;
    if (gl_analytic_run(out, c, force, &m, &all, &err) != 0) return cli_fail(&err);
    printf("analytic solution of addition mod %d, width %d, seed %llu: accuracy over all %ld pairs %.6f\n", c->p,
           c->width, (unsigned long long)c->seed, gl_task_pairs(c->task, c->p), all);
    printf("  mean IPR %.4f (rfft, additive basis); MSE loss %.4g\n", m.mean_ipr, m.train_loss);
    if (!quiet) printf("  wrote the run directory %s (groklab ipr|spectrum|prune|plot %s)\n", out, out);
    return EXIT_OK;
}

int cmd_analytic(int argc, char **argv) {
    gl_config c;
    gl_config_default(&c);
    c.steps = 0;
    c.checkpoint_every = 0;
    const char *out = NULL, *scan = NULL;
    int force = 0, quiet = 0, lo = 0, hi = 0;
    const cli_opt opts[] = {
        OPT_S("--out", &out), OPT_S("--scan", &scan), OPT_F("--force", &force),
        OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "analytic", .opts = opts, .knob = set_knob, .ctx = &c, .help = analytic_help,
                  .usage = "groklab analytic [--p P] [--width N] [--seed S] [--out DIR] [--scan LO:HI] [--force] [--quiet]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (scan) {
        char *end;
        long l = strtol(scan, &end, 10), h = *end == ':' ? strtol(end + 1, &end, 10) : -1;
        if (*end || l < 1 || h < l || h > (1 << 20)) {
            cli_error("--scan: '%s' is not LO:HI with 1 <= LO <= HI <= %d", scan, 1 << 20);
            return EXIT_USAGE;
        }
        lo = (int)l, hi = (int)h;
    }
    gl_error err;
    if (gl_config_validate(&c, &err) != 0) return cli_fail(&err);
    char def[512];
    if (scan) {
        snprintf(def, sizeof def, "runs/analytic-scan-p%d-s%llu", c.p, (unsigned long long)c.seed);
        return analytic_scan(out ? out : def, c.p, c.seed, lo, hi, force, quiet);
    }
    snprintf(def, sizeof def, "runs/analytic-p%d-N%d-s%llu", c.p, c.width, (unsigned long long)c.seed);
    return analytic_run(out ? out : def, &c, force, quiet);
}
