/* groklab: pruning a run directory (groklab/analysis.h): every order asked
 * for, over all counts, into RUN/prune.csv, and how many neurons can go
 * with test accuracy kept (RUN/prune_summary.json). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groklab/analysis.h"
#include "groklab/runtime.h"
#include "groklab/text.h"

const char *const gl_prune_order_names[3] = {"low", "high", "random"};

void gl_prune_prunable(const double *test_acc, int n, double threshold, int *prunable, int *prefix) {
    *prunable = *prefix = -1;
    for (int k = 0; k <= n; k++) {
        if (test_acc[k] >= threshold) *prunable = k;
        if (*prefix == k - 1 && test_acc[k] >= threshold) *prefix = k;
    }
}

int gl_prune_parse_orders(const char *v, int *mask, gl_error *err) {
    *mask = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int w = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(tok, gl_prune_order_names[i])) w = i;
        if (!strcmp(tok, "all")) *mask = 7;
        else if (w < 0) return gl_fail(err, "--order: '%s' is not allowed (allowed: low, high, random, all)", tok);
        else *mask |= 1 << w;
    }
    if (!*mask) return gl_fail(err, "--order: empty (allowed: low, high, random, all, or a comma list)");
    return 0;
}

/* Every order's curve, as means (and spreads of random orders), into b
 * (prune.csv) and res; acc: (N+1, 2 GL_PRUNE_NCOLS) scratch. */
static int run_orders(gl_prune *pr, const gl_neurons *nr, const gl_prune_opts *po, int N, int *order,
                      gl_prune_row *rows, double *acc, double *test, gl_text *b, gl_prune_result *res, gl_error *err) {
    for (int oi = 0; oi < 3; oi++) {
        if (!(po->orders & (1 << oi))) continue;
        int draws = oi == 2 ? po->seeds : 1;
        memset(acc, 0, sizeof(double) * (size_t)(N + 1) * GL_PRUNE_NCOLS * 2);
        for (int s = 0; s < draws; s++) {
            if (oi == 2) gl_order_random(order, N, po->seed, (uint32_t)s);
            else gl_order_by(order, nr->ipr, N, oi == 1);
            if (gl_prune_curve(pr, order, N, rows, po->threads) != 0) return gl_fail_nomem(err, "while pruning");
            for (int n = 0; n <= N; n++) {
                double v[GL_PRUNE_NCOLS];
                gl_prune_row_to_array(&rows[n], v);
                double *a = acc + (size_t)n * GL_PRUNE_NCOLS * 2;
                for (int j = 0; j < GL_PRUNE_NCOLS; j++) a[j] += v[j], a[GL_PRUNE_NCOLS + j] += v[j] * v[j];
            }
        }
        for (int n = 0; n <= N; n++) {
            double *a = acc + (size_t)n * GL_PRUNE_NCOLS * 2, mean[GL_PRUNE_NCOLS];
            gl_text_printf(b, "%s,%d,%.6g,%d", gl_prune_order_names[oi], n, (double)n / N, draws);
            for (int j = 0; j < GL_PRUNE_NCOLS; j++) {
                mean[j] = a[j] / draws;
                gl_text_csv(b, mean[j]);
            }
            for (int j = 0; j < GL_PRUNE_NCOLS; j++) {
                double var = draws > 1 ? (a[GL_PRUNE_NCOLS + j] - draws * mean[j] * mean[j]) / (draws - 1) : 0;
                gl_text_csv(b, sqrt(var > 0 ? var : 0));
            }
            gl_text_printf(b, "\n");
            for (int i = 0; i <= 10; i++) /* the fractions the report prints */
                if (n == (int)lround(i * N / 10.0)) {
                    res->curve[oi][i].pruned = n;
                    memcpy(res->curve[oi][i].v, mean, sizeof mean);
                }
            if (oi == 0) test[n] = mean[1];
        }
        if (oi == 0) gl_prune_prunable(test, N, po->threshold, &res->prunable, &res->prefix);
        res->has[oi] = 1;
    }
    return 0;
}

int gl_prune_run(const char *dir, const gl_prune_opts *po, gl_prune_result *res, gl_error *err) {
    gl_config c;
    memset(res, 0, sizeof *res);
    res->prunable = res->prefix = -1;
    char out[4200];
    int rc = gl_run_open(dir, &c, err);
    if (rc == 0) rc = gl_run_out_dir(dir, out, sizeof out, err);
    if (rc != 0) return rc;
    if (c.arch != GL_ARCH_MLP)
        return gl_fail(err, "%s is a %s run: pruning is built for --model mlp (neurons of the two-layer MLP)", dir,
                       gl_arch_name(c.arch));
    gl_model m;
    gl_dataset d;
    if ((rc = gl_run_load_weights(dir, &c, &m, NULL, NULL, err)) != 0) return rc;
    if ((rc = gl_run_load_data(dir, &c, &d, err)) != 0) {
        gl_model_free(&m);
        return rc;
    }
    int N = m.L.N;
    gl_neurons nr;
    memset(&nr, 0, sizeof nr);
    gl_prune *pr = NULL;
    int *order = malloc(sizeof(int) * (size_t)N);
    double *acc = calloc((size_t)(N + 1) * GL_PRUNE_NCOLS * 2, sizeof(double)); /* sums, squares */
    double *test = malloc(sizeof(double) * (size_t)(N + 1));
    gl_prune_row *rows = malloc(sizeof(gl_prune_row) * (size_t)(N + 1));
    gl_text b = {0};
    double t0 = gl_now();
    if (!order || !acc || !test || !rows) rc = gl_fail_nomem(err, "for pruning");
    if (rc == 0) rc = gl_neurons_compute(&nr, &c, &m.L, m.params, GL_BASIS_AUTO, c.ipr, 2.0, err);
    if (rc == 0) rc = gl_prune_create(&pr, &c, &m.L, m.params, m.run_mean, m.run_var, &d, po->on_all, err);
    gl_text_printf(&b, "order,pruned,fraction,seeds");
    for (int j = 0; j < GL_PRUNE_NCOLS; j++) gl_text_printf(&b, ",%s", gl_prune_columns[j]);
    for (int j = 0; j < GL_PRUNE_NCOLS; j++) gl_text_printf(&b, ",%s_std", gl_prune_columns[j]);
    gl_text_printf(&b, "\n");
    if (rc == 0) rc = run_orders(pr, &nr, po, N, order, rows, acc, test, &b, res, err);
    res->N = N;
    res->noise = c.noise;
    res->seconds = gl_now() - t0;
    if (rc == 0) rc = gl_text_save(&b, out, "prune.csv", err);
    gl_text_free(&b);
    if (rc == 0 && res->has[0]) {
        gl_text_printf(&b, "{\n  \"threshold\": %.9g,\n  \"prunable\": %d,\n  \"prunable_fraction\": %.9g,\n"
                           "  \"prunable_prefix\": %d,\n  \"width\": %d,\n  \"on\": \"%s\",\n  \"seconds\": %.6f\n}\n",
                       po->threshold, res->prunable, (double)res->prunable / N, res->prefix, N,
                       po->on_all ? "all" : "train", res->seconds);
        rc = gl_text_save(&b, out, "prune_summary.json", err);
        gl_text_free(&b);
    } else if (rc == 0) { /* no lowest-first order: a summary left by an earlier call no longer describes prune.csv */
        char path[4300];
        snprintf(path, sizeof path, "%s/prune_summary.json", out);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = gl_failc(err, GL_E_IO, "cannot remove the stale %s: %s", path, strerror(errno));
    }
    gl_prune_free(pr);
    gl_neurons_free(&nr);
    free(rows);
    free(order);
    free(acc);
    free(test);
    gl_model_free(&m);
    gl_dataset_free(&d);
    return rc;
}

void gl_prune_opts_default(gl_prune_opts *po) {
    *po = (gl_prune_opts){.orders = 7, .seeds = 20, .seed = 0, .on_all = 1, .threshold = 0.9, .threads = 0};
}
