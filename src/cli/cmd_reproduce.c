/* groklab reproduce: the paper's figures, each setting written once here.
 *
 * A figure is a set of runs (members) trained together as a population, one
 * per core, then analyzed: every figure prints the numbers it plots and
 * draws its PNG/SVG with the gnuplot script beside it. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repro.h"

static void reproduce_help(FILE *f) {
    fprintf(f,
            "usage: groklab reproduce FIGURE [--out DIR] [--force] [--quiet] [--threads T]\n"
            "                                [--device cpu|cuda] [--p P] [--steps S] [--seeds K]\n"
            "                                [--widths LIST]\n\n"
            "figures (runs train together, one per core; each prints the numbers it plots):\n"
            "  fig1   alpha 0.5, xi 0.35, weight decay 0, 5, 15, 2000 steps: accuracy curves\n"
            "         and phases (fig1.png)\n"
            "  fig2   alpha 0.5, xi 0, weight decay 5, 2000 steps: accuracy and mean IPR over\n"
            "         steps (curves.png), one neuron before and after (neuron_K.png), IPR\n"
            "         histogram (ipr_hist.png)\n"
            "  fig4   alpha 0.5, xi 0.35, weight decay 0, 5, 15: IPR histograms after training,\n"
            "         initial ones overlaid (fig4.png)\n"
            "  fig5   BatchNorm: alpha 0.65, xi 0.2, minibatch 64, Adam lr 0.005, 8000 steps,\n"
            "         with and without BatchNorm: histograms and IPR against |gamma| (fig5.png)\n"
            "  fig6   Coexistence (alpha 0.5, xi 0.35, wd 0, 1000 steps) pruned lowest IPR\n"
            "         first, highest first, and in --seeds random orders (fig6.png)\n"
            "  dynamics  the two-stage dynamics at alpha 0.5, xi 0.35, weight decay 0, 5, 15,\n"
            "         2000 steps with 40 snapshots and progress measures: each run taken apart\n"
            "         by groklab dynamics, the steps of grokking and unlearning, the corrupted\n"
            "         examples' unlearning times, the restricted and excluded accuracies\n"
            "         (dynamics.png)\n"
            "  fig17  pruning from Coexistence, Partial and Full Inversion (wd 0, 5, 15 at\n"
            "         alpha 0.5, xi 0.35, 2000 steps), over all counts (fig17.png)\n"
            "  fig32  how many neurons can be pruned (lowest IPR first, test accuracy kept at\n"
            "         90%%) against width: lr 0.005, wd 1, alpha 0.5, xi 0.35 (fig32.png)\n\n"
            "  --out DIR       where the runs and figures go (default runs/FIGURE)\n"
            "  --p, --steps    override the modulus and length (smaller, faster checks)\n"
            "  --device cuda   train on the GPU, the figure's runs as one population\n"
            "  --seeds K       fig32: seeds per width (default 2; the paper used 40);\n"
            "                  fig6, fig17: random pruning orders (default 20)\n"
            "  --widths LIST   fig32: comma list (default 500,1000,2000; the paper: 500 to 10000)\n\n");
    cli_phase_figures_help(f);
}

/* ---- the figures ---- */

/* Figure 1's and 17's runs: weight decay 0, 5, 15, trained, with the
 * figure's header and the table of their final accuracies. */
static int train_wd_figure(const repro_opts *o, const char *name, member *m, gl_trainer **t) {
    repro_wd_members(m, &o->base);
    int rc = repro_train_members(o, name, m, 3, t);
    if (rc == EXIT_OK) {
        printf("Figure %s: %s mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", name + 3, o->base.task, o->base.p,
               o->base.frac, o->base.noise, o->base.steps);
        repro_print_runs(m, t, 3);
    }
    return rc;
}

static int fig1(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    int rc = train_wd_figure(o, "fig1", m, t);
    if (rc == EXIT_OK) {
        const char *names[3] = {m[0].name, m[1].name, m[2].name}, *labels[3] = {m[0].label, m[1].label, m[2].label};
        char title[256];
        gl_error err;
        snprintf(title, sizeof title, "add mod %d, alpha %.2f, xi %.2f", o->base.p, o->base.frac, o->base.noise);
        if (gl_figure_curves(o->out, "fig1", title, 3, names, labels, &err) != 0) {
            rc = cli_fail(&err);
        } else {
            printf("\nruns in %s/{wd0,wd5,wd15}; figure %s/fig1.png (script fig1.gp)\n", o->out, o->out);
        }
    }
    repro_free_members(t, 3);
    return rc;
}

/* The two-stage dynamics (weight decay 0, 5, 15 at alpha 0.5, xi 0.35):
 * snapshots and progress measures, each run taken apart by groklab
 * dynamics, and the restricted and excluded accuracies side by side. */
static int dynamics(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    repro_wd_members(m, &o->base);
    int rc = repro_train_members(o, "dynamics", m, 3, t);
    if (rc != EXIT_OK) {
        repro_free_members(t, 3);
        return rc;
    }
    printf("The two-stage dynamics: %s mod %d, alpha %.2f, xi %.2f, %ld steps, %d snapshots\n\n", o->base.task,
           o->base.p, o->base.frac, o->base.noise, o->base.steps, o->base.snapshots);
    repro_print_runs(m, t, 3);
    repro_free_members(t, 3);
    gl_dynamics_opts dop;
    gl_dynamics_opts_default(&dop);
    gl_dynamics_report rep[3];
    char dirs[3][4200], dyn[3][4300];
    for (int i = 0; i < 3 && rc == EXIT_OK; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", o->out, m[i].name);
        snprintf(dyn[i], sizeof dyn[i], "%s/dynamics", m[i].name);
        rc = cli_dynamics_run(dirs[i], NULL, &dop, 1, 1, &rep[i]);
    }
    if (rc != EXIT_OK) return rc;
    printf("\n%-6s %10s %10s %11s %10s   %-29s %s\n", "", "grokking", "unlearned", "median", "restricted",
           "restricted logits' accuracy", "excluded logits' accuracy");
    printf("%-6s %10s %10s %11s %10s   %-14s %-14s %s\n", "run", "(test 90%)", "(corr. <10%)", "unlearning",
           "power", "corr. (true)", "test", "corr. (given)");
    for (int i = 0; i < 3; i++) {
        char a[32], b[32], c[32];
        const gl_progress *pm = &rep[i].last;
        printf("%-6s %10s %10s %11s %10.3f   %-14.4f %-14.4f %.4f\n", m[i].name, repro_fmt_step(rep[i].ms.test90, a, sizeof a),
               repro_fmt_step(rep[i].ms.unlearn, b, sizeof b), repro_fmt_num(rep[i].story.unl_median, c, sizeof c),
               pm->key_share,
               pm->acc[GL_PM_RESTRICTED][GL_PM_CORRUPTED_TRUE], pm->acc[GL_PM_RESTRICTED][GL_PM_TEST],
               pm->acc[GL_PM_EXCLUDED][GL_PM_CORRUPTED]);
    }
    const char *dd[3] = {dyn[0], dyn[1], dyn[2]}, *labels[3] = {m[0].label, m[1].label, m[2].label};
    gl_error err;
    if (gl_figure_dynamics_panels(o->out, "dynamics", 3, dd, labels, &err) != 0) return cli_fail(&err);
    printf("\nruns in %s/{wd0,wd5,wd15}, each taken apart in RUN/dynamics (tables, dynamics_*.png);\n"
           "figure %s/dynamics.png (script dynamics.gp)\n", o->out, o->out);
    return EXIT_OK;
}

static int fig2(const repro_opts *o) {
    member m[1];
    gl_trainer *t[1];
    repro_set_member(&m[0], "run", "weight decay 5", &o->base);
    int rc = repro_train_members(o, "fig2", m, 1, t);
    if (rc == EXIT_OK) {
        printf("Figure 2: %s mod %d, alpha %.2f, xi %.2f, weight decay %g, %ld steps\n\n", o->base.task, o->base.p,
               o->base.frac, o->base.noise, o->base.wd, o->base.steps);
        repro_print_runs(m, t, 1);
        long n;
        const gl_metrics *rows = gl_trainer_rows(t[0], &n);
        printf("\n%8s %9s %9s %9s   (accuracy and mean IPR over steps, curves.png)\n", "step", "train", "test", "mean IPR");
        long every = n > 12 ? n / 12 : 1;
        for (long i = 0; i < n; i++)
            if (i % every == 0 || i == n - 1)
                printf("%8ld %9.4f %9.4f %9.4f\n", rows[i].step, rows[i].train_acc, rows[i].test_acc, rows[i].mean_ipr);
        rc = repro_analyze(o, m, 1);
        if (rc == EXIT_OK) printf("\nfigures in %s/run: curves.png (2a), neuron_K.png (2b), ipr_hist.png\n", o->out);
    }
    repro_free_members(t, 1);
    return rc;
}

/* A figure of IPR histograms: train the members, print their table, take
 * each apart (groklab plot), print their IPR, draw the histograms side by
 * side (scatter > 0: member scatter - 1's IPR against |gamma| too). */
static int histogram_figure(const repro_opts *o, const char *name, member *m, int M, int scatter) {
    gl_trainer *t[8];
    int rc = repro_train_members(o, name, m, M, t);
    if (rc == EXIT_OK) {
        repro_print_runs(m, t, M);
        rc = repro_analyze(o, m, M);
    }
    if (rc == EXIT_OK) {
        repro_print_ipr_table(o, m, M);
        rc = repro_plot_histograms(o, name, m, M, scatter);
        if (rc == EXIT_OK) printf("\nfigure %s/%s.png (script %s.gp)\n", o->out, name, name);
    }
    repro_free_members(t, M);
    return rc;
}

static int fig4(const repro_opts *o) {
    member m[3];
    repro_wd_members(m, &o->base);
    printf("Figure 4: %s mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", o->base.task, o->base.p, o->base.frac,
           o->base.noise, o->base.steps);
    return histogram_figure(o, "fig4", m, 3, 0);
}

static int fig5(const repro_opts *o) {
    member m[2];
    repro_set_member(&m[0], "batchnorm", "with BatchNorm", &o->base);
    m[0].c.norm = GL_NORM_BATCHNORM;
    repro_set_member(&m[1], "no_norm", "without BatchNorm", &o->base);
    printf("Figure 5: %s mod %d, alpha %.2f, xi %.2f, minibatch %d, %s lr %g, %ld steps\n\n", o->base.task, o->base.p,
           o->base.frac, o->base.noise, o->base.batch, gl_optim_name(o->base.optim), o->base.lr, o->base.steps);
    return histogram_figure(o, "fig5", m, 2, 1);
}

static int fig6(const repro_opts *o) {
    member m[1];
    gl_trainer *t[1];
    repro_set_member(&m[0], "coexistence", "Coexistence", &o->base);
    int rc = repro_train_members(o, "fig6", m, 1, t);
    if (rc == EXIT_OK) {
        printf("Figure 6: %s mod %d, alpha %.2f, xi %.2f, weight decay %g, %ld steps\n\n", o->base.task, o->base.p,
               o->base.frac, o->base.noise, o->base.wd, o->base.steps);
        repro_print_runs(m, t, 1);
        rc = repro_prune_members(o, m, 1, "fig6", 0);
        if (rc == EXIT_OK) printf("\nfigure %s/fig6.png (script fig6.gp); table %s/coexistence/prune.csv\n", o->out, o->out);
    }
    repro_free_members(t, 1);
    return rc;
}

static int fig17(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    int rc = train_wd_figure(o, "fig17", m, t);
    if (rc == EXIT_OK) {
        for (int i = 0; i < 3; i++) { /* label each row with the phase it prunes from */
            long n;
            const gl_metrics *rows = gl_trainer_rows(t[i], &n);
            gl_phase ph = gl_phase_of_run(rows, n, m[i].c.noise, gl_trainer_diverged_at(t[i]) >= 0, NULL, NULL);
            snprintf(m[i].label, sizeof m[i].label, "wd %g (%s)", m[i].c.wd, gl_phase_name(ph));
            for (char *q = m[i].label; *q; q++) /* gnuplot reads '_' as a subscript */
                if (*q == '_') *q = ' ';
        }
        rc = repro_prune_members(o, m, 3, "fig17", 1);
        if (rc == EXIT_OK) printf("\nfigure %s/fig17.png (script fig17.gp)\n", o->out);
    }
    repro_free_members(t, 3);
    return rc;
}

static int fig32(const repro_opts *o) {
    int W = o->n_widths, S = o->seeds, rc = EXIT_OK;
    gl_text b = {0};
    gl_text_printf(&b, "width,seed,test_acc,prunable,prunable_fraction,prunable_prefix\n");
    printf("Figure 32: %s mod %d, alpha %.2f, xi %.2f, lr %g, weight decay %g, %ld steps; %d seeds per width\n",
           o->base.task, o->base.p, o->base.frac, o->base.noise, o->base.lr, o->base.wd, o->base.steps, S);
    printf("prunable: the most neurons removed lowest IPR first with test accuracy still >= %.0f%%;\n"
           "prefix: the most with test accuracy >= %.0f%% at every count on the way\n\n", 100 * o->threshold, 100 * o->threshold);
    printf("%8s %6s %9s %9s %9s %9s\n", "width", "seed", "test", "prunable", "fraction", "prefix");
    double summary[32][2];
    for (int wi = 0; wi < W && rc == EXIT_OK; wi++) {
        member *m = calloc((size_t)S, sizeof *m);
        gl_trainer **t = calloc((size_t)S, sizeof *t);
        if (!m || !t) {
            free(m);
            free(t);
            gl_text_free(&b);
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        for (int s = 0; s < S; s++) {
            char name[64], label[64];
            snprintf(name, sizeof name, "w%d_s%d", o->widths[wi], s);
            snprintf(label, sizeof label, "width %d seed %d", o->widths[wi], s);
            repro_set_member(&m[s], name, label, &o->base);
            m[s].c.width = o->widths[wi];
            m[s].c.seed = (uint64_t)s;
            m[s].c.split_seed = (uint64_t)s;
            m[s].c.noise_seed = (uint64_t)s;
        }
        char what[64];
        snprintf(what, sizeof what, "fig32 width %d", o->widths[wi]);
        rc = repro_train_members(o, what, m, S, t);
        double sum = 0, sq = 0;
        for (int s = 0; s < S && rc == EXIT_OK; s++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", o->out, m[s].name);
            gl_prune_opts po = {.orders = 1, .seeds = 1, .on_all = 1, .threshold = o->threshold, .threads = o->threads};
            gl_prune_result r;
            gl_error err;
            if (gl_prune_run(dir, &po, &r, &err) != 0) {
                rc = cli_fail(&err);
                break;
            }
            int k = r.prunable < 0 ? 0 : r.prunable;
            double fr = (double)k / r.N;
            int pre = r.prefix < 0 ? 0 : r.prefix;
            printf("%8d %6d %9.4f %9d %9.4f %9d%s\n", o->widths[wi], s, r.curve[0][0].v[1], k, fr, pre,
                   r.prunable < 0 ? "  (test accuracy never reaches the threshold)" : "");
            gl_text_printf(&b, "%d,%d,%.9g,%d,%.9g,%d\n", o->widths[wi], s, r.curve[0][0].v[1], k, fr, pre);
            sum += fr;
            sq += fr * fr;
        }
        summary[wi][0] = sum / S;
        summary[wi][1] = S > 1 ? sqrt(fmax(0, (sq - S * summary[wi][0] * summary[wi][0]) / (S - 1))) : 0;
        repro_free_members(t, S);
        free(t);
        free(m);
    }
    gl_error err;
    if (rc == EXIT_OK && gl_text_save(&b, o->out, "fig32.csv", &err) != 0) rc = cli_fail(&err);
    gl_text_free(&b);
    if (rc != EXIT_OK) return rc;
    printf("\n%8s %14s %10s\n", "width", "mean fraction", "sd");
    for (int wi = 0; wi < W; wi++) printf("%8d %14.4f %10.4f\n", o->widths[wi], summary[wi][0], summary[wi][1]);
    if (gl_figure_fig32(o->out, o->threshold, &err) != 0) return cli_fail(&err);
    printf("\nfigure %s/fig32.png (script fig32.gp), table %s/fig32.csv\n", o->out, o->out);
    return EXIT_OK;
}

/* ---- dispatch ---- */

typedef struct figure {
    const char *name;
    int (*run)(const repro_opts *);
    void (*setting)(gl_config *);
} figure;

static void set_fig1(gl_config *c) { c->noise = 0.35; }
static void set_dynamics(gl_config *c) {
    c->noise = 0.35;
    c->snapshots = 40;
    c->progress_measures = 1;
    c->log_points = 200; /* the two stages are hundreds of steps apart: log-spaced steps */
}
static void set_fig2(gl_config *c) {
    c->wd = 5;
    c->log_points = 120; /* grokking is early: log-spaced steps */
}
static void set_fig5(gl_config *c) {
    c->frac = 0.65;
    c->noise = 0.2;
    c->batch = 64;
    c->optim = GL_OPT_ADAM;
    c->lr = 0.005;
    c->steps = 8000;
    c->log_every = 50;
}
static void set_fig6(gl_config *c) {
    c->noise = 0.35;
    c->steps = 1000;
}
static void set_fig32(gl_config *c) {
    c->noise = 0.35;
    c->lr = 0.005;
    c->wd = 1.0;
    c->log_every = 50;
}

static const figure figures[] = {
    {"fig1", fig1, set_fig1},   {"fig2", fig2, set_fig2},   {"fig4", fig4, set_fig1}, {"fig5", fig5, set_fig5},
    {"fig6", fig6, set_fig6},   {"fig17", fig17, set_fig1}, {"fig32", fig32, set_fig32},
    {"dynamics", dynamics, set_dynamics},
};
#define NFIG (int)(sizeof figures / sizeof figures[0])

static int parse_widths(const char *v, repro_opts *o) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    o->n_widths = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long w = strtol(tok, &end, 10);
        if (*end || w < 1 || w > (1 << 20) || o->n_widths == 32) {
            cli_error("--widths: '%s' is not a comma list of at most 32 widths in 1..%d", v, 1 << 20);
            return -1;
        }
        o->widths[o->n_widths++] = (int)w;
    }
    return o->n_widths ? 0 : -1;
}

/* --threads, --p, --steps, --device: knobs of the figure's runs; anything
 * else is not an option of reproduce */
typedef struct repro_ctx {
    repro_opts *o;
    const char *fig;
    int is32;
} repro_ctx;

static int repro_knob(void *ctx, const char *name, const char *value, gl_error *err) {
    repro_ctx *r = ctx;
    if (strcmp(name, "threads") && strcmp(name, "p") && strcmp(name, "steps") && strcmp(name, "device"))
        return gl_fail(err, "unknown option '--%s' for %s (allowed: --out, --force, --quiet, --threads, --device, --p, "
                            "--steps, --seeds%s)",
                       name, r->fig, r->is32 ? ", --widths" : "");
    int rc = gl_config_set(&r->o->base, name, value, err);
    if (rc == 0 && !strcmp(name, "threads")) r->o->threads = r->o->base.threads;
    return rc;
}

int cmd_reproduce(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        reproduce_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (cli_is_phase_figure(argv[1])) return cli_reproduce_phase(argc, argv);
    const figure *fig = NULL;
    for (int i = 0; i < NFIG; i++)
        if (!strcmp(argv[1], figures[i].name)) fig = &figures[i];
    if (!fig) {
        cli_error("unknown figure '%s' (allowed: fig1, fig2, fig3a, fig3b, fig3c, fig3d, fig3a-relu, fig3a-ce, "
                  "fig3a-width5000, fig3a-mul, fig4, fig5, fig6, fig17, fig32, dynamics)", argv[1]);
        return EXIT_USAGE;
    }
    repro_opts o;
    memset(&o, 0, sizeof o);
    char out[512];
    snprintf(out, sizeof out, "runs/%s", fig->name);
    o.out = out;
    int is32 = !strcmp(fig->name, "fig32");
    o.seeds = is32 ? 2 : 20;
    o.threshold = 0.9;
    o.widths[0] = 500, o.widths[1] = 1000, o.widths[2] = 2000, o.n_widths = 3;
    gl_config_default(&o.base);
    o.base.checkpoint_every = 0;
    fig->setting(&o.base);
    const char *widths = NULL;
    const cli_opt opts[] = {
        OPT_S("--out", &o.out), OPT_F("--force", &o.force), OPT_F("--quiet", &o.quiet),
        OPT_N("--seeds", OPT_INT, &o.seeds, 1, 10000), OPT_S(is32 ? "--widths" : "--widths-of-fig32", &widths), OPT_END,
    };
    repro_ctx rc_ = {&o, fig->name, is32};
    cli_args a = {.cmd = fig->name, .opts = opts, .knob = repro_knob, .ctx = &rc_, .help = reproduce_help,
                  .usage = "groklab reproduce FIGURE [--out DIR] [--force] [--quiet] [--threads T] [--p P] [--steps S]"};
    int rc = cli_parse(argc - 1, argv + 1, &a);
    if (rc >= 0) return rc;
    if (widths && parse_widths(widths, &o)) return EXIT_USAGE;
    gl_error err;
    if (gl_config_validate(&o.base, &err) != 0 || gl_backend_check(&o.base, &err) != 0) return cli_fail(&err);
    return fig->run(&o);
}
