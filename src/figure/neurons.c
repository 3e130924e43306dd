/* groklab: the figures of a run's neurons (groklab/figure.h): the IPR
 * histogram (Figure 4) and IPR against the norm gain (Figure 5), the spectra
 * heat map, one neuron before and after (Figure 2b), and the same
 * histograms for any family's input and output layers. */
#include <math.h>
#include <stdio.h>

#include "figure/figure_impl.h"

/* The histograms' set-up: bins of 0.02 over the IPR's [0, 1], translucent
 * boxes, a grid; threshold >= 0: a dotted line there (the mode split). */
static void hist_setup(gl_text *s, double threshold) {
    gl_text_printf(s, "bw = 0.02\nbin(x) = bw * floor(x / bw) + bw / 2\nset xrange [0:1]\n");
    gl_text_printf(s, "set style fill transparent solid 0.55 noborder\nset grid\nset key top center\n");
    if (threshold >= 0)
        gl_text_printf(s, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 3 lc rgb '#555555'\n", threshold,
                       threshold);
}

/* One histogram: column `after` of csv after training and, when init > 0,
 * column init at initialization (grey), overlaid. */
static void hist_plot(gl_text *s, const char *csv, int after, int init) {
    gl_text_printf(s, "plot '%s' skip 1 using (bin($%d)):(1.0) smooth frequency with boxes lc rgb '#1f77b4' title 'after training'",
                   csv, after);
    if (init > 0)
        gl_text_printf(s, ", \\\n     '' skip 1 using (bin($%d)):(1.0) smooth frequency with boxes lc rgb '#999999' title 'initialization'",
                       init);
    gl_text_printf(s, "\n");
}

int gl_figure_ipr(const char *dir, const gl_run_view *v, double th, gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "# ipr.csv columns: 2 ipr, 16 gain, 17 ipr_init\n");
    hist_setup(&s, th);
    gl_text_printf(&s, "set xlabel 'IPR_k (%s, %s basis)'\nset ylabel 'neurons'\n", gl_ipr_conv_name(v->nr.conv),
                   gl_basis_name(v->nr.basis));
    gl_text_printf(&s, "set title 'IPR of %d neurons, mean %.3f (step %ld)'\n", v->nr.N, v->nr.mean_ipr, v->model.step);
    hist_plot(&s, "ipr.csv", 2, v->has_init ? 17 : 0);
    int rc = gl_figure_draw(dir, "ipr_hist", 640, 420, &s, err);
    if (rc || !v->nr.gain) return rc;
    gl_text_printf(&s, "set xlabel '|gamma_k| (norm gain)'\nset ylabel 'IPR_k'\nset grid\nset key off\n");
    gl_text_printf(&s, "set title 'IPR against norm gain (Pearson %.3f, Spearman %.3f)'\n",
                   gl_pearson(v->nr.ipr, v->nr.gain, v->nr.N), gl_spearman(v->nr.ipr, v->nr.gain, v->nr.N));
    gl_text_printf(&s, "plot 'ipr.csv' skip 1 using 16:2 with points pt 7 ps 0.5 lc rgb '#1f77b4'\n");
    return gl_figure_draw(dir, "ipr_gain", 560, 440, &s, err);
}

int gl_figure_spectrum(const char *dir, const gl_run_view *v, int neuron, gl_error *err) {
    const gl_neurons *nr = &v->nr;
    int N = nr->N, nb = nr->bins;
    char name[64];
    /* heat map of |DFT| over all neurons sorted by dominant frequency */
    gl_text s = {0};
    gl_text_printf(&s, "# spectrum.csv columns: 2 rank, 3 freq, 7-9 |DFT| of U, V, W scaled to the neuron's peak\n");
    gl_text_printf(&s, "set multiplot layout 1,3 title 'Fourier spectra of %d neurons, sorted by dominant frequency (%s basis)'\n",
                   N, gl_basis_name(nr->basis));
    gl_text_printf(&s, "set palette defined (0 'white', 0.3 '#9ecae1', 1 '#08306b')\nset cbrange [0:1]\n");
    gl_text_printf(&s, "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\nset xlabel 'frequency'\nset ylabel 'neuron (sorted)'\n", nb - 1, N - 1);
    const char *vn[3] = {"U (rows)", "V (rows)", "W (columns)"};
    for (int q = 0; q < 3; q++)
        gl_text_printf(&s, "set title '%s'\nplot 'spectrum.csv' skip 1 using 3:2:%d with image notitle\n", vn[q], 7 + q);
    gl_text_printf(&s, "unset multiplot\n");
    int rc = gl_figure_draw(dir, "spectrum", 1200, 480, &s, err);
    if (rc) return rc;
    /* one neuron before and after (Figure 2b), and its power spectrum */
    gl_text_printf(&s, "set multiplot layout 1,4 title 'neuron %d: IPR %.3f, dominant frequency %d'\nset grid\nset key bottom right font ',8'\n",
                   neuron, nr->ipr[neuron], gl_neurons_frequency(nr, neuron));
    gl_text_printf(&s, "set xlabel '%s'\n", nr->basis == GL_BASIS_DLOG ? "position j (residue g^j)" : "residue");
    for (int q = 0; q < 3; q++) {
        gl_text_printf(&s, "set title '%s'\nplot 'neuron_%d.csv' skip 1 using 1:%d with linespoints pt 7 ps 0.3 lc rgb '#1f77b4' title 'after'",
                       vn[q], neuron, 4 + 2 * q);
        if (v->has_init) gl_text_printf(&s, ", '' skip 1 using 1:%d with lines dt 2 lc rgb '#999999' title 'init'", 3 + 2 * q);
        gl_text_printf(&s, "\n");
    }
    gl_text_printf(&s, "set title 'power |x~_j|^2'\nset xlabel 'frequency'\nset style fill solid 0.6\n");
    gl_text_printf(&s, "set boxwidth 0.3\nset key top left\n");
    gl_text_printf(&s, "plot 'neuron_%d_spectrum.csv' skip 1 using ($1-0.3):3 with boxes lc rgb '#1f77b4' title 'U', '' skip 1 using 1:5 with boxes lc rgb '#d62728' title 'V', '' skip 1 using ($1+0.3):7 with boxes lc rgb '#2ca02c' title 'W'\n", neuron);
    gl_text_printf(&s, "unset multiplot\n");
    snprintf(name, sizeof name, "neuron_%d", neuron);
    return gl_figure_draw(dir, name, 1500, 400, &s, err);
}


int gl_figure_units(const char *dir, const gl_model *m, const gl_units *u, gl_error *err) {
    double th = u->threshold;
    static const char *const name[2] = {"ipr_hist", "ipr_hist_out"};
    static const char *const what[2] = {"input layer", "output layer"};
    int rc = 0;
    for (int l = 0; l < 2 && !rc; l++) {
        gl_text s = {0};
        gl_text_printf(&s, "# ipr.csv columns: 2 ipr_in, 3 ipr_out, 4 ipr_in_init, 5 ipr_out_init\n");
        hist_setup(&s, l == 0 ? th : -1);
        gl_text_printf(&s, "set xlabel 'IPR (%s)'\nset ylabel 'units'\n", gl_units_layer_text(&m->net, l));
        gl_text_printf(&s, "set title '%s %s: IPR of %d units, mean %.3f (step %ld)'\n", gl_arch_name(m->net.arch), what[l],
                       u->K, u->mean[l], m->step);
        hist_plot(&s, "ipr.csv", 2 + l, u->has_init ? 4 + l : 0);
        rc = gl_figure_draw(dir, name[l], 640, 420, &s, err);
    }
    if (rc || !u->g[0]) return rc;
    gl_text s = {0};
    gl_text_printf(&s, "set multiplot layout 1,2\nset grid\nset key off\nset ylabel 'IPR'\n");
    for (int l = 0; l < 2; l++) {
        gl_text_printf(&s, "set xlabel '|gain| next to the %s'\n", what[l]);
        gl_text_printf(&s, "set title '%s (Pearson %.3f, Spearman %.3f)'\n", what[l],
                       u->pearson[l], u->spearman[l]);
        gl_text_printf(&s, "plot 'ipr.csv' skip 1 using %d:%d with points pt 7 ps 0.5 lc rgb '#1f77b4'\n",
                       6 + l, 2 + l);
    }
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, "ipr_gain", 900, 420, &s, err);
}


int gl_figure_ipr_hists(const char *dir, const char *name, int n, const char *const *runs,
                        const char *const *labels, int scatter, gl_error *err) {
    gl_text s = {0};
    char csv[600];
    gl_text_printf(&s, "# ipr.csv columns: 2 ipr, 16 gain, 17 ipr_init\n");
    gl_text_printf(&s, "set multiplot layout 1,%d title 'IPR of the neurons after training (initialization in grey)'\n",
                   n + (scatter >= 0 ? 1 : 0));
    hist_setup(&s, -1);
    gl_text_printf(&s, "set xlabel 'IPR_k'\nset ylabel 'neurons'\nset key top center font ',8'\n");
    for (int i = 0; i < n; i++) {
        snprintf(csv, sizeof csv, "%s/ipr.csv", runs[i]);
        gl_text_printf(&s, "set title '%s'\n", labels[i]);
        hist_plot(&s, csv, 2, 17);
    }
    if (scatter >= 0)
        gl_text_printf(&s, "set title '%s: IPR against |gamma|'\nset xlabel '|gamma_k|'\nset ylabel 'IPR_k'\nset xrange [*:*]\nset key off\n"
                           "plot '%s/ipr.csv' skip 1 using 16:2 with points pt 7 ps 0.4 lc rgb '#1f77b4'\n",
                       labels[scatter], runs[scatter]);
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, name, 400 * (n + (scatter >= 0 ? 1 : 0)) + 40, 400, &s, err);
}

int gl_figure_units_hists(const char *dir, const char *name, const char *what, int n, const char *const *runs,
                          const char *const *labels, gl_error *err) {
    gl_text s = {0};
    char csv[600];
    gl_text_printf(&s, "# each panel: ipr.csv of one run (2 ipr_in after training, 4 at initialization)\n");
    gl_text_printf(&s, "set multiplot layout 1,%d title '%s'\n", n, what);
    hist_setup(&s, -1);
    for (int i = 0; i < n; i++) {
        snprintf(csv, sizeof csv, "%s/ipr.csv", runs[i]);
        gl_text_printf(&s, "set title '%s'\nset xlabel 'IPR of the input layer'\nset ylabel 'units'\n", labels[i]);
        hist_plot(&s, csv, 2, 4);
    }
    gl_text_printf(&s, "unset multiplot\n");
    return gl_figure_draw(dir, name, 420 * n, 400, &s, err);
}
