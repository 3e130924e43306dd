/* groklab: optimizers (PyTorch semantics). */
#include "groklab/optim.h"

#include <math.h>

#define R float
#define FN gl_optim_step
#include "optim_impl.h"
#undef R
#undef FN

#define R double
#define FN gl_optim_step_f64
#include "optim_impl.h"
