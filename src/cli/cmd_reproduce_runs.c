/* groklab reproduce: the runs of a figure (members), trained together as
 * a population, and what the figures do with them (cli/repro.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repro.h"

const char *repro_fmt_step(long s, char *buf, size_t cap) {
    if (s < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%ld", s);
    return buf;
}

/* Trains the members into out/NAME (a population), writes every file. */
int repro_train_members(const repro_opts *o, const char *what, member *m, int M, gl_trainer **t) {
    gl_error err;
    int rc = EXIT_OK;
    char (*dirs)[4096] = calloc((size_t)M, sizeof *dirs);
    const char **dp = calloc((size_t)M, sizeof *dp);
    for (int i = 0; i < M; i++) t[i] = NULL;
    if (!dirs || !dp) rc = cli_exit_code((gl_fail_nomem(&err, "for the runs' directories"), &err));
    for (int i = 0; i < M && rc == EXIT_OK; i++)
        if (gl_trainer_create(&t[i], &m[i].c, &err) != 0) rc = cli_exit_code(&err);
    for (int i = 0; i < M && rc == EXIT_OK; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", o->out, m[i].name);
        dp[i] = dirs[i];
        if (gl_run_prepare(dirs[i], o->force, &err) != 0) rc = cli_exit_code(&err);
    }
    if (rc == EXIT_OK) {
        cli_progress pg;
        char label[160];
        snprintf(label, sizeof label, "%s (%d runs, progress of %s)", what, M, m[0].name);
        cli_progress_init(&pg, o->quiet, label);
        gl_trainer_set_progress(t[0], cli_progress_cb, &pg);
        double t0 = cli_now();
        if (gl_run_train_population(dp, t, M, o->threads, &err) != 0) rc = cli_exit_code(&err);
        cli_progress_done(&pg);
        if (rc == EXIT_OK && !o->quiet) fprintf(stderr, "trained %d runs in %.1fs\n", M, cli_now() - t0);
    }
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    free(dirs);
    free(dp);
    return rc;
}

const char *repro_fmt_num(double v, char *buf, size_t cap) {
    if (isfinite(v)) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "-");
    return buf;
}

void repro_free_members(gl_trainer **t, int M) {
    for (int i = 0; i < M; i++) gl_trainer_free(t[i]);
}

/* The final-accuracy table every figure prints. */
void repro_print_runs(const member *m, gl_trainer **t, int M) {
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
               repro_fmt_step(ms.train90, a, sizeof a), repro_fmt_step(ms.test90, b, sizeof b),
               repro_fmt_step(ms.unlearn, c, sizeof c), dv >= 0 ? "diverged" : gl_phase_name(ph));
    }
}

/* ---- per-figure analysis ---- */

int repro_analyze(const repro_opts *o, const member *m, int M) {
    gl_ipr_opts io;
    gl_ipr_opts_default(&io);
    char dir[4096];
    for (int i = 0; i < M; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        if (!o->quiet) printf("\n[%s] ", m[i].name);
        int rc = cli_plot_run(dir, &io, -1, o->quiet);
        if (rc != EXIT_OK) return rc;
    }
    return EXIT_OK;
}

/* IPR histograms of several runs side by side (ipr.csv of each); scatter
 * > 0: also member scatter - 1's IPR against |gamma|. */
int repro_plot_histograms(const repro_opts *o, const char *name, const member *m, int M, int scatter) {
    const char *runs[8], *labels[8];
    for (int i = 0; i < M; i++) runs[i] = m[i].name, labels[i] = m[i].label;
    gl_error err;
    if (gl_figure_ipr_hists(o->out, name, M, runs, labels, scatter - 1, &err) != 0) return cli_fail(&err);
    return EXIT_OK;
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

void repro_print_ipr_table(const repro_opts *o, const member *m, int M) {
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

int repro_prune_members(const repro_opts *o, const member *m, int M, const char *name, int long_form) {
    gl_prune_opts po = {.orders = 7, .seeds = o->seeds, .seed = 0, .on_all = 1, .threshold = 0.9, .threads = o->threads};
    gl_error err;
    const char *runs[8], *labels[8];
    double noise[8];
    char dir[4096];
    for (int i = 0; i < M; i++) {
        snprintf(dir, sizeof dir, "%s/%s", o->out, m[i].name);
        gl_prune_result r;
        if (gl_prune_run(dir, &po, &r, &err) != 0) return cli_fail(&err);
        printf("\n");
        cli_prune_print(m[i].name, &r, &po);
        runs[i] = m[i].name;
        labels[i] = m[i].label;
        noise[i] = m[i].c.noise;
    }
    if (gl_figure_prune(o->out, name, M, runs, labels, noise, long_form, &err) != 0) return cli_fail(&err);
    return EXIT_OK;
}

void repro_set_member(member *m, const char *name, const char *label, const gl_config *c) {
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->label, sizeof m->label, "%s", label);
    m->c = *c;
}

void repro_wd_members(member *m, const gl_config *base) {
    const double wds[3] = {0, 5, 15};
    const char *names[3] = {"wd0", "wd5", "wd15"};
    const char *labels[3] = {"weight decay 0", "weight decay 5", "weight decay 15"};
    for (int i = 0; i < 3; i++) {
        repro_set_member(&m[i], names[i], labels[i], base);
        m[i].c.wd = wds[i];
    }
}

