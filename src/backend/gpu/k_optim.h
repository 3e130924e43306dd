/* groklab GPU backend, kernels: the optimizers: AdamW, Adam and SGD with
 * PyTorch's torch.optim formulas (groklab/optim.h), per member's settings.
 * Included by src/gpu/kernels.h (types, conventions, the kernel list). */
#ifndef GROKLAB_GPU_K_OPTIM_H
#define GROKLAB_GPU_K_OPTIM_H

/* over (M, 1): this step's constants (t = step + 1) */
GL_HD void gl_k_optim_prep(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    double t = (double)(v->step + 1);
    g->decay = (float)(1.0 - g->lr * g->wd);
    g->step_size = (float)(g->lr / (1.0 - pow(g->beta1, t)));
    g->bc2_sqrt = (float)sqrt(1.0 - pow(g->beta2, t));
}

/* over (M, np) */
GL_HD void gl_k_optim(long i, long j, const gl_gview *v) {
    long t = i * v->np + j;
    const gl_gmember *g = &v->mem[i];
    if (!g->alive) return;
    float *p = v->P + t, *m1 = v->M1 + t, *m2 = v->M2 + t, gi = v->G[t];
    float lr = (float)g->lr, wd = (float)g->wd;
    if (v->optim == GK_OPT_SGD) {
        float mom = (float)g->momentum;
        if (g->wd != 0) gi = gi + wd * *p;
        if (g->momentum != 0) {
            *m1 = v->step == 0 ? gi : mom * *m1 + gi;
            gi = *m1;
        }
        *p = *p - lr * gi;
        return;
    }
    float b1 = (float)g->beta1, b2 = (float)g->beta2, eps = (float)g->eps;
    float one_b1 = (float)(1.0 - g->beta1), one_b2 = (float)(1.0 - g->beta2);
    if (v->optim == GK_OPT_ADAMW) {
        if (g->wd != 0) *p = *p * g->decay;
    } else if (g->wd != 0) {
        gi = gi + wd * *p;
    }
    *m1 = *m1 * b1 + gi * one_b1;
    *m2 = *m2 * b2 + one_b2 * gi * gi;
    float denom = (float)sqrt((double)*m2) / g->bc2_sqrt + eps;
    *p = *p - g->step_size * (*m1 / denom);
}

#endif
