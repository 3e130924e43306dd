/* groklab: the figures of groklab dynamics (groklab/figure.h): the
 * accuracies of the full logits and of their restricted and excluded parts,
 * when each example is memorized and unlearned, the neurons' IPR and Fourier
 * power as heat maps over the steps, and the restricted and excluded
 * accuracies of several runs side by side.
 *
 * Each figure first checks its table's header from C, so a table written
 * by another version fails with the column that differs instead of a plot
 * of the wrong columns. The scripts compute what they need from the tables
 * themselves (histogram bins, the heat maps' cell edges), so a script still
 * draws its table right after the table is rewritten. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figure/figure_impl.h"
#include "groklab/files.h"
#include "groklab/metrics.h"

/* ---- the tables ---- */

/* progress.csv: step, key_frequencies, key_share, then the loss and the
 * accuracy of each subset for each of the full, restricted and excluded
 * logits (metrics.h: gl_progress). */
/* The 1-based column of the accuracy (acc 1) or the loss (acc 0) of subset
 * set for logits l in progress.csv. */
static int pm_column(int l, int set, int acc) { return 4 + 2 * (GL_PM_NSETS * l + set) + acc; }

static void progress_header(char *h, size_t size) {
    size_t n = (size_t)snprintf(h, size, "step,key_frequencies,key_share");
    for (int i = 0; i < 2 * GL_PM_NLOGITS * GL_PM_NSETS && n < size; i++)
        n += (size_t)snprintf(h + n, size - n, ",%s", gl_progress_columns[i]);
}

static const char examples_header[] = "index,m,n,label,true_label,corrupted,first_given,last_given,unlearned";

/* the paper's twelve columns, which every version's metrics.csv begins with */
static void metrics_header(char *h, size_t size) {
    size_t n = 0;
    for (int c = 0; c < 12 && n < size; c++)
        n += (size_t)snprintf(h + n, size - n, "%s%s", c ? "," : "", gl_metrics_columns[c]);
}

/* Where header line `line` first differs from the expected columns `want`
 * (a prefix: more columns may follow): 0 when it does not, else the column
 * (1-based), with the line's text of it in got and the expected in expected. */
static int header_differs(const char *line, const char *want, char got[64], char expected[64]) {
    for (int col = 1;; col++) {
        size_t a = strcspn(line, ",\r\n"), b = strcspn(want, ",");
        if (a != b || strncmp(line, want, a) != 0) {
            snprintf(got, 64, "%.*s", (int)(a < 60 ? a : 60), line);
            snprintf(expected, 64, "%.*s", (int)(b < 60 ? b : 60), want);
            return col;
        }
        if (!want[b]) return 0;
        line += a + (line[a] == ',');
        want += b + 1;
    }
}

/* Whether table DIR/NAME can be drawn: 1 when it has a row after a header
 * that begins with the columns `header` names; 0 when it does not exist or
 * has no row (its figure is skipped); GL_E_CORRUPT when its header is
 * another (the message names the first column that differs), GL_E_IO when
 * it cannot be read. Blank lines count as no row. */
static int table_ready(const char *dir, const char *name, const char *header, gl_error *err) {
    char path[4096], line[4096], got[64], want[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : gl_failc(err, GL_E_IO, "cannot read %s: %s", path, strerror(errno));
    int rc = 0;
    if (fgets(line, sizeof line, f)) {
        int col = header_differs(line, header, got, want);
        if (col)
            rc = gl_failc(err, GL_E_CORRUPT, "%s: column %d of the header is '%s', expected '%s' (the header should begin %.120s...)",
                          path, col, got, want, header);
        /* the rest of a header longer than the buffer, then the first row that is not blank */
        for (int in_header = !strchr(line, '\n'); !rc && fgets(line, sizeof line, f);) {
            if (!in_header && line[strspn(line, " \t\r\n")]) rc = 1;
            in_header = in_header && !strchr(line, '\n');
        }
    }
    if (ferror(f) && rc >= 0) rc = gl_failc(err, GL_E_IO, "cannot read %s: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

/* The key frequencies and the step of progress.csv's last row, as
 * "5 17 23 at step S" in out, or "48 key frequencies at step S" when there
 * are more than MAX_LISTED (only digits and spaces from the table; empty
 * when the row has none or the file cannot be read). */
enum { MAX_LISTED = 12 };
static void last_keys(const char *dir, char *out, size_t size) {
    char path[4096], *text = NULL;
    gl_error e;
    out[0] = 0;
    snprintf(path, sizeof path, "%s/progress.csv", dir);
    if (gl_read_file(path, &text, NULL, &e) != 0) return;
    size_t len = strlen(text), n = 0;
    while (len && strchr(" \t\r\n", text[len - 1])) len--;
    text[len] = 0;
    char *row = strrchr(text, '\n');
    row = row ? row + 1 : text;
    char *keys = strchr(row, ',');
    if (keys && keys > row && strspn(row, "0123456789") == (size_t)(keys - row)) {
        int space = 0;
        for (const char *c = keys + 1; *c && *c != ',' && n + 2 < size; c++)
            if (*c < '0' || *c > '9')
                space = n > 0;
            else {
                if (space) out[n++] = ' ';
                out[n++] = *c;
                space = 0;
            }
        out[n] = 0;
        int count = 0;
        for (const char *c = out; *c; c++) count += (c == out || c[-1] == ' ') && *c != ' ';
        if (count > MAX_LISTED) n = (size_t)snprintf(out, size, "%d key frequencies", count);
        if (n) snprintf(out + n, size - n, " at step %.*s", (int)(keys - row), row);
    }
    free(text);
}

/* ---- the figures ---- */

/* The step of column 1 as the x of a plot: NaN for step 0 on a log axis. */
static const char *step_x(int logx) { return logx ? "($1 > 0 ? $1 : NaN)" : "1"; }

/* A logarithmic step axis, its tics as powers of ten. */
static void log_steps(gl_text *s, int logx) {
    if (logx) gl_text_printf(s, "set logscale x\nset format x '10^{%%L}'\n");
}

/* Rows of panels: panel i of n side by side in a width x height figure,
 * above a strip along its foot that holds their common legend (a key of
 * gnuplot's wraps at its own panel's width). */
enum { ROW_TOP = 64, ROW_BOTTOM = 92, ROW_LEGEND = 44 };
static void row_panel(gl_text *s, int i, int n, int width, int height) {
    double w = (double)width / n;
    gl_text_printf(s, "set lmargin at screen %.4f\nset rmargin at screen %.4f\nset bmargin at screen %.4f\nset tmargin at screen %.4f\nunset key\n",
                   (i * w + 64) / width, ((i + 1) * w - 16) / width, (double)ROW_BOTTOM / height,
                   1 - (double)ROW_TOP / height);
}
/* The legend strip: the plot that follows (the panels' lines again) shows
 * only its key, every point out of range. */
static void row_legend(gl_text *s, int height) {
    gl_text_printf(s, "# the legend of the panels: their lines again, out of range, in a strip along the foot\n"
                      "set lmargin at screen 0\nset rmargin at screen 1\nset bmargin at screen 0\nset tmargin at screen %.4f\n"
                      "unset border\nunset tics\nunset xlabel\nunset ylabel\nunset title\nunset grid\nset yrange [-2:-1]\n"
                      "set key center center horizontal maxrows 1 font ',9' samplen 3 width 1\n",
                   (double)ROW_LEGEND / height);
}

/* The colours and names of the subsets, as in the run's curves (curves.c). */
static const char *const set_color[GL_PM_NSETS] = {"#9467bd", "#2ca02c", "#8c564b", "#d62728"};
static const char *const set_title[GL_PM_NSETS] = {"clean training", "corrupted, given label",
                                                   "corrupted, true label", "test"};

/* One panel of dynamics_accuracy: the subsets' accuracies for logits part
 * l, and in the restricted panel (and the legend: key) the key-frequency
 * share of the logits. */
static void accuracy_lines(gl_text *s, int l, int logx, int key) {
    gl_text_printf(s, "plot ");
    for (int t = 0; t < GL_PM_NSETS; t++)
        gl_text_printf(s, "%s'progress.csv' skip 1 using %s:%d with lines lw 2 %slc rgb '%s' title '%s'",
                       t ? ", \\\n     " : "", step_x(logx), pm_column(l, t, 1), t == GL_PM_CLEAN ? "dt 2 " : "",
                       set_color[t], set_title[t]);
    if (l == GL_PM_RESTRICTED || key)
        gl_text_printf(s, ", \\\n     '' skip 1 using %s:3 with lines lw 1.5 dt 3 lc rgb '#000000' title 'key-frequency share'",
                       step_x(logx));
    gl_text_printf(s, "\n");
}

/* dynamics_accuracy: a panel per logits part (full, restricted, excluded),
 * the subsets' accuracies in each. */
static int draw_accuracy(const char *dir, int logx, gl_error *err) {
    static const char *const part[GL_PM_NLOGITS] = {"full logits", "restricted: key frequencies only (dotted: their share)",
                                                    "excluded: all but the key frequencies"};
    enum { W = 1320, H = 480 };
    char keys[256];
    last_keys(dir, keys, sizeof keys);
    gl_text s = {0};
    gl_text_printf(&s, "# progress.csv columns: 1 step, 3 key_share; accuracies of clean, corrupted (given), corrupted (true), test:\n"
                       "# full logits 5 7 9 11, restricted 13 15 17 19, excluded 21 23 25 27\n");
    gl_text_printf(&s, "set multiplot title 'accuracy of the full logits and of their parts in and out of the key frequencies%s%s%s'\n",
                   keys[0] ? " (" : "", keys, keys[0] ? ")" : "");
    log_steps(&s, logx);
    gl_text_printf(&s, "set grid\nset xlabel 'step'\nset ylabel 'accuracy'\nset yrange [0:1.02]\n");
    for (int l = 0; l < GL_PM_NLOGITS; l++) {
        gl_text_printf(&s, "set title '%s'\n", part[l]);
        row_panel(&s, l, GL_PM_NLOGITS, W, H);
        accuracy_lines(&s, l, logx, 0);
    }
    row_legend(&s, H);
    accuracy_lines(&s, GL_PM_FULL, logx, 1);
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, "dynamics_accuracy", W, H, &s, err);
}

/* dynamics_times: histograms of the steps at which examples are first
 * answered with their given label (clean, corrupted) and at which corrupted
 * ones are unlearned, each as a share of its group per bin, under the run's
 * accuracy curves (with_curves: its metrics.csv is there). The bins are
 * counted by the script into arrays (stats), and drawn by sampling their
 * indices ('+'): gnuplot reads neither an array nor a datablock as columns
 * under the CSV separator. */
static int draw_times(const char *dir, const char *run, int logx, int with_curves, gl_error *err) {
    /* a histogram: its group (examples.csv column 6, corrupted) and step column */
    static const struct {
        int corrupted, col;
        const char *name, *color;
    } hist[3] = {{0, 7, "clean: memorized", "#1f77b4"},
                 {1, 7, "corrupted: memorized", "#2ca02c"},
                 {1, 9, "corrupted: unlearned", "#8c564b"}};
    gl_text s = {0};
    gl_text_printf(&s, "# %s/examples.csv columns: 6 corrupted, 7 first_given, 9 unlearned (-1: never)\n", run);
    if (with_curves)
        gl_text_printf(&s, "# %s/metrics.csv columns: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 7 corrupted_true_acc\n", run);
    gl_text_printf(&s, "ex = '%s/examples.csv'\n", run);
    gl_text_printf(&s, "stats ex skip 1 using 6 nooutput name 'E'\nn_group(c) = c ? E_sum : E_records - E_sum\n");
    gl_text_printf(&s, "stats ex skip 1 using (column(7) > column(9) ? column(7) : column(9)) nooutput name 'T'\n");
    if (logx)
        gl_text_printf(&s, "# bins of a tenth of a decade from step 1 (step 0 is left out)\n"
                           "bw = 0.1\nshown(t) = t > 0\nbin(t) = int(floor(log10(t) / bw))\n"
                           "lo(k) = 10**(k * bw)\nhi(k) = 10**((k + 1) * bw)\nnb = T_max >= 1 ? bin(T_max) + 1 : 1\n");
    else
        gl_text_printf(&s, "# 60 bins from step 0\n"
                           "bw = T_max > 60 ? ceil(T_max / 60.0) : 1\nshown(t) = t >= 0\nbin(t) = int(floor(t / bw))\n"
                           "lo(k) = k * bw\nhi(k) = (k + 1) * bw\nnb = T_max >= 0 ? bin(T_max) + 1 : 1\n");
    gl_text_printf(&s, "# h1..h3[k + 1]: the share of the histogram's group in bin k; never_1..3: the group's examples at -1\n");
    for (int i = 0; i < 3; i++) {
        int c = hist[i].corrupted, col = hist[i].col;
        gl_text_printf(&s, "array h%d[nb]\ndo for [k = 1:nb] { h%d[k] = 0 }\n", i + 1, i + 1);
        gl_text_printf(&s, "stats ex skip 1 using (t = column(%d), column(6) == %d && shown(t) ? (h%d[bin(t) + 1] = h%d[bin(t) + 1] + 1.0 / n_group(%d)) : 0) nooutput\n",
                       col, c, i + 1, i + 1, c);
        gl_text_printf(&s, "stats ex skip 1 using ((column(6) == %d) * (column(%d) < 0)) nooutput name 'N%d'\nnever_%d = N%d_sum\n",
                       c, col, i + 1, i + 1, i + 1);
    }
    gl_text_printf(&s, "at(x, h) = h > 0 ? x : NaN  # an empty bin is not drawn (nor stretches the x range)\n");
    log_steps(&s, logx);
    gl_text_printf(&s, "set grid\nset xlabel 'step'\nset ylabel 'share of the group per bin (bars)'\nset yrange [0:*]\nset ytics nomirror\n");
    gl_text_printf(&s, "set style fill transparent solid 0.4 noborder\nset key outside bottom center horizontal font ',9' samplen 3\n");
    gl_text_printf(&s, "set title \"when examples are memorized (first answered with their given label)\\n"
                       "and unlearned (a corrupted one answered with its true label after that)\"\n");
    if (with_curves) gl_text_printf(&s, "set y2label 'accuracy (lines)'\nset y2range [0:1.02]\nset y2tics\n");
    gl_text_printf(&s, "plot "); /* sample: the first range is the dummy k's, not the x axis' */
    for (int i = 0; i < 3; i++)
        gl_text_printf(&s, "%s[k = 0:nb - 1:1] '+' using (at(sqrt(lo(k) * hi(k)), h%d[k + 1])):(h%d[k + 1] / 2):(at(lo(k), h%d[k + 1])):(at(hi(k), h%d[k + 1])):(0):(h%d[k + 1]) "
                           "with boxxyerror lc rgb '%s' title sprintf('%s (%%d of %%d never)', never_%d, n_group(%d))",
                       i ? ", \\\n     " : "sample ", i + 1, i + 1, i + 1, i + 1, i + 1, hist[i].color, hist[i].name,
                       i + 1, hist[i].corrupted);
    if (with_curves) {
        static const int col[4] = {4, 5, 6, 7};
        static const char *const color[4] = {"#1f77b4", "#d62728", "#2ca02c", "#8c564b"};
        static const char *const name[4] = {"train", "test", "corrupted, given label", "corrupted, true label"};
        for (int c = 0; c < 4; c++)
            gl_text_printf(&s, ", \\\n     '%s/metrics.csv' skip 1 using %s:%d axes x1y2 with lines lw 2 lc rgb '%s' title '%s'",
                           run, step_x(logx), col[c], color[c], name[c]);
    }
    gl_text_printf(&s, "\n");
    return gl_figure_draw(dir, "dynamics_times", 1000, 560, &s, err);
}

/* A heat map of table (columns: 1 snapshot, 2 step, 3 y, 4 value; see
 * figure.h for the order of its rows): snapshot i's cells span the steps
 * from the midpoint (geometric on a log axis) with snapshot i - 1's step to
 * that with i + 1's, the first's and the last's mirrored; row y's from y -
 * 0.5 to y + 0.5. Each cell is painted on to the far end of the next
 * snapshot's and the next row's, which paint over it: cells that abut are
 * blended by the antialiasing into seams, and cells thinner than a pixel
 * into pale colours. cbmax: the colour range's top (< 0: the largest value). */
static int draw_heat_map(const char *dir, const char *name, const char *table, const char *columns,
                         const char *title, const char *ylabel, const char *cblabel, double cbmax, int logx,
                         gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "# %s columns: %s\n", table, columns);
    gl_text_printf(&s, "t = '%s'\nstats t skip 1 using 1:3 nooutput name 'S'\nns = int(S_max_x) + 1\n", table);
    gl_text_printf(&s, "# st: each snapshot's step; lo, hi: the ends of its cells; far: to where they are painted\n"
                       "array st[ns]\narray lo[ns]\narray hi[ns]\narray far[ns]\ndo for [i = 1:ns] { st[i] = NaN }\n"
                       "stats t skip 1 using (st[int(column(1)) + 1] = column(2)) nooutput\n");
    if (logx)
        gl_text_printf(&s, "ok(x) = x > 0\nmid(a, b) = sqrt(a * b)\nmirror(c, d) = c * c / d\nlone_lo(c) = c / 2\nlone_hi(c) = c * 2\n");
    else
        gl_text_printf(&s, "ok(x) = x == x\nmid(a, b) = (a + b) / 2.0\nmirror(c, d) = 2.0 * c - d\nlone_lo(c) = c - 1\nlone_hi(c) = c + 1\n");
    gl_text_printf(&s, "xmin = NaN\nxmax = NaN\n"
                       "do for [i = 1:ns] {\n"
                       "    c = st[i]\n    a = i > 1 ? st[i - 1] : NaN\n    b = i < ns ? st[i + 1] : NaN\n"
                       "    if (!ok(a) && ok(b)) { a = mirror(c, b) }\n"
                       "    if (!ok(b) && ok(a)) { b = mirror(c, a) }\n"
                       "    if (!ok(a)) { a = lone_lo(c); b = lone_hi(c) }\n"
                       "    lo[i] = ok(c) ? mid(a, c) : NaN\n    hi[i] = ok(c) ? mid(c, b) : NaN\n"
                       "    if (ok(c) && !(xmin <= lo[i])) { xmin = lo[i] }\n"
                       "    if (ok(c)) { xmax = hi[i] }\n}\n"
                       "do for [i = 1:ns] { far[i] = i < ns ? hi[i + 1] : hi[i] }\n");
    log_steps(&s, logx);
    gl_text_printf(&s, "set xrange [xmin:xmax]\nset yrange [-0.5:S_max_y + 0.5]\nset xlabel 'step'\nset ylabel '%s'\n", ylabel);
    gl_text_printf(&s, "set palette defined (0 'white', 0.3 '#9ecae1', 1 '#08306b')\nset cblabel '%s'\n", cblabel);
    if (cbmax >= 0)
        gl_text_printf(&s, "set cbrange [0:%g]\n", cbmax);
    else
        gl_text_printf(&s, "set cbrange [0:*]\n");
    gl_text_printf(&s, "set title '%s'\nset tics out\nset key off\n", title);
    gl_text_printf(&s, "plot t skip 1 using (ok($2) ? $2 : NaN):3:(lo[int($1) + 1]):(far[int($1) + 1]):($3 - 0.5):($3 + 1.5):4 "
                       "with boxxyerror fs solid 1.0 noborder lc palette\n");
    return gl_figure_draw(dir, name, 860, 480, &s, err);
}

/* Keeps the first failure of a sequence of figures in *rc and *err. */
static void keep_first(int *rc, gl_error *err, int r, const gl_error *e) {
    if (r < 0 && *rc == 0) {
        *rc = r;
        if (err) *err = *e;
    }
}

int gl_figure_dynamics(const char *dir, const char *run, int logx, gl_error *err) {
    char header[2048], path[4096];
    gl_error e;
    int rc = 0, r;
    progress_header(header, sizeof header);
    r = table_ready(dir, "progress.csv", header, &e);
    if (r == 1) r = draw_accuracy(dir, logx, &e);
    keep_first(&rc, err, r, &e);

    r = 0;
    if (run) {
        snprintf(path, sizeof path, "%s/examples.csv", run);
        r = table_ready(dir, path, examples_header, &e);
    }
    if (r == 1) { /* the accuracy curves over the histograms when metrics.csv is there */
        metrics_header(header, sizeof header);
        snprintf(path, sizeof path, "%s/metrics.csv", run);
        int m = table_ready(dir, path, header, &e);
        r = m < 0 ? m : draw_times(dir, run, logx, m == 1, &e);
    }
    keep_first(&rc, err, r, &e);

    r = table_ready(dir, "neuron_ipr.csv", "snapshot,step,rank,ipr", &e);
    if (r == 1)
        r = draw_heat_map(dir, "dynamics_ipr", "neuron_ipr.csv", "1 snapshot, 2 step, 3 rank, 4 ipr",
                          "IPR of every neuron, sorted (rank 0: the highest)", "neuron rank by IPR", "IPR", 1,
                          logx, &e);
    keep_first(&rc, err, r, &e);

    r = table_ready(dir, "neuron_power.csv", "snapshot,step,k,share", &e);
    if (r == 1)
        r = draw_heat_map(dir, "dynamics_power", "neuron_power.csv", "1 snapshot, 2 step, 3 k, 4 share",
                          "share of the neurons'' Fourier power at each frequency", "frequency k",
                          "share of the power", -1, logx, &e);
    keep_first(&rc, err, r, &e);
    return rc;
}

/* A panel of gl_figure_dynamics_panels: run dyn's test accuracy, and the
 * restricted and excluded accuracies on the corrupted examples (colour: the
 * label, given or true; dashes: the excluded part). */
static void panel_lines(gl_text *s, const char *dyn) {
    static const struct {
        int l, set;
        const char *style, *title;
    } line[5] = {
        {GL_PM_FULL, GL_PM_TEST, "lw 2 lc rgb '#d62728'", "test (full logits)"},
        {GL_PM_RESTRICTED, GL_PM_CORRUPTED, "lw 2 lc rgb '#2ca02c'", "restricted, given label"},
        {GL_PM_EXCLUDED, GL_PM_CORRUPTED, "lw 2 dt 2 lc rgb '#2ca02c'", "excluded, given label"},
        {GL_PM_RESTRICTED, GL_PM_CORRUPTED_TRUE, "lw 2 lc rgb '#8c564b'", "restricted, true label"},
        {GL_PM_EXCLUDED, GL_PM_CORRUPTED_TRUE, "lw 2 dt 2 lc rgb '#8c564b'", "excluded, true label"},
    };
    for (int k = 0; k < 5; k++)
        gl_text_printf(s, "%s'%s/progress.csv' skip 1 using %s:%d with lines %s title '%s'", k ? ", \\\n     " : "plot ", dyn,
                       step_x(1), pm_column(line[k].l, line[k].set, 1), line[k].style, line[k].title);
    gl_text_printf(s, "\n");
}

int gl_figure_dynamics_panels(const char *dir, const char *name, int n, const char *const *dyn_dirs,
                              const char *const *labels, gl_error *err) {
    char header[2048], path[4096];
    if (n < 1) return gl_fail(err, "%s: no runs to draw", name);
    progress_header(header, sizeof header);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/progress.csv", dyn_dirs[i]);
        int r = table_ready(dir, path, header, err);
        if (r < 0) return r;
        if (r == 0) return gl_failc(err, GL_E_IO, "%s/%s does not exist or has no rows", dir, path);
    }
    enum { H = 460 };
    int W = 420 * n + 40 < 900 ? 900 : 420 * n + 40;
    gl_text s = {0};
    gl_text_printf(&s, "# progress.csv columns: 1 step; accuracies: 11 full test; corrupted (given) 13 restricted, 21 excluded;\n"
                       "# corrupted (true) 15 restricted, 23 excluded\n");
    gl_text_printf(&s, "set multiplot title 'accuracy on the corrupted examples (against their given and their true labels) "
                       "of the logits in the key frequencies (restricted) and out of them (excluded)'\n");
    log_steps(&s, 1);
    gl_text_printf(&s, "set grid\nset xlabel 'step'\nset ylabel 'accuracy'\nset yrange [0:1.02]\n");
    for (int i = 0; i <= n; i++) {
        if (i < n) {
            gl_text_printf(&s, "set title '%s' noenhanced\n", labels[i]);
            row_panel(&s, i, n, W, H);
        } else
            row_legend(&s, H);
        panel_lines(&s, dyn_dirs[i < n ? i : 0]);
    }
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, name, W, H, &s, err);
}
