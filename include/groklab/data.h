/* groklab: tasks and datasets.
 *
 * A task maps an operand pair (m, n) to a label in [0, p). The dataset holds
 * the pairs that the task defines (all p^2, or p(p-1) for division), split by
 * a seeded shuffle into train (first floor(frac * total)) and test; the first
 * floor(noise * n_train) training examples get uniform random labels. Labels
 * are kept twice: given (possibly corrupted) and true.
 *
 * A dataset can also come from a file (the config's data field): the layout
 * of a run's data.safetensors (docs/byo.md), int32 1-d tensors train_m,
 * train_n, train_label, train_true_label, test_m, test_n, test_label, an
 * optional uint8 train_corrupted (absent: an example is corrupted when its
 * label differs from its true label) and optional metadata "p". Corrupted
 * examples may stand anywhere in the file: reading moves them to the front
 * by a stable partition (corrupted in file order, then clean in file order),
 * because the library relies on the corrupted prefix. */
#ifndef GROKLAB_DATA_H
#define GROKLAB_DATA_H

#include <stdint.h>

#include "groklab/config.h"
#include "groklab/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_dataset {
    int p;
    int32_t n_train, n_test, n_corrupt;
    /* train: (n_train,) each; corrupted examples are the prefix [0, n_corrupt) */
    int32_t *train_m, *train_n, *train_y, *train_true;
    /* test: (n_test,) each */
    int32_t *test_m, *test_n, *test_y;
} gl_dataset;

/* The dataset of config c: read from c->data when set (gl_dataset_load; a
 * c->batch larger than its training set is refused), else the split and
 * corruption generated from c's task, p, frac, noise and seeds. */
int gl_dataset_create(gl_dataset *d, const gl_config *c, gl_error *err);
void gl_dataset_free(gl_dataset *d);

/* Reads the dataset file at path for c's task and p. Refused, with one line
 * naming the file, the tensor and the allowed values: a missing tensor, a
 * dtype other than int32 (uint8 for train_corrupted), a tensor that is not
 * 1-d or whose length differs from train_m's (test_m's for the test set),
 * metadata p other than c->p, an operand outside [0, p) or a pair outside
 * the task (n = 0 for div), a label outside [0, p), a true or test label
 * other than the task's label of its pair (the first such example named),
 * train_corrupted other than 0 or 1, an example marked clean whose label is
 * not its true label, a pair twice in a set or in both sets, an empty
 * training set. */
int gl_dataset_load(gl_dataset *d, const char *path, const gl_config *c, gl_error *err);

/* When c->data names a file, sets c->frac and c->noise to the file's:
 * n_train / (pairs of the task) and n_corrupt / n_train (raised by an ulp
 * where rounding would make floor(frac * pairs) or floor(noise * n_train)
 * lose an example), so validation and memory estimates, config.json, summary.json and
 * phases see the file's split. Nothing changes when c->data is empty or the
 * file is refused (the message is gl_dataset_load's). */
int gl_config_adopt_data(gl_config *c, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
