/* groklab: the phase diagram of a sweep (groklab/figure.h): a panel per
 * facet value, a colour per phase, a cross where a cell's runs disagree,
 * an uncertain cell pale with a thick outline, a refined sweep's inferred
 * (never trained) cell hatched in white. */
#include <stdio.h>

#include "figure/figure_impl.h"

/* The six phases' colours, in gl_phase order. */
static const char *const phase_colors[6] = {"#2ca02c", "#1f77b4", "#9467bd", "#d62728", "#ff7f0e", "#7f7f7f"};

int gl_figure_phase(const char *dir, const gl_phase_grid *pg, const char *title, gl_error *err) {
    const char *const *col = phase_colors;
    int nf = pg->n_facets, cols = nf < 4 ? nf : 4, rows = (nf + cols - 1) / cols;
    const double *xs = pg->xs, *ys = pg->ys;
    int nx = pg->nx, ny = pg->ny;
    /* the ends of each axis: the outer cells' half-widths beyond the outer values */
    const gl_phase_cell *c0 = NULL;
    double x0 = xs[0], x1 = xs[nx - 1], y0 = ys[0], y1 = ys[ny - 1], dx0 = 0, dx1 = 0, dy0 = 0, dy1 = 0;
    for (int c = 0; c < pg->n_cells; c++) {
        c0 = &pg->cells[c];
        if (c0->x == x0) dx0 = c0->dx;
        if (c0->x == x1) dx1 = c0->dx;
        if (c0->y == y0) dy0 = c0->dy;
        if (c0->y == y1) dy1 = c0->dy;
    }
    /* the legend: 9 entries, in one row under 3 or more panels, two under two, three under one */
    enum { N_LEG = 9 };
    int per_row = cols >= 3 ? N_LEG : cols == 2 ? 5 : 3, n_leg = (N_LEG + per_row - 1) / per_row, w = 360 * cols + 60, h = 330 * rows + 60 + 20 * n_leg;
    gl_text p = {0};
    const char *facet = pg->facet[0] ? pg->facet : NULL;
    gl_text_printf(&p, "# phase.csv columns: 1 facet, 2 x, 3 y, 6 phase_index, 7 agree, 8 dx, 9 dy, 34 uncertain, 36 inferred\n");
    gl_text_printf(&p, "set multiplot layout %d,%d title '%s (%s rule)' noenhanced\n", rows, cols,
                   title ? title : "phase diagram", gl_phase_rule_name(pg->rule));
    gl_text_printf(&p, "set xlabel '%s' noenhanced\nset ylabel '%s' noenhanced\nset key off\nset bmargin %d\n", pg->x, pg->y,
                   3 + 2 * n_leg);
    gl_text_printf(&p, "set xrange [%g:%g]\nset yrange [%g:%g]\n", x0 - dx0, x1 + dx1, y0 - dy0, y1 + dy1);
    gl_text_printf(&p, "color(i) = i == 0 ? 0x%s : i == 1 ? 0x%s : i == 2 ? 0x%s : i == 3 ? 0x%s : i == 4 ? 0x%s : 0x%s\n",
                   col[0] + 1, col[1] + 1, col[2] + 1, col[3] + 1, col[4] + 1, col[5] + 1);
    gl_text_printf(&p, "sel(f, c) = strcol(1) eq f ? column(c) : NaN\n");
    /* an uncertain cell: its colour 60%% of the way to white */
    gl_text_printf(&p, "pale(v) = int(0.4 * v + 153)\n"
                       "light(c) = pale((c >> 16) & 255) * 65536 + pale((c >> 8) & 255) * 256 + pale(c & 255)\n"
                       "fill(i, u) = u > 0.5 ? light(color(i)) : color(i)\n");
    for (int f = 0; f < nf; f++) {
        gl_text_printf(&p, "set title '%s%s%s' noenhanced\n", facet ? facet : "", facet ? " " : "",
                       facet ? pg->facets[f] : "");
        gl_text_printf(&p, "set key off\n");
        if (f == nf - 1) /* the legend along the figure's foot, in screen coordinates */
            for (int i = 0; i < N_LEG; i++) {
                double l = 0.02 + (i % per_row) * 0.96 / per_row, yl = (8.0 + 20.0 * (n_leg - 1 - i / per_row)) / h;
                double y0l = yl - 6.0 / h, y1l = yl + 6.0 / h;
                if (i < 6)
                    gl_text_printf(&p, "set object %d rect from screen %.3f,%.4f to screen %.3f,%.4f fc rgb '%s' fs solid noborder\n",
                                   100 + i, l, y0l, l + 0.02, y1l, col[i]);
                else if (i == 6)
                    gl_text_printf(&p, "set label 99 'x' at screen %.3f,%.4f center font ',11'\n", l + 0.01, yl);
                else if (i == 7)
                    gl_text_printf(&p, "set object 107 rect from screen %.3f,%.4f to screen %.3f,%.4f fc rgb '#cccccc' "
                                       "fs solid border lc rgb 'black' lw 2.5\n", l, y0l, l + 0.02, y1l);
                else
                    gl_text_printf(&p, "set object 108 rect from screen %.3f,%.4f to screen %.3f,%.4f fc rgb '#888888' "
                                       "fs pattern 4 border lc rgb '#888888'\n", l, y0l, l + 0.02, y1l);
                gl_text_printf(&p, "set label %d '%s' at screen %.3f,%.4f left font ',9' noenhanced\n", 100 + i,
                               i < 6 ? gl_phase_name(i) : i == 6 ? "seeds disagree" : i == 7 ? "uncertain" : "inferred (not trained)",
                               l + 0.025, yl);
            }
        gl_text_printf(&p, "plot 'phase.csv' skip 1 using (sel('%s',2)):3:8:9:(fill(column(6), column(34))) with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \\\n"
                           "     '' skip 1 using (sel('%s',2)):(column(34) > 0.5 ? column(3) : NaN):(0.9 * column(8)):(0.9 * column(9)) with boxxyerror lw 2.5 lc rgb 'black' fs empty notitle, \\\n"
                           "     '' skip 1 using (sel('%s',2)):(column(7) > 0.5 ? NaN : column(3)) with points pt 2 ps 0.8 lc rgb 'black' notitle, \\\n"
                           "     '' skip 1 using (sel('%s',2)):(column(36) > 0.5 ? column(3) : NaN):8:9 with boxxyerror fs transparent pattern 4 noborder lc rgb 'white' notitle",
                       pg->facets[f], pg->facets[f], pg->facets[f], pg->facets[f]);
        gl_text_printf(&p, "\n");
    }
    gl_text_printf(&p, "unset multiplot\n");
    return gl_figure_draw(dir, "phase", w, h, &p, err);
}
