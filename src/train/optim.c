/* groklab: optimizers (PyTorch semantics, groklab/optim.h): the update of
 * one element (model/ops.h, shared with the GPU kernels) over an array, one
 * loop per optimizer so that SGD's vectorizes. */
#include "groklab/optim.h"

#include "model/ops.h"

static gl_optim_k consts(const gl_config *c, long t) {
    return gl_optim_consts(c->optim, c->lr, c->wd, c->momentum, c->beta1, c->beta2, c->eps, t);
}

void gl_optim_step(const gl_config *c, float *restrict params, const float *restrict grads,
                   float *restrict m1, float *restrict m2, size_t n, long t) {
    const gl_optim_k k = consts(c, t);
    if (k.optim == GL_OPT_SGD) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) gl_sgd_elem_f32(params + i, m1 + i, grads[i], k);
    } else {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) gl_adam_elem_f32(params + i, m1 + i, m2 + i, grads[i], k);
    }
}

/* the same in double, for the tests of the formulas */
void gl_optim_step_f64(const gl_config *c, double *restrict params, const double *restrict grads,
                       double *restrict m1, double *restrict m2, size_t n, long t) {
    const gl_optim_k k = consts(c, t);
    for (size_t i = 0; i < n; i++)
        gl_optim_elem_f64(params + i, m1 + i, m2 ? m2 + i : NULL, grads[i], k); /* m2: Adam only */
}
