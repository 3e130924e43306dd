/* groklab bench: milliseconds per training step of the default configuration,
 * GFLOP/s of the step's products, peak memory, and the throughput of
 * populations (model-steps per second); for the Transformer, PyTorch's
 * milliseconds per step of the same model on the same machine, measured in
 * the same run. A benchmark, never a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <omp.h>
#include <unistd.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FLOP of the step's products (forward and backward: 3 x 2 x MACs). */
static double step_gflop(const gl_config *c, double B) {
    double p = c->p, N = c->width, d = c->embed, F = (double)c->mlp_factor * c->embed;
    switch (c->arch) {
    case GL_ARCH_MLP: return 3.0 * 2.0 * B * N * p / 1e9;
    case GL_ARCH_DEEP_MLP: return 3.0 * 2.0 * B * (N * N * (c->depth - 2) + N * p) / 1e9;
    case GL_ARCH_TRANSFORMER: {
        /* per block, both positions: qkv, proj, fc, fcproj; the last block
         * computes k, v at position 0 and everything at position 1; head */
        double full = 2 * (3 * d * d + d * d + 2 * d * F), last = 2 * d * d + (3 * d * d + d * d + 2 * d * F);
        return 3.0 * 2.0 * B * (full * (c->depth - 1) + last + d * p) / 1e9;
    }
    }
    return 0;
}

static const char *shape_text(const gl_config *c) {
    static char buf[96];
    if (c->arch == GL_ARCH_TRANSFORMER)
        snprintf(buf, sizeof buf, "n_embd %d, %d heads, %d block%s", c->embed, c->heads, c->depth,
                 c->depth > 1 ? "s" : "");
    else if (c->arch == GL_ARCH_DEEP_MLP)
        snprintf(buf, sizeof buf, "width %d, depth %d", c->width, c->depth);
    else
        snprintf(buf, sizeof buf, "width %d", c->width);
    return buf;
}

/* PyTorch's milliseconds per step of the same Transformer, from
 * bench/transformer_torch.py (GROKLAB_TORCH_BENCH overrides its path). */
static void torch_baseline(const gl_config *c, double B, int threads, int steps, double ours) {
    const char *script = getenv("GROKLAB_TORCH_BENCH");
    char path[4096], cmd[8192], line[512];
    if (!script) {
        snprintf(path, sizeof path, "%s/bench/transformer_torch.py", GL_SOURCE_DIR);
        script = path;
    }
    if (access(script, R_OK) != 0) {
        printf("  PyTorch: skipped (%s not found; set GROKLAB_TORCH_BENCH)\n", script);
        return;
    }
    gl_config r = *c;
    gl_config_resolve(&r);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s' p=%d frac=%.17g d=%d heads=%d layers=%d mlp=%d loss=%s reps=%d threads=%d 2>&1",
             script, r.p, r.frac, r.embed, r.heads, r.depth, r.mlp_factor, gl_loss_name(r.loss), steps, threads);
    FILE *f = popen(cmd, "r");
    double theirs = -1;
    while (f && fgets(line, sizeof line, f)) {
        double v;
        int t;
        if (sscanf(line, "torch threads %d: median %lf ms", &t, &v) == 2) theirs = v;
        else if (strstr(line, "No module named") || strstr(line, "rror")) printf("  PyTorch: %s", line);
    }
    if (f) pclose(f);
    if (theirs <= 0) {
        printf("  PyTorch: no measurement (needs /usr/bin/python3 with torch)\n");
        return;
    }
    printf("  PyTorch (same model, %.0f examples, %d threads, float32): median %.2f ms per step\n", B,
           threads, theirs);
    printf("  groklab / PyTorch: %.2fx faster\n", theirs / ours);
}

int cmd_bench(int argc, char **argv) {
    int steps = 50, warmup = 5, threads = 0, pop_steps = 20, torch = 1;
    gl_config c;
    gl_config_default(&c);
    gl_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            printf("usage: groklab bench [--steps S] [--threads T] [--pop-steps S] [--torch on|off]\n"
                   "                     [any train knob, e.g. --width 1000 or --model transformer]\n"
                   "Trains the default configuration (add, p 97, width 500, alpha 0.5, full batch,\n"
                   "AdamW, MSE) and prints the median milliseconds per step, GFLOP/s of the\n"
                   "products (two-layer MLP: 3 x 2*B*N*p FLOP per step), peak memory, and the\n"
                   "throughput of populations of M = 1, 2, 8 models (model-steps per second).\n"
                   "With --model transformer it then times the same model in PyTorch\n"
                   "(bench/transformer_torch.py, float32, same threads; --torch off skips it)\n"
                   "and prints the ratio.\n");
            return EXIT_OK;
        }
        if (i + 1 >= argc) {
            cli_error("%s: missing value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--torch") && (!strcmp(v, "on") || !strcmp(v, "off"))) torch = !strcmp(v, "on");
        else if (!strcmp(a, "--torch")) {
            cli_error("--torch: '%s' is not allowed (allowed: on, off)", v);
            return EXIT_USAGE;
        }
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
    double gflop = step_gflop(gl_trainer_config(t), B);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("groklab bench: %s, %s, %d threads, p %d, %s, batch %.0f, %s, %s\n", gl_blas_name(),
           gl_arch_name(c.arch), threads, c.p, shape_text(gl_trainer_config(t)), B,
           gl_optim_name(c.optim), gl_loss_name(c.loss));
    printf("  step: median %.2f ms  (min %.2f, max %.2f over %d steps)\n", med, ms[0],
           ms[steps - 1], steps);
    printf("  products: %.3f GFLOP per step, %.1f GFLOP/s at the median\n", gflop, gflop / (med / 1e3));
    printf("  peak memory (max RSS): %.1f MiB\n", ru.ru_maxrss / 1024.0);
    free(ms);
    gl_trainer_free(t);
    if (c.arch == GL_ARCH_TRANSFORMER && torch) torch_baseline(&c, B, threads, steps, med);

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
