/* groklab bench: milliseconds per training step of the default configuration,
 * GFLOP/s of the step's three products, peak memory, and the throughput of
 * populations (model-steps per second). A benchmark, never a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <omp.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    int steps = 50, warmup = 5, threads = 0, pop_steps = 20;
    gl_config c;
    gl_config_default(&c);
    gl_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            printf("usage: groklab bench [--steps S] [--threads T] [--pop-steps S] [any train knob, e.g. --width 1000]\n"
                   "Trains the default configuration (add, p 97, width 500, alpha 0.5, full batch,\n"
                   "AdamW, MSE) and prints the median milliseconds per step, GFLOP/s of the three\n"
                   "products (3 x 2*B*N*p FLOP per step), peak memory, and the throughput of\n"
                   "populations of M = 1, 2, 8 models (model-steps per second).\n");
            return EXIT_OK;
        }
        if (i + 1 >= argc) {
            cli_error("%s: missing value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--pop-steps")) pop_steps = atoi(v);
        else if (!strncmp(a, "--", 2) && gl_config_set(&c, a + 2, v, &err) == 0) {
            if (!strcmp(a, "--threads")) threads = c.threads;
        } else {
            cli_error("%s", strncmp(a, "--", 2) ? "options start with --" : err.msg);
            return EXIT_USAGE;
        }
    }
    if (steps < 1 || pop_steps < 1) {
        cli_error("--steps and --pop-steps must be at least 1");
        return EXIT_USAGE;
    }
    if (threads <= 0) threads = omp_get_num_procs();
    c.steps = warmup + steps;
    gl_trainer *t;
    if (gl_trainer_create(&t, &c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    double *ms = malloc(sizeof(double) * (size_t)steps);
    for (int i = 0; i < warmup; i++) gl_trainer_step(t, threads);
    for (int i = 0; i < steps; i++) {
        double t0 = cli_now();
        gl_trainer_step(t, threads);
        ms[i] = 1e3 * (cli_now() - t0);
    }
    qsort(ms, (size_t)steps, sizeof(double), cmp_double);
    double med = ms[steps / 2];
    double B = gl_trainer_data(t)->n_train;
    if (c.batch > 0 && c.batch < B) B = c.batch;
    double gflop = 3.0 * 2.0 * B * c.width * c.p / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("groklab bench: %s, %d threads, p %d, width %d, batch %.0f, %s, %s\n", gl_blas_name(),
           threads, c.p, c.width, B, gl_optim_name(c.optim), gl_loss_name(c.loss));
    printf("  step: median %.2f ms  (min %.2f, max %.2f over %d steps)\n", med, ms[0],
           ms[steps - 1], steps);
    printf("  products: %.3f GFLOP per step, %.1f GFLOP/s at the median\n", gflop, gflop / (med / 1e3));
    printf("  peak memory (max RSS): %.1f MiB\n", ru.ru_maxrss / 1024.0);
    free(ms);
    gl_trainer_free(t);

    /* populations: M members, each trained pop_steps steps, members over cores */
    const int Ms[] = {1, 2, 8};
    for (size_t k = 0; k < sizeof Ms / sizeof Ms[0]; k++) {
        int M = Ms[k];
        gl_trainer **pop = calloc((size_t)M, sizeof *pop);
        gl_config pc = c;
        pc.steps = pop_steps;
        pc.log_every = pop_steps; /* log only the first and last step */
        int ok = 1;
        for (int i = 0; i < M && ok; i++) {
            pc.seed = c.seed + (uint64_t)i;
            ok = gl_trainer_create(&pop[i], &pc, &err) == 0;
        }
        double t0 = cli_now();
        if (ok) ok = gl_population_advance(pop, M, threads, &err) == 0;
        double dt = cli_now() - t0;
        if (ok)
            printf("  population M=%d: %.1f model-steps/s (%.2f ms per model-step, incl. 2 evaluations per model)\n",
                   M, M * pop_steps / dt, 1e3 * dt / (M * pop_steps));
        else
            cli_error("population M=%d: %s", M, err.msg);
        for (int i = 0; i < M; i++) gl_trainer_free(pop[i]);
        free(pop);
    }
    return EXIT_OK;
}
