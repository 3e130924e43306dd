/* groklab: optimizers with PyTorch's semantics (torch.optim, single-tensor form).
 *
 *   adamw: p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   adam:  as adamw with g += wd*p instead of the decoupled decay
 *   sgd:   g += wd*p; buf = g (t = 1) or momentum*buf + g; p -= lr*buf
 * t is the 1-based step count. m2 is unused by sgd. */
#ifndef GROKLAB_OPTIM_H
#define GROKLAB_OPTIM_H

#include <stddef.h>

#include "groklab/config.h"

#ifdef __cplusplus
extern "C" {
#endif

void gl_optim_step(const gl_config *c, float *params, const float *grads, float *m1, float *m2,
                   size_t n, long t);
/* double version for tests of the formulas */
void gl_optim_step_f64(const gl_config *c, double *params, const double *grads, double *m1,
                       double *m2, size_t n, long t);

#ifdef __cplusplus
}
#endif

#endif
