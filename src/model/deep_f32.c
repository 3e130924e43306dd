/* groklab: the deep MLP in single precision (training and evaluation). */
#include "groklab/deep.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/deep_work.h"
#include "model/ops.h"

#define R float
#define S f32
#include "deep_impl.h"
