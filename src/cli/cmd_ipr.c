/* groklab ipr: the IPR of a run's neurons (any family: for the deep MLP and
 * the Transformer, the units of the input and output layers), written as
 * tables and the histogram figures into the run directory. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void ipr_help(FILE *f) {
    fprintf(f,
            "usage: groklab ipr RUN [--convention rfft|full] [--r 2] [--basis auto|additive|dlog]\n"
            "                       [--split X] [--no-plot] [--quiet]\n\n"
            "Per-neuron inverse participation ratio of the run's final weights (and of its\n"
            "initial weights when init.safetensors is there): IPR of row k of U, row k of V,\n"
            "column k of W and their mean, each vector's dominant frequency and its share of\n"
            "the power, the vectors' norms, and |gamma_k| for models with a norm layer.\n\n"
            "  --convention  rfft (default): one-sided real FFT, floor(n/2)+1 bins, a cosine\n"
            "                has IPR 1; full: the complex DFT, a cosine has IPR 1/2\n"
            "  --r           the order r of sum a^2r / (sum a^2)^r (default 2)\n"
            "  --basis       auto (default): dlog for mul and div, additive otherwise; dlog\n"
            "                reorders the nonzero residues by the discrete log to a primitive\n"
            "                root of p (residue 0 left out), where multiplicative features are\n"
            "                periodic\n"
            "  --split       IPR threshold between the low and high modes (default: Otsu)\n\n"
            "Writes RUN/ipr.csv (one row per neuron), RUN/ipr_summary.json and the histogram\n"
            "RUN/ipr_hist.png (initial weights overlaid); with a norm layer also\n"
            "RUN/ipr_gain.png (IPR against |gamma|, Figure 5 right). For the deep MLP and the\n"
            "Transformer: the units of the input and the output layer (docs/commands.md, groklab ipr).\n");
}

/* The deep MLP and the Transformer: the units of the input and output layers. */
static int ipr_units(const char *ref, const char *dir, const gl_config *c, const gl_ipr_opts *o, int plot, int quiet) {
    gl_error err;
    gl_model m, m0;
    int has_init;
    if (gl_run_load_weights(ref, c, &m, &m0, &has_init, &err) != 0) return cli_fail(&err);
    gl_basis basis = o->basis == GL_BASIS_AUTO ? gl_config_basis(c) : o->basis;
    gl_units u;
    int rc = gl_units_compute(&u, &m, has_init ? &m0 : NULL, basis, o, &err);
    if (rc == 0) rc = gl_units_write(dir, &m, &u, o, &err);
    if (rc == 0 && plot) rc = gl_figure_units(dir, &m, &u, &err);
    if (rc == 0 && !quiet) {
        printf("IPR of the %s (%s, %s basis, r = %g):\n", gl_arch_name(c->arch), gl_ipr_conv_name(o->conv),
               gl_basis_name(basis), o->r);
        for (int l = 0; l < 2; l++) {
            printf("  %s layer, %d units (%s): mean %.4f", l ? "output" : "input", u.K,
                   gl_units_layer_text(&m.net, l), u.mean[l]);
            if (has_init) printf(" (at initialization %.4f)", u.mean0[l]);
            if (u.g[l]) printf("; vs |gain|: Pearson %.3f, Spearman %.3f", u.pearson[l], u.spearman[l]);
            printf("\n");
        }
        printf("  input layer: low mode (IPR < %.3f, %s): %d units; high mode: %d units\n", u.threshold,
               o->split >= 0 ? "--split" : "Otsu threshold", u.n_low, u.K - u.n_low);
        printf("  wrote %s/ipr.csv, ipr_summary.json%s\n", dir, plot ? ", ipr_hist.png, ipr_hist_out.png" : "");
    }
    gl_units_free(&u);
    gl_model_free(&m);
    gl_model_free(&m0);
    return rc ? cli_fail(&err) : EXIT_OK;
}

/* The report of a two-layer MLP's IPR. */
void cli_print_ipr(const gl_run_view *v, const gl_ipr_opts *o, const gl_ipr_report *r) {
    const gl_neurons *nr = &v->nr;
    printf("IPR of %d neurons (%s, %s basis%s, r = %g): mean %.4f", nr->N, gl_ipr_conv_name(nr->conv),
           gl_basis_name(nr->basis), nr->basis == GL_BASIS_DLOG ? ", residue 0 left out" : "", nr->r, nr->mean_ipr);
    if (v->has_init) printf(" (at initialization %.4f)", v->nr0.mean_ipr);
    printf("\n  low mode (IPR < %.3f, %s): %d neurons; high mode: %d neurons\n", r->threshold,
           o->split >= 0 ? "--split" : "Otsu threshold", r->n_low, nr->N - r->n_low);
    if (nr->gain) printf("  IPR vs |gamma|: Pearson %.3f, Spearman %.3f\n", r->pearson, r->spearman);
}

int cli_ipr_run(const char *ref, const gl_ipr_opts *o, int plot, int quiet) {
    gl_error err;
    gl_config c;
    char dir[4200]; /* where the tables go: the run, or RUN/at_S for a snapshot */
    if (gl_run_open(ref, &c, &err) != 0 || gl_run_out_dir(ref, dir, sizeof dir, &err) != 0) return cli_fail(&err);
    if (c.arch != GL_ARCH_MLP) return ipr_units(ref, dir, &c, o, plot, quiet);
    gl_run_view v;
    gl_ipr_report rep;
    int rc = gl_run_view_load(&v, ref, o, &err);
    if (rc == 0) rc = gl_ipr_write(dir, &v, o, &rep, &err);
    if (rc == 0 && !quiet) cli_print_ipr(&v, o, &rep);
    if (rc == 0 && plot) rc = gl_figure_ipr(dir, &v, rep.threshold, &err);
    gl_run_view_free(&v);
    if (rc != 0) return cli_fail(&err);
    if (!quiet) printf("  wrote %s/ipr.csv, ipr_summary.json%s\n", dir, plot ? ", ipr_hist.png" : "");
    return EXIT_OK;
}

int cli_parse_run(int argc, char **argv, const char *cmd, const char *usage, void (*help)(FILE *), int with_neuron,
                  cli_run_args *r) {
    int conv = 0, basis = 0, no_plot = 0;
    r->dir = NULL;
    r->neuron = -1;
    r->quiet = 0;
    gl_ipr_opts_default(&r->o);
    const cli_opt opts[] = {
        OPT_W("--convention", &conv, "rfft|full"), OPT_W("--basis", &basis, "auto|additive|dlog"),
        OPT_N("--r", OPT_DOUBLE, &r->o.r, 1e-3, 100), OPT_N("--split", OPT_DOUBLE, &r->o.split, 0, 1),
        OPT_F("--no-plot", &no_plot), OPT_F("--quiet", &r->quiet),
        with_neuron ? (cli_opt)OPT_N("--neuron", OPT_LONG, &r->neuron, 0, 1 << 30) : (cli_opt)OPT_END, OPT_END,
    };
    cli_args a = {.cmd = cmd, .opts = opts, .pos = &r->dir, .max_pos = 1, .help = help, .usage = usage};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!r->dir) {
        cli_error("%s: which run? (usage: groklab %s RUN [options]; groklab %s --help)", cmd, cmd, cmd);
        return EXIT_USAGE;
    }
    r->o.conv = (gl_ipr_conv)conv;
    r->o.basis = (gl_basis)basis;
    r->plot = !no_plot;
    return -1;
}

int cmd_ipr(int argc, char **argv) {
    cli_run_args r;
    int rc = cli_parse_run(argc, argv, "ipr",
                           "groklab ipr RUN [--convention rfft|full] [--r R] [--basis auto|additive|dlog] [--split X] "
                           "[--no-plot] [--quiet]",
                           ipr_help, 0, &r);
    return rc >= 0 ? rc : cli_ipr_run(r.dir, &r.o, r.plot, r.quiet);
}
