/* groklab: the cblas header of the BLAS chosen at configure time. */
#ifndef GROKLAB_BLAS_H
#define GROKLAB_BLAS_H
#include <cblas.h>
#endif
