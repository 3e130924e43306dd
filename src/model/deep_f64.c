/* groklab: the deep MLP in double precision (gradient checks). */
#include "groklab/deep.h"
#include "groklab/rng.h"
#include "groklab/model.h"

#define R double
#define S f64
#include "deep_impl.h"
