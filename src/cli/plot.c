/* groklab: figures through gnuplot. The script is saved beside the figure,
 * with paths relative to that folder, so a user can restyle it and rerun
 * `gnuplot NAME.gp` there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/io.h"

int cli_buf_printf(cli_buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = b->data ? vsnprintf(b->data + b->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (n >= 0 && cap < b->len + (size_t)n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
}

void cli_buf_free(cli_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

int cli_buf_save(cli_buf *b, const char *dir, const char *name, gl_error *err) {
    if (b->failed) return gl_fail(err, "out of memory writing %s", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return gl_write_atomic(path, b->data ? b->data : "", b->len, err);
}

int cli_gnuplot(const char *dir, const char *name, int width, int height, const char *body,
                gl_error *err) {
    cli_buf s = {0};
    cli_buf_printf(&s, "# groklab figure %s: gnuplot %s.gp (in this folder) redraws it\n", name, name);
    cli_buf_printf(&s, "set datafile separator ','\n");
    const char *term[2] = {"pngcairo", "svg"};
    const char *ext[2] = {"png", "svg"};
    for (int f = 0; f < 2; f++) {
        cli_buf_printf(&s, "\nset terminal %s size %d,%d font ',10'\nset output '%s.%s'\n", term[f],
                       width, height, name, ext[f]);
        cli_buf_printf(&s, "%s", body);
        cli_buf_printf(&s, "set output\nreset\nset datafile separator ','\n");
    }
    char gp[512];
    snprintf(gp, sizeof gp, "%s.gp", name);
    int rc = cli_buf_save(&s, dir, gp, err);
    cli_buf_free(&s);
    if (rc != 0) return -1;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>&1", dir, name);
    FILE *pp = popen(cmd, "r");
    if (!pp) return gl_fail(err, "cannot run gnuplot (install it with scripts/install-deps.sh)");
    char line[512], first[512] = "";
    while (fgets(line, sizeof line, pp))
        if (!first[0]) snprintf(first, sizeof first, "%s", line);
    int st = pclose(pp);
    if (st != 0)
        return gl_fail(err, "gnuplot failed on %s/%s.gp: %s (is gnuplot installed? scripts/install-deps.sh)",
                       dir, name, first[0] ? first : "no output");
    return 0;
}

int cli_plot_curves(const char *dir, const char *out_base, const char *title, int n,
                    const char *const *run_dirs, const char *const *labels, gl_error *err) {
    cli_buf s = {0};
    cli_buf_printf(&s, "# columns of metrics.csv: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 8 clean_acc\n");
    cli_buf_printf(&s, "set key autotitle columnhead\n");
    cli_buf_printf(&s, "set multiplot layout 1,%d title '%s'\n", n, title);
    cli_buf_printf(&s, "set yrange [0:1.02]\nset xlabel 'step'\nset ylabel 'accuracy'\nset grid\n");
    cli_buf_printf(&s, "set key bottom right font ',8'\n");
    for (int i = 0; i < n; i++) {
        cli_buf_printf(&s, "set title '%s'\n", labels[i]);
        cli_buf_printf(&s,
                       "plot '%s/metrics.csv' using 1:4 with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                       "     '' using 1:5 with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                       "     '' using 1:6 with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                       "     '' using 1:8 with lines lw 2 dt 2 lc rgb '#9467bd' title 'clean train'\n",
                       run_dirs[i]);
    }
    cli_buf_printf(&s, "unset multiplot\n");
    int rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, out_base, 380 * n + 40, 420, s.data, err);
    cli_buf_free(&s);
    return rc;
}
