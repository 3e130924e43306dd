/* groklab: a dataset read from a file (groklab/data.h), in the layout of a
 * run's data.safetensors, so that splits and labels made by other code can
 * be trained and analysed. Every tensor and every example is checked
 * against the config's task and p before anything is kept: a file that
 * passes describes a dataset gl_dataset_create could have made, up to the
 * order of its examples and the choice of its corrupted labels. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_impl.h"
#include "groklab/files.h"

#define LAYOUT                                                                                          \
    "a dataset file holds 1-d int32 tensors train_m, train_n, train_label, train_true_label, test_m, " \
    "test_n, test_label and optionally uint8 train_corrupted"

/* The int32 tensors in the order of the gl_dataset arrays they fill. */
enum { TRAIN_M, TRAIN_N, TRAIN_Y, TRAIN_TRUE, TEST_M, TEST_N, TEST_Y, NCOLS };
static const char *const col_name[NCOLS] = {"train_m", "train_n", "train_label", "train_true_label",
                                            "test_m",  "test_n",  "test_label"};

static const char *dtype_name(gl_st_dtype dt) {
    static const char *const names[] = {"F32", "F64", "I32", "I64", "U8"};
    return (unsigned)dt < sizeof names / sizeof names[0] ? names[dt] : "?";
}

/* Tensor `name` of f, 1-d of dtype dt, with `want` entries when want >= 0
 * (the length of tensor `like`), at most `most` (the task's pairs). */
static int get_1d(gl_st_file *f, const char *path, const char *name, gl_st_dtype dt, int64_t want,
                  const char *like, long most, const gl_config *c, gl_st_tensor *t, gl_error *err) {
    if (gl_st_get(f, name, (gl_st_dtype)-1, -1, t, NULL) != 0)
        return gl_fail(err, "%s: tensor '%s' is missing (%s)", path, name, LAYOUT);
    if (t->dtype != dt)
        return gl_fail(err, "%s: tensor '%s' has dtype %s (allowed: %s)", path, name, dtype_name(t->dtype),
                       dtype_name(dt));
    if (t->ndim != 1) {
        char s[96] = "(";
        for (int i = 0; i < t->ndim; i++)
            snprintf(s + strlen(s), sizeof s - strlen(s), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strcat(s, ")");
        return gl_fail(err, "%s: tensor '%s' has shape %s (allowed: 1-d, one entry per example)", path, name, s);
    }
    if (want >= 0 && t->shape[0] != want)
        return gl_fail(err, "%s: tensor '%s' has %lld entries, but '%s' has %lld (allowed: the same length)", path,
                       name, (long long)t->shape[0], like, (long long)want);
    if (t->shape[0] > most)
        return gl_fail(err, "%s: tensor '%s' has %lld entries, more than the %ld pairs of task %s at p = %d", path,
                       name, (long long)t->shape[0], most, c->task, c->p);
    return 0;
}

/* Checks one set's examples (train: s = 0, test: s = 1) and records its
 * pairs in seen (p*p: train example k as k + 1, test example k as -(k + 1)). */
static int check_set(const char *path, const gl_config *c, int s, const int32_t *const col[NCOLS], const uint8_t *mask,
                     int64_t n, int32_t *seen, gl_error *err) {
    int p = c->p;
    const char *set = s ? "test" : "train";
    const int32_t *M = col[s ? TEST_M : TRAIN_M], *Nn = col[s ? TEST_N : TRAIN_N], *Y = col[s ? TEST_Y : TRAIN_Y];
    const int32_t *T = s ? NULL : col[TRAIN_TRUE];
    for (int64_t k = 0; k < n; k++) {
        long long kk = (long long)k;
        int32_t m = M[k], q = Nn[k];
        if (m < 0 || m >= p)
            return gl_fail(err, "%s: %s_m[%lld] = %d is outside [0, %d) (operands are residues mod p = %d)", path, set,
                           kk, m, p, p);
        if (q < 0 || q >= p)
            return gl_fail(err, "%s: %s_n[%lld] = %d is outside [0, %d) (operands are residues mod p = %d)", path, set,
                           kk, q, p, p);
        int y = gl_task_label(c->task, p, m, q);
        if (y < 0)
            return gl_fail(err, "%s: %s_n[%lld] = %d: (m, n) = (%d, %d) is not a pair of task %s (allowed: n in [1, %d))",
                           path, set, kk, q, m, q, c->task, p);
        if (Y[k] < 0 || Y[k] >= p)
            return gl_fail(err, "%s: %s[%lld] = %d is outside [0, %d) (labels are residues mod p = %d)", path,
                           col_name[s ? TEST_Y : TRAIN_Y], kk, Y[k], p, p);
        const int32_t *truth = s ? Y : T;
        if (truth[k] != y)
            return gl_fail(err, "%s: %s[%lld] = %d, but task %s gives %d for (m, n) = (%d, %d) (the first example that differs)",
                           path, col_name[s ? TEST_Y : TRAIN_TRUE], kk, truth[k], c->task, y, m, q);
        if (mask && mask[k] > 1)
            return gl_fail(err, "%s: train_corrupted[%lld] = %d (allowed: 0 or 1)", path, kk, mask[k]);
        if (mask && !mask[k] && Y[k] != T[k])
            return gl_fail(err, "%s: train example %lld is marked clean (train_corrupted 0) but its train_label %d is not "
                                "its train_true_label %d (allowed: mark it 1, or leave train_corrupted out to mark "
                                "examples by their labels)",
                           path, kk, Y[k], T[k]);
        int32_t *at = &seen[(size_t)m * (size_t)p + (size_t)q];
        if (*at > 0 && s == 0)
            return gl_fail(err, "%s: pair (m, n) = (%d, %d) is twice in the training set (train examples %d "
                                "and %lld; allowed: each pair once)",
                           path, m, q, *at - 1, kk);
        if (*at > 0)
            return gl_fail(err, "%s: pair (m, n) = (%d, %d) is in both the training set (train example %d) "
                                "and the test set (test example %lld; allowed: each pair in one set)",
                           path, m, q, *at - 1, kk);
        if (*at < 0)
            return gl_fail(err, "%s: pair (m, n) = (%d, %d) is twice in the test set (test examples %d and "
                                "%lld; allowed: each pair once)",
                           path, m, q, -*at - 1, kk);
        *at = s ? (int32_t)-(k + 1) : (int32_t)(k + 1);
    }
    return 0;
}

int gl_dataset_load(gl_dataset *d, const char *path, const gl_config *c, gl_error *err) {
    memset(d, 0, sizeof *d);
    int p = c->p;
    if (p < 2) return gl_fail(err, "--p: %d is not a modulus (allowed: p >= 2)", p);
    long total = gl_task_pairs(c->task, p);
    if (total <= 0) return gl_fail(err, "--task: '%s' is not a task (allowed: %s)", c->task, gl_task_names());
    gl_st_file *f;
    gl_error e;
    if (gl_st_open(&f, path, &e) != 0)
        return gl_failc(err, e.code == GL_E_NOMEM ? GL_E_NOMEM : GL_E_INPUT, "--data: %s", e.msg);
    int rc = 0;
    const char *mp = gl_st_meta_get(f, "p");
    if (mp) {
        char *end;
        long v = strtol(mp, &end, 10);
        if (end == mp || *end)
            rc = gl_fail(err, "%s: metadata p = '%s' is not an integer (allowed: the modulus, as text)", path, mp);
        else if (v != p)
            rc = gl_fail(err, "%s: the file is for p = %s (metadata p), but the config's p is %d (allowed: the same p; set --p %s)",
                         path, mp, p, mp);
    }
    gl_st_tensor t[NCOLS], tc;
    const int32_t *col[NCOLS];
    for (int i = 0; i < NCOLS && !rc; i++) {
        int like = i < TEST_M ? TRAIN_M : TEST_M;
        rc = get_1d(f, path, col_name[i], GL_ST_I32, i == like ? -1 : t[like].shape[0], col_name[like], total, c,
                    &t[i], err);
        if (!rc) col[i] = t[i].data;
    }
    const uint8_t *mask = NULL;
    int64_t ntr = rc ? 0 : t[TRAIN_M].shape[0], nte = rc ? 0 : t[TEST_M].shape[0];
    if (!rc && gl_st_get(f, "train_corrupted", (gl_st_dtype)-1, -1, &tc, NULL) == 0) {
        rc = get_1d(f, path, "train_corrupted", GL_ST_U8, ntr, "train_m", total, c, &tc, err);
        mask = tc.data;
    }
    if (!rc && ntr < 1)
        rc = gl_fail(err, "%s: the training set is empty (tensor 'train_m' has 0 entries; allowed: at least 1)", path);
    int32_t *seen = rc ? NULL : calloc((size_t)p * (size_t)p, sizeof(int32_t));
    if (!rc && !seen) rc = gl_fail_nomem(err, "checking the dataset's pairs");
    if (!rc) rc = check_set(path, c, 0, col, mask, ntr, seen, err);
    if (!rc) rc = check_set(path, c, 1, col, NULL, nte, seen, err);
    free(seen);
    if (!rc) {
        d->p = p;
        d->n_train = (int32_t)ntr;
        d->n_test = (int32_t)nte;
        rc = gl_dataset_alloc(d, err);
    }
    if (!rc) {
        /* the stable partition: corrupted examples first, each part in file order */
        const int32_t *y = col[TRAIN_Y], *yt = col[TRAIN_TRUE];
        for (int64_t k = 0; k < ntr; k++) d->n_corrupt += mask ? mask[k] : y[k] != yt[k];
        int32_t lo = 0, hi = d->n_corrupt;
        for (int64_t k = 0; k < ntr; k++) {
            int32_t at = (mask ? mask[k] : y[k] != yt[k]) ? lo++ : hi++;
            d->train_m[at] = col[TRAIN_M][k];
            d->train_n[at] = col[TRAIN_N][k];
            d->train_y[at] = y[k];
            d->train_true[at] = yt[k];
        }
        memcpy(d->test_m, col[TEST_M], (size_t)nte * sizeof(int32_t));
        memcpy(d->test_n, col[TEST_N], (size_t)nte * sizeof(int32_t));
        memcpy(d->test_y, col[TEST_Y], (size_t)nte * sizeof(int32_t));
    }
    gl_st_close(f);
    return rc;
}

/* a / b, raised by an ulp where the division rounded down far enough that
 * floor(result * b) would give a - 1 (1.0 / 49 * 49 < 1, for one). */
static double ratio_keeping_floor(long a, long b) {
    double r = (double)a / (double)b;
    while (floor(r * (double)b) < (double)a) r = nextafter(r, 2.0);
    return r;
}

int gl_config_adopt_data(gl_config *c, gl_error *err) {
    if (!c->data[0]) return 0;
    gl_dataset d;
    int rc = gl_dataset_load(&d, c->data, c, err);
    if (rc != 0) return rc;
    c->frac = ratio_keeping_floor(d.n_train, gl_task_pairs(c->task, c->p));
    c->noise = ratio_keeping_floor(d.n_corrupt, d.n_train);
    gl_dataset_free(&d);
    return 0;
}
