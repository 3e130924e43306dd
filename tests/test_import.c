/* Dataset files (gl_dataset_load, gl_config_adopt_data, gl_dataset_create
 * with a data file): a hand-made file whose corrupted examples are not at
 * the front is read back in the stable partition written out by hand below,
 * its frac and noise are the file's counts, and every malformed file is
 * refused with the message written here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "groklab/data.h"
#include "groklab/files.h"
#include "groklab/io.h"

enum { MAXN = 16 };

/* A dataset file's contents, and how to spoil one tensor of it. */
typedef struct spec {
    int n_train, n_test;
    int32_t m[MAXN], n[MAXN], y[MAXN], yt[MAXN];
    int32_t tm[MAXN], tn[MAXN], ty[MAXN];
    uint8_t mask[MAXN];
    int has_mask;
    const char *meta_p;  /* metadata p, NULL: none */
    const char *omit;    /* a tensor left out */
    const char *as_i64;  /* a tensor written as int64 */
    const char *as_2d;   /* a tensor written as (2, n/2) */
    const char *shorter; /* a tensor written one entry short */
} spec;

static char dir[64];

/* p = 7, task add. Train examples 2, 5 and 9 are marked corrupted: 2 and 5
 * carry wrong labels, 9 a label that happens to be the true one. */
static spec base(void) {
    spec s = {.n_train = 10, .n_test = 5, .has_mask = 1, .meta_p = "7"};
    static const int32_t m[10] = {0, 1, 2, 3, 4, 5, 6, 1, 2, 3}, n[10] = {1, 1, 3, 3, 0, 6, 6, 4, 2, 5};
    static const int32_t yt[10] = {1, 2, 5, 6, 4, 4, 5, 5, 4, 1}; /* (m + n) mod 7 */
    static const int32_t tm[5] = {0, 6, 4, 5, 2}, tn[5] = {0, 1, 4, 5, 6}, ty[5] = {0, 0, 1, 3, 1};
    memcpy(s.m, m, sizeof m);
    memcpy(s.n, n, sizeof n);
    memcpy(s.yt, yt, sizeof yt);
    memcpy(s.y, yt, sizeof yt);
    s.y[2] = 0;
    s.y[5] = 1;
    s.mask[2] = s.mask[5] = s.mask[9] = 1;
    memcpy(s.tm, tm, sizeof tm);
    memcpy(s.tn, tn, sizeof tn);
    memcpy(s.ty, ty, sizeof ty);
    return s;
}

static void add(gl_st_writer *w, const spec *s, const char *name, const void *data, int count, int u8) {
    if (s->omit && !strcmp(name, s->omit)) return;
    static int64_t wide[8][MAXN];
    static int k = 0;
    int64_t shape[2] = {count, 1};
    int ndim = 1;
    if (s->shorter && !strcmp(name, s->shorter)) shape[0]--;
    if (s->as_2d && !strcmp(name, s->as_2d)) shape[0] = 2, shape[1] = count / 2, ndim = 2;
    gl_st_dtype dt = u8 ? GL_ST_U8 : GL_ST_I32;
    if (s->as_i64 && !strcmp(name, s->as_i64)) {
        int64_t *x = wide[k++ % 8];
        for (int i = 0; i < count; i++) x[i] = u8 ? ((const uint8_t *)data)[i] : ((const int32_t *)data)[i];
        data = x, dt = GL_ST_I64;
    }
    gl_st_add(w, name, dt, ndim, shape, data, NULL);
}

static const char *write_spec(const spec *s) {
    static char path[128];
    snprintf(path, sizeof path, "%s/data.safetensors", dir);
    gl_st_writer *w = gl_st_writer_new();
    add(w, s, "train_m", s->m, s->n_train, 0);
    add(w, s, "train_n", s->n, s->n_train, 0);
    add(w, s, "train_label", s->y, s->n_train, 0);
    add(w, s, "train_true_label", s->yt, s->n_train, 0);
    if (s->has_mask) add(w, s, "train_corrupted", s->mask, s->n_train, 1);
    add(w, s, "test_m", s->tm, s->n_test, 0);
    add(w, s, "test_n", s->tn, s->n_test, 0);
    add(w, s, "test_label", s->ty, s->n_test, 0);
    if (s->meta_p) gl_st_meta(w, "p", s->meta_p, NULL);
    gl_error e;
    if (gl_st_writer_save(w, path, &e) != 0) printf("writing %s: %s\n", path, e.msg);
    gl_st_writer_free(w);
    return path;
}

static gl_config config(const char *task, int p) {
    gl_config c;
    gl_config_default(&c);
    snprintf(c.task, sizeof c.task, "%s", task);
    c.p = p;
    return c;
}

/* The file of s is refused for (task, p) with a message containing want. */
static void refused(const char *what, const spec *s, const char *task, int p, const char *want) {
    gl_config c = config(task, p);
    gl_dataset d;
    gl_error e = {"", 0};
    int rc = gl_dataset_load(&d, write_spec(s), &c, &e);
    CHECK(rc == GL_E_INPUT && strstr(e.msg, want) != NULL, "%s refused (rc %d): %s", what, rc, e.msg);
    if (rc == 0) gl_dataset_free(&d);
}

/* d's training set is examples `order` of s, in that order. */
static int same_train(const gl_dataset *d, const spec *s, const int *order, int n) {
    if (d->n_train != n) return 0;
    for (int i = 0; i < n; i++) {
        int k = order[i];
        if (d->train_m[i] != s->m[k] || d->train_n[i] != s->n[k] || d->train_y[i] != s->y[k] ||
            d->train_true[i] != s->yt[k])
            return 0;
    }
    return 1;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/gl_import_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    gl_error e;
    spec s = base();

    /* the stable partition: corrupted examples in file order, then the clean ones */
    gl_config c = config("add", 7);
    gl_dataset d;
    int rc = gl_dataset_load(&d, write_spec(&s), &c, &e);
    CHECK(rc == 0, "the file loads (%s)", rc ? e.msg : "ok");
    if (rc) return CHECK_DONE();
    static const int with_mask[10] = {2, 5, 9, 0, 1, 3, 4, 6, 7, 8};
    CHECK(d.n_corrupt == 3 && same_train(&d, &s, with_mask, 10),
          "train_corrupted 2, 5, 9 become the prefix, in order 2 5 9 0 1 3 4 6 7 8 (n_corrupt %d)", d.n_corrupt);
    CHECK(d.n_test == 5 && !memcmp(d.test_m, s.tm, sizeof(int32_t) * 5) && !memcmp(d.test_n, s.tn, sizeof(int32_t) * 5) &&
              !memcmp(d.test_y, s.ty, sizeof(int32_t) * 5) && d.p == 7,
          "the test set is kept as written");

    /* a run's data.safetensors of it reads back the same (the prefix is stable) */
    char run[128];
    snprintf(run, sizeof run, "%s/run", dir);
    gl_mkdirs(run, &e);
    gl_dataset d2;
    rc = gl_run_write_data(run, &d, &e);
    if (!rc) rc = gl_run_load_data(run, &c, &d2, &e);
    CHECK(rc == 0 && d2.n_corrupt == 3 && !memcmp(d2.train_m, d.train_m, sizeof(int32_t) * 10) &&
              !memcmp(d2.train_y, d.train_y, sizeof(int32_t) * 10),
          "written as a run's data and read back: the same dataset (%s)", rc ? e.msg : "ok");
    if (!rc) gl_dataset_free(&d2);
    gl_dataset_free(&d);

    /* without train_corrupted an example is corrupted when its label is not the true one: 9 is clean */
    spec u = base();
    u.has_mask = 0;
    rc = gl_dataset_load(&d, write_spec(&u), &c, &e);
    static const int by_label[10] = {2, 5, 0, 1, 3, 4, 6, 7, 8, 9};
    CHECK(rc == 0 && d.n_corrupt == 2 && same_train(&d, &u, by_label, 10),
          "no train_corrupted: corrupted = label != true label, order 2 5 0 1 3 4 6 7 8 9 (n_corrupt %d)", d.n_corrupt);
    if (!rc) gl_dataset_free(&d);

    /* frac and noise are the file's: 10 of 49 pairs, 3 of 10 corrupted */
    write_spec(&s);
    snprintf(c.data, sizeof c.data, "%s/data.safetensors", dir);
    c.frac = 0.9, c.noise = 0.0;
    rc = gl_config_adopt_data(&c, &e);
    CHECK(rc == 0 && fabs(c.frac - 10.0 / 49) < 1e-15 && floor(c.frac * 49) == 10 && fabs(c.noise - 0.3) < 1e-15 &&
              floor(c.noise * 10) == 3,
          "adopted frac %.17g (10/49), noise %.17g (3/10)", c.frac, c.noise);
    CHECK(rc == 0 && gl_config_validate(&c, &e) == 0, "the adopted config validates");
    gl_config plain = config("add", 7);
    CHECK(gl_config_adopt_data(&plain, &e) == 0 && plain.frac == 0.5 && plain.noise == 0.0,
          "without a data file nothing is adopted");
    /* one training example of 49: 1.0 / 49 * 49 rounds below 1, so the ratio is raised */
    spec one = base();
    one.n_train = 1;
    one.y[0] = one.yt[0];
    one.mask[0] = 0;
    write_spec(&one);
    rc = gl_config_adopt_data(&c, &e);
    CHECK(rc == 0 && floor(c.frac * 49) == 1 && fabs(c.frac - 1.0 / 49) < 1e-16 && c.noise == 0,
          "1 of 49 pairs: frac %.17g keeps floor(frac * 49) = 1 (1.0 / 49 * 49 = %.17g)", c.frac, 1.0 / 49 * 49);

    /* gl_dataset_create reads the file, and refuses a batch larger than its training set */
    write_spec(&s);
    rc = gl_dataset_create(&d, &c, &e);
    CHECK(rc == 0 && d.n_train == 10 && d.n_corrupt == 3 && d.train_m[0] == 2 && d.train_n[0] == 3,
          "gl_dataset_create with data reads the file (%s)", rc ? e.msg : "ok");
    if (!rc) gl_dataset_free(&d);
    c.batch = 11;
    rc = gl_dataset_create(&d, &c, &e);
    CHECK(rc == GL_E_INPUT && strstr(e.msg, "--batch: 11 is larger than the training set of") &&
              strstr(e.msg, "(10 examples"),
          "batch 11 > 10 examples refused: %s", e.msg);
    if (!rc) gl_dataset_free(&d);

    /* every refusal, against the message written here */
    spec b;
    refused("wrong p (metadata)", &s, "add", 11, "the file is for p = 7 (metadata p), but the config's p is 11");
    b = base(), b.meta_p = NULL;
    refused("wrong p (no metadata)", &b, "add", 5, "train_true_label[2] = 5, but task add gives 0 for (m, n) = (2, 3)");
    b = base(), b.meta_p = "seven";
    refused("metadata p not a number", &b, "add", 7, "metadata p = 'seven' is not an integer");
    b = base(), b.y[3] = 7;
    refused("label out of range", &b, "add", 7, "train_label[3] = 7 is outside [0, 7)");
    b = base(), b.y[3] = -1;
    refused("negative label", &b, "add", 7, "train_label[3] = -1 is outside [0, 7)");
    b = base(), b.yt[4] = 3;
    refused("true label not the task's", &b, "add", 7,
            "train_true_label[4] = 3, but task add gives 4 for (m, n) = (4, 0) (the first example that differs)");
    refused("true labels of another task", &s, "mul", 7,
            "train_true_label[0] = 1, but task mul gives 0 for (m, n) = (0, 1)");
    b = base(), b.ty[2] = 2;
    refused("test label not the task's", &b, "add", 7, "test_label[2] = 2, but task add gives 1 for (m, n) = (4, 4)");
    b = base(), b.tn[1] = 7;
    refused("operand out of range", &b, "add", 7, "test_n[1] = 7 is outside [0, 7)");
    b = base(), b.n[0] = 0, b.y[0] = b.yt[0] = 0;
    refused("n = 0 for div", &b, "div", 7, "train_n[0] = 0: (m, n) = (0, 0) is not a pair of task div");
    b = base(), b.tm[3] = 6, b.tn[3] = 6, b.ty[3] = 5;
    refused("pair in both sets", &b, "add", 7,
            "pair (m, n) = (6, 6) is in both the training set (train example 6) and the test set (test example 3");
    b = base(), b.m[8] = 1, b.n[8] = 1, b.y[8] = b.yt[8] = 2;
    refused("pair twice in train", &b, "add", 7, "pair (m, n) = (1, 1) is twice in the training set (train examples 1 and 8");
    b = base(), b.omit = "test_label";
    refused("missing tensor", &b, "add", 7, "tensor 'test_label' is missing (a dataset file holds");
    b = base(), b.as_i64 = "train_n";
    refused("wrong dtype", &b, "add", 7, "tensor 'train_n' has dtype I64 (allowed: I32)");
    b = base(), b.as_i64 = "train_corrupted";
    refused("wrong mask dtype", &b, "add", 7, "tensor 'train_corrupted' has dtype I64 (allowed: U8)");
    b = base(), b.as_2d = "train_label";
    refused("2-d tensor", &b, "add", 7, "tensor 'train_label' has shape (2, 5) (allowed: 1-d");
    b = base(), b.shorter = "train_true_label";
    refused("inconsistent length", &b, "add", 7,
            "tensor 'train_true_label' has 9 entries, but 'train_m' has 10 (allowed: the same length)");
    b = base(), b.shorter = "test_n";
    refused("inconsistent test length", &b, "add", 7, "tensor 'test_n' has 4 entries, but 'test_m' has 5");
    b = base(), b.mask[7] = 2;
    refused("mask value", &b, "add", 7, "train_corrupted[7] = 2 (allowed: 0 or 1)");
    b = base(), b.mask[5] = 0;
    refused("clean example with a wrong label", &b, "add", 7,
            "train example 5 is marked clean (train_corrupted 0) but its train_label 1 is not its train_true_label 4");
    b = base(), b.n_train = 0;
    refused("empty training set", &b, "add", 7, "the training set is empty");
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none.safetensors", dir);
    gl_config cm = config("add", 7);
    rc = gl_dataset_load(&d, missing, &cm, &e);
    CHECK(rc == GL_E_INPUT && strstr(e.msg, "none.safetensors"), "a missing file is refused naming it: %s", e.msg);

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return CHECK_DONE();
}
