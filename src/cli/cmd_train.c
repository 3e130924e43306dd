/* groklab train: one run, from flags, a config file, or a checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "groklab/io.h"

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
            "  --resume DIR         continue the run in DIR from its checkpoint\n");
    gl_config_print_help(f);
}

void cli_progress_init(cli_progress *pg, int quiet, const char *label) {
    pg->enabled = !quiet && isatty(STDERR_FILENO);
    pg->t_start = cli_now();
    pg->step_start = -1;
    pg->label = label;
}

void cli_progress_cb(void *ctx, const gl_trainer *t) {
    cli_progress *pg = ctx;
    if (!pg->enabled) return;
    long step = gl_trainer_step_count(t), total = gl_trainer_config(t)->steps;
    if (pg->step_start < 0) {
        pg->step_start = step;
        pg->t_start = cli_now();
        return;
    }
    double dt = cli_now() - pg->t_start;
    double rate = dt > 0 ? (double)(step - pg->step_start) / dt : 0;
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    double tr = n ? rows[n - 1].train_acc : NAN, te = n ? rows[n - 1].test_acc : NAN;
    fprintf(stderr, "\r%s%sstep %ld/%ld  %.0f steps/s  ETA %.0fs  train %.3f  test %.3f   ",
            pg->label ? pg->label : "", pg->label ? "  " : "", step, total, rate,
            rate > 0 ? (double)(total - step) / rate : 0.0, tr, te);
    fflush(stderr);
}

void cli_progress_done(cli_progress *pg) {
    if (pg->enabled && pg->step_start >= 0) fputc('\n', stderr);
}

int cli_train_run(const char *dir, gl_trainer *t, int resumed, int threads, int quiet,
                  gl_error *err) {
    const gl_config *c = gl_trainer_config(t);
    if (gl_run_write_config(dir, c, err) != 0) return -1;
    if (!resumed) {
        if (gl_run_write_data(dir, gl_trainer_data(t), err) != 0) return -1;
        if (gl_run_write_weights(dir, "init", t, err) != 0) return -1;
    }
    cli_progress pg;
    cli_progress_init(&pg, quiet, NULL);
    gl_trainer_set_progress(t, cli_progress_cb, &pg);
    while (gl_trainer_step_count(t) < c->steps && gl_trainer_diverged_at(t) < 0) {
        long s = gl_trainer_step_count(t), until = c->steps;
        if (c->checkpoint_every > 0) {
            long next = (s / c->checkpoint_every + 1) * c->checkpoint_every;
            if (next < until) until = next;
        }
        if (gl_trainer_advance(t, until, threads, err) != 0) return -1;
        if (until < c->steps && gl_trainer_diverged_at(t) < 0) {
            if (gl_run_write_metrics(dir, t, err) != 0) return -1;
            if (gl_run_write_checkpoint(dir, t, err) != 0) return -1;
        }
    }
    if (gl_trainer_step_count(t) == 0 && gl_trainer_diverged_at(t) < 0 &&
        gl_trainer_advance(t, 0, threads, err) != 0) /* steps = 0: log the initial state */
        return -1;
    cli_progress_done(&pg);
    return gl_run_save_all(dir, t, err);
}

/* A flag's value: "--name=value" or "--name value". */
static const char *flag_value(int argc, char **argv, int *i, const char *arg, char *name,
                              size_t cap) {
    const char *eq = strchr(arg, '=');
    if (eq) {
        size_t n = (size_t)(eq - arg);
        if (n >= cap) n = cap - 1;
        memcpy(name, arg, n);
        name[n] = 0;
        return eq + 1;
    }
    snprintf(name, cap, "%s", arg);
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

int cmd_train(int argc, char **argv) {
    const char *out = NULL, *config_path = NULL, *resume = NULL;
    int force = 0, quiet = 0;
    /* pass 1: the options that say where the config comes from */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_help(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strncmp(a, "--", 2)) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(a + 2, "="), a + 2);
            if (strcmp(name, "out") && strcmp(name, "config") && strcmp(name, "resume") &&
                !gl_config_has(name)) {
                cli_error("unknown option '--%s' (see groklab train --help)", name);
                return EXIT_USAGE;
            }
            const char *v = flag_value(argc, argv, &i, a + 2, name, sizeof name);
            if (!v) {
                cli_error("%s: missing value", a);
                return EXIT_USAGE;
            }
            if (!strcmp(name, "out")) out = v;
            else if (!strcmp(name, "config")) config_path = v;
            else if (!strcmp(name, "resume")) resume = v;
        } else {
            cli_error("unexpected argument '%s' (options start with --; see groklab train --help)", a);
            return EXIT_USAGE;
        }
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
            return EXIT_USAGE;
        }
    } else if (config_path && gl_run_read_config(config_path, &c, &err) != 0) {
        cli_error("--config: %s", err.msg);
        return EXIT_USAGE;
    }
    /* pass 2: knobs */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--force") || !strcmp(a, "--quiet")) continue;
        char name[64];
        const char *v = flag_value(argc, argv, &i, a + 2, name, sizeof name);
        if (!strcmp(name, "out") || !strcmp(name, "config") || !strcmp(name, "resume")) continue;
        if (resume && !gl_config_resume_safe(name)) {
            cli_error("--%s cannot change when resuming (it would change the run); start a new run "
                      "with --config %s/config.json instead", name, resume);
            return EXIT_USAGE;
        }
        int rc = gl_config_set(&c, name, v, &err);
        if (rc != 0) {
            cli_error("%s", err.msg);
            return EXIT_USAGE;
        }
    }
    if (gl_config_validate(&c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    /* create the trainer (memory check) before touching the disk */
    gl_trainer *t;
    if (gl_trainer_create(&t, &c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    char dirbuf[4096];
    const char *dir = resume ? resume : out;
    if (!dir) {
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        char stamp[64];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
        snprintf(dirbuf, sizeof dirbuf, "runs/train-%s", stamp);
        struct stat st;
        for (int k = 2; stat(dirbuf, &st) == 0; k++)
            snprintf(dirbuf, sizeof dirbuf, "runs/train-%s-%d", stamp, k);
        dir = dirbuf;
    }
    if (resume) {
        if (gl_run_resume(dir, t, &err) != 0) {
            cli_error("%s", err.msg);
            gl_trainer_free(t);
            return EXIT_USAGE;
        }
    } else if (gl_run_prepare(dir, force, &err) != 0) {
        cli_error("%s", err.msg);
        gl_trainer_free(t);
        return EXIT_USAGE;
    }
    int rc = cli_train_run(dir, t, resume != NULL, c.threads, quiet, &err);
    if (rc != 0) {
        cli_error("%s", err.msg);
        gl_trainer_free(t);
        return EXIT_FAIL;
    }
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    const gl_metrics *last = &rows[n - 1];
    gl_phase ph = gl_phase_of_run(rows, n, c.noise, 0, NULL, NULL);
    if (gl_trainer_diverged_at(t) >= 0)
        printf("%s: diverged at step %ld (non-finite loss)\n", dir, gl_trainer_diverged_at(t));
    else
        printf("%s: step %ld  train %.4f  test %.4f  corrupted %.4f  phase %s  (%.1fs)\n", dir,
               last->step, last->train_acc, last->test_acc, last->corrupted_acc,
               gl_phase_name(ph),
               gl_trainer_seconds(t));
    gl_trainer_free(t);
    return EXIT_OK;
}
