/* groklab GPU backend, kernels: the optimizers: AdamW, Adam and SGD with
 * PyTorch's torch.optim formulas (groklab/optim.h), per member's settings:
 * the CPU's element update (model/ops.h). Included by src/backend/gpu/kernels.h
 * (types, conventions, the kernel list). */
#ifndef GROKLAB_GPU_K_OPTIM_H
#define GROKLAB_GPU_K_OPTIM_H

/* over (M, 1): this step's constants (t = step + 1), and the step advanced:
 * the optimizer is the step's last kernel */
GL_HD void gl_k_optim_prep(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    gl_optim_k k = gl_optim_consts(v->optim, g->lr, g->wd, g->momentum, g->beta1, g->beta2, g->eps,
                                   g->step + 1);
    g->decay = (float)k.decay;
    g->step_size = (float)k.step_size;
    g->bc2_sqrt = (float)k.bc2_sqrt;
    g->step++;
}

/* over (M, np): the step's constants as gl_k_optim_prep rounded them */
GL_HD void gl_k_optim(long i, long j, const gl_gview *v) {
    long t = i * v->np + j;
    const gl_gmember *g = &v->mem[i];
    if (!g->alive) return;
    int first = g->step == 1; /* the step taken is 0: optim_prep has advanced it */
    gl_optim_k k = {v->optim, first, g->lr, g->wd, g->momentum, g->beta1, g->beta2,
                    g->eps, g->decay, g->step_size, g->bc2_sqrt};
    gl_optim_elem_f32(v->P + t, v->M1 + t, v->M2 + t, v->G[t], k);
}

#endif
