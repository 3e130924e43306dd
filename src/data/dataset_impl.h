/* groklab: what the dataset files share (dataset.c, dataset_file.c). */
#ifndef GROKLAB_DATASET_IMPL_H
#define GROKLAB_DATASET_IMPL_H

#include "groklab/data.h"

/* Allocates d's seven arrays for d->n_train and d->n_test examples; on
 * failure frees d (zeroed) and returns GL_E_NOMEM. */
int gl_dataset_alloc(gl_dataset *d, gl_error *err);

#endif
