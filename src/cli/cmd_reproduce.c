/* groklab reproduce: the paper's figures, each setting written once here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/io.h"

static void reproduce_help(FILE *f) {
    fprintf(f,
            "usage: groklab reproduce FIGURE [--out DIR] [--force] [--quiet] [--threads T]\n"
            "                               [--p P] [--steps S]\n\n"
            "figures:\n"
            "  fig1   Figure 1: alpha 0.5, xi 0.35, weight decay 0, 5 and 15, 2000 steps.\n"
            "         The three runs train together (a population, one core each), then a\n"
            "         table of final accuracies, milestones and phases is printed and the\n"
            "         training curves are drawn into DIR/fig1.png (script DIR/fig1.gp).\n\n"
            "  --out DIR    where the runs and the figure go (default runs/fig1)\n"
            "  --p, --steps override the figure's modulus and length (smaller, faster checks)\n");
}

static const char *fmt_step(long s, char *buf, size_t cap) {
    if (s < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%ld", s);
    return buf;
}

static int reproduce_fig1(int argc, char **argv) {
    const char *out = "runs/fig1";
    int force = 0, quiet = 0, threads = 0;
    gl_config base;
    gl_config_default(&base);
    base.frac = 0.5;
    base.noise = 0.35;
    base.steps = 2000;
    base.checkpoint_every = 0;
    gl_error err;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--force")) { force = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(a, "--help")) { reproduce_help(stdout); return EXIT_OK; }
        if (i + 1 >= argc || strncmp(a, "--", 2)) {
            cli_error("%s: expected --out, --force, --quiet, --threads, --p or --steps with a value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--threads") || !strcmp(a, "--p") || !strcmp(a, "--steps")) {
            if (gl_config_set(&base, a + 2, v, &err) != 0) {
                cli_error("%s", err.msg);
                return EXIT_USAGE;
            }
            if (!strcmp(a, "--threads")) threads = base.threads;
        } else {
            cli_error("unknown option '%s' for fig1 (allowed: --out, --force, --quiet, --threads, --p, --steps)", a);
            return EXIT_USAGE;
        }
    }
    enum { M = 3 };
    const double wds[M] = {0, 5, 15};
    const char *names[M] = {"wd0", "wd5", "wd15"};
    const char *labels[M] = {"weight decay 0", "weight decay 5", "weight decay 15"};
    gl_trainer *t[M] = {0};
    char dirs[M][4096];
    int rc = EXIT_OK;
    for (int i = 0; i < M && rc == EXIT_OK; i++) {
        gl_config c = base;
        c.wd = wds[i];
        if (gl_trainer_create(&t[i], &c, &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_USAGE;
        }
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", out, names[i]);
    }
    for (int i = 0; i < M && rc == EXIT_OK; i++) {
        if (gl_run_prepare(dirs[i], force, &err) != 0 || gl_run_write_config(dirs[i], gl_trainer_config(t[i]), &err) != 0 ||
            gl_run_write_data(dirs[i], gl_trainer_data(t[i]), &err) != 0 ||
            gl_run_write_weights(dirs[i], "init", t[i], &err) != 0) {
            cli_error("%s", err.msg);
            rc = i == 0 ? EXIT_USAGE : EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK) {
        cli_progress pg;
        cli_progress_init(&pg, quiet, "fig1 (3 runs, progress of wd0)");
        gl_trainer_set_progress(t[0], cli_progress_cb, &pg);
        double t0 = cli_now();
        if (gl_population_advance(t, M, threads, &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_FAIL;
        }
        cli_progress_done(&pg);
        if (!quiet) fprintf(stderr, "trained 3 runs in %.1fs\n", cli_now() - t0);
    }
    for (int i = 0; i < M && rc == EXIT_OK; i++)
        if (gl_run_save_all(dirs[i], t[i], &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_FAIL;
        }
    if (rc == EXIT_OK) {
        printf("Figure 1: add mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", base.p, base.frac,
               base.noise, base.steps);
        printf("%-6s %9s %9s %11s %10s %9s %9s %9s %9s  %s\n", "wd", "train", "test", "corrupted",
               "corr.true", "clean", "train90", "test90", "unlearn", "phase");
        for (int i = 0; i < M; i++) {
            long n;
            const gl_metrics *rows = gl_trainer_rows(t[i], &n);
            const gl_metrics *r = &rows[n - 1];
            gl_milestones ms;
            gl_phase ph = gl_phase_of_run(rows, n, base.noise, 0, &ms, NULL);
            char a[32], b[32], c[32];
            printf("%-6g %9.4f %9.4f %11.4f %10.4f %9.4f %9s %9s %9s  %s\n", wds[i], r->train_acc,
                   r->test_acc, r->corrupted_acc, r->corrupted_true_acc, r->clean_acc,
                   fmt_step(ms.train90, a, sizeof a), fmt_step(ms.test90, b, sizeof b),
                   fmt_step(ms.unlearn, c, sizeof c),
                   gl_trainer_diverged_at(t[i]) >= 0
                       ? "diverged"
                       : gl_phase_name(ph));
        }
        char title[256];
        snprintf(title, sizeof title, "add mod %d, alpha %.2f, xi %.2f", base.p, base.frac, base.noise);
        if (cli_plot_curves(out, "fig1", title, M, names, labels, &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            printf("\nruns in %s/{wd0,wd5,wd15}; figure %s/fig1.png (script fig1.gp)\n", out, out);
        }
    }
    for (int i = 0; i < M; i++) gl_trainer_free(t[i]);
    return rc;
}

int cmd_reproduce(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        reproduce_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "fig1")) return reproduce_fig1(argc, argv);
    cli_error("unknown figure '%s' (allowed: fig1)", argv[1]);
    return EXIT_USAGE;
}
