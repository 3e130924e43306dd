/* groklab spectrum: the Fourier spectra of a two-layer MLP run's neurons,
 * and one neuron before and after training. */
#include <stdio.h>

#include "cli.h"

static void spectrum_help(FILE *f) {
    fprintf(f,
            "usage: groklab spectrum RUN [--neuron K] [--basis auto|additive|dlog] [--no-plot] [--quiet]\n\n"
            "Fourier power spectra of every neuron (RUN/spectrum.csv), the heat map of |DFT|\n"
            "over all neurons sorted by dominant frequency (RUN/spectrum.png), and one\n"
            "neuron's weights before and after training with its spectrum (Figure 2b:\n"
            "RUN/neuron_K.csv, neuron_K_spectrum.csv, neuron_K.png). The default neuron is\n"
            "the one with the highest IPR.\n");
}

void cli_print_neuron(const gl_run_view *v, int k) {
    const gl_neurons *nr = &v->nr;
    printf("neuron %d: IPR %.4f (U %.3f, V %.3f, W %.3f), dominant frequency %d (%s basis), power share U %.2f V "
           "%.2f W %.2f\n",
           k, nr->ipr[k], nr->vec_ipr[0][k], nr->vec_ipr[1][k], nr->vec_ipr[2][k], gl_neurons_frequency(nr, k),
           gl_basis_name(nr->basis), nr->share[0][k], nr->share[1][k], nr->share[2][k]);
}

int cmd_spectrum(int argc, char **argv) {
    cli_run_args r;
    int rc = cli_parse_run(argc, argv, "spectrum",
                           "groklab spectrum RUN [--neuron K] [--basis auto|additive|dlog] [--no-plot] [--quiet]",
                           spectrum_help, 1, &r);
    if (rc >= 0) return rc;
    gl_run_view v;
    gl_error err;
    char out[4200];
    if (gl_run_out_dir(r.dir, out, sizeof out, &err) != 0) return cli_fail(&err);
    rc = gl_run_view_load(&v, r.dir, &r.o, &err);
    int k = rc == 0 ? (r.neuron < 0 ? gl_best_neuron(&v.nr) : (int)r.neuron) : 0;
    if (rc == 0) rc = gl_spectrum_write(out, &v, k, &err);
    if (rc == 0 && !r.quiet) cli_print_neuron(&v, k);
    if (rc == 0 && r.plot) rc = gl_figure_spectrum(out, &v, k, &err);
    gl_run_view_free(&v);
    return rc ? cli_fail(&err) : EXIT_OK;
}
