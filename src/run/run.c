/* groklab: the run directory.
 *
 *   config.json        every knob, seeds, version
 *   data.safetensors   the dataset as integer tensors
 *   init.safetensors   initial weights; model.safetensors final weights
 *   checkpoint.safetensors  weights, optimizer moments, BN running stats, step
 *   metrics.csv        one row per logging step
 *   summary.json       final metrics, phase, milestones, timings
 *
 * Weights use the paper's shapes: U, V (N, p), W (p, N). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "groklab/array.h"
#include "run/run_impl.h"
#include "groklab/version.h"

void gl_run_join(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

int gl_run_has(const char *dir, const char *name) {
    char path[5000];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

int gl_run_open(const char *ref, gl_config *c, gl_error *err) {
    char dir[4096];
    long at;
    gl_run_ref_split(ref, dir, sizeof dir, &at);
    struct stat st;
    if (stat(dir, &st) != 0) return gl_fail(err, "%s: no such run directory (%s)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return gl_fail(err, "%s is not a directory (expected a run directory written by groklab train)", dir);
    char path[4200];
    gl_run_join(path, sizeof path, dir, "config.json");
    if (stat(path, &st) != 0)
        return gl_fail(err, "%s is not a groklab run directory (no config.json; runs come from groklab train or groklab analytic)", dir);
    gl_config_default(c);
    int rc = gl_run_read_config(path, c, err);
    if (rc != 0) return rc;
    gl_error e;
    if (gl_config_validate(c, &e) != 0) return gl_failc(err, e.code, "%s: %s", path, e.msg);
    return 0;
}

int gl_run_prepare(const char *dir, int force, gl_error *err) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return gl_fail(err, "--out: %s exists and is not a directory", dir);
        DIR *d = opendir(dir);
        int empty = 1;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
        if (d) closedir(d);
        if (!empty && !force)
            return gl_fail(err, "--out: run directory %s already exists (use --force to overwrite it, or --resume to continue it)", dir);
    }
    if (gl_mkdirs(dir, err) != 0) return -1;
    /* probe writability now, so no run starts that cannot save */
    char probe[4096];
    gl_run_join(probe, sizeof probe, dir, ".groklab-probe");
    FILE *f = fopen(probe, "w");
    if (!f) return gl_fail(err, "--out: cannot write into %s: %s", dir, strerror(errno));
    fclose(f);
    remove(probe);
    return 0;
}

int gl_run_write_config(const char *dir, const gl_config *c, gl_error *err) {
    char path[4096];
    gl_run_join(path, sizeof path, dir, "config.json");
    char *s = gl_config_to_json(c);
    if (!s) return gl_fail_nomem(err, "");
    int rc = gl_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

int gl_run_read_config(const char *path, gl_config *c, gl_error *err) {
    char *s;
    if (gl_read_file(path, &s, NULL, err) != 0) return -1;
    gl_error e;
    int rc = gl_config_from_json(c, s, &e);
    free(s);
    if (rc != 0) return gl_failc(err, e.code, "%s: %s", path, e.msg);
    return 0;
}

int gl_run_write_data(const char *dir, const gl_dataset *d, gl_error *err) {
    char path[4096];
    gl_run_join(path, sizeof path, dir, "data.safetensors");
    uint8_t *mask = malloc((size_t)d->n_train + 1);
    if (!mask) return gl_fail_nomem(err, "");
    for (int32_t i = 0; i < d->n_train; i++) mask[i] = i < d->n_corrupt;
    gl_st_writer *w = gl_st_writer_new();
    int64_t ntr = d->n_train, nte = d->n_test;
    int rc = !w ? gl_fail_nomem(err, "") : 0;
    if (!rc) rc = gl_st_add(w, "train_m", GL_ST_I32, 1, &ntr, d->train_m, err);
    if (!rc) rc = gl_st_add(w, "train_n", GL_ST_I32, 1, &ntr, d->train_n, err);
    if (!rc) rc = gl_st_add(w, "train_label", GL_ST_I32, 1, &ntr, d->train_y, err);
    if (!rc) rc = gl_st_add(w, "train_true_label", GL_ST_I32, 1, &ntr, d->train_true, err);
    if (!rc) rc = gl_st_add(w, "train_corrupted", GL_ST_U8, 1, &ntr, mask, err);
    if (!rc) rc = gl_st_add(w, "test_m", GL_ST_I32, 1, &nte, d->test_m, err);
    if (!rc) rc = gl_st_add(w, "test_n", GL_ST_I32, 1, &nte, d->test_n, err);
    if (!rc) rc = gl_st_add(w, "test_label", GL_ST_I32, 1, &nte, d->test_y, err);
    char pbuf[32];
    snprintf(pbuf, sizeof pbuf, "%d", d->p);
    if (!rc) rc = gl_st_meta(w, "p", pbuf, err);
    if (!rc) rc = gl_st_writer_save(w, path, err);
    gl_st_writer_free(w);
    free(mask);
    return rc;
}

/* The running statistics' tensor shape: (N) for the two-layer MLP, (layers,
 * N) for the deep MLP. */
int gl_run_stats_shape(const gl_net *net, int64_t shape[2]) {
    shape[0] = net->arch == GL_ARCH_MLP ? net->run_width : net->n_run_layers;
    shape[1] = net->run_width;
    return net->arch == GL_ARCH_MLP ? 1 : 2;
}

int gl_run_write_weights(const char *dir, const char *which, gl_trainer *t, gl_error *err) {
    const gl_net *net = gl_trainer_net(t);
    const float *P = strcmp(which, "init") == 0 ? gl_trainer_init_params(t) : gl_trainer_params(t);
    size_t big = 0, nrun = (size_t)net->n_run_layers * (size_t)net->run_width;
    int nt = gl_net_tensor_count(net);
    gl_net_tensor tt;
    for (int i = 0; i < nt; i++) {
        gl_net_tensor_at(net, i, &tt);
        if (tt.transposed) big += (size_t)(tt.shape[0] * tt.shape[1]);
    }
    /* transposed copies of U and V, and the running statistics */
    float *buf = malloc((big + 2 * nrun + 1) * sizeof(float));
    gl_st_writer *w = gl_st_writer_new();
    int rc = !w || !buf ? gl_fail_nomem(err, "") : 0;
    size_t used = 0;
    for (int i = 0; i < nt && !rc; i++) {
        gl_net_tensor_at(net, i, &tt);
        const float *src = P + tt.off;
        if (tt.transposed) { /* the parameter array holds (shape[1], shape[0]) */
            gl_transpose(buf + used, src, (int)tt.shape[1], (int)tt.shape[0]);
            src = buf + used;
            used += (size_t)(tt.shape[0] * tt.shape[1]);
        }
        rc = gl_st_add(w, tt.name, GL_ST_F32, tt.ndim, tt.shape, src, err);
    }
    /* running statistics: the initial ones are 0 and 1, as in PyTorch */
    if (!rc && nrun > 0) {
        float *rm = buf + used, *rv = rm + nrun;
        for (size_t k = 0; k < nrun; k++) rm[k] = 0.0f, rv[k] = 1.0f;
        if (strcmp(which, "init") != 0) {
            memcpy(rm, gl_trainer_running(t, 0), nrun * sizeof(float));
            memcpy(rv, gl_trainer_running(t, 1), nrun * sizeof(float));
        }
        int64_t shape[2];
        int nd = gl_run_stats_shape(net, shape);
        rc = gl_st_add(w, "norm.running_mean", GL_ST_F32, nd, shape, rm, err);
        if (!rc) rc = gl_st_add(w, "norm.running_var", GL_ST_F32, nd, shape, rv, err);
    }
    char sbuf[64], path[4096];
    snprintf(sbuf, sizeof sbuf, "%ld", strcmp(which, "init") == 0 ? 0L : gl_trainer_step_count(t));
    if (!rc) rc = gl_st_meta(w, "step", sbuf, err);
    if (!rc) rc = gl_st_meta(w, "model", gl_arch_name(net->arch), err);
    if (!rc) rc = gl_st_meta(w, "groklab_version", GL_VERSION, err);
    snprintf(sbuf, sizeof sbuf, "%s.safetensors", which);
    gl_run_join(path, sizeof path, dir, sbuf);
    if (!rc) rc = gl_st_writer_save(w, path, err);
    gl_st_writer_free(w);
    free(buf);
    return rc;
}

int gl_run_write_metrics(const char *dir, gl_trainer *t, gl_error *err) {
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    size_t cap = 256 + (size_t)n * GL_METRICS_NCOLS * 26, len = 0;
    char *buf = malloc(cap);
    if (!buf) return gl_fail_nomem(err, "");
    for (int c = 0; c < GL_METRICS_NCOLS; c++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", c ? "," : "", gl_metrics_columns[c]);
    buf[len++] = '\n';
    for (long i = 0; i < n; i++) {
        double v[GL_METRICS_NCOLS];
        gl_metrics_to_array(&rows[i], v);
        for (int c = 0; c < GL_METRICS_NCOLS; c++)
            len += (size_t)snprintf(buf + len, cap - len, c == 0 ? "%.0f" : ",%.9g", v[c]);
        buf[len++] = '\n';
    }
    char path[4096];
    gl_run_join(path, sizeof path, dir, "metrics.csv");
    int rc = gl_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

/* metrics.csv back into rows (*rows, *n), its columns found by name (a
 * file written before a column existed reads it as NaN); every row or an
 * error, never a history cut short. */
int gl_run_read_metrics(const char *dir, gl_metrics **rows, long *n, gl_error *err) {
    char path[4096], *s;
    gl_run_join(path, sizeof path, dir, "metrics.csv");
    int rc = gl_read_file(path, &s, NULL, err);
    if (rc != 0) return rc;
    int where[64], ncols = 0; /* file column -> gl_metrics column, -1 unknown */
    char *line = strchr(s, '\n');
    for (char *h = s; h && ncols < 64 && (!line || h < line);) {
        size_t len = strcspn(h, ",\n");
        where[ncols] = -1;
        for (int c = 0; c < GL_METRICS_NCOLS; c++)
            if (strlen(gl_metrics_columns[c]) == len && strncmp(h, gl_metrics_columns[c], len) == 0) where[ncols] = c;
        ncols++;
        h = h[len] == ',' ? h + len + 1 : NULL;
    }
    if (ncols == 0 || where[0] != 0) rc = gl_failc(err, GL_E_CORRUPT, "%s: the header does not start with step", path);
    long cap = 64, k = 0;
    gl_metrics *r = malloc((size_t)cap * sizeof *r);
    if (!rc && !r) rc = gl_fail_nomem(err, "reading the metrics history");
    while (rc == 0 && line && line[1]) {
        line++;
        double v[GL_METRICS_NCOLS];
        for (int c = 0; c < GL_METRICS_NCOLS; c++) v[c] = NAN;
        char *p = line;
        for (int c = 0; c < ncols && rc == 0; c++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p) rc = gl_failc(err, GL_E_CORRUPT, "%s: malformed row %ld", path, k + 1);
            if (where[c] >= 0) v[where[c]] = x;
            p = end + (*end == ',');
        }
        if (rc == 0 && k == cap) {
            gl_metrics *nr = realloc(r, (size_t)(2 * cap) * sizeof *r);
            if (!nr) rc = gl_fail_nomem(err, "reading the metrics history");
            else r = nr, cap *= 2;
        }
        if (rc == 0) gl_metrics_from_array(&r[k++], v);
        line = strchr(line, '\n');
    }
    free(s);
    if (rc != 0) {
        free(r);
        return rc;
    }
    *rows = r;
    *n = k;
    return 0;
}

/* The examples' story in a checkpoint (gl_trainer_story 0, 1, 2). */
static const char *const story_names[3] = {"story_first_given", "story_last_given", "story_unlearned"};

int gl_run_write_checkpoint(const char *dir, gl_trainer *t, gl_error *err) {
    const gl_net *net = gl_trainer_net(t);
    int64_t np_ = (int64_t)net->n_params, n1 = (int64_t)net->n_run_layers * net->run_width;
    gl_st_writer *w = gl_st_writer_new();
    int rc = !w ? gl_fail_nomem(err, "") : 0;
    if (!rc) rc = gl_st_add(w, "params", GL_ST_F32, 1, &np_, gl_trainer_params(t), err);
    if (!rc) rc = gl_st_add(w, "moment1", GL_ST_F32, 1, &np_, gl_trainer_moment(t, 0), err);
    if (!rc) rc = gl_st_add(w, "moment2", GL_ST_F32, 1, &np_, gl_trainer_moment(t, 1), err);
    if (!rc && gl_trainer_running(t, 0)) {
        rc = gl_st_add(w, "running_mean", GL_ST_F32, 1, &n1, gl_trainer_running(t, 0), err);
        if (!rc) rc = gl_st_add(w, "running_var", GL_ST_F32, 1, &n1, gl_trainer_running(t, 1), err);
    }
    int64_t fshape[2];
    const float *filter = gl_trainer_filter(t, fshape);
    if (!rc && filter) rc = gl_st_add(w, "grokfast_filter", GL_ST_F32, 2, fshape, filter, err);
    const int64_t *story[3] = {gl_trainer_story(t, 0), gl_trainer_story(t, 1), gl_trainer_story(t, 2)};
    int64_t ntr = gl_trainer_data(t)->n_train;
    for (int k = 0; k < 3 && !rc && story[0]; k++)
        rc = gl_st_add(w, story_names[k], GL_ST_I64, 1, &ntr, story[k], err);
    char buf[64], path[4096];
    snprintf(buf, sizeof buf, "%ld", gl_trainer_step_count(t));
    if (!rc) rc = gl_st_meta(w, "step", buf, err);
    snprintf(buf, sizeof buf, "%ld", gl_trainer_diverged_at(t));
    if (!rc) rc = gl_st_meta(w, "diverged_at", buf, err);
    snprintf(buf, sizeof buf, "%.6f", gl_trainer_seconds(t));
    if (!rc) rc = gl_st_meta(w, "wall_seconds", buf, err);
    gl_run_join(path, sizeof path, dir, "checkpoint.safetensors");
    if (!rc) rc = gl_st_writer_save(w, path, err);
    gl_st_writer_free(w);
    return rc;
}

static int load_f32(gl_st_file *f, const char *name, float *dst, int64_t n, gl_error *err) {
    gl_st_tensor t;
    if (gl_st_get(f, name, GL_ST_F32, n, &t, err) != 0) return -1;
    memcpy(dst, t.data, (size_t)n * sizeof(float));
    return 0;
}

int gl_run_resume(const char *dir, gl_trainer *t, gl_error *err) {
    char path[4096];
    gl_run_join(path, sizeof path, dir, "checkpoint.safetensors");
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_failc(err, e.code, "--resume: %s", e.msg);
    const gl_net *net = gl_trainer_net(t);
    int64_t np_ = (int64_t)net->n_params, nrun = (int64_t)net->n_run_layers * net->run_width;
    int rc = load_f32(f, "params", gl_trainer_params(t), np_, &e);
    if (!rc) rc = load_f32(f, "moment1", gl_trainer_moment(t, 0), np_, &e);
    if (!rc) rc = load_f32(f, "moment2", gl_trainer_moment(t, 1), np_, &e);
    if (!rc && gl_trainer_running(t, 0)) {
        rc = load_f32(f, "running_mean", gl_trainer_running(t, 0), nrun, &e);
        if (!rc) rc = load_f32(f, "running_var", gl_trainer_running(t, 1), nrun, &e);
    }
    int64_t fshape[2];
    float *filter = gl_trainer_filter(t, fshape);
    if (!rc && filter) rc = load_f32(f, "grokfast_filter", filter, fshape[0] * fshape[1], &e);
    gl_st_tensor story[3];
    int has_story = 0;
    for (int k = 0; !rc && k < 3; k++)
        has_story += gl_st_get(f, story_names[k], GL_ST_I64, gl_trainer_data(t)->n_train, &story[k], &(gl_error){0}) == 0;
    if (has_story == 3) /* a checkpoint written before groklab kept stories has none: they restart */
        gl_trainer_restore_story(t, story[0].data, story[1].data, story[2].data);
    const char *st = gl_st_meta_get(f, "step"), *dv = gl_st_meta_get(f, "diverged_at");
    const char *ws = gl_st_meta_get(f, "wall_seconds");
    long step = st ? atol(st) : -1, diverged = dv ? atol(dv) : -1;
    double seconds = ws ? atof(ws) : 0.0;
    gl_st_close(f);
    if (rc) return gl_failc(err, e.code, "--resume: %s: %s", path, e.msg);
    if (step < 0) return gl_failc(err, GL_E_CORRUPT, "--resume: %s has no step", path);
    if (diverged >= 0) return gl_fail(err, "--resume: the run diverged at step %ld; nothing to resume", diverged);
    if (step > gl_trainer_config(t)->steps)
        return gl_fail(err, "--resume: the checkpoint is at step %ld, beyond --steps %ld", step,
                       gl_trainer_config(t)->steps);
    gl_metrics *rows = NULL;
    long n = 0;
    if (gl_run_read_metrics(dir, &rows, &n, err) != 0) return -1;
    rc = gl_trainer_restore(t, step, rows, n, seconds, err);
    free(rows);
    return rc;
}

int gl_run_write_summary(const char *dir, gl_trainer *t, gl_error *err) {
    const gl_config *c = gl_trainer_config(t);
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    gl_milestones ms;
    const gl_metrics *lr;
    gl_phase ph = gl_phase_of_run(rows, n, c->noise, gl_trainer_diverged_at(t) >= 0, &ms, &lr);
    cJSON *o = cJSON_CreateObject();
    gl_metrics last;
    memset(&last, 0, sizeof last);
    if (lr) last = *lr;
    cJSON_AddStringToObject(o, "phase", gl_phase_name(ph));
#define NUM(k, v) (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k))
    NUM("train_acc", last.train_acc);
    NUM("test_acc", last.test_acc);
    NUM("corrupted_acc", last.corrupted_acc);
    NUM("corrupted_true_acc", last.corrupted_true_acc);
    NUM("clean_acc", last.clean_acc);
    NUM("train_loss", last.train_loss);
    NUM("test_loss", last.test_loss);
    NUM("mean_ipr", last.mean_ipr);
    NUM("norm_u", last.norm_u);
    NUM("norm_v", last.norm_v);
    NUM("norm_w", last.norm_w);
    cJSON_AddNumberToObject(o, "steps", (double)gl_trainer_step_count(t));
    long dv = gl_trainer_diverged_at(t);
    if (dv >= 0) cJSON_AddNumberToObject(o, "diverged_at", (double)dv);
    else cJSON_AddNullToObject(o, "diverged_at");
    cJSON *m = cJSON_AddObjectToObject(o, "milestones");
#define STEP(obj, k, v) ((v) >= 0 ? cJSON_AddNumberToObject(obj, k, (double)(v)) : cJSON_AddNullToObject(obj, k))
    STEP(m, "train_acc_90", ms.train90);
    STEP(m, "test_acc_90", ms.test90);
    STEP(m, "unlearned", ms.unlearn);
    cJSON_AddNumberToObject(o, "wall_seconds", gl_trainer_seconds(t));
    cJSON_AddStringToObject(o, "task", c->task);
    cJSON_AddNumberToObject(o, "p", c->p);
    cJSON_AddNumberToObject(o, "frac", c->frac);
    cJSON_AddNumberToObject(o, "noise", c->noise);
    cJSON_AddNumberToObject(o, "n_train", gl_trainer_data(t)->n_train);
    cJSON_AddNumberToObject(o, "n_test", gl_trainer_data(t)->n_test);
    cJSON_AddNumberToObject(o, "n_corrupted", gl_trainer_data(t)->n_corrupt);
    cJSON_AddStringToObject(o, "groklab_version", GL_VERSION);
#undef NUM
#undef STEP
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return gl_fail_nomem(err, "");
    char path[4096];
    gl_run_join(path, sizeof path, dir, "summary.json");
    int rc = gl_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

int gl_run_save_all(const char *dir, gl_trainer *t, gl_error *err) {
    if (gl_run_write_metrics(dir, t, err) != 0) return -1;
    if (gl_run_write_examples(dir, t, err) != 0) return -1;
    if (gl_run_write_checkpoint(dir, t, err) != 0) return -1;
    if (gl_run_write_weights(dir, "model", t, err) != 0) return -1;
    return gl_run_write_summary(dir, t, err);
}

