/* groklab: the Transformer in double precision (gradient checks). */
#include "blas.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "groklab/transformer.h"
#include "model/ops.h"
#include "model/transformer_parts.h"

#define R double
#define S f64
#define GEMM cblas_dgemm
#include "transformer_impl.h"
