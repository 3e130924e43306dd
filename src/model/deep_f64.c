/* groklab: the deep MLP in double precision (gradient checks). */
#include "groklab/deep.h"
#include "groklab/rng.h"
#include "groklab/train.h"

#define R double
#define S f64
#include "deep_impl.h"
