/* groklab: what a run directory keeps of the dynamics while it trains:
 *
 *   snapshots/step_SSSSSSSSS.safetensors  the weights (and BatchNorm
 *                 state) at the --snapshots steps and at the first step of
 *                 each milestone, as model.safetensors holds the last
 *   progress.csv  with --progress-measures on: the full, restricted and
 *                 excluded logits' loss and accuracy on every subset
 *   examples.csv  every training example's story (gl_trainer_story)
 *
 * The trainer's log hook (gl_trainer_set_log_hook) writes snapshots as the
 * steps come and collects progress rows; gl_run_train writes the tables
 * with each checkpoint. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/text.h"
#include "run/run_impl.h"

enum { KEY_THRESHOLD_PERCENT = 10 }; /* a frequency is key at 10% of the strongest one's power */

struct gl_run_dyn {
    char dir[4096];
    gl_progress_plan *plan;
    gl_text rows; /* progress.csv's rows so far, header excluded */
    long last_row; /* the step of the last row in rows (-1: none) */
};

void gl_run_snapshot_name(char *out, size_t cap, long step) {
    snprintf(out, cap, "snapshots/step_%09ld", step);
}

/* Whether s is the first step of a milestone of the rows logged so far. */
static int milestone_now(gl_trainer *t, long s) {
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    gl_milestones ms;
    gl_milestones_compute(&ms, rows, n);
    return s == ms.train90 || s == ms.test90 || s == ms.unlearn;
}

void gl_progress_row_text(gl_text *b, const gl_progress *pm, const int *keys) {
    gl_text_printf(b, "%ld,", pm->step);
    for (int i = 0; i < pm->n_key; i++) gl_text_printf(b, "%s%d", i ? " " : "", keys[i]);
    gl_text_csv(b, pm->key_share);
    for (int l = 0; l < GL_PM_NLOGITS; l++)
        for (int s = 0; s < GL_PM_NSETS; s++) gl_text_csv(b, pm->loss[l][s]), gl_text_csv(b, pm->acc[l][s]);
    gl_text_printf(b, "\n");
}

void gl_progress_header_text(gl_text *b) {
    gl_text_printf(b, "step,key_frequencies,key_share");
    for (int i = 0; i < 2 * GL_PM_NLOGITS * GL_PM_NSETS; i++) gl_text_printf(b, ",%s", gl_progress_columns[i]);
    gl_text_printf(b, "\n");
}

int gl_run_progress_plan(gl_progress_plan **pp, const gl_config *c, const gl_dataset *d, double threshold,
                         gl_error *err) {
    return gl_progress_plan_create(pp, c->task, c->p, gl_config_basis(c), d, c->loss, threshold, err);
}

static int dyn_hook(void *ctx, gl_trainer *t, gl_error *err) {
    gl_run_dyn *dy = ctx;
    const gl_config *c = gl_trainer_config(t);
    long s = gl_trainer_step_count(t);
    if (gl_trainer_diverged_at(t) >= 0) return 0; /* the weights of a failed step are not kept */
    if (c->snapshots > 0 && (gl_snapshot_due(c, s) || milestone_now(t, s))) {
        char name[64];
        gl_run_snapshot_name(name, sizeof name, s);
        if (gl_run_write_weights(dy->dir, name, t, err) != 0) return -1;
    }
    if (dy->plan && s > dy->last_row) {
        gl_progress pm;
        if (gl_progress_compute(dy->plan, gl_trainer_logits, t, &pm, err) != 0) return -1;
        pm.step = s;
        int nk;
        const int *keys = gl_progress_plan_keys(dy->plan, &nk);
        gl_progress_row_text(&dy->rows, &pm, keys);
        if (dy->rows.failed) return gl_fail_nomem(err, "for progress.csv");
        dy->last_row = s;
    }
    return 0;
}

/* The rows of an earlier progress.csv up to step `until`, on resume. */
static int read_progress(gl_run_dyn *dy, long until, gl_error *err) {
    char path[4200], *s;
    gl_run_join(path, sizeof path, dy->dir, "progress.csv");
    FILE *f = fopen(path, "r");
    if (!f) return 0; /* none yet */
    fclose(f);
    if (gl_read_file(path, &s, NULL, err) != 0) return -1;
    char *line = strchr(s, '\n');
    while (line && line[1]) {
        char *start = line + 1, *end = strchr(start, '\n');
        long step = strtol(start, NULL, 10);
        if (step > until) break;
        gl_text_printf(&dy->rows, "%.*s\n", (int)(end ? end - start : (long)strlen(start)), start);
        dy->last_row = step;
        line = end;
    }
    free(s);
    return dy->rows.failed ? gl_fail_nomem(err, "reading progress.csv") : 0;
}

int gl_run_dyn_begin(gl_run_dyn **out, const char *dir, gl_trainer *t, int resumed, gl_error *err) {
    *out = NULL;
    const gl_config *c = gl_trainer_config(t);
    if (c->snapshots <= 0 && !c->progress_measures) return 0;
    gl_run_dyn *dy = calloc(1, sizeof *dy);
    if (!dy) return gl_fail_nomem(err, "");
    snprintf(dy->dir, sizeof dy->dir, "%s", dir);
    dy->last_row = -1;
    char sub[4200];
    gl_run_join(sub, sizeof sub, dir, "snapshots");
    int rc = c->snapshots > 0 ? gl_mkdirs(sub, err) : 0;
    if (rc == 0 && c->progress_measures)
        rc = gl_run_progress_plan(&dy->plan, c, gl_trainer_data(t), KEY_THRESHOLD_PERCENT / 100.0, err);
    if (rc == 0 && resumed && c->progress_measures) rc = read_progress(dy, gl_trainer_step_count(t), err);
    if (rc != 0) {
        gl_run_dyn_end(dy, t);
        return rc;
    }
    gl_trainer_set_log_hook(t, dyn_hook, dy);
    *out = dy;
    return 0;
}

int gl_run_dyn_write(gl_run_dyn *dy, gl_error *err) {
    if (!dy || !dy->plan) return 0;
    gl_text b = {0};
    gl_progress_header_text(&b);
    if (dy->rows.data) gl_text_printf(&b, "%s", dy->rows.data);
    int rc = gl_text_save(&b, dy->dir, "progress.csv", err);
    gl_text_free(&b);
    return rc;
}

void gl_run_dyn_end(gl_run_dyn *dy, gl_trainer *t) {
    if (!dy) return;
    if (t) gl_trainer_set_log_hook(t, NULL, NULL);
    gl_progress_plan_free(dy->plan);
    gl_text_free(&dy->rows);
    free(dy);
}

int gl_run_write_examples(const char *dir, gl_trainer *t, gl_error *err) {
    const int64_t *first = gl_trainer_story(t, 0), *last = gl_trainer_story(t, 1), *unl = gl_trainer_story(t, 2);
    if (!first) return 0; /* the backend recorded no predictions */
    const gl_dataset *d = gl_trainer_data(t);
    gl_text b = {0};
    gl_text_printf(&b, "index,m,n,label,true_label,corrupted,first_given,last_given,unlearned\n");
    for (int32_t i = 0; i < d->n_train; i++)
        gl_text_printf(&b, "%d,%d,%d,%d,%d,%d,%lld,%lld,%lld\n", i, d->train_m[i], d->train_n[i], d->train_y[i],
                       d->train_true[i], i < d->n_corrupt, (long long)first[i], (long long)last[i],
                       (long long)unl[i]);
    int rc = gl_text_save(&b, dir, "examples.csv", err);
    gl_text_free(&b);
    return rc;
}

/* ---- RUN@STEP ---- */

int gl_run_ref_split(const char *ref, char *dir, size_t cap, long *step) {
    const char *at = strrchr(ref, '@');
    *step = -1;
    int digits = at && at[1];
    for (const char *p = at ? at + 1 : ""; *p; p++) digits = digits && *p >= '0' && *p <= '9';
    size_t n = digits ? (size_t)(at - ref) : strlen(ref);
    snprintf(dir, cap, "%.*s", (int)n, ref);
    if (digits) *step = atol(at + 1);
    return digits;
}

int gl_run_snapshot_steps(const char *dir, long **steps, long *n, gl_error *err) {
    *steps = NULL;
    *n = 0;
    char sub[4200];
    gl_run_join(sub, sizeof sub, dir, "snapshots");
    DIR *d = opendir(sub);
    if (!d) return 0;
    long cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        long s;
        char tail[32];
        if (sscanf(e->d_name, "step_%ld%31s", &s, tail) != 2 || strcmp(tail, ".safetensors") != 0) continue;
        if (*n == cap) {
            long *ns = realloc(*steps, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *ns);
            if (!ns) {
                rc = gl_fail_nomem(err, "listing snapshots");
                break;
            }
            *steps = ns;
        }
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    /* in step order (directory order is arbitrary) */
    for (long i = 1; rc == 0 && i < *n; i++)
        for (long j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            long x = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = x;
        }
    if (rc != 0) free(*steps), *steps = NULL, *n = 0;
    return rc;
}

int gl_run_ref_weights(const char *ref, char *dir, size_t cap, char *which, size_t wcap, long *step,
                       gl_error *err) {
    long want;
    if (!gl_run_ref_split(ref, dir, cap, &want)) {
        snprintf(which, wcap, "model");
        *step = -1;
        return 0;
    }
    long *steps, n;
    if (gl_run_snapshot_steps(dir, &steps, &n, err) != 0) return -1;
    if (n == 0)
        return gl_fail(err, "%s: %s has no snapshots (train it with --snapshots K to keep weights over time)", ref, dir);
    long best = steps[0];
    for (long i = 1; i < n; i++)
        if (labs(steps[i] - want) < labs(best - want)) best = steps[i];
    free(steps);
    gl_run_snapshot_name(which, wcap, best);
    *step = best;
    return 0;
}

int gl_run_out_dir(const char *ref, char *out, size_t cap, gl_error *err) {
    char dir[4096], which[64];
    long step;
    if (gl_run_ref_weights(ref, dir, sizeof dir, which, sizeof which, &step, err) != 0) return -1;
    if (step < 0) {
        snprintf(out, cap, "%s", dir);
        return 0;
    }
    snprintf(out, cap, "%s/at_%ld", dir, step);
    return gl_mkdirs(out, err);
}
