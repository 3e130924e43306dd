/* groklab: the cblas header of the BLAS chosen at configure time. math.h
 * comes first: BLIS's cblas.h sets feature macros that would otherwise hide
 * M_PI and friends. */
#ifndef GROKLAB_BLAS_H
#define GROKLAB_BLAS_H
#include <math.h>
#include <cblas.h>
#endif
