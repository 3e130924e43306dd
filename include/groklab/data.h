/* groklab: tasks and datasets.
 *
 * A task maps an operand pair (m, n) to a label in [0, p). The dataset holds
 * the pairs that the task defines (all p^2, or p(p-1) for division), split by
 * a seeded shuffle into train (first floor(frac * total)) and test; the first
 * floor(noise * n_train) training examples get uniform random labels. Labels
 * are kept twice: given (possibly corrupted) and true. */
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

int gl_dataset_create(gl_dataset *d, const gl_config *c, gl_error *err);
void gl_dataset_free(gl_dataset *d);

#ifdef __cplusplus
}
#endif

#endif
