/* groklab prune: cumulative pruning of a two-layer MLP run's neurons by
 * IPR (and in random orders), with the report and the figures. */
#include <stdio.h>

#include "cli.h"

static void prune_help(FILE *f) {
    fprintf(f,
            "usage: groklab prune RUN [--order low|high|random|all] [--seeds 20] [--seed S]\n"
            "                         [--on all|train] [--threshold 0.9] [--threads T] [--no-plot] [--quiet]\n\n"
            "Cumulative pruning on a copy of the trained weights, no retraining: pruning\n"
            "neuron k zeroes row k of U and V and column k of W (with BatchNorm the neuron's\n"
            "shift reaches the output only through that column, so the output no longer\n"
            "depends on it; with LayerNorm the pruned neuron's activation is 0 and still\n"
            "counts in the per-example mean and variance). Orders: lowest IPR first, highest\n"
            "IPR first, and random orders (mean and spread over --seeds draws); several\n"
            "orders as a comma list, or all (the default).\n\n"
            "  --on all     evaluate on every pair of the task (train, test, all-pairs columns);\n"
            "     train     the training set only (test columns are nan), faster for large p\n"
            "  --threshold  test accuracy to keep when counting how many neurons can go: the\n"
            "               largest count, lowest IPR first, with test accuracy >= threshold\n\n"
            "Writes RUN/prune.csv (order, pruned, fraction, seeds, train_acc, test_acc,\n"
            "corrupted_acc, corrupted_true_acc, clean_acc, all_true_acc, train_loss, test_loss,\n"
            "then each with _std), RUN/prune_summary.json, and the figures RUN/prune.png\n"
            "(Figure 6) and RUN/prune_long.png (Figure 17's form, all curves over counts).\n");
}

void cli_prune_print(const char *label, const gl_prune_result *r, const gl_prune_opts *po) {
    printf("pruning %s: %d neurons, every count evaluated in %.2fs\n", label, r->N, r->seconds);
    printf("%-7s %7s %8s %8s %10s %10s %8s %9s\n", "order", "pruned", "train", "test", "corrupted", "corr.true",
           "clean", "all.true");
    for (int oi = 0; oi < 3; oi++) {
        if (!r->has[oi]) continue;
        for (int i = 0; i <= 10; i++) {
            const gl_prune_point *pt = &r->curve[oi][i];
            printf("%-7s %6.0f%% %8.4f %8.4f %10.4f %10.4f %8.4f %9.4f\n",
                   oi == 2 && po->seeds > 1 ? "random*" : gl_prune_order_names[oi], 100.0 * pt->pruned / r->N,
                   pt->v[0], pt->v[1], pt->v[2], pt->v[3], pt->v[4], pt->v[5]);
        }
    }
    if (r->has[2] && po->seeds > 1) printf("* mean over %d random orders (spread in prune.csv, *_std columns)\n", po->seeds);
    if (r->has[0] && r->prunable < 0)
        printf("test accuracy is below %.0f%% before any pruning\n", 100 * po->threshold);
    else if (r->has[0])
        printf("lowest IPR first: test accuracy >= %.0f%% with %d of %d neurons pruned (%.1f%%), and at every count up to %d\n",
               100 * po->threshold, r->prunable, r->N, 100.0 * r->prunable / r->N, r->prefix);
}

int cmd_prune(int argc, char **argv) {
    gl_prune_opts po;
    gl_prune_opts_default(&po);
    int no_plot = 0, quiet = 0;
    const char *dir = NULL, *orders = NULL;
    const cli_opt opts[] = {
        OPT_S("--order", &orders), OPT_N("--seeds", OPT_INT, &po.seeds, 1, 100000),
        OPT_N("--seed", OPT_U64, &po.seed, 0, 4611686018427387904.0), OPT_N("--threads", OPT_INT, &po.threads, 0, 4096),
        OPT_W("--on", &po.on_all, "train|all"), OPT_N("--threshold", OPT_DOUBLE, &po.threshold, 0, 1),
        OPT_F("--no-plot", &no_plot), OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "prune", .opts = opts, .pos = &dir, .max_pos = 1, .help = prune_help,
                  .usage = "groklab prune RUN [--order low|high|random|all] [--seeds N] [--seed S] [--on all|train] "
                           "[--threshold X] [--no-plot] [--quiet]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    gl_error err;
    if (orders && gl_prune_parse_orders(orders, &po.orders, &err) != 0) return cli_fail(&err);
    if (!dir) {
        cli_error("prune: which run? (usage: groklab prune RUN [options]; groklab prune --help)");
        return EXIT_USAGE;
    }
    gl_prune_result r;
    char out[4200];
    if (gl_prune_run(dir, &po, &r, &err) != 0 || gl_run_out_dir(dir, out, sizeof out, &err) != 0) return cli_fail(&err);
    if (!quiet) cli_prune_print(out, &r, &po);
    if (!no_plot) {
        const char *runs[1] = {"."}, *labels[1] = {""};
        double noise[1] = {r.noise};
        if (gl_figure_prune(out, "prune", 1, runs, labels, noise, 0, &err) != 0 ||
            gl_figure_prune(out, "prune_long", 1, runs, labels, noise, 1, &err) != 0)
            return cli_fail(&err);
        if (!quiet) printf("wrote %s/prune.csv, prune_summary.json, prune.png, prune_long.png\n", out);
    }
    return EXIT_OK;
}
