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

#include "cli.h"
#include "groklab/analysis.h"
#include "groklab/io.h"

typedef struct repro_opts {
    const char *out;
    int force, quiet, threads;
    gl_config base;          /* the figure's setting after --p/--steps overrides */
    int seeds;               /* fig32 (and random pruning orders elsewhere) */
    int widths[32], n_widths; /* fig32 */
    double threshold;        /* fig32 */
} repro_opts;

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

static const char *fmt_step(long s, char *buf, size_t cap) {
    if (s < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%ld", s);
    return buf;
}

typedef struct member {
    char name[64], label[96];
    gl_config c;
} member;

/* Trains the members into out/NAME (a population), writes every file. */
static int train_members(const repro_opts *o, const char *what, member *m, int M, gl_trainer **t) {
    gl_error err;
    int rc = EXIT_OK;
    char dir[4096];
    for (int i = 0; i < M; i++) t[i] = NULL;
    for (int i = 0; i < M && rc == EXIT_OK; i++)
        if (gl_trainer_create(&t[i], &m[i].c, &err) != 0) rc = EXIT_USAGE;
    for (int i = 0; i < M && rc == EXIT_OK; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        if (gl_run_prepare(dir, o->force, &err) != 0 || gl_run_write_config(dir, gl_trainer_config(t[i]), &err) != 0 ||
            gl_run_write_data(dir, gl_trainer_data(t[i]), &err) != 0 ||
            gl_run_write_weights(dir, "init", t[i], &err) != 0)
            rc = i == 0 ? EXIT_USAGE : EXIT_FAIL;
    }
    if (rc == EXIT_OK) {
        cli_progress pg;
        char label[160];
        snprintf(label, sizeof label, "%s (%d runs, progress of %s)", what, M, m[0].name);
        cli_progress_init(&pg, o->quiet, label);
        gl_trainer_set_progress(t[0], cli_progress_cb, &pg);
        double t0 = cli_now();
        if (gl_population_advance(t, M, o->threads, &err) != 0) rc = EXIT_FAIL;
        cli_progress_done(&pg);
        if (rc == EXIT_OK && !o->quiet) fprintf(stderr, "trained %d runs in %.1fs\n", M, cli_now() - t0);
    }
    for (int i = 0; i < M && rc == EXIT_OK; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        if (gl_run_save_all(dir, t[i], &err) != 0) rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    return rc;
}

static void free_members(gl_trainer **t, int M) {
    for (int i = 0; i < M; i++) gl_trainer_free(t[i]);
}

/* The final-accuracy table every figure prints. */
static void print_runs(const member *m, gl_trainer **t, int M) {
    printf("%-10s %9s %9s %11s %10s %9s %9s %9s %9s %9s  %s\n", "run", "train", "test", "corrupted",
           "corr.true", "clean", "mean IPR", "train90", "test90", "unlearn", "phase");
    for (int i = 0; i < M; i++) {
        long n;
        const gl_metrics *rows = gl_trainer_rows(t[i], &n);
        gl_milestones ms;
        const gl_metrics *r;
        long dv = gl_trainer_diverged_at(t[i]);
        gl_phase ph = gl_phase_of_run(rows, n, m[i].c.noise, dv >= 0, &ms, &r);
        if (!r) r = &rows[n - 1];
        char a[32], b[32], c[32];
        printf("%-10s %9.4f %9.4f %11.4f %10.4f %9.4f %9.4f %9s %9s %9s  %s\n", m[i].name, r->train_acc,
               r->test_acc, r->corrupted_acc, r->corrupted_true_acc, r->clean_acc, r->mean_ipr,
               fmt_step(ms.train90, a, sizeof a), fmt_step(ms.test90, b, sizeof b),
               fmt_step(ms.unlearn, c, sizeof c), dv >= 0 ? "diverged" : gl_phase_name(ph));
    }
}

/* ---- per-figure analysis ---- */

static int analyze(const repro_opts *o, const member *m, int M) {
    ipr_opts io;
    cli_ipr_opts_default(&io);
    io.quiet = o->quiet;
    gl_error err;
    char dir[4096];
    for (int i = 0; i < M; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        if (!o->quiet) printf("\n[%s] ", m[i].name);
        int rc = cli_analyze_run(dir, &io, -1, &err);
        if (rc != EXIT_OK) {
            cli_error("%s", err.msg);
            return rc;
        }
    }
    return EXIT_OK;
}

/* IPR histograms of several runs side by side (ipr.csv of each). */
static int plot_histograms(const repro_opts *o, const char *name, const member *m, int M, int scatter) {
    cli_buf s = {0};
    cli_buf_printf(&s, "# ipr.csv columns: 2 ipr, 16 gain, 17 ipr_init\nbw = 0.02\nbin(x) = bw * floor(x / bw) + bw / 2\n");
    cli_buf_printf(&s, "set multiplot layout 1,%d title 'IPR of the neurons after training (initialization in grey)'\n", M + (scatter ? 1 : 0));
    cli_buf_printf(&s, "set xrange [0:1]\nset xlabel 'IPR_k'\nset ylabel 'neurons'\nset grid\nset key top center font ',8'\n"
                       "set style fill transparent solid 0.55 noborder\n");
    for (int i = 0; i < M; i++)
        cli_buf_printf(&s, "set title '%s'\nplot '%s/ipr.csv' skip 1 using (bin($2)):(1.0) smooth frequency with boxes lc rgb '#1f77b4' title 'trained', \\\n"
                           "     '' skip 1 using (bin($17)):(1.0) smooth frequency with boxes lc rgb '#999999' title 'init'\n",
                       m[i].label, m[i].name);
    if (scatter) {
        int b = scatter - 1;
        cli_buf_printf(&s, "set title '%s: IPR against |gamma|'\nset xlabel '|gamma_k|'\nset ylabel 'IPR_k'\nset xrange [*:*]\nset key off\n"
                           "plot '%s/ipr.csv' skip 1 using 16:2 with points pt 7 ps 0.4 lc rgb '#1f77b4'\n",
                       m[b].label, m[b].name);
    }
    cli_buf_printf(&s, "unset multiplot\n");
    gl_error err;
    int rc = s.failed ? gl_fail(&err, "out of memory") : cli_gnuplot(o->out, name, 400 * (M + (scatter ? 1 : 0)) + 40, 400, s.data, &err);
    cli_buf_free(&s);
    if (rc) cli_error("%s", err.msg);
    return rc ? EXIT_FAIL : EXIT_OK;
}

static int read_ipr_summary(const repro_opts *o, const member *m, double *mean, double *mean0, int *low,
                            int *high, double *pear, double *spear) {
    char path[4096], *s;
    snprintf(path, sizeof path, "%s/%s/ipr_summary.json", o->out, m->name);
    gl_error err;
    if (gl_read_file(path, &s, NULL, &err) != 0) return -1;
    cJSON *js = cJSON_Parse(s);
    free(s);
    if (!js) return -1;
    const char *keys[6] = {"mean_ipr", "mean_ipr_init", "n_low", "n_high", "ipr_gain_pearson", "ipr_gain_spearman"};
    double v[6];
    for (int k = 0; k < 6; k++) {
        cJSON *it = cJSON_GetObjectItemCaseSensitive(js, keys[k]);
        v[k] = cJSON_IsNumber(it) ? it->valuedouble : NAN; /* null or absent: NaN */
    }
    cJSON_Delete(js);
    *mean = v[0], *mean0 = v[1], *low = (int)v[2], *high = (int)v[3];
    if (pear) *pear = v[4];
    if (spear) *spear = v[5];
    return 0;
}

static void print_ipr_table(const repro_opts *o, const member *m, int M) {
    printf("\n%-10s %10s %10s %8s %8s %10s %10s\n", "run", "mean IPR", "at init", "low", "high", "Pearson", "Spearman");
    for (int i = 0; i < M; i++) {
        double mean, mean0, pe, sp;
        int lo, hi;
        if (read_ipr_summary(o, &m[i], &mean, &mean0, &lo, &hi, &pe, &sp) != 0) continue;
        printf("%-10s %10.4f %10.4f %8d %8d %10.3f %10.3f\n", m[i].name, mean, mean0, lo, hi, pe, sp);
    }
    printf("(low/high: neurons below/above the Otsu threshold of each histogram; Pearson/Spearman:\n"
           " IPR against |gamma| for models with a norm layer)\n");
}

static int prune_members(const repro_opts *o, const member *m, int M, const char *name, int long_form) {
    cli_prune_opts po = {.orders = 7, .seeds = o->seeds, .seed = 0, .on_all = 1, .threshold = 0.9, .threads = o->threads};
    gl_error err;
    const char *runs[8], *labels[8];
    double noise[8];
    char dir[4096];
    for (int i = 0; i < M; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        cli_prune_result r;
        int rc = cli_prune_run(dir, &po, &r, &err);
        if (rc != EXIT_OK) {
            cli_error("%s", err.msg);
            return rc;
        }
        printf("\n");
        cli_prune_print(m[i].name, &r, &po);
        runs[i] = m[i].name;
        labels[i] = m[i].label;
        noise[i] = m[i].c.noise;
    }
    if (cli_plot_prune(o->out, name, M, runs, labels, noise, long_form, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- the figures ---- */

static void set_member(member *m, const char *name, const char *label, const gl_config *c) {
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->label, sizeof m->label, "%s", label);
    m->c = *c;
}

static void wd_members(member *m, const gl_config *base) {
    const double wds[3] = {0, 5, 15};
    const char *names[3] = {"wd0", "wd5", "wd15"};
    const char *labels[3] = {"weight decay 0", "weight decay 5", "weight decay 15"};
    for (int i = 0; i < 3; i++) {
        set_member(&m[i], names[i], labels[i], base);
        m[i].c.wd = wds[i];
    }
}

static int fig1(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    wd_members(m, &o->base);
    int rc = train_members(o, "fig1", m, 3, t);
    if (rc == EXIT_OK) {
        printf("Figure 1: %s mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", o->base.task, o->base.p, o->base.frac,
               o->base.noise, o->base.steps);
        print_runs(m, t, 3);
        const char *names[3] = {m[0].name, m[1].name, m[2].name}, *labels[3] = {m[0].label, m[1].label, m[2].label};
        char title[256];
        gl_error err;
        snprintf(title, sizeof title, "add mod %d, alpha %.2f, xi %.2f", o->base.p, o->base.frac, o->base.noise);
        if (cli_plot_curves(o->out, "fig1", title, 3, names, labels, &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            printf("\nruns in %s/{wd0,wd5,wd15}; figure %s/fig1.png (script fig1.gp)\n", o->out, o->out);
        }
    }
    free_members(t, 3);
    return rc;
}

static int fig2(const repro_opts *o) {
    member m[1];
    gl_trainer *t[1];
    set_member(&m[0], "run", "weight decay 5", &o->base);
    int rc = train_members(o, "fig2", m, 1, t);
    if (rc == EXIT_OK) {
        printf("Figure 2: %s mod %d, alpha %.2f, xi %.2f, weight decay %g, %ld steps\n\n", o->base.task, o->base.p,
               o->base.frac, o->base.noise, o->base.wd, o->base.steps);
        print_runs(m, t, 1);
        long n;
        const gl_metrics *rows = gl_trainer_rows(t[0], &n);
        printf("\n%8s %9s %9s %9s   (accuracy and mean IPR over steps, curves.png)\n", "step", "train", "test", "mean IPR");
        long every = n > 12 ? n / 12 : 1;
        for (long i = 0; i < n; i++)
            if (i % every == 0 || i == n - 1)
                printf("%8ld %9.4f %9.4f %9.4f\n", rows[i].step, rows[i].train_acc, rows[i].test_acc, rows[i].mean_ipr);
        rc = analyze(o, m, 1);
        if (rc == EXIT_OK) printf("\nfigures in %s/run: curves.png (2a), neuron_K.png (2b), ipr_hist.png\n", o->out);
    }
    free_members(t, 1);
    return rc;
}

static int fig4(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    wd_members(m, &o->base);
    int rc = train_members(o, "fig4", m, 3, t);
    if (rc == EXIT_OK) {
        printf("Figure 4: %s mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", o->base.task, o->base.p, o->base.frac,
               o->base.noise, o->base.steps);
        print_runs(m, t, 3);
        rc = analyze(o, m, 3);
    }
    if (rc == EXIT_OK) {
        print_ipr_table(o, m, 3);
        rc = plot_histograms(o, "fig4", m, 3, 0);
        if (rc == EXIT_OK) printf("\nfigure %s/fig4.png (script fig4.gp)\n", o->out);
    }
    free_members(t, 3);
    return rc;
}

static int fig5(const repro_opts *o) {
    member m[2];
    gl_trainer *t[2];
    set_member(&m[0], "batchnorm", "with BatchNorm", &o->base);
    m[0].c.norm = GL_NORM_BATCHNORM;
    set_member(&m[1], "no_norm", "without BatchNorm", &o->base);
    int rc = train_members(o, "fig5", m, 2, t);
    if (rc == EXIT_OK) {
        printf("Figure 5: %s mod %d, alpha %.2f, xi %.2f, minibatch %d, %s lr %g, %ld steps\n\n", o->base.task,
               o->base.p, o->base.frac, o->base.noise, o->base.batch, gl_optim_name(o->base.optim), o->base.lr,
               o->base.steps);
        print_runs(m, t, 2);
        rc = analyze(o, m, 2);
    }
    if (rc == EXIT_OK) {
        print_ipr_table(o, m, 2);
        rc = plot_histograms(o, "fig5", m, 2, 1);
        if (rc == EXIT_OK) printf("\nfigure %s/fig5.png (script fig5.gp)\n", o->out);
    }
    free_members(t, 2);
    return rc;
}

static int fig6(const repro_opts *o) {
    member m[1];
    gl_trainer *t[1];
    set_member(&m[0], "coexistence", "Coexistence", &o->base);
    int rc = train_members(o, "fig6", m, 1, t);
    if (rc == EXIT_OK) {
        printf("Figure 6: %s mod %d, alpha %.2f, xi %.2f, weight decay %g, %ld steps\n\n", o->base.task, o->base.p,
               o->base.frac, o->base.noise, o->base.wd, o->base.steps);
        print_runs(m, t, 1);
        rc = prune_members(o, m, 1, "fig6", 0);
        if (rc == EXIT_OK) printf("\nfigure %s/fig6.png (script fig6.gp); table %s/coexistence/prune.csv\n", o->out, o->out);
    }
    free_members(t, 1);
    return rc;
}

static int fig17(const repro_opts *o) {
    member m[3];
    gl_trainer *t[3];
    wd_members(m, &o->base);
    int rc = train_members(o, "fig17", m, 3, t);
    if (rc == EXIT_OK) {
        printf("Figure 17: %s mod %d, alpha %.2f, xi %.2f, %ld steps\n\n", o->base.task, o->base.p, o->base.frac,
               o->base.noise, o->base.steps);
        print_runs(m, t, 3);
        for (int i = 0; i < 3; i++) { /* label each row with the phase it prunes from */
            long n;
            const gl_metrics *rows = gl_trainer_rows(t[i], &n);
            gl_phase ph = gl_phase_of_run(rows, n, m[i].c.noise, gl_trainer_diverged_at(t[i]) >= 0, NULL, NULL);
            snprintf(m[i].label, sizeof m[i].label, "wd %g (%s)", m[i].c.wd, gl_phase_name(ph));
            for (char *q = m[i].label; *q; q++) /* gnuplot reads '_' as a subscript */
                if (*q == '_') *q = ' ';
        }
        rc = prune_members(o, m, 3, "fig17", 1);
        if (rc == EXIT_OK) printf("\nfigure %s/fig17.png (script fig17.gp)\n", o->out);
    }
    free_members(t, 3);
    return rc;
}

static int fig32(const repro_opts *o) {
    int W = o->n_widths, S = o->seeds, rc = EXIT_OK;
    cli_buf b = {0};
    cli_buf_printf(&b, "width,seed,test_acc,prunable,prunable_fraction,prunable_prefix\n");
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
            cli_error("out of memory");
            return EXIT_FAIL;
        }
        for (int s = 0; s < S; s++) {
            char name[64], label[64];
            snprintf(name, sizeof name, "w%d_s%d", o->widths[wi], s);
            snprintf(label, sizeof label, "width %d seed %d", o->widths[wi], s);
            set_member(&m[s], name, label, &o->base);
            m[s].c.width = o->widths[wi];
            m[s].c.seed = (uint64_t)s;
            m[s].c.split_seed = (uint64_t)s;
            m[s].c.noise_seed = (uint64_t)s;
        }
        char what[64];
        snprintf(what, sizeof what, "fig32 width %d", o->widths[wi]);
        rc = train_members(o, what, m, S, t);
        double sum = 0, sq = 0;
        for (int s = 0; s < S && rc == EXIT_OK; s++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", o->out, m[s].name);
            cli_prune_opts po = {.orders = 1, .seeds = 1, .on_all = 1, .threshold = o->threshold, .threads = o->threads};
            cli_prune_result r;
            gl_error err;
            if ((rc = cli_prune_run(dir, &po, &r, &err)) != EXIT_OK) {
                cli_error("%s", err.msg);
                break;
            }
            int k = r.prunable < 0 ? 0 : r.prunable;
            double fr = (double)k / r.N;
            int pre = r.prefix < 0 ? 0 : r.prefix;
            printf("%8d %6d %9.4f %9d %9.4f %9d%s\n", o->widths[wi], s, r.curve[0][0].v[1], k, fr, pre,
                   r.prunable < 0 ? "  (test accuracy never reaches the threshold)" : "");
            cli_buf_printf(&b, "%d,%d,%.9g,%d,%.9g,%d\n", o->widths[wi], s, r.curve[0][0].v[1], k, fr, pre);
            sum += fr;
            sq += fr * fr;
        }
        summary[wi][0] = sum / S;
        summary[wi][1] = S > 1 ? sqrt(fmax(0, (sq - S * summary[wi][0] * summary[wi][0]) / (S - 1))) : 0;
        free_members(t, S);
        free(t);
        free(m);
    }
    gl_error err;
    if (rc == EXIT_OK && cli_buf_save(&b, o->out, "fig32.csv", &err) != 0) {
        cli_error("%s", err.msg);
        rc = EXIT_FAIL;
    }
    cli_buf_free(&b);
    if (rc != EXIT_OK) return rc;
    printf("\n%8s %14s %10s\n", "width", "mean fraction", "sd");
    for (int wi = 0; wi < W; wi++) printf("%8d %14.4f %10.4f\n", o->widths[wi], summary[wi][0], summary[wi][1]);
    cli_buf s = {0};
    cli_buf_printf(&s, "# fig32.csv columns: 1 width, 2 seed, 3 test_acc, 4 prunable, 5 prunable_fraction, 6 prunable_prefix\n"
                       "set logscale x\nset grid\nset xlabel 'width N'\nset ylabel 'fraction of neurons prunable'\n"
                       "set yrange [0:1]\nset key bottom right\n"
                       "set title 'lowest-IPR-first pruning keeping test accuracy >= %.0f%%'\n"
                       "plot 'fig32.csv' skip 1 using 1:5 with points pt 7 ps 0.6 lc rgb '#1f77b4' title 'runs', \\\n"
                       "     '' skip 1 using 1:5 smooth unique with lines lw 2 lc rgb '#d62728' title 'mean'\n",
                   100 * o->threshold);
    rc = s.failed ? gl_fail(&err, "out of memory") : cli_gnuplot(o->out, "fig32", 640, 440, s.data, &err);
    cli_buf_free(&s);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
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
                  "fig3a-width5000, fig3a-mul, fig4, fig5, fig6, fig17, fig32)", argv[1]);
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
    gl_error err;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--force")) { o.force = 1; continue; }
        if (!strcmp(a, "--quiet")) { o.quiet = 1; continue; }
        if (!strcmp(a, "--help")) { reproduce_help(stdout); return EXIT_OK; }
        if (i + 1 >= argc || strncmp(a, "--", 2)) {
            cli_error("%s: expected an option with a value (--out, --threads, --device, --p, --steps, --seeds, --widths) or --force/--quiet", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--threads") || !strcmp(a, "--p") || !strcmp(a, "--steps") ||
                 !strcmp(a, "--device")) {
            if (gl_config_set(&o.base, a + 2, v, &err) != 0) {
                cli_error("%s", err.msg);
                return EXIT_USAGE;
            }
            if (!strcmp(a, "--threads")) o.threads = o.base.threads;
        } else if (!strcmp(a, "--seeds")) {
            char *end;
            long s = strtol(v, &end, 10);
            if (*end || s < 1 || s > 10000) {
                cli_error("--seeds: '%s' is not an integer in 1..10000", v);
                return EXIT_USAGE;
            }
            o.seeds = (int)s;
        } else if (!strcmp(a, "--widths") && is32) {
            if (parse_widths(v, &o)) return EXIT_USAGE;
        } else {
            cli_error("unknown option '%s' for %s (allowed: --out, --force, --quiet, --threads, --device, --p, --steps, --seeds%s)", a,
                      fig->name, is32 ? ", --widths" : "");
            return EXIT_USAGE;
        }
    }
    if (gl_config_validate(&o.base, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    return fig->run(&o);
}
