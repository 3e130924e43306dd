/* groklab: the deep MLP in double precision (gradient checks). */
#include "groklab/deep.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/deep_work.h"
#include "model/ops.h"

#define R double
#define S f64
#include "deep_impl.h"
