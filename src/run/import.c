/* groklab: a run directory from outside files (groklab/io.h, docs/byo.md).
 *
 * A network trained by other code, saved in groklab's tensor names and
 * shapes, and the dataset it was trained on become a run directory like one
 * groklab train writes, so that phase, ipr, spectrum, prune and plot work on
 * it. The network is evaluated by the library's own evaluation: a trainer is
 * made from the config, the weights are copied into it, and the trainer
 * evaluates them (the CPU backend, the same code that logs a training run's
 * rows). Every input is read and checked before the directory is touched. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "run/run_impl.h"

/* The files an import writes, removed again when writing fails half way. */
static const char *const written[] = {"config.json", "data.safetensors", "init.safetensors",
                                      "model.safetensors", "metrics.csv", "summary.json"};

/* A weights file at path for config c into m, through gl_run_load_model
 * (which reads DIR/WHICH.safetensors): the shape of every tensor checked. */
static int load_weights(const char *flag, const char *path, const gl_config *c, gl_model *m, gl_error *err) {
    static const char ext[] = ".safetensors";
    size_t len = strlen(path), el = sizeof ext - 1;
    if (len <= el || strcmp(path + len - el, ext) != 0)
        return gl_fail(err, "%s: '%s' is not a .safetensors file (allowed: a file name ending in %s)", flag, path, ext);
    char dir[4096], which[4096];
    const char *slash = strrchr(path, '/');
    if (len >= sizeof dir) return gl_fail(err, "%s: the path '%s' is too long", flag, path);
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path); /* "" for /file: the join adds the '/' */
        snprintf(which, sizeof which, "%.*s", (int)(path + len - el - slash - 1), slash + 1);
    } else {
        snprintf(dir, sizeof dir, ".");
        snprintf(which, sizeof which, "%.*s", (int)(len - el), path);
    }
    gl_error e;
    if (gl_run_load_model(dir, which, c, m, &e) != 0) return gl_failc(err, e.code, "%s: %s", flag, e.msg);
    return 0;
}

/* The imported weights into trainer t: final parameters and running
 * statistics, and the initial parameters when there are some (m0 NULL: none). */
static int copy_weights(gl_trainer *t, const gl_model *m, const gl_model *m0, gl_error *err) {
    const gl_net *net = gl_trainer_net(t);
    if (net->n_params != m->net.n_params || (m0 && net->n_params != m0->net.n_params))
        return gl_failc(err, GL_E_INTERNAL, "the imported weights (%zu parameters) do not fit the trainer (%zu)",
                        m->net.n_params, net->n_params);
    memcpy(gl_trainer_params(t), m->params, net->n_params * sizeof(float));
    size_t nrun = (size_t)net->n_run_layers * (size_t)net->run_width;
    if (nrun > 0) {
        memcpy(gl_trainer_running(t, 0), m->run_mean, nrun * sizeof(float));
        memcpy(gl_trainer_running(t, 1), m->run_var, nrun * sizeof(float));
    }
    /* The trainer owns its initial copy (allocated writable by the trainer);
     * it is read only when init.safetensors is written below. */
    if (m0) memcpy((float *)gl_trainer_init_params(t), m0->params, net->n_params * sizeof(float));
    return 0;
}

/* The run's files from trainer t (config c as given, with the file's frac
 * and noise), after every input has been checked. */
static int write_run(const char *dir, const gl_config *c, gl_trainer *t, int has_init, int force, gl_error *err) {
    struct stat st;
    int existed = stat(dir, &st) == 0;
    int rc = gl_run_prepare(dir, force, err);
    if (rc != 0) return rc;
    char path[4096];
    /* files of an earlier run in dir (--force) that would be read as this one's */
    gl_run_join(path, sizeof path, dir, "checkpoint.safetensors");
    remove(path);
    if (!has_init) {
        gl_run_join(path, sizeof path, dir, "init.safetensors");
        remove(path);
    }
    rc = gl_run_write_config(dir, c, err);
    if (!rc) rc = gl_run_write_data(dir, gl_trainer_data(t), err);
    if (!rc && has_init) rc = gl_run_write_weights(dir, "init", t, err);
    if (!rc) rc = gl_run_write_weights(dir, "model", t, err);
    if (!rc) rc = gl_run_write_metrics(dir, t, err);
    if (!rc) rc = gl_run_write_summary(dir, t, err);
    if (rc != 0) { /* no half-written run */
        for (size_t i = 0; i < sizeof written / sizeof written[0]; i++) {
            gl_run_join(path, sizeof path, dir, written[i]);
            remove(path);
        }
        if (!existed) remove(dir);
    }
    return rc;
}

int gl_run_import(const char *dir, const gl_config *cfg, const char *model_path, const char *init_path, long step,
                  int force, gl_error *err) {
    if (!dir || !*dir) return gl_fail(err, "import: no run directory given");
    if (!model_path || !*model_path)
        return gl_fail(err, "--model: no weights file given (a safetensors file in groklab's tensor names, docs/byo.md)");
    if (init_path && !*init_path) init_path = NULL;
    if (step < 0) return gl_fail(err, "--step: %ld is negative (allowed: 0 or more)", step);
    if (!cfg->data[0])
        return gl_fail(err, "--data: no dataset file given (allowed: a safetensors file in the layout of a run's "
                            "data.safetensors, docs/byo.md)");
    gl_config c = *cfg;
    /* the file's frac and noise first: validation checks --batch against its training set */
    int rc = gl_config_adopt_data(&c, err);
    if (!rc) rc = gl_config_validate(&c, err);
    gl_model m, m0;
    memset(&m, 0, sizeof m);
    memset(&m0, 0, sizeof m0);
    if (!rc) rc = load_weights("--model", model_path, &c, &m, err);
    if (!rc && init_path) rc = load_weights("--init", init_path, &c, &m0, err);
    /* evaluated on the CPU whatever device c names: results do not depend on it */
    gl_config ev = c;
    snprintf(ev.device, sizeof ev.device, "cpu");
    gl_trainer *t = NULL;
    if (!rc) rc = gl_trainer_create(&t, &ev, err);
    if (!rc) rc = copy_weights(t, &m, init_path ? &m0 : NULL, err);
    gl_metrics row;
    if (!rc) rc = gl_trainer_evaluate(t, &row, c.threads, err);
    if (!rc) {
        row.step = step;
        rc = gl_trainer_restore(t, step, &row, 1, 0.0, err);
    }
    if (!rc) rc = write_run(dir, &c, t, init_path != NULL, force, err);
    gl_trainer_free(t);
    gl_model_free(&m);
    gl_model_free(&m0);
    return rc;
}
