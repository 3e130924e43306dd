/* groklab: the pruning figures (groklab/figure.h): Figure 6's and Figure
 * 17's forms of a run's prune.csv, and Figure 32's prunable fractions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figure/figure_impl.h"
#include "groklab/analysis.h"
#include "groklab/files.h"

int gl_figure_prune(const char *dir, const char *name, int n, const char *const *runs,
                   const char *const *labels, const double *noise, int long_form, gl_error *err) {
    gl_text s = {0};
    int present[3] = {0}, panels = 0, which[3];
    char path[4096], *text = NULL;
    snprintf(path, sizeof path, "%s/%s/prune.csv", dir, runs[0]);
    gl_error e;
    if (gl_read_file(path, &text, NULL, &e) != 0) return gl_failc(err, e.code, "%s", e.msg);
    for (int oi = 0; oi < 3; oi++) {
        char key[32];
        snprintf(key, sizeof key, "\n%s,", gl_prune_order_names[oi]);
        present[oi] = strstr(text, key) != NULL;
        if (present[oi]) which[panels++] = oi;
    }
    free(text);
    if (!panels) return gl_fail(err, "%s has no pruning rows", path);
    gl_text_printf(&s, "# prune.csv columns: 1 order, 2 pruned, 3 fraction, 5 train_acc, 6 test_acc, 7 corrupted_acc,\n"
                       "# 8 corrupted_true_acc, 9 clean_acc, 10 all_true_acc; 13.. the *_std columns (random order)\n");
    gl_text_printf(&s, "sel(o, c) = strcol(1) eq o ? column(c) : NaN\n");
    gl_text_printf(&s, "set multiplot layout %d,%d title 'cumulative pruning of neurons, no retraining'\n", n, panels);
    gl_text_printf(&s, "set yrange [0:1.02]\nset grid\nset key bottom left font ',8'\nset ylabel 'accuracy'\n");
    gl_text_printf(&s, "set xlabel '%s'\n", long_form ? "neurons pruned" : "fraction of neurons pruned");
    const char *titles[3] = {"lowest IPR first", "highest IPR first", "random order (mean +- sd)"};
    int x = long_form ? 2 : 3;
    for (int r = 0; r < n; r++)
        for (int pi = 0; pi < panels; pi++) {
            int oi = which[pi];
            const char *o = gl_prune_order_names[oi];
            gl_text_printf(&s, "set title '%s%s%s'\n", labels[r], labels[r][0] ? ": " : "", titles[oi]);
            gl_text_printf(&s, "plot ");
            if (oi == 2)
                gl_text_printf(&s, "'%s/prune.csv' skip 1 using %d:(sel('%s',6)-sel('%s',14)):(sel('%s',6)+sel('%s',14)) with filledcurves fs transparent solid 0.2 lc rgb '#d62728' notitle, \\\n     ",
                               runs[r], x, o, o, o, o);
            gl_text_printf(&s,
                           "'%s/prune.csv' skip 1 using %d:(sel('%s',5)) with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                           "     '' skip 1 using %d:(sel('%s',6)) with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                           "     '' skip 1 using %d:(sel('%s',7)) with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                           "     '' skip 1 using %d:(sel('%s',9)) with lines lw 2 dt 2 lc rgb '#9467bd' title 'clean train'",
                           runs[r], x, o, x, o, x, o, x, o);
            if (long_form)
                gl_text_printf(&s, ", \\\n     '' skip 1 using %d:(sel('%s',8)) with lines lw 1 lc rgb '#8c564b' title 'corrupted (true)', \\\n"
                                   "     '' skip 1 using %d:(sel('%s',10)) with lines lw 1 dt 3 lc rgb '#333333' title 'all pairs (true)'",
                               x, o, x, o);
            gl_text_printf(&s, ", \\\n     %g with lines dt 4 lc rgb '#555555' title '1 - xi'\n", 1 - noise[r]);
        }
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, name, 420 * panels + 40, 360 * n + 40, &s, err);
}


int gl_figure_fig32(const char *dir, double threshold, gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "# fig32.csv columns: 1 width, 2 seed, 3 test_acc, 4 prunable, 5 prunable_fraction, 6 prunable_prefix\n"
                       "set logscale x\nset grid\nset xlabel 'width N'\nset ylabel 'fraction of neurons prunable'\n"
                       "set yrange [0:1]\nset key bottom right\n"
                       "set title 'lowest-IPR-first pruning keeping test accuracy >= %.0f%%'\n"
                       "plot 'fig32.csv' skip 1 using 1:5 with points pt 7 ps 0.6 lc rgb '#1f77b4' title 'runs', \\\n"
                       "     '' skip 1 using 1:5 smooth unique with lines lw 2 lc rgb '#d62728' title 'mean'\n",
                   100 * threshold);
    return gl_figure_draw(dir, "fig32", 640, 440, &s, err);
}
