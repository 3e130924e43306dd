/* groklab dynamics: how a run memorized and generalized, from its
 * snapshots, metrics.csv and examples.csv: the progress measures at every
 * snapshot, the neurons' IPR and Fourier power over time, the examples'
 * memorization and unlearning times, the neurons that carry the corrupted
 * labels, and the figures of all of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repro.h"

static void dynamics_help(FILE *f) {
    fprintf(f,
            "usage: groklab dynamics RUN[@STEP] [--out DIR] [--key-threshold X] [--no-plot] [--quiet]\n\n"
            "Takes a run's dynamics apart, at each of its snapshots (groklab train --snapshots K;\n"
            "the final weights when it has none; RUN@STEP: the snapshot nearest to STEP only):\n"
            "  progress measures: the logits over every pair split by Fourier content into\n"
            "    the restricted part (the key frequencies' modes along m + n, or m - n; in the\n"
            "    discrete-log basis for mul and div) and the excluded rest, each scored (loss,\n"
            "    accuracy) on clean training examples, corrupted ones against their given and\n"
            "    their true labels, and the test set\n"
            "  the key frequencies and each frequency's share of the logits' power\n"
            "  every neuron's IPR (sorted) and the neurons' Fourier power per frequency\n"
            "  the corrupted examples' memorization and unlearning times (examples.csv)\n"
            "  two-layer MLP: the neurons carrying each training example's given label\n\n"
            "  --out            where the tables and figures go (default RUN/dynamics)\n"
            "  --key-threshold  a frequency is key when its line power is at least this\n"
            "                   share of the strongest frequency's (default 0.1)\n\n"
            "Writes progress.csv (the run's own when trained with --progress-measures on;\n"
            "the snapshots' then go to progress_snapshots.csv), key_power.csv,\n"
            "neuron_ipr.csv, neuron_power.csv, carriers.csv, dynamics_summary.json and the\n"
            "figures dynamics_accuracy, dynamics_times, dynamics_ipr, dynamics_power (.png,\n"
            ".svg, .gp). docs/commands.md, groklab dynamics, has the columns.\n");
}

void cli_print_dynamics(const char *ref, const gl_dynamics_report *r) {
    char a[32], b[32], c[32];
    printf("%s: %ld snapshot%s analyzed, the last at step %ld\n", ref, r->snapshots, r->snapshots == 1 ? "" : "s",
           r->step);
    printf("  milestones: train 90%% at %s, test 90%% (grokking) at %s, unlearned at %s\n",
           repro_fmt_step(r->ms.train90, a, sizeof a), repro_fmt_step(r->ms.test90, b, sizeof b),
           repro_fmt_step(r->ms.unlearn, c, sizeof c));
    if (r->has_story)
        printf("  corrupted examples: %ld memorized (median step %s, IQR %s), %ld unlearned (median step %s)\n",
               r->story.n_memorized, repro_fmt_num(r->story.mem_median, a, sizeof a), repro_fmt_num(r->story.mem_iqr, b, sizeof b),
               r->story.n_unlearned, repro_fmt_num(r->story.unl_median, c, sizeof c));
    printf("  %d key frequencies carry %.1f%% of the logits' power\n", r->last.n_key, 100 * r->last.key_share);
    printf("  accuracy at step %ld     clean  corrupted(given)  corrupted(true)   test\n", r->step);
    static const char *const names[GL_PM_NLOGITS] = {"full logits      ", "restricted logits", "excluded logits  "};
    for (int l = 0; l < GL_PM_NLOGITS; l++) {
        printf("    %s    ", names[l]);
        for (int s = 0; s < GL_PM_NSETS; s++) printf("%s%.4f", s ? "        " : "", r->last.acc[l][s]);
        printf("\n");
    }
    if (isfinite(r->mean_ipr))
        printf("  neurons carrying the given label: IPR %.3f for memorized corrupted examples, %.3f for clean ones "
               "(all neurons %.3f)\n",
               r->carrier_ipr_memorized, r->carrier_ipr_clean, r->mean_ipr);
}

int cli_dynamics_run(const char *ref, const char *out_opt, const gl_dynamics_opts *o, int plot, int quiet,
                     gl_dynamics_report *rep) {
    gl_error err;
    char out[4300], run_rel[4200], dir[4096];
    long at;
    int snapshot = gl_run_ref_split(ref, dir, sizeof dir, &at);
    if (out_opt) {
        snprintf(out, sizeof out, "%s", out_opt);
        if (!realpath(dir, run_rel)) snprintf(run_rel, sizeof run_rel, "%s", dir);
    } else {
        char base[4200];
        if (gl_run_out_dir(ref, base, sizeof base, &err) != 0) return cli_fail(&err);
        snprintf(out, sizeof out, "%s/dynamics", base);
        snprintf(run_rel, sizeof run_rel, "%s", snapshot ? "../.." : ".."); /* RUN/dynamics or RUN/at_S/dynamics */
    }
    if (gl_dynamics_run(ref, out, o, rep, &err) != 0) return cli_fail(&err);
    if (plot && gl_figure_dynamics(out, run_rel, 1, &err) != 0) return cli_fail(&err);
    if (!quiet) {
        cli_print_dynamics(ref, rep);
        printf("  wrote %s: progress.csv, key_power.csv, neuron_ipr.csv, neuron_power.csv%s, dynamics_summary.json%s\n",
               out, isfinite(rep->mean_ipr) ? ", carriers.csv" : "", plot ? " and the dynamics_* figures" : "");
    }
    return EXIT_OK;
}

int cmd_dynamics(int argc, char **argv) {
    const char *ref = NULL, *out = NULL;
    int no_plot = 0, quiet = 0;
    gl_dynamics_opts o;
    gl_dynamics_opts_default(&o);
    const cli_opt opts[] = {
        OPT_S("--out", &out), OPT_N("--key-threshold", OPT_DOUBLE, &o.key_threshold, 1e-6, 1),
        OPT_F("--no-plot", &no_plot), OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "dynamics", .opts = opts, .pos = &ref, .max_pos = 1, .help = dynamics_help,
                  .usage = "groklab dynamics RUN[@STEP] [--out DIR] [--key-threshold X] [--no-plot] [--quiet]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!ref) {
        cli_error("dynamics: which run? (usage: groklab dynamics RUN[@STEP] [options]; groklab dynamics --help)");
        return EXIT_USAGE;
    }
    gl_dynamics_report rep;
    return cli_dynamics_run(ref, out, &o, !no_plot, quiet, &rep);
}
