/* groklab train: one run, from flags, a config file, or a checkpoint. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void train_help(FILE *f) {
    fprintf(f,
            "usage: groklab train [options]\n"
            "       groklab train --config RUN/config.json [options]   (start from a saved config)\n"
            "       groklab train --resume RUN [--steps S]              (continue a run)\n\n"
            "With no options it trains the paper's default setting into a new directory\n"
            "under runs/. Options (flags use '-', config.json uses '_'):\n\n"
            "  --out DIR            run directory (default runs/train-<date>-<time>)\n"
            "  --force              overwrite an existing run directory\n"
            "  --quiet              no progress line\n"
            "  --config FILE        read knobs from a config.json; flags override it\n"
            "  --resume DIR         continue the run in DIR from its checkpoint\n\n"
            "With --data FILE the dataset is read from FILE (a run's data.safetensors or\n"
            "one written by other code, docs/byo.md) instead of being generated: frac and\n"
            "noise are then the file's. A resumed run reads its own RUN/data.safetensors.\n\n"
            "SIGINT or SIGTERM (Ctrl-C, a scheduler's time limit) stops a run after its\n"
            "current step with a checkpoint written; --resume continues it bit for bit.\n\n");
    gl_config_print_help(f);
}

/* The knobs of the command line, applied after --config or --resume. */
enum { MAX_KNOBS = 128 };
typedef struct knobs {
    char name[MAX_KNOBS][64]; /* copies: the parser's name lives only for the call */
    const char *value[MAX_KNOBS];
    int n;
} knobs;

static int add_knob(void *ctx, const char *name, const char *value, gl_error *err) {
    knobs *k = ctx;
    if (!gl_config_has(name)) return gl_fail(err, "unknown option '--%s' (see groklab train --help)", name);
    if (k->n == MAX_KNOBS) return gl_fail(err, "at most %d knobs", MAX_KNOBS);
    snprintf(k->name[k->n], sizeof k->name[0], "%s", name);
    k->value[k->n++] = value;
    return 0;
}

/* runs/train-<date>-<time>, made unique */
static void default_dir(char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    snprintf(buf, cap, "runs/train-%s", stamp);
    struct stat st;
    for (int k = 2; stat(buf, &st) == 0; k++) snprintf(buf, cap, "runs/train-%s-%d", stamp, k);
}

int cmd_train(int argc, char **argv) {
    const char *out = NULL, *config_path = NULL, *resume = NULL, *stray = NULL;
    int force = 0, quiet = 0;
    knobs k = {.n = 0};
    const cli_opt opts[] = {
        OPT_S("--out", &out), OPT_S("--config", &config_path), OPT_S("--resume", &resume),
        OPT_F("--force", &force), OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "train", .usage = "groklab train [--KNOB VALUE ...] [--out DIR]", .opts = opts,
                  .pos = &stray, .max_pos = 1, .knob = add_knob, .ctx = &k, .help = train_help};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (stray) {
        cli_error("unexpected argument '%s' (options start with --; see groklab train --help)", stray);
        return EXIT_USAGE;
    }
    if (resume && config_path) {
        cli_error("--resume and --config cannot be combined (a resumed run keeps its config)");
        return EXIT_USAGE;
    }
    if (resume && out && strcmp(resume, out) != 0) {
        cli_error("--resume continues the run in place; --out cannot name another directory");
        return EXIT_USAGE;
    }
    gl_config c;
    gl_config_default(&c);
    gl_error err;
    char path[4096];
    if (resume) {
        snprintf(path, sizeof path, "%s/config.json", resume);
        if (access(path, F_OK) != 0) {
            cli_error("--resume: %s is not a run directory (no config.json)", resume);
            return EXIT_USAGE;
        }
        if (gl_run_read_config(path, &c, &err) != 0) {
            cli_error("--resume: %s", err.msg);
            return cli_exit_code(&err);
        }
    } else if (config_path && gl_run_read_config(config_path, &c, &err) != 0) {
        cli_error("--config: %s", err.msg);
        return cli_exit_code(&err);
    }
    for (int i = 0; i < k.n; i++) {
        if (!resume && gl_config_set(&c, k.name[i], k.value[i], &err) != 0) return cli_fail(&err);
        if (resume && gl_config_set_on_resume(&c, k.name[i], k.value[i], &err) != 0) {
            if (!strstr(err.msg, "cannot change when resuming")) return cli_fail(&err);
            const char *rest = strchr(err.msg, ' '); /* after the field's name: the flag as given */
            cli_error("--%s%s; start a new run with --config %s/config.json instead", k.name[i], rest ? rest : "",
                      resume);
            return EXIT_USAGE;
        }
    }
    if (c.data[0]) {
        for (int i = 0; i < k.n; i++)
            if (!strcmp(k.name[i], "frac") || !strcmp(k.name[i], "noise")) {
                cli_error("--%s cannot be combined with --data (the file's training set fixes frac and noise)",
                          k.name[i]);
                return EXIT_USAGE;
            }
        /* a resumed run reads its own copy, which stays when the file it came from moves */
        if (resume && (size_t)snprintf(c.data, sizeof c.data, "%s/data.safetensors", resume) >= sizeof c.data) {
            cli_error("--resume: the path %s/data.safetensors is too long (at most %zu characters)", resume,
                      sizeof c.data - 1);
            return EXIT_USAGE;
        }
        /* config.json, summary.json and phases then carry the file's frac and noise */
        if (gl_config_adopt_data(&c, &err) != 0) return cli_fail(&err);
    }
    if (gl_config_validate(&c, &err) != 0) return cli_fail(&err);
    /* create the trainer (backend and memory checks) before touching the disk */
    gl_trainer *t;
    if (gl_trainer_create(&t, &c, &err) != 0) return cli_fail(&err);
    char dirbuf[4096];
    const char *dir = resume ? resume : out;
    if (!dir) {
        default_dir(dirbuf, sizeof dirbuf);
        dir = dirbuf;
    }
    rc = resume ? gl_run_resume(dir, t, &err) : gl_run_prepare(dir, force, &err);
    if (rc == 0) rc = cli_train_run(dir, t, resume != NULL, c.threads, quiet, &err);
    if (rc != 0) {
        gl_trainer_free(t);
        return cli_fail(&err);
    }
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    const gl_metrics *last = &rows[n - 1];
    gl_phase ph = gl_phase_of_run(rows, n, c.noise, 0, NULL, NULL);
    if (gl_trainer_diverged_at(t) >= 0)
        printf("%s: diverged at step %ld (non-finite loss)\n", dir, gl_trainer_diverged_at(t));
    else
        printf("%s: step %ld  train %.4f  test %.4f  corrupted %.4f  phase %s  (%.1fs)\n", dir, last->step,
               last->train_acc, last->test_acc, last->corrupted_acc, gl_phase_name(ph), gl_trainer_seconds(t));
    gl_trainer_free(t);
    return EXIT_OK;
}
