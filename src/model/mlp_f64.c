/* groklab: the MLP's layers in double precision (gradient checks). */
#include "blas.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/ops.h"

#define R double
#define S f64
#define GEMM cblas_dgemm
#include "mlp_impl.h"
