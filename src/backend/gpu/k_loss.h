/* groklab GPU backend, kernels: the loss: its gradient (MSE element by
 * element, cross-entropy per row), per-row losses and hits for evaluation, and
 * divergence. Included by src/backend/gpu/kernels.h (types, conventions, the kernel
 * list). The losses are the CPU's own rows (model/ops.h). */
#ifndef GROKLAB_GPU_K_LOSS_H
#define GROKLAB_GPU_K_LOSS_H
/* A member whose loss is not finite stops at this step (alive = 0): its
 * weights stay as they were, as the CPU stops a run whose loss is not
 * finite. The loss is a sum of squares or of log-sum-exps of the outputs, so
 * it is not finite exactly when some row's is. Every thread that sees it
 * writes the same two values. */
GL_HD void gl_k_stop(gl_gmember *g, long step) {
    if (g->alive) {
        g->alive = 0;
        g->diverged_at = step;
    }
}

/* over (M*R, p), training with MSE: dL/dout = 2 (out - onehot(y)) / (B p), in
 * place, element by element */
GL_HD void gl_k_mse_grad(long r, long j, const gl_gview *v) {
    long p = v->p, i = r / v->R, b = r % v->R, t = r * v->ldo + j;
    gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->out[t] = 0.0f;
        return;
    }
    float d = gl_mse_diff_f32(v->out[t], j == v->by[r]);
    if (!isfinite(d)) gl_k_stop(g, g->step);
    v->out[t] = (float)gl_mse_scale(g->rows, (int)p) * d;
}

/* over (M, R): one row's loss. Training (cross-entropy): dL/dout in place of
 * out; evaluation (either loss): rowloss, and rowhit = argmax hits (bit 0:
 * label, bit 1: true label); of the training set also the argmax into pred */
GL_HD void gl_k_loss_rows(long i, long b, const gl_gview *v) {
    long p = v->p, t = i * v->R + b;
    gl_gmember *g = &v->mem[i];
    float *o = v->out + t * v->ldo;
    if (b >= g->rows) {
        if (v->training && v->pad_zero)
            for (long j = 0; j < p; j++) o[j] = 0.0f;
        return;
    }
    int y = v->by[t];
    if (!v->training) {
        int best = 0;
        for (long j = 1; j < p; j++)
            if (o[j] > o[best]) best = (int)j;
        v->rowhit[t] = (best == y) | (best == v->by2[t]) << 1;
        if (v->set == GK_SET_TRAIN) v->pred[i * v->T + v->start + b] = best;
    }
    /* training is cross-entropy only (MSE: gl_k_mse_grad) */
    double s = v->loss == GK_LOSS_MSE
                   ? gl_mse_row_f32(0.0, NULL, o, y, (int)p, 0.0f)
                   : gl_ce_row_f32(v->training ? o : NULL, o, y, (int)p, g->rows, NULL);
    if (v->training && !isfinite(s)) gl_k_stop(g, g->step);
    v->rowloss[t] = s;
}

#endif
