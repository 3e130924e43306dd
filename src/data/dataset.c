/* groklab: split and corruption (docs/paper.md section 2).
 *
 * The task's pairs are enumerated m-major (index m*p + n, skipping pairs
 * outside the task), shuffled by Philox (split_seed), and the first
 * floor(frac * total) form the training set. The first floor(noise * n_train)
 * training examples get a label uniform in [0, p) (noise_seed); it may equal
 * the true one, as in the paper. A config with a data file reads the dataset
 * from it instead (dataset_file.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_impl.h"
#include "groklab/rng.h"

void gl_dataset_free(gl_dataset *d) {
    free(d->train_m);
    free(d->train_n);
    free(d->train_y);
    free(d->train_true);
    free(d->test_m);
    free(d->test_n);
    free(d->test_y);
    memset(d, 0, sizeof *d);
}

int gl_dataset_alloc(gl_dataset *d, gl_error *err) {
    size_t ntr = (size_t)d->n_train + 1, nte = (size_t)d->n_test + 1; /* + 1: never malloc(0) */
    d->train_m = malloc(sizeof(int32_t) * ntr);
    d->train_n = malloc(sizeof(int32_t) * ntr);
    d->train_y = malloc(sizeof(int32_t) * ntr);
    d->train_true = malloc(sizeof(int32_t) * ntr);
    d->test_m = malloc(sizeof(int32_t) * nte);
    d->test_n = malloc(sizeof(int32_t) * nte);
    d->test_y = malloc(sizeof(int32_t) * nte);
    if (d->train_m && d->train_n && d->train_y && d->train_true && d->test_m && d->test_n && d->test_y) return 0;
    gl_dataset_free(d);
    return gl_failc(err, GL_E_NOMEM, "out of memory for the dataset");
}

static int generate(gl_dataset *d, const gl_config *c, gl_error *err) {
    int p = c->p;
    long total = gl_task_pairs(c->task, p);
    if (total <= 0) return gl_fail(err, "--task: '%s' is not a task", c->task);
    int32_t *pair = malloc(sizeof(int32_t) * (size_t)total);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)total);
    if (!pair || !perm) {
        free(pair);
        free(perm);
        return gl_failc(err, GL_E_NOMEM, "out of memory for %ld pairs", total);
    }
    long k = 0;
    for (int m = 0; m < p; m++)
        for (int n = 0; n < p; n++)
            if (gl_task_label(c->task, p, m, n) >= 0) pair[k++] = m * p + n;
    for (long i = 0; i < total; i++) perm[i] = (int32_t)i;
    gl_shuffle(perm, (int32_t)total, c->split_seed, GL_STREAM_SPLIT, 0);

    d->p = p;
    d->n_train = (int32_t)floor(c->frac * (double)total);
    d->n_test = (int32_t)(total - d->n_train);
    d->n_corrupt = (int32_t)floor(c->noise * (double)d->n_train);
    if (gl_dataset_alloc(d, err) != 0) {
        free(pair);
        free(perm);
        return GL_E_NOMEM;
    }
    for (long i = 0; i < total; i++) {
        int32_t q = pair[perm[i]], m = q / p, n = q % p;
        int32_t y = (int32_t)gl_task_label(c->task, p, m, n);
        if (i < d->n_train) {
            d->train_m[i] = m;
            d->train_n[i] = n;
            d->train_true[i] = y;
            d->train_y[i] = i < d->n_corrupt
                                ? (int32_t)gl_uniform_int(c->noise_seed, GL_STREAM_CORRUPT,
                                                          (uint64_t)i, 0, (uint32_t)p)
                                : y;
        } else {
            long j = i - d->n_train;
            d->test_m[j] = m;
            d->test_n[j] = n;
            d->test_y[j] = y;
        }
    }
    free(pair);
    free(perm);
    return 0;
}

int gl_dataset_create(gl_dataset *d, const gl_config *c, gl_error *err) {
    memset(d, 0, sizeof *d);
    if (!c->data[0]) return generate(d, c, err);
    int rc = gl_dataset_load(d, c->data, c, err);
    if (rc == 0 && c->batch > d->n_train) {
        rc = gl_fail(err, "--batch: %d is larger than the training set of %s (%d examples; 0 = full batch)",
                     c->batch, c->data, d->n_train);
        gl_dataset_free(d);
    }
    return rc;
}
