/* groklab: reading a run directory back: its weights in the internal
 * layout and its dataset, every shape checked against config.json
 * (groklab/io.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/array.h"
#include "run/run_impl.h"

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
    if (gl_st_get(f, name, GL_ST_F32, -1, t, &e) != 0) return gl_failc(err, e.code, "%s: %s", path, e.msg);
    int ok = t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1);
    if (!ok) {
        char got[96] = "(", want[64];
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strcat(got, ")");
        if (ndim == 1) snprintf(want, sizeof want, "(%lld)", (long long)d0);
        else snprintf(want, sizeof want, "(%lld, %lld)", (long long)d0, (long long)d1);
        return gl_failc(err, GL_E_CORRUPT, "%s: tensor '%s' has shape %s, but the run's config.json implies %s", path,
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
    gl_run_join(path, sizeof path, dir, name);
    if (gl_net_init(&m->net, c, err) != 0) return -1;
    m->L = m->net.mlp;
    const gl_net *net = &m->net;
    size_t nrun = (size_t)net->n_run_layers * (size_t)net->run_width;
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_failc(err, e.code, "%s", e.msg);
    m->params = calloc(net->n_params, sizeof(float));
    if (nrun > 0) {
        m->run_mean = malloc(nrun * sizeof(float));
        m->run_var = malloc(nrun * sizeof(float));
    }
    int rc = 0;
    if (!m->params || (nrun > 0 && (!m->run_mean || !m->run_var)))
        rc = gl_failc(err, GL_E_NOMEM, "out of memory loading %s", path);
    gl_st_tensor t;
    gl_net_tensor tt;
    for (int i = 0; !rc && i < gl_net_tensor_count(net); i++) {
        gl_net_tensor_at(net, i, &tt);
        rc = get_shaped(f, path, tt.name, tt.ndim, tt.shape[0], tt.shape[1], &t, err);
        if (rc) break;
        if (tt.transposed) /* files hold U, V as (N, p); the layout keeps them (p, N) */
            gl_transpose(m->params + tt.off, t.data, (int)tt.shape[0], (int)tt.shape[1]);
        else
            memcpy(m->params + tt.off, t.data, (size_t)(tt.shape[0] * tt.shape[1]) * sizeof(float));
    }
    if (!rc && nrun > 0) {
        int64_t shape[2];
        int nd = gl_run_stats_shape(net, shape);
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

int gl_run_load_weights(const char *ref, const gl_config *c, gl_model *m, gl_model *m0, int *has_init,
                        gl_error *err) {
    memset(m, 0, sizeof *m);
    if (m0) memset(m0, 0, sizeof *m0), *has_init = 0;
    char dir[4096], which[64];
    long at;
    if (gl_run_ref_weights(ref, dir, sizeof dir, which, sizeof which, &at, err) != 0) return -1;
    if (at < 0 && !gl_run_has(dir, "model.safetensors"))
        return gl_fail(err, "%s has no weights (model.safetensors is missing: did the run finish? groklab train --resume %s)",
                       dir, dir);
    int rc = gl_run_load_model(dir, which, c, m, err);
    if (rc == 0 && m0 && gl_run_has(dir, "init.safetensors")) {
        if ((rc = gl_run_load_model(dir, "init", c, m0, err)) != 0) gl_model_free(m);
        else *has_init = 1;
    }
    return rc;
}

int gl_run_load_data(const char *ref, const gl_config *c, gl_dataset *d, gl_error *err) {
    memset(d, 0, sizeof *d);
    char dir[4096], path[4200];
    long at;
    gl_run_ref_split(ref, dir, sizeof dir, &at);
    gl_run_join(path, sizeof path, dir, "data.safetensors");
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0) return gl_failc(err, e.code, "%s", e.msg);
    static const char *const names[7] = {"train_m", "train_n", "train_label", "train_true_label",
                                         "test_m",  "test_n",  "test_label"};
    int32_t **dst[7] = {&d->train_m, &d->train_n, &d->train_y, &d->train_true,
                        &d->test_m,  &d->test_n,  &d->test_y};
    int rc = 0;
    gl_st_tensor t;
    for (int i = 0; i < 7 && !rc; i++) {
        if (gl_st_get(f, names[i], GL_ST_I32, -1, &t, &e) != 0) {
            rc = gl_failc(err, e.code, "%s: %s", path, e.msg);
            break;
        }
        int64_t n = t.ndim == 1 ? t.shape[0] : -1;
        if (i == 0) d->n_train = (int32_t)n;
        if (i == 4) d->n_test = (int32_t)n;
        int64_t want = i < 4 ? d->n_train : d->n_test;
        if (n < 0 || n != want || n > INT32_MAX) {
            rc = gl_failc(err, GL_E_CORRUPT, "%s: tensor '%s' should be 1-d with %lld entries", path, names[i],
                         (long long)(want < 0 ? 0 : want));
            break;
        }
        *dst[i] = malloc((size_t)(n + 1) * sizeof(int32_t));
        if (!*dst[i]) {
            rc = gl_fail_nomem(err, "");
            break;
        }
        memcpy(*dst[i], t.data, (size_t)n * sizeof(int32_t));
        for (int64_t k = 0; k < n && !rc; k++)
            if ((*dst[i])[k] < 0 || (*dst[i])[k] >= c->p)
                rc = gl_failc(err, GL_E_CORRUPT, "%s: %s[%lld] = %d is outside [0, %d) (p in config.json is %d)",
                             path, names[i], (long long)k, (*dst[i])[k], c->p, c->p);
    }
    if (!rc && gl_st_get(f, "train_corrupted", GL_ST_U8, d->n_train, &t, &e) != 0)
        rc = gl_failc(err, e.code, "%s: %s", path, e.msg);
    if (!rc) {
        const uint8_t *mask = t.data;
        int32_t k = 0;
        while (k < d->n_train && mask[k]) k++;
        d->n_corrupt = k;
        for (; k < d->n_train && !rc; k++)
            if (mask[k])
                rc = gl_failc(err, GL_E_CORRUPT, "%s: corrupted examples must come first (example %d is corrupted after clean ones)",
                             path, k);
    }
    d->p = c->p;
    gl_st_close(f);
    if (rc) gl_dataset_free(d);
    return rc;
}
