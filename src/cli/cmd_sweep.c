/* groklab sweep: a grid of runs into a crash-safe SQLite store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void sweep_help(FILE *f) {
    fprintf(f,
            "usage: groklab sweep --out DIR [--KNOB SPEC ...] [--seeds K] [--threads T]\n"
            "                     [--keep-weights] [--extend] [--shard I/N] [--quiet]\n"
            "                     [--refine [--x KNOB] [--y KNOB]] [--refine-seeds K]\n"
            "       groklab sweep --resume DIR [--threads T] [--shard I/N] [--complete]\n\n"
            "Trains every point of a grid into DIR/sweep.db (SQLite). Any knob of groklab\n"
            "train is an axis when its SPEC is a list (0,5,15), a range lo:hi:count\n"
            "(inclusive) or a log range lo:hi:count:log; a single value sets the knob for\n"
            "every run. --seeds K adds a replicate axis 0..K-1 (each sets seed, split_seed\n"
            "and noise_seed). The grid is the product of the axes.\n\n"
            "Crash-safe: each finished run is committed in one transaction; after a crash or\n"
            "kill, --resume DIR (or the same command again) requeues the runs that were in\n"
            "flight and never redoes finished ones. SIGINT or SIGTERM stops claiming runs,\n"
            "returns the runs in flight to pending and closes the store. A different grid\n"
            "into the same DIR is refused unless --extend (which adds the new points). Runs\n"
            "that diverge or cannot start are recorded (diverged, failed), not retried.\n\n"
            "  --threads T     workers, one run each (default: all cores)\n"
            "  --keep-weights  also store each run's final U, V, W and per-neuron IPR\n"
            "  --shard I/N     only runs with (id - 1) %% N == I, into DIR/shard-I-of-N.db\n"
            "                  (for job arrays; combine with groklab merge DIR)\n"
            "  --refine        adaptive refinement over the axes x, y (default frac, noise) in\n"
            "                  each panel: a coarse lattice first, then in rounds only the points\n"
            "                  between trained neighbours whose phases differ; the cells never\n"
            "                  trained take the phase their trained neighbours agree on (phase.csv\n"
            "                  column inferred). --resume continues the rounds. Not with --shard\n"
            "                  or MPI.\n"
            "  --x, --y KNOB   the refinement's axes (with --refine)\n"
            "  --refine-seeds K  with --seeds S (2 <= S < K): train S seeds of every point,\n"
            "                  and seeds S..K-1 only of the points whose S seeds leave the\n"
            "                  majority phase uncertain (seeds disagree and its 95%% Wilson\n"
            "                  interval reaches below 1/2); with or without --refine\n"
            "  --complete      a refined sweep: train the points its rounds left out as well,\n"
            "                  into the full grid (no run is trained twice)\n"
            "  --quiet         no progress\n");
}

typedef struct grid_ctx {
    gl_grid g;
    int n_knobs;
} grid_ctx;

static int add_axis(void *ctx, const char *name, const char *value, gl_error *err) {
    grid_ctx *gc = ctx;
    int rc = gl_grid_add(&gc->g, !strcmp(name, "seeds") ? "replicate" : name, value, err);
    if (rc == 0) gc->n_knobs++;
    return rc;
}

int cmd_sweep(int argc, char **argv) {
    gl_config base;
    gl_config_default(&base);
    base.checkpoint_every = 0;
    grid_ctx gc = {.n_knobs = 0};
    gl_grid_init(&gc.g, &base);
    const char *out = NULL, *resume = NULL, *shard = NULL;
    int threads = 0, keep = 0, extend = 0, quiet = 0, shard_i = 0, shard_n = 1;
    cli_refine rf = {.x = NULL, .y = NULL};
    const cli_opt opts[] = {
        OPT_S("--out", &out), OPT_S("--resume", &resume), OPT_N("--threads", OPT_INT, &threads, 0, 4096),
        OPT_S("--shard", &shard), OPT_F("--keep-weights", &keep), OPT_F("--extend", &extend),
        OPT_F("--quiet", &quiet), OPT_F("--refine", &rf.on), OPT_F("--complete", &rf.complete),
        OPT_S("--x", &rf.x), OPT_S("--y", &rf.y),
        OPT_N("--refine-seeds", OPT_INT, &rf.seeds, 2, 100000), OPT_END,
    };
    cli_args a = {.cmd = "sweep", .opts = opts, .knob = add_axis, .ctx = &gc, .help = sweep_help,
                  .usage = "groklab sweep --out DIR [--KNOB SPEC ...] [--seeds K] [--threads T] [--shard I/N] "
                           "[--keep-weights] [--extend] [--refine [--x KNOB] [--y KNOB]] [--refine-seeds K] [--complete]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc < 0 && shard) {
        char *end;
        long si = strtol(shard, &end, 10), sn = *end == '/' ? strtol(end + 1, &end, 10) : -1;
        if (*end || sn < 1 || si < 0 || si >= sn || sn > 100000) {
            cli_error("--shard: '%s' is not I/N with 0 <= I < N", shard);
            rc = EXIT_USAGE;
        }
        shard_i = (int)si, shard_n = (int)sn;
    }
    if (rc < 0 && resume && (out || gc.n_knobs)) {
        cli_error("--resume DIR continues the sweep stored in DIR; give no grid and no --out with it");
        rc = EXIT_USAGE;
    }
    if (rc < 0 && !resume && !out) {
        cli_error("sweep: --out DIR is required (or --resume DIR)");
        rc = EXIT_USAGE;
    }
    if (rc < 0 && (rf.x || rf.y) && !rf.on) {
        cli_error("--x and --y name the axes of --refine; give --refine with them");
        rc = EXIT_USAGE;
    }
    if (rc < 0 && rf.on && resume) {
        cli_error("--resume DIR continues a refined sweep as refined; --refine only starts one (with --out)");
        rc = EXIT_USAGE;
    }
    if (rc < 0 && rf.seeds && resume) {
        cli_error("--resume DIR continues a sweep in the mode it was started in; --refine-seeds only starts one "
                  "(with --out)");
        rc = EXIT_USAGE;
    }
    if (rc < 0 && (rf.on || rf.seeds) && shard_n > 1) {
        cli_error("--refine cannot be sharded (rounds are planned from the whole grid); run it in one process "
                  "with --threads T");
        rc = EXIT_USAGE;
    }
    if (!rf.x) rf.x = "frac";
    if (!rf.y) rf.y = "noise";
    gl_error err;
    if (rc < 0 && !resume && gl_grid_validate(&gc.g, &err) != 0) rc = cli_fail(&err);
    if (rc < 0)
        rc = cli_sweep(resume ? resume : out, resume ? NULL : &gc.g, extend, threads, keep, shard_i, shard_n, quiet, &rf);
    gl_grid_free(&gc.g);
    return rc;
}
