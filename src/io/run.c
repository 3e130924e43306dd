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

#include "groklab/io.h"
#include "groklab/version.h"

static void join(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
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
    join(probe, sizeof probe, dir, ".groklab-probe");
    FILE *f = fopen(probe, "w");
    if (!f) return gl_fail(err, "--out: cannot write into %s: %s", dir, strerror(errno));
    fclose(f);
    remove(probe);
    return 0;
}

int gl_run_write_config(const char *dir, const gl_config *c, gl_error *err) {
    char path[4096];
    join(path, sizeof path, dir, "config.json");
    char *s = gl_config_to_json(c);
    if (!s) return gl_fail(err, "out of memory");
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
    if (rc != 0) return gl_fail(err, "%s: %s", path, e.msg);
    return 0;
}

int gl_run_write_data(const char *dir, const gl_dataset *d, gl_error *err) {
    char path[4096];
    join(path, sizeof path, dir, "data.safetensors");
    uint8_t *mask = malloc((size_t)d->n_train + 1);
    if (!mask) return gl_fail(err, "out of memory");
    for (int32_t i = 0; i < d->n_train; i++) mask[i] = i < d->n_corrupt;
    gl_st_writer *w = gl_st_writer_new();
    int64_t ntr = d->n_train, nte = d->n_test;
    int rc = !w ? gl_fail(err, "out of memory") : 0;
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

/* U and V are stored transposed inside (p, N); files use the paper's (N, p). */
static void transpose(float *dst, const float *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

/* The running statistics' tensor shape: (N) for the two-layer MLP, (layers,
 * N) for the deep MLP. */
static int run_shape(const gl_net *net, int64_t shape[2]) {
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
    int rc = !w || !buf ? gl_fail(err, "out of memory") : 0;
    size_t used = 0;
    for (int i = 0; i < nt && !rc; i++) {
        gl_net_tensor_at(net, i, &tt);
        const float *src = P + tt.off;
        if (tt.transposed) { /* the parameter array holds (shape[1], shape[0]) */
            transpose(buf + used, src, (int)tt.shape[1], (int)tt.shape[0]);
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
        int nd = run_shape(net, shape);
        rc = gl_st_add(w, "norm.running_mean", GL_ST_F32, nd, shape, rm, err);
        if (!rc) rc = gl_st_add(w, "norm.running_var", GL_ST_F32, nd, shape, rv, err);
    }
    char sbuf[64], path[4096];
    snprintf(sbuf, sizeof sbuf, "%ld", strcmp(which, "init") == 0 ? 0L : gl_trainer_step_count(t));
    if (!rc) rc = gl_st_meta(w, "step", sbuf, err);
    if (!rc) rc = gl_st_meta(w, "model", gl_arch_name(net->arch), err);
    if (!rc) rc = gl_st_meta(w, "groklab_version", GL_VERSION, err);
    snprintf(sbuf, sizeof sbuf, "%s.safetensors", which);
    join(path, sizeof path, dir, sbuf);
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
    if (!buf) return gl_fail(err, "out of memory");
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
    join(path, sizeof path, dir, "metrics.csv");
    int rc = gl_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

static int read_metrics(const char *dir, gl_metrics **rows, long *n, gl_error *err) {
    char path[4096], *s;
    join(path, sizeof path, dir, "metrics.csv");
    if (gl_read_file(path, &s, NULL, err) != 0) return -1;
    long cap = 64, k = 0;
    gl_metrics *r = malloc((size_t)cap * sizeof *r);
    char *line = strchr(s, '\n'); /* skip the header */
    while (r && line && line[1]) {
        line++;
        double v[GL_METRICS_NCOLS];
        char *p = line;
        for (int c = 0; c < GL_METRICS_NCOLS; c++) {
            char *end;
            v[c] = strtod(p, &end);
            if (end == p) {
                free(r);
                free(s);
                return gl_fail(err, "%s: malformed row %ld", path, k + 1);
            }
            p = end + (*end == ',');
        }
        if (k == cap) {
            cap *= 2;
            gl_metrics *nr = realloc(r, (size_t)cap * sizeof *r);
            if (!nr) break;
            r = nr;
        }
        gl_metrics_from_array(&r[k++], v);
        line = strchr(line, '\n');
    }
    free(s);
    if (!r) return gl_fail(err, "out of memory");
    *rows = r;
    *n = k;
    return 0;
}

int gl_run_write_checkpoint(const char *dir, gl_trainer *t, gl_error *err) {
    const gl_net *net = gl_trainer_net(t);
    int64_t np_ = (int64_t)net->n_params, n1 = (int64_t)net->n_run_layers * net->run_width;
    gl_st_writer *w = gl_st_writer_new();
    int rc = !w ? gl_fail(err, "out of memory") : 0;
    if (!rc) rc = gl_st_add(w, "params", GL_ST_F32, 1, &np_, gl_trainer_params(t), err);
    if (!rc) rc = gl_st_add(w, "moment1", GL_ST_F32, 1, &np_, gl_trainer_moment(t, 0), err);
    if (!rc) rc = gl_st_add(w, "moment2", GL_ST_F32, 1, &np_, gl_trainer_moment(t, 1), err);
    if (!rc && gl_trainer_running(t, 0)) {
        rc = gl_st_add(w, "running_mean", GL_ST_F32, 1, &n1, gl_trainer_running(t, 0), err);
        if (!rc) rc = gl_st_add(w, "running_var", GL_ST_F32, 1, &n1, gl_trainer_running(t, 1), err);
    }
    char buf[64], path[4096];
    snprintf(buf, sizeof buf, "%ld", gl_trainer_step_count(t));
    if (!rc) rc = gl_st_meta(w, "step", buf, err);
    snprintf(buf, sizeof buf, "%ld", gl_trainer_diverged_at(t));
    if (!rc) rc = gl_st_meta(w, "diverged_at", buf, err);
    snprintf(buf, sizeof buf, "%.6f", gl_trainer_seconds(t));
    if (!rc) rc = gl_st_meta(w, "wall_seconds", buf, err);
    join(path, sizeof path, dir, "checkpoint.safetensors");
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
    join(path, sizeof path, dir, "checkpoint.safetensors");
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_fail(err, "--resume: %s", e.msg);
    const gl_net *net = gl_trainer_net(t);
    int64_t np_ = (int64_t)net->n_params, nrun = (int64_t)net->n_run_layers * net->run_width;
    int rc = load_f32(f, "params", gl_trainer_params(t), np_, &e);
    if (!rc) rc = load_f32(f, "moment1", gl_trainer_moment(t, 0), np_, &e);
    if (!rc) rc = load_f32(f, "moment2", gl_trainer_moment(t, 1), np_, &e);
    if (!rc && gl_trainer_running(t, 0)) {
        rc = load_f32(f, "running_mean", gl_trainer_running(t, 0), nrun, &e);
        if (!rc) rc = load_f32(f, "running_var", gl_trainer_running(t, 1), nrun, &e);
    }
    const char *st = gl_st_meta_get(f, "step"), *dv = gl_st_meta_get(f, "diverged_at");
    const char *ws = gl_st_meta_get(f, "wall_seconds");
    long step = st ? atol(st) : -1, diverged = dv ? atol(dv) : -1;
    double seconds = ws ? atof(ws) : 0.0;
    gl_st_close(f);
    if (rc) return gl_fail(err, "--resume: %s: %s", path, e.msg);
    if (step < 0) return gl_fail(err, "--resume: %s has no step", path);
    if (diverged >= 0) return gl_fail(err, "--resume: the run diverged at step %ld; nothing to resume", diverged);
    if (step > gl_trainer_config(t)->steps)
        return gl_fail(err, "--resume: the checkpoint is at step %ld, beyond --steps %ld", step,
                       gl_trainer_config(t)->steps);
    gl_metrics *rows = NULL;
    long n = 0;
    if (read_metrics(dir, &rows, &n, err) != 0) return -1;
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
    if (!s) return gl_fail(err, "out of memory");
    char path[4096];
    join(path, sizeof path, dir, "summary.json");
    int rc = gl_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

int gl_run_save_all(const char *dir, gl_trainer *t, gl_error *err) {
    if (gl_run_write_metrics(dir, t, err) != 0) return -1;
    if (gl_run_write_checkpoint(dir, t, err) != 0) return -1;
    if (gl_run_write_weights(dir, "model", t, err) != 0) return -1;
    return gl_run_write_summary(dir, t, err);
}

/* ---- reading a run back (the analysis commands) ---- */

void gl_model_free(gl_model *m) {
    if (!m) return;
    free(m->params);
    free(m->run_mean);
    free(m->run_var);
    memset(m, 0, sizeof *m);
}

/* A weight tensor of exactly the given 1- or 2-d shape. */
static int get_shaped(gl_st_file *f, const char *path, const char *name, int ndim, int64_t d0,
                      int64_t d1, gl_st_tensor *t, gl_error *err) {
    gl_error e;
    if (gl_st_get(f, name, GL_ST_F32, -1, t, &e) != 0) return gl_fail(err, "%s: %s", path, e.msg);
    int ok = t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1);
    if (!ok) {
        char got[96] = "(", want[64];
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strcat(got, ")");
        if (ndim == 1) snprintf(want, sizeof want, "(%lld)", (long long)d0);
        else snprintf(want, sizeof want, "(%lld, %lld)", (long long)d0, (long long)d1);
        return gl_fail(err, "%s: tensor '%s' has shape %s, but the run's config.json implies %s", path,
                       name, got, want);
    }
    return 0;
}

int gl_run_load_model(const char *dir, const char *which, const gl_config *cfg, gl_model *m,
                      gl_error *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    gl_config_resolve(&m->cfg);
    const gl_config *c = &m->cfg;
    char path[4096], name[64];
    snprintf(name, sizeof name, "%s.safetensors", which);
    join(path, sizeof path, dir, name);
    if (gl_net_init(&m->net, c, err) != 0) return -1;
    m->L = m->net.mlp;
    const gl_net *net = &m->net;
    size_t nrun = (size_t)net->n_run_layers * (size_t)net->run_width;
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_fail(err, "%s", e.msg);
    m->params = calloc(net->n_params, sizeof(float));
    if (nrun > 0) {
        m->run_mean = malloc(nrun * sizeof(float));
        m->run_var = malloc(nrun * sizeof(float));
    }
    int rc = 0;
    if (!m->params || (nrun > 0 && (!m->run_mean || !m->run_var)))
        rc = gl_fail(err, "out of memory loading %s", path);
    gl_st_tensor t;
    gl_net_tensor tt;
    for (int i = 0; !rc && i < gl_net_tensor_count(net); i++) {
        gl_net_tensor_at(net, i, &tt);
        rc = get_shaped(f, path, tt.name, tt.ndim, tt.shape[0], tt.shape[1], &t, err);
        if (rc) break;
        if (tt.transposed) /* files hold U, V as (N, p); the layout keeps them (p, N) */
            transpose(m->params + tt.off, t.data, (int)tt.shape[0], (int)tt.shape[1]);
        else
            memcpy(m->params + tt.off, t.data, (size_t)(tt.shape[0] * tt.shape[1]) * sizeof(float));
    }
    if (!rc && nrun > 0) {
        int64_t shape[2];
        int nd = run_shape(net, shape);
        if (!(rc = get_shaped(f, path, "norm.running_mean", nd, shape[0], shape[1], &t, err)))
            memcpy(m->run_mean, t.data, nrun * sizeof(float));
        if (!rc && !(rc = get_shaped(f, path, "norm.running_var", nd, shape[0], shape[1], &t, err)))
            memcpy(m->run_var, t.data, nrun * sizeof(float));
    }
    const char *st = gl_st_meta_get(f, "step");
    m->step = st ? atol(st) : -1;
    gl_st_close(f);
    if (rc) gl_model_free(m);
    return rc;
}

int gl_run_load_data(const char *dir, const gl_config *c, gl_dataset *d, gl_error *err) {
    memset(d, 0, sizeof *d);
    char path[4096];
    join(path, sizeof path, dir, "data.safetensors");
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_fail(err, "%s", e.msg);
    static const char *const names[7] = {"train_m", "train_n", "train_label", "train_true_label",
                                         "test_m",  "test_n",  "test_label"};
    int32_t **dst[7] = {&d->train_m, &d->train_n, &d->train_y, &d->train_true,
                        &d->test_m,  &d->test_n,  &d->test_y};
    int rc = 0;
    gl_st_tensor t;
    for (int i = 0; i < 7 && !rc; i++) {
        if (gl_st_get(f, names[i], GL_ST_I32, -1, &t, &e) != 0) {
            rc = gl_fail(err, "%s: %s", path, e.msg);
            break;
        }
        int64_t n = t.ndim == 1 ? t.shape[0] : -1;
        if (i == 0) d->n_train = (int32_t)n;
        if (i == 4) d->n_test = (int32_t)n;
        int64_t want = i < 4 ? d->n_train : d->n_test;
        if (n < 0 || n != want || n > INT32_MAX) {
            rc = gl_fail(err, "%s: tensor '%s' should be 1-d with %lld entries", path, names[i],
                         (long long)(want < 0 ? 0 : want));
            break;
        }
        *dst[i] = malloc((size_t)(n + 1) * sizeof(int32_t));
        if (!*dst[i]) {
            rc = gl_fail(err, "out of memory");
            break;
        }
        memcpy(*dst[i], t.data, (size_t)n * sizeof(int32_t));
        for (int64_t k = 0; k < n && !rc; k++)
            if ((*dst[i])[k] < 0 || (*dst[i])[k] >= c->p)
                rc = gl_fail(err, "%s: %s[%lld] = %d is outside [0, %d) (p in config.json is %d)",
                             path, names[i], (long long)k, (*dst[i])[k], c->p, c->p);
    }
    if (!rc && gl_st_get(f, "train_corrupted", GL_ST_U8, d->n_train, &t, &e) != 0)
        rc = gl_fail(err, "%s: %s", path, e.msg);
    if (!rc) {
        const uint8_t *mask = t.data;
        int32_t k = 0;
        while (k < d->n_train && mask[k]) k++;
        d->n_corrupt = k;
        for (; k < d->n_train && !rc; k++)
            if (mask[k])
                rc = gl_fail(err, "%s: corrupted examples must come first (example %d is corrupted after clean ones)",
                             path, k);
    }
    d->p = c->p;
    gl_st_close(f);
    if (rc) gl_dataset_free(d);
    return rc;
}
