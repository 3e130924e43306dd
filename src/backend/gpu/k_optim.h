/* groklab GPU backend, kernels: the update of a step: the training methods
 * around the optimizer, in the CPU's order (src/train/methods.c), and the
 * optimizers, AdamW, Adam and SGD with PyTorch's torch.optim formulas
 * (groklab/optim.h), per member's settings: the CPU's element update and
 * schedules (model/ops.h). Included by src/backend/gpu/kernels.h (types,
 * conventions, the kernel list). A step's update, each only when the
 * population asks for it (step.c):
 *
 *   optim_prep     the schedule's learning rate and the optimizer's constants
 *   grad_filter    frozen tensors' gradients zeroed (--trainable norm), GrokFast
 *   sq_part, clip_factor   the gradient's norm, --clip's factor
 *   optim          decay (toward zero or theta_0) and the optimizer
 *   sq_part, norm_factor, rescale   --weight-norm: all weights rescaled
 *
 * A norm sums squares in double over fixed blocks of GL_RED_BLOCK elements,
 * then the blocks in order: the same for any population shape (the CPU sums
 * in element order, so the factors may differ from its in the last bits). */
#ifndef GROKLAB_GPU_K_OPTIM_H
#define GROKLAB_GPU_K_OPTIM_H

/* whether parameter j is in a 1-D tensor: the norm's gain or shift
 * (Ut | Vt | W | gamma | beta) */
GL_HD int gl_k_vector(long j, const gl_gview *v) { return v->norm != GK_NORM_NONE && j >= v->off_g; }

/* over (M, 1): this step's learning rate (t = step + 1) and constants, the
 * factors reset, and the step advanced: the update is the step's last work */
GL_HD void gl_k_optim_prep(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    long t = g->step + 1;
    g->lr_now = g->lr * gl_lr_schedule(g->warmup, g->lr_decay, g->steps, t);
    gl_optim_k k = gl_optim_consts(v->optim, g->lr_now, g->wd, g->momentum, g->beta1, g->beta2, g->eps, t);
    g->decay = (float)k.decay;
    g->step_size = (float)k.step_size;
    g->bc2_sqrt = (float)k.bc2_sqrt;
    g->clip_f = g->norm_f = 1.0f;
    g->step++;
}

/* over (M, np): the gradient of a frozen parameter zeroed, then GrokFast's
 * filter: EMA (s starts as the first gradient) or the mean of the last
 * window gradients (a ring in filter, once that many exist) */
GL_HD void gl_k_grad_filter(long i, long j, const gl_gview *v) {
    long np = v->np, t = i * np + j, ts = v->mem[i].step; /* the step taken, 1-based */
    const gl_gmember *g = &v->mem[i];
    if (!g->alive) return;
    float x = v->G[t], lam = (float)g->gf_lambda;
    if (v->train_norm && !gl_k_vector(j, v)) x = 0.0f;
    if (v->gf == GL_GROKFAST_EMA) {
        float *s = v->filter + t;
        if (ts == 1) *s = x;
        x = gl_grokfast_ema_f32(s, x, (float)g->gf_alpha, (float)(1.0 - g->gf_alpha), lam);
    } else if (v->gf == GL_GROKFAST_MA) {
        long w = v->gf_window;
        float *s = v->filter + i * w * np + j;
        s[((ts - 1) % w) * np] = x; /* the newest */
        if (ts >= w) {              /* their sum, oldest first, then the mean */
            float acc = s[(ts % w) * np];
            for (long q = 1; q < w; q++) acc += s[((ts + q) % w) * np];
            x = x + acc / (float)w * lam;
        }
    }
    v->G[t] = x;
}

/* over (M, nchunk): the sum of squares of block c of the gradient, or of the
 * weights (sq_params), into part */
GL_HD void gl_k_sq_part(long i, long c, const gl_gview *v) {
    const float *x = (v->sq_params ? v->P : v->G) + i * v->np;
    long hi = gl_k_min((c + 1) * GL_RED_BLOCK, v->np);
    double s = 0;
    for (long j = c * GL_RED_BLOCK; j < hi; j++) s += (double)x[j] * x[j];
    v->part[i * v->nchunk + c] = s;
}

/* the L2 norm from the blocks' sums, in block order */
GL_HD double gl_k_sq_norm(long i, const gl_gview *v) {
    double s = 0;
    for (long c = 0; c < v->nchunk; c++) s += v->part[i * v->nchunk + c];
    return sqrt(s);
}

/* over (M, 1): --clip c: the gradient scaled by min(1, c / (||g|| + 1e-6)) */
GL_HD void gl_k_clip_factor(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    double coef = g->clip / (gl_k_sq_norm(i, v) + 1e-6);
    if (g->alive && coef < 1.0) g->clip_f = (float)coef;
}

/* over (M, np): the optimizer's update of one parameter at the step's
 * constants as gl_k_optim_prep rounded them: frozen parameters stay, the
 * norms' gains and shifts are not decayed with --wd-groups matrices, and
 * decay toward theta_0 is applied as the CPU applies it (AdamW: on the
 * weight before its step; Adam, SGD: in the gradient) */
GL_HD void gl_k_optim(long i, long j, const gl_gview *v) {
    long t = i * v->np + j;
    const gl_gmember *g = &v->mem[i];
    int vector = gl_k_vector(j, v);
    if (!g->alive || (v->train_norm && !vector)) return;
    int first = g->step == 1; /* the step taken is 0: optim_prep has advanced it */
    gl_optim_k k = {v->optim, first, g->lr_now, g->wd, g->momentum, g->beta1, g->beta2,
                    g->eps, g->decay, g->step_size, g->bc2_sqrt};
    float x = v->G[t], *p = v->P + t;
    if (v->clip) x = x * g->clip_f;
    if (v->wd_matrices && vector) k.wd = 0;
    if (k.wd != 0 && v->wd_init) {
        if (v->optim == GK_OPT_ADAMW) *p = *p - (float)(g->lr_now * g->wd) * (*p - v->init[t]);
        else x = x + (float)g->wd * (*p - v->init[t]);
        k.wd = 0;
    }
    gl_optim_elem_f32(p, v->M1 + t, v->M2 + t, x, k);
}

/* over (M, 1): --weight-norm f: the factor f ||theta_0|| / ||theta|| */
GL_HD void gl_k_norm_factor(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    double now = gl_k_sq_norm(i, v);
    if (g->alive && now > 0) g->norm_f = (float)(g->weight_norm * g->init_norm / now);
}

/* over (M, np): every weight times the member's factor */
GL_HD void gl_k_rescale(long i, long j, const gl_gview *v) {
    const gl_gmember *g = &v->mem[i];
    if (g->alive) v->P[i * v->np + j] *= g->norm_f;
}

#endif
