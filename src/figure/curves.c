/* groklab: training curves (groklab/figure.h): one run's accuracies with
 * its mean IPR (Figure 2a), several runs side by side (Figure 1), and the
 * analytic solution's accuracy against width. */
#include <stdio.h>

#include "figure/figure_impl.h"

int gl_figure_run_curves(const char *dir, const char *name, int logx, gl_error *err) {
    gl_text s = {0};
    const char *x = logx ? "($1 > 0 ? $1 : NaN)" : "1";
    if (logx) gl_text_printf(&s, "set logscale x\n");
    gl_text_printf(&s, "# metrics.csv columns: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 8 clean_acc, 12 mean_ipr\n");
    gl_text_printf(&s, "set grid\nset xlabel 'step'\nset ylabel 'accuracy'\nset yrange [0:1.02]\n");
    gl_text_printf(&s, "set y2label 'mean IPR'\nset y2tics\nset ytics nomirror\nset key bottom right font ',9'\n");
    gl_text_printf(&s, "plot 'metrics.csv' skip 1 using %s:4 with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                       "     '' skip 1 using %s:5 with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                       "     '' skip 1 using %s:6 with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                       "     '' skip 1 using %s:12 axes x1y2 with lines lw 2 dt 2 lc rgb '#000000' title 'mean IPR (right)'\n",
                   x, x, x, x);
    return gl_figure_draw(dir, name, 720, 440, &s, err);
}


int gl_figure_curves(const char *dir, const char *out_base, const char *title, int n,
                    const char *const *run_dirs, const char *const *labels, gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "# columns of metrics.csv: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 8 clean_acc\n");
    gl_text_printf(&s, "set key autotitle columnhead\n");
    gl_text_printf(&s, "set multiplot layout 1,%d title '%s'\n", n, title);
    gl_text_printf(&s, "set yrange [0:1.02]\nset xlabel 'step'\nset ylabel 'accuracy'\nset grid\n");
    gl_text_printf(&s, "set logscale x\nset autoscale xfix\n# step 0 has no place on a log axis\nx(s) = s > 0 ? s : NaN\n");
    gl_text_printf(&s, "set key bottom right font ',8'\n");
    for (int i = 0; i < n; i++) {
        gl_text_printf(&s, "set title '%s'\n", labels[i]);
        gl_text_printf(&s,
                       "plot '%s/metrics.csv' using (x($1)):4 with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                       "     '' using (x($1)):5 with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                       "     '' using (x($1)):6 with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                       "     '' using (x($1)):8 with lines lw 2 dt 2 lc rgb '#9467bd' title 'clean train'\n",
                       run_dirs[i]);
    }
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, out_base, 380 * n + 40, 420, &s, err);
}

int gl_figure_scan(const char *dir, int p, unsigned long long seed, gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "set logscale x 2\nset grid\nset xlabel 'width N'\nset ylabel 'accuracy over all pairs'\n"
                       "set yrange [0:1.02]\nset key off\nset title 'analytic solution (Eq. 2), p %d, seed %llu'\n"
                       "plot 'scan.csv' skip 1 using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '#1f77b4'\n",
                   p, seed);
    return gl_figure_draw(dir, "scan", 640, 420, &s, err);
}
