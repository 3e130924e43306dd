/* groklab: figures through gnuplot. The script is saved beside the figure,
 * with paths relative to that folder, so a user can restyle it and rerun
 * `gnuplot NAME.gp` there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/io.h"

int cli_plot_curves(const char *dir, const char *out_base, const char *title, int n, const char *const *run_dirs,
                    const char *const *labels, gl_error *err) {
    size_t cap = 8192 + (size_t)n * 2048, len = 0;
    char *s = malloc(cap);
    if (!s) return gl_fail(err, "out of memory");
#define P(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
    P("# groklab figure: accuracy curves (%s)\n", title);
    P("# columns of metrics.csv: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 8 clean_acc\n");
    P("set datafile separator ','\nset key autotitle columnhead\n");
    const char *term[2] = {"pngcairo size %d,420 font ',10'", "svg size %d,420 font ',10'"};
    const char *ext[2] = {"png", "svg"};
    for (int f = 0; f < 2; f++) {
        P("set terminal ");
        P(term[f], 380 * n + 40);
        P("\nset output '%s.%s'\n", out_base, ext[f]);
        P("set multiplot layout 1,%d title '%s'\n", n, title);
        P("set yrange [0:1.02]\nset xlabel 'step'\nset ylabel 'accuracy'\nset grid\n");
        P("set key bottom right font ',8'\n");
        for (int i = 0; i < n; i++) {
            P("set title '%s'\n", labels[i]);
            P("plot '%s/metrics.csv' using 1:4 with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
              "     '' using 1:5 with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
              "     '' using 1:6 with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
              "     '' using 1:8 with lines lw 2 dt 2 lc rgb '#9467bd' title 'clean train'\n",
              run_dirs[i]);
        }
        P("unset multiplot\nset output\n");
    }
#undef P
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gp", dir, out_base);
    int rc = gl_write_atomic(path, s, len, err);
    free(s);
    if (rc != 0) return -1;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>&1", dir, out_base);
    FILE *pp = popen(cmd, "r");
    if (!pp) return gl_fail(err, "cannot run gnuplot (install it with scripts/install-deps.sh)");
    char line[512], first[512] = "";
    while (fgets(line, sizeof line, pp))
        if (!first[0]) snprintf(first, sizeof first, "%s", line);
    int st = pclose(pp);
    if (st != 0)
        return gl_fail(err, "gnuplot failed on %s: %s (is gnuplot installed? scripts/install-deps.sh)",
                       path, first[0] ? first : "no output");
    return 0;
}
