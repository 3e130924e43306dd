/* groklab bench: milliseconds per training step of the default configuration,
 * GFLOP/s of the step's products, peak memory, and the throughput of
 * populations (model-steps per second); for the Transformer, PyTorch's
 * milliseconds per step of the same model on the same machine, measured in
 * the same run. A benchmark, never a test. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <omp.h>
#include <unistd.h>

#include "cli.h"
#include "groklab/gpu.h"
#include "groklab/runtime.h"

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

/* The PyTorch script bench/NAME of the source tree, or the path in the
 * environment variable env; NULL, with the reason printed, if it cannot be
 * read. path: room for the default. */
static const char *torch_script(const char *env, const char *name, char *path, size_t size) {
    const char *script = getenv(env);
    if (!script) {
        snprintf(path, size, "%s/bench/%s", GL_SOURCE_DIR, name);
        script = path;
    }
    if (access(script, R_OK) != 0) {
        printf("  PyTorch: skipped (%s not found; set %s)\n", script, env);
        return NULL;
    }
    return script;
}

/* PyTorch's milliseconds per step of the same Transformer, from
 * bench/transformer_torch.py (GROKLAB_TORCH_BENCH overrides its path). */
static void torch_baseline(const gl_config *c, double B, int threads, int steps, double ours) {
    char path[4096], cmd[8192], line[512];
    const char *script = torch_script("GROKLAB_TORCH_BENCH", "transformer_torch.py", path, sizeof path);
    if (!script) return;
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

/* Comma list of numbers in [lo, hi] into x (at most cap; integers only
 * when integer); returns the count or -1. */
static int parse_list(const char *v, double *x, int cap, double lo, double hi, int integer) {
    int n = 0;
    const char *q = v;
    while (*q) {
        char *end;
        double f = strtod(q, &end);
        if (end == q || !(f >= lo && f <= hi) || (integer && f != (long)f) || n == cap || (*end && *end != ','))
            return -1;
        x[n++] = f;
        q = *end ? end + 1 : end;
    }
    return n;
}

/* --fracs: member i trains on v[i % n] (n 0: the config's --frac) */
typedef struct bench_fracs {
    double v[64];
    int n;
} bench_fracs;

static int create_members(gl_trainer **pop, int M, const gl_config *c, const bench_fracs *fr, gl_error *err) {
    for (int i = 0; i < M; i++) {
        gl_config pc = *c;
        pc.seed = c->seed + (uint64_t)i;
        if (fr->n > 0) pc.frac = fr->v[i % fr->n];
        if (gl_trainer_create(&pop[i], &pc, err) != 0) {
            while (i-- > 0) gl_trainer_free(pop[i]);
            return -1;
        }
    }
    return 0;
}

enum { PROFILE_STEPS = 10 };

static int by_ms_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* the profile of M's steps, its operations by time */
static void print_profile(const gl_gpu_profile *p, int M) {
    double all = 0, order[GL_GPU_PROFILE_OPS][2];
    for (int i = 0; i < p->n; i++) {
        all += p->op[i].ms;
        order[i][0] = p->op[i].ms;
        order[i][1] = i;
    }
    qsort(order, (size_t)p->n, sizeof order[0], by_ms_desc);
    long launches = 0, products = 0;
    for (int i = 0; i < p->n; i++) *(strncmp(p->op[i].name, "gemm", 4) ? &launches : &products) += p->op[i].calls;
    printf("    where a step of M=%d goes (%d steps, each operation synchronized): %.3f ms per step,\n"
           "    %.1f kernel launches and %.1f products (GEMM calls) per step\n",
           M, p->steps, all / p->steps, (double)launches / p->steps, (double)products / p->steps);
    for (int j = 0; j < p->n; j++) {
        int i = (int)order[j][1];
        printf("      %-22s %4.1f per step  %9.3f ms  %5.1f%%\n", p->op[i].name,
               (double)p->op[i].calls / p->steps, p->op[i].ms / p->steps,
               all > 0 ? 100 * p->op[i].ms / all : 0.0);
    }
}

/* --device cuda: one model, then populations, each step synchronized;
 * with profile, where each population's step goes. */
static int bench_gpu(const gl_config *c, int steps, int warmup, int pop_steps, const int *Ms,
                     int nM, int profile, int log, const bench_fracs *fr) {
    int log_every = log ? (c->log_every > 0 ? (int)c->log_every : 10) : 0; /* bench's default: 10 */
    gl_error err;
    char dev[256] = "";
    double peak = 0;
    double *ms = malloc(sizeof(double) * (size_t)(steps > pop_steps ? steps : pop_steps));
    if (!ms) return EXIT_FAIL;
    int rc = EXIT_OK;
    for (int k = -1; k < nM && rc == EXIT_OK; k++) {
        int M = k < 0 ? 1 : Ms[k], S = k < 0 ? steps : pop_steps;
        gl_trainer **pop = calloc((size_t)M, sizeof *pop);
        if (!pop || create_members(pop, M, c, fr, &err) != 0) {
            cli_error("population M=%d: %s", M, pop ? err.msg : "out of memory");
            free(pop);
            rc = EXIT_FAIL;
            break;
        }
        gl_gpu_profile prof = {.steps = PROFILE_STEPS};
        if (gl_gpu_bench(pop, M, warmup, S, log_every, ms, dev, sizeof dev, &peak, profile ? &prof : NULL,
                         &err) != 0) {
            cli_error("population M=%d: %s", M, err.msg);
            if (k >= 0) rc = EXIT_FAIL; /* a population too large for the GPU ends the list */
        } else {
            double mean = 0;
            for (int i = 0; i < S; i++) mean += ms[i] / S;
            qsort(ms, (size_t)S, sizeof(double), cmp_double);
            /* with evaluations, the mean: the median step would leave them out */
            double med = ms[S / 2], per = log_every ? mean : med, B = gl_trainer_data(pop[0])->n_train;
            if (c->batch > 0 && c->batch < B) B = c->batch;
            double flops = M * step_gflop(c, B) * 1e9 / (per / 1e3);
            if (k < 0) {
                printf("groklab bench: %s, %s, p %d, %s, batch %.0f, %s, %s%s\n", dev,
                       gl_arch_name(c->arch), c->p, shape_text(c), B, gl_optim_name(c->optim),
                       gl_loss_name(c->loss), fr->n > 1 ? " (batch: the first member's)" : "");
                if (fr->n > 0) {
                    printf("  members cycle through alpha");
                    for (int i = 0; i < fr->n; i++) printf("%s%g", i ? "," : " ", fr->v[i]);
                    printf("\n");
                }
                if (log_every)
                    printf("  evaluated every %d steps, inside the steps' time: mean %.3f ms per step\n", log_every,
                           mean);
                printf("  step: median %.3f ms  (min %.3f, max %.3f over %d steps, each synchronized)\n",
                       med, ms[0], ms[S - 1], S);
            } else {
                printf("  population M=%d: %.0f model-steps/s (%s %.3f ms per population step)", M,
                       M / (per / 1e3), log_every ? "mean, with evaluations," : "median", per);
            }
            printf("%s products %.1f GFLOP/s", k < 0 ? " " : ",", flops / 1e9);
            if (peak > 0) printf(" (%.1f%% of the FP32 peak %.1f TFLOP/s)", 100 * flops / peak, peak / 1e12);
            printf("\n");
            if (profile) print_profile(&prof, M);
            fflush(stdout); /* each population's figures survive a later one timing out */
        }
        for (int i = 0; i < M; i++) gl_trainer_free(pop[i]);
        free(pop);
    }
    free(ms);
    return rc;
}

static void bench_help(FILE *f) {
    fprintf(f, "usage: groklab bench [--steps S] [--threads T] [--pop-steps S] [--pop LIST]\n"
               "                     [--torch on|off] [--device cpu|cuda] [--profile on|off]\n"
               "                     [--log on|off] [--fracs A,B,...] [--batches LIST|off]\n"
               "                     [any train knob, e.g. --width 1000 or --model transformer]\n"
               "Trains the default configuration (add, p 97, width 500, alpha 0.5, full batch,\n"
               "AdamW, MSE) and prints the median milliseconds per step, GFLOP/s of the\n"
               "products (two-layer MLP: 3 x 2*B*N*p FLOP per step), peak memory, one\n"
               "evaluation's time and its share of a run logged as configured, and the\n"
               "throughput of populations of M = 1, 2, 8 models (model-steps per second).\n"
               "For the two-layer MLP, the batch table: ms per step at batch sizes 8, 32,\n"
               "64, 256 and full (--batches LIST, 0 = full; off skips it), on 1 and on all\n"
               "threads, beside the same model in PyTorch (bench/mlp_torch.py).\n"
               "With --model transformer it then times the same model in PyTorch\n"
               "(bench/transformer_torch.py, float32, same threads; --torch off skips it)\n"
               "and prints the ratio. --pop sets the population sizes (default 1,2,8; with\n"
               "--device cuda 1,16,64,256,1024, each GPU step synchronized and timed, the\n"
               "products' share of the GPU's FP32 peak printed; --profile on then times\n"
               "10 more steps of each with every kernel and product synchronized, and\n"
               "prints where a step's time goes). On the GPU, --log on evaluates every\n"
               "--log-every steps (default 10) as a logged run does, inside the steps' time\n"
               "(figures are then means, not medians), and --fracs A,B,... gives the members\n"
               "these training fractions in turn, as the population of a sweep over alpha.\n");
}

typedef struct bench_ctx {
    gl_config c;
    int threads;
} bench_ctx;

static int bench_knob(void *ctx, const char *name, const char *value, gl_error *err) {
    bench_ctx *b = ctx;
    int rc = gl_config_set(&b->c, name, value, err);
    if (rc == 0 && !strcmp(name, "threads")) b->threads = b->c.threads;
    return rc;
}

/* --batches: the batch sizes of the table (0: the full batch) */
typedef struct bench_batches {
    int v[16];
    int n;
} bench_batches;

/* Times steps of t after `warmup` untimed ones: at least `steps` of them
 * and min_s seconds, at most cap; ms (cap) gets their milliseconds, sorted.
 * Returns the count. */
static int time_steps(gl_trainer *t, int threads, int warmup, int steps, double min_s, double *ms, int cap) {
    int n = 0;
    for (int i = 0; i < warmup; i++) gl_trainer_step(t, threads);
    double t_all = cli_now();
    while (n < cap && (n < steps || cli_now() - t_all < min_s)) {
        double t0 = cli_now();
        gl_trainer_step(t, threads);
        ms[n++] = 1e3 * (cli_now() - t0);
    }
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    return n;
}

/* Median ms of one evaluation (every metric of a logged row) of t over 5 */
static double median_eval(gl_trainer *t, int threads) {
    double ms[5];
    gl_metrics m;
    gl_error err;
    for (int i = 0; i < 5; i++) {
        double t0 = cli_now();
        if (gl_trainer_evaluate(t, &m, threads, &err) != 0) return -1;
        ms[i] = 1e3 * (cli_now() - t0);
    }
    qsort(ms, 5, sizeof(double), cmp_double);
    return ms[2];
}

/* The evaluations of a run of c (its logging schedule, steps 0..steps) */
static long evaluations(const gl_config *c) {
    long e = 0;
    for (long s = 0; s <= c->steps; s++) e += gl_log_due(c, s);
    return e;
}

/* PyTorch's ms per step of the table's model (bench/mlp_torch.py, one run for
 * every batch and thread count) into theirs[batch][0: 1 thread, 1: T];
 * returns 0, or -1 with the reason printed. */
static int torch_batches(const gl_config *c0, const bench_batches *bb, int T, double theirs[][2]) {
    gl_config r = *c0, *c = &r;
    gl_config_resolve(c);
    char path[4096], cmd[8192], list[256] = "", line[512];
    const char *script = torch_script("GROKLAB_MLP_TORCH_BENCH", "mlp_torch.py", path, sizeof path);
    if (!script) return -1;
    if ((c->act != GL_ACT_QUADRATIC && c->act != GL_ACT_RELU) || c->optim != GL_OPT_ADAMW || c->dropout > 0) {
        printf("  PyTorch: skipped (bench/mlp_torch.py has x^2 or ReLU, AdamW, no dropout)\n");
        return -1;
    }
    for (int i = 0; i < bb->n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", bb->v[i]);
    char threads[32];
    snprintf(threads, sizeof threads, T > 1 ? "1,%d" : "1", T);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s' p=%d frac=%.17g width=%d act=%s norm=%s loss=%s lr=%.17g wd=%.17g batches=%s "
             "threads=%s 2>&1",
             script, c->p, c->frac, c->width, c->act == GL_ACT_RELU ? "relu" : "quadratic", gl_norm_name(c->norm),
             gl_loss_name(c->loss), c->lr, c->wd, list, threads);
    for (int i = 0; i < bb->n; i++) theirs[i][0] = theirs[i][1] = -1;
    FILE *f = popen(cmd, "r");
    int got = 0;
    while (f && fgets(line, sizeof line, f)) {
        int b, t;
        double v;
        if (sscanf(line, "torch batch %d threads %d: median %lf ms", &b, &t, &v) == 3) {
            for (int i = 0; i < bb->n; i++)
                if (bb->v[i] == b) theirs[i][t == 1 ? 0 : 1] = v, got = 1;
        } else if (strstr(line, "No module named") || strstr(line, "rror")) {
            printf("  PyTorch: %s", line);
        }
    }
    if (f) pclose(f);
    if (!got) printf("  PyTorch: no measurement (needs /usr/bin/python3 with torch)\n");
    return got ? 0 : -1;
}

/* The table: ms per step at each batch size, on 1 thread and on T, beside
 * PyTorch's for the same model */
static int batch_table(const gl_config *c0, const bench_batches *bb, int T, int steps, int warmup, int torch) {
    enum { CAP = 100000 }; /* steps timed at most per figure (0.3 s at least) */
    double theirs[16][2], *ms = malloc(sizeof(double) * CAP);
    gl_error err;
    if (!ms) {
        gl_fail_nomem(&err, "");
        return cli_fail(&err);
    }
    int have = torch && torch_batches(c0, bb, T, theirs) == 0;
    printf("  batch table (ms per step, medians; PyTorch: bench/mlp_torch.py, same model and threads):\n");
    printf("    %6s %7s %12s %12s %8s\n", "batch", "threads", "groklab", "PyTorch", "ratio");
    for (int i = 0; i < bb->n; i++) {
        gl_config c = *c0;
        c.batch = bb->v[i];
        c.steps = 1000000000L;
        gl_trainer *t;
        if (gl_trainer_create(&t, &c, &err) != 0) {
            free(ms);
            return cli_fail(&err);
        }
        char name[16];
        snprintf(name, sizeof name, "%d", c.batch);
        for (int k = 0; k < (T > 1 ? 2 : 1); k++) {
            int th = k ? T : 1;
            double ours = ms[time_steps(t, th, warmup, steps, 0.3, ms, CAP) / 2];
            printf("    %6s %7d %12.3f", c.batch ? name : "full", th, ours);
            if (have && theirs[i][k] > 0) printf(" %12.3f %7.2fx\n", theirs[i][k], theirs[i][k] / ours);
            else printf(" %12s %8s\n", "-", "-");
        }
        fflush(stdout);
        gl_trainer_free(t);
    }
    free(ms);
    return EXIT_OK;
}

/* The CPU: one model's steps, then populations (members over cores). */
static int bench_cpu(gl_config c, int threads, int steps, int warmup, int pop_steps, const int *Ms, int nM,
                     int torch, const bench_batches *bb) {
    gl_error err;
    if (threads <= 0) threads = gl_cores();
    const gl_config c0 = c; /* as given: the run whose evaluations are counted, the table's */
    c.steps = warmup + steps;
    gl_trainer *t;
    if (gl_trainer_create(&t, &c, &err) != 0) return cli_fail(&err);
    double *ms = malloc(sizeof(double) * (size_t)steps);
    if (!ms) {
        gl_trainer_free(t);
        gl_fail_nomem(&err, "");
        return cli_fail(&err);
    }
    time_steps(t, threads, warmup, steps, 0, ms, steps);
    double med = ms[steps / 2];
    double B = gl_trainer_data(t)->n_train;
    if (c.batch > 0 && c.batch < B) B = c.batch;
    double gflop = step_gflop(gl_trainer_config(t), B);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("groklab bench: %s, %s, %d threads, p %d, %s, batch %.0f, %s, %s\n", gl_blas_name(), gl_arch_name(c.arch),
           threads, c.p, shape_text(gl_trainer_config(t)), B, gl_optim_name(c.optim), gl_loss_name(c.loss));
    printf("  step: median %.2f ms  (min %.2f, max %.2f over %d steps)\n", med, ms[0], ms[steps - 1], steps);
    printf("  products: %.3f GFLOP per step, %.1f GFLOP/s at the median\n", gflop, gflop / (med / 1e3));
    printf("  peak memory (max RSS): %.1f MiB\n", ru.ru_maxrss / 1024.0);
    double ev = median_eval(t, threads);
    long E = evaluations(&c0);
    printf("  evaluation (%d train + %d test pairs, every metric of a logged row): median %.2f ms\n",
           gl_trainer_data(t)->n_train, gl_trainer_data(t)->n_test, ev);
    printf("  a run of %ld steps logging as configured (%ld evaluations): %.0f%% of its time evaluating\n", c0.steps,
           E, 100.0 * E * ev / (E * ev + (double)c0.steps * med));
    free(ms);
    gl_trainer_free(t);
    if (c.arch == GL_ARCH_TRANSFORMER && torch) torch_baseline(&c, B, threads, steps, med);
    if (bb->n > 0 && batch_table(&c0, bb, threads, steps, warmup, torch) != EXIT_OK) return EXIT_FAIL;

    /* populations: M members, each trained pop_steps steps, members over cores */
    for (int k = 0; k < nM; k++) {
        int M = Ms[k];
        gl_trainer **pop = calloc((size_t)M, sizeof *pop);
        gl_config pc = c;
        pc.steps = pop_steps;
        pc.log_every = pop_steps; /* log only the first and last step */
        const bench_fracs none = {.n = 0};
        int ok = pop && create_members(pop, M, &pc, &none, &err) == 0;
        double t0 = cli_now();
        if (ok) ok = gl_population_advance(pop, M, threads, &err) == 0;
        double dt = cli_now() - t0;
        if (ok)
            printf("  population M=%d: %.1f model-steps/s (%.2f ms per model-step, incl. 2 evaluations per model)\n", M,
                   M * pop_steps / dt, 1e3 * dt / (M * pop_steps));
        else
            cli_error("population M=%d: %s", M, pop ? err.msg : "out of memory");
        for (int i = 0; ok && i < M; i++) gl_trainer_free(pop[i]);
        free(pop);
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    int steps = 50, warmup = 5, pop_steps = 20, torch_w = 0, profile_w = 1, log_w = 1, Ms[32], nM = 0;
    const char *pops = NULL, *fracs_arg = NULL, *batches_arg = NULL;
    bench_ctx b = {.threads = 0};
    gl_config_default(&b.c);
    const cli_opt opts[] = {
        OPT_N("--steps", OPT_INT, &steps, 1, 1e9), OPT_N("--pop-steps", OPT_INT, &pop_steps, 1, 1e9), OPT_S("--pop", &pops),
        OPT_W("--torch", &torch_w, "on|off"), OPT_W("--profile", &profile_w, "on|off"),
        OPT_W("--log", &log_w, "on|off"), OPT_S("--fracs", &fracs_arg), OPT_S("--batches", &batches_arg), OPT_END,
    };
    cli_args a = {.cmd = "bench", .opts = opts, .knob = bench_knob, .ctx = &b, .help = bench_help,
                  .usage = "groklab bench [--steps S] [--pop LIST] [--torch on|off] [--profile on|off] [--log on|off] [--fracs LIST] [--batches LIST|off] [--KNOB VALUE]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    int torch = torch_w == 0, profile = profile_w == 0;
    double x[64];
    if (pops) {
        if ((nM = parse_list(pops, x, 32, 1, 65536, 1)) <= 0) {
            cli_error("--pop: '%s' is not a comma list of population sizes (1 to 65536, at most 32)", pops);
            return EXIT_USAGE;
        }
        for (int i = 0; i < nM; i++) Ms[i] = (int)x[i];
    }
    bench_fracs fr = {.n = 0};
    if (fracs_arg && (fr.n = parse_list(fracs_arg, fr.v, 64, DBL_MIN, 1, 0)) <= 0) {
        cli_error("--fracs: '%s' is not a comma list of training fractions (each in (0, 1], at most 64)", fracs_arg);
        return EXIT_USAGE;
    }
    bench_batches bb = {.n = -1};
    if (batches_arg && strcmp(batches_arg, "off")) {
        if ((bb.n = parse_list(batches_arg, x, 16, 0, 1e9, 1)) <= 0) {
            cli_error("--batches: '%s' is not off or a comma list of batch sizes (0 = full batch, at most 16)",
                      batches_arg);
            return EXIT_USAGE;
        }
        for (int i = 0; i < bb.n; i++) bb.v[i] = (int)x[i];
    } else if (batches_arg) {
        bb.n = 0;
    }
    gl_error err;
    gl_config c = b.c;
    if (!strcmp(c.device, "cuda")) {
        const int gpu_Ms[] = {1, 16, 64, 256, 1024};
        if (!nM) nM = 5, memcpy(Ms, gpu_Ms, sizeof gpu_Ms);
        c.steps = warmup + (steps > pop_steps ? steps : pop_steps) + PROFILE_STEPS;
        if (gl_config_validate(&c, &err) != 0 || gl_backend_check(&c, &err) != 0) return cli_fail(&err);
        gl_config_resolve(&c);
        return bench_gpu(&c, steps, warmup, pop_steps, Ms, nM, profile, log_w == 0, &fr);
    }
    if (bb.n > 0 && c.arch != GL_ARCH_MLP) {
        cli_error("--batches: the batch table is the two-layer MLP's (--model mlp), not %s's", gl_arch_name(c.arch));
        return EXIT_USAGE;
    }
    if (profile || log_w == 0 || fr.n > 0) {
        cli_error("%s: it needs --device cuda", profile ? "--profile on times the GPU's kernels"
                                                 : log_w == 0 ? "--log on times the GPU's evaluations"
                                                               : "--fracs mixes the GPU's population");
        return EXIT_USAGE;
    }
    if (!nM) Ms[0] = 1, Ms[1] = 2, Ms[2] = 8, nM = 3;
    if (bb.n < 0) { /* the default table: the MLP's batch sizes of the paper's figures */
        const int def[] = {8, 32, 64, 256, 0};
        bb.n = c.arch == GL_ARCH_MLP ? 5 : 0;
        memcpy(bb.v, def, sizeof def);
    }
    return bench_cpu(c, b.threads, steps, warmup, pop_steps, Ms, nM, torch, &bb);
}
