/* groklab import: a run directory from a network and dataset made by other
 * code (gl_run_import), so that phase, ipr, spectrum, prune and plot work
 * on it (docs/byo.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void import_help(FILE *f) {
    fprintf(f,
            "usage: groklab import OUT --model M.safetensors --data D.safetensors [--config C.json]\n"
            "                      [--init I.safetensors] [--step S] [--force] [--KNOB VALUE ...]\n\n"
            "Writes the run directory OUT from outside files: config.json, data.safetensors,\n"
            "model.safetensors (and init.safetensors), and the network's evaluation on the\n"
            "data by groklab's own code as a one-row metrics.csv and summary.json. Then\n"
            "groklab phase, ipr, spectrum, prune and plot work on OUT as on a trained run.\n\n"
            "  --model FILE   the final weights: safetensors in groklab's tensor names and\n"
            "                 shapes for the config's family (docs/byo.md)\n"
            "  --init FILE    the initial weights, the same way (optional)\n"
            "  --data FILE    the dataset, in the layout of a run's data.safetensors; the run\n"
            "                 takes its frac and noise (docs/byo.md)\n"
            "  --config FILE  knobs from a JSON file (any subset; the rest keep their\n"
            "                 defaults); knob flags as for groklab train override it. The model\n"
            "                 family is the config's \"model\" key (--model names the weights)\n"
            "  --step S       the step the weights stand for (default 0)\n"
            "  --force        overwrite an existing run directory\n\n"
            "Every input is checked before OUT is touched: a tensor of the wrong shape, a\n"
            "label that is not the task's, a pair in both sets, ... exit with status 2 and\n"
            "one line naming the file, the tensor and the allowed values.\n");
}

/* Knob flags: checked on the first pass of the command line, applied over
 * the config file on the second. */
typedef struct knob_pass {
    gl_config *c; /* NULL: check the names only */
} knob_pass;

static int on_knob(void *ctx, const char *name, const char *value, gl_error *err) {
    const knob_pass *k = ctx;
    if (!gl_config_has(name)) return gl_fail(err, "unknown option '--%s' (see groklab import --help)", name);
    if (!strcmp(name, "frac") || !strcmp(name, "noise"))
        return gl_fail(err, "--%s cannot be given to import (the --data file's training set fixes frac and noise)",
                       name);
    return k->c ? gl_config_set(k->c, name, value, err) : 0;
}

int cmd_import(int argc, char **argv) {
    const char *out = NULL, *model = NULL, *init = NULL, *config_path = NULL;
    long step = 0;
    int force = 0;
    knob_pass k = {NULL};
    const cli_opt opts[] = {
        OPT_S("--model", &model), OPT_S("--init", &init), OPT_S("--config", &config_path),
        OPT_N("--step", OPT_LONG, &step, 0, 9e18), OPT_F("--force", &force), OPT_END,
    };
    cli_args a = {.cmd = "import",
                  .usage = "groklab import OUT --model M.safetensors --data D.safetensors [--config C.json]",
                  .opts = opts, .pos = &out, .max_pos = 1, .knob = on_knob, .ctx = &k, .help = import_help};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!out || !model) {
        cli_error("import: %s is missing (usage: %s)", !out ? "the run directory OUT" : "--model FILE", a.usage);
        return EXIT_USAGE;
    }
    gl_config c;
    gl_config_default(&c);
    gl_error err;
    if (config_path && gl_run_read_config(config_path, &c, &err) != 0) {
        cli_error("--config: %s", err.msg);
        return cli_exit_code(&err);
    }
    /* the second pass applies the knob flags over the file: they may come before --config */
    k.c = &c;
    if ((rc = cli_parse(argc, argv, &a)) >= 0) return rc;
    if (gl_run_import(out, &c, model, init, step, force, &err) != 0) return cli_fail(&err);
    printf("%s: imported %s (%s, p %d) with its data at step %ld: wrote config.json, data.safetensors, "
           "model.safetensors%s, metrics.csv, summary.json\n",
           out, model, gl_arch_name(c.arch), c.p, step, init ? ", init.safetensors" : "");
    return EXIT_OK;
}
