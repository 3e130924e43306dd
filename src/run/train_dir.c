/* groklab: training a run into its directory, checkpoints on the way. */
#include <stdlib.h>

#include "run/run_impl.h"

/* The run's config (always), and for a new run its data and initial
 * weights; then training in stretches of checkpoint_every steps, each
 * followed by metrics.csv and a checkpoint; at the end every file. An
 * interruption (gl_stop_request) writes the checkpoint of the step it
 * stopped after and returns GL_E_INTERRUPTED, so --resume continues it. */
int gl_run_train(const char *dir, gl_trainer *t, int resumed, int threads, gl_error *err) {
    const gl_config *c = gl_trainer_config(t);
    int rc = gl_run_write_config(dir, c, err);
    if (rc == 0 && !resumed) rc = gl_run_write_data(dir, gl_trainer_data(t), err);
    if (rc == 0 && !resumed) rc = gl_run_write_weights(dir, "init", t, err);
    if (rc != 0) return rc;
    gl_run_dyn *dy;
    if ((rc = gl_run_dyn_begin(&dy, dir, t, resumed, err)) != 0) return rc;
    while (rc == 0 && gl_trainer_step_count(t) < c->steps && gl_trainer_diverged_at(t) < 0) {
        long s = gl_trainer_step_count(t), until = c->steps;
        if (c->checkpoint_every > 0) {
            long next = (s / c->checkpoint_every + 1) * c->checkpoint_every;
            if (next < until) until = next;
        }
        rc = gl_trainer_advance(t, until, threads, err);
        if ((rc == 0 && until < c->steps && gl_trainer_diverged_at(t) < 0) || rc == GL_E_INTERRUPTED) {
            gl_error e;
            int wc = gl_run_write_metrics(dir, t, &e);
            if (wc == 0) wc = gl_run_write_examples(dir, t, &e);
            if (wc == 0) wc = gl_run_dyn_write(dy, &e);
            if (wc == 0) wc = gl_run_write_checkpoint(dir, t, &e);
            if (wc != 0) {
                if (err) *err = e;
                rc = wc;
            }
        }
    }
    if (rc == 0 && gl_trainer_step_count(t) == 0 && gl_trainer_diverged_at(t) < 0)
        rc = gl_trainer_advance(t, 0, threads, err); /* steps = 0: log the initial state */
    if (rc == 0) rc = gl_run_dyn_write(dy, err);
    gl_run_dyn_end(dy, t);
    if (rc == GL_E_INTERRUPTED)
        return gl_failc(err, GL_E_INTERRUPTED, "interrupted at step %ld of %ld: checkpoint and metrics written in %s",
                        gl_trainer_step_count(t), c->steps, dir);
    return rc ? rc : gl_run_save_all(dir, t, err);
}

int gl_run_train_population(const char *const *dirs, gl_trainer **t, int M, int threads, gl_error *err) {
    gl_run_dyn **dy = calloc((size_t)M + 1, sizeof *dy);
    if (!dy) return gl_fail_nomem(err, "");
    int rc = 0;
    for (int i = 0; i < M && rc == 0; i++) {
        rc = gl_run_write_config(dirs[i], gl_trainer_config(t[i]), err);
        if (rc == 0) rc = gl_run_write_data(dirs[i], gl_trainer_data(t[i]), err);
        if (rc == 0) rc = gl_run_write_weights(dirs[i], "init", t[i], err);
        if (rc == 0) rc = gl_run_dyn_begin(&dy[i], dirs[i], t[i], 0, err);
    }
    if (rc == 0) rc = gl_population_advance(t, M, threads, err);
    /* done: every file; interrupted: every member's checkpoint, as gl_run_train writes it */
    for (int i = 0; i < M && (rc == 0 || rc == GL_E_INTERRUPTED); i++) {
        gl_error e;
        int wr = rc == 0 ? gl_run_save_all(dirs[i], t[i], &e) : gl_run_write_metrics(dirs[i], t[i], &e);
        if (wr == 0 && rc != 0) wr = gl_run_write_examples(dirs[i], t[i], &e);
        if (wr == 0 && rc != 0) wr = gl_run_write_checkpoint(dirs[i], t[i], &e);
        if (wr == 0) wr = gl_run_dyn_write(dy[i], &e);
        if (wr != 0) {
            if (err) *err = e;
            rc = wr;
        }
    }
    for (int i = 0; i < M; i++) gl_run_dyn_end(dy[i], t[i]);
    free(dy);
    return rc;
}
