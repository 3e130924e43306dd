/* groklab plot: every figure that applies to a two-layer MLP run. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void plot_help(FILE *f) {
    fprintf(f,
            "usage: groklab plot RUN [--neuron K] [--convention rfft|full] [--basis auto|additive|dlog] [--quiet]\n\n"
            "Every figure that applies to the run: training curves with the mean IPR on a\n"
            "second axis (curves.png, Figure 2a), the IPR histogram with the initial one\n"
            "(ipr_hist.png, Figure 4), the spectra heat map (spectrum.png), one neuron before\n"
            "and after (neuron_K.png, Figure 2b), IPR against the norm gain for models with a\n"
            "norm layer (ipr_gain.png, Figure 5), and the pruning curves when prune.csv is\n"
            "there (prune.png, prune_long.png; run groklab prune RUN first).\n");
}

int cli_plot_run(const char *ref, const gl_ipr_opts *o, int neuron, int quiet) {
    gl_run_view v;
    gl_error err;
    char dir[4200]; /* where the figures go: the run, or RUN/at_S for a snapshot */
    if (gl_run_out_dir(ref, dir, sizeof dir, &err) != 0) return cli_fail(&err);
    int at = strcmp(dir, ref) != 0;
    int rc = gl_run_view_load(&v, ref, o, &err);
    if (rc == 0 && neuron >= v.nr.N)
        rc = gl_fail(&err, "--neuron: %d is out of range (allowed: 0 to %d)", neuron, v.nr.N - 1);
    gl_ipr_report rep;
    int k = rc == 0 ? (neuron < 0 ? gl_best_neuron(&v.nr) : neuron) : 0;
    if (rc == 0 && !at && gl_run_has(dir, "metrics.csv")) rc = gl_figure_run_curves(dir, "curves", v.c.log_points > 0, &err);
    if (rc == 0) rc = gl_ipr_write(dir, &v, o, &rep, &err);
    if (rc == 0 && !quiet) cli_print_ipr(&v, o, &rep);
    if (rc == 0) rc = gl_figure_ipr(dir, &v, rep.threshold, &err);
    if (rc == 0) rc = gl_spectrum_write(dir, &v, k, &err);
    if (rc == 0 && !quiet) cli_print_neuron(&v, k);
    if (rc == 0) rc = gl_figure_spectrum(dir, &v, k, &err);
    int pruned = gl_run_has(dir, "prune.csv");
    if (rc == 0 && pruned) {
        const char *runs[1] = {"."}, *labels[1] = {""};
        double noise[1] = {v.c.noise};
        rc = gl_figure_prune(dir, "prune", 1, runs, labels, noise, 0, &err);
        if (rc == 0) rc = gl_figure_prune(dir, "prune_long", 1, runs, labels, noise, 1, &err);
    }
    int has_gain = rc == 0 && v.nr.gain != NULL;
    gl_run_view_free(&v);
    if (rc != 0) return cli_fail(&err);
    if (!quiet)
        printf("figures in %s: %sipr_hist, spectrum, neuron_K%s%s (.png, .svg, .gp)\n", dir, at ? "" : "curves, ",
               has_gain ? ", ipr_gain" : "", pruned ? ", prune, prune_long" : "");
    return EXIT_OK;
}

int cmd_plot(int argc, char **argv) {
    cli_run_args r;
    int rc = cli_parse_run(argc, argv, "plot",
                           "groklab plot RUN [--neuron K] [--convention rfft|full] [--basis auto|additive|dlog] [--quiet]",
                           plot_help, 1, &r);
    return rc >= 0 ? rc : cli_plot_run(r.dir, &r.o, (int)r.neuron, r.quiet);
}
