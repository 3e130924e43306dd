/* groklab GPU backend, kernels: the metrics of a logging step: accuracies and
 * losses on every subset, norms, and the mean IPR from the DFT of the weights.
 * Included by src/backend/gpu/kernels.h (types, conventions, the kernel list). */
#ifndef GROKLAB_GPU_K_METRICS_H
#define GROKLAB_GPU_K_METRICS_H

/* An evaluation chunk's sums per member: over the train set, loss, hits,
 * hits of corrupted rows at their label and at their true label, hits of
 * clean rows (GL_ACC_TRAIN_LOSS .. GL_ACC_HI_HIT); over the test set, the
 * first two (GL_ACC_TEST_LOSS, GL_ACC_TEST_HIT). Each is summed over fixed
 * runs of GL_EVAL_RUN rows, then the runs in order: the same numbers for
 * any population shape (hits are exact; losses differ from the CPU's
 * row-order sum in their last bits). */
enum { GL_EVAL_SUMS = 5, GL_EVAL_RUN = 256 };

GL_HD long gl_k_eval_runs(const gl_gview *v) { return (v->R + GL_EVAL_RUN - 1) / GL_EVAL_RUN; }

/* over (M, GL_ACC): the sums start from zero at each evaluation */
GL_HD void gl_k_acc_zero(long i, long j, const gl_gview *v) { v->acc[i * GL_ACC + j] = 0; }

/* over (M, GL_EVAL_SUMS * runs): sum s of run c of the chunk's rows, into part */
GL_HD void gl_k_eval_part(long i, long j, const gl_gview *v) {
    long C = gl_k_eval_runs(v), s = j / C, c = j % C;
    const gl_gmember *g = &v->mem[i];
    const double *rl = v->rowloss + i * v->R;
    const int32_t *hit = v->rowhit + i * v->R;
    long b1 = gl_k_min((c + 1) * GL_EVAL_RUN, g->rows), lo = g->n_corrupt - v->start;
    double sum = 0;
    if (v->set == GK_SET_TRAIN || s < 2)
        for (long b = c * GL_EVAL_RUN; b < b1; b++) {
            int h = hit[b] & 1;
            switch (s) {
            case 0: sum += rl[b]; break;
            case 1: sum += h; break;
            case 2: sum += b < lo ? h : 0; break;
            case 3: sum += b < lo ? (hit[b] >> 1) & 1 : 0; break;
            default: sum += b < lo ? 0 : h; break;
            }
        }
    v->part[i * GL_EVAL_SUMS * C + j] = sum;
}

/* over (M, GL_EVAL_SUMS): adds the runs' sums s, in run order, to the member's accumulator */
GL_HD void gl_k_eval_acc(long i, long s, const gl_gview *v) {
    int test = v->set == GK_SET_TEST;
    if (test && s >= 2) return;
    long C = gl_k_eval_runs(v);
    const double *part = v->part + (i * GL_EVAL_SUMS + s) * C;
    double sum = 0;
    for (long c = 0; c < C; c++) sum += part[c];
    long slot = test ? (s == 0 ? (long)GL_ACC_TEST_LOSS : (long)GL_ACC_TEST_HIT) : s;
    v->acc[i * GL_ACC + slot] += sum;
}

/* over (3M, p): sum of squares of row r of Ut, Vt or W */
GL_HD void gl_k_norm_rows(long row, long r, const gl_gview *v) {
    long p = v->p, N = v->N, i = row / 3, c = row % 3, t = row * p + r;
    long off = c == 0 ? v->off_u : c == 1 ? v->off_v : v->off_w;
    const float *x = v->P + i * v->np + off + r * N;
    double s = 0;
    for (long k = 0; k < N; k++) s += (double)x[k] * x[k];
    v->part[t] = s;
}

/* over (3M, 1): the sums of squares of Ut, Vt, W */
GL_HD void gl_k_norm_sum(long t, long unused, const gl_gview *v) {
    long p = v->p, i = t / 3, c = t % 3;
    (void)unused;
    double s = 0;
    for (long r = 0; r < p; r++) s += v->part[t * p + r];
    v->acc[i * GL_ACC + GL_ACC_SQ_U + c] = s;
}

/* over (M, N): neuron k's IPR (r = 2), the mean of those of Ut[:, k], Vt[:, k],
 * W[:, k], from the DFT in spec (metrics.h: gl_ipr_of_power) */
GL_HD void gl_k_ipr(long i, long k, const gl_gview *v) {
    long N = v->N, nb = v->nb, t = i * N + k;
    double mean = 0;
    for (int c = 0; c < 3; c++) {
        const float *s = v->spec + (i * 3 + c) * 2 * nb * N + k;
        double s2 = 0, s4 = 0;
        for (long j = 0; j < nb; j++) {
            double re = s[j * N], im = s[(nb + j) * N], a2 = re * re + im * im;
            double w = (v->ipr_full && j != 0 && 2 * j != v->n_ipr) ? 2.0 : 1.0;
            s2 += w * a2;
            s4 += w * a2 * a2;
        }
        mean += s2 > 0 ? s4 / (s2 * s2) : 0.0;
    }
    v->part[t] = mean / 3.0;
}

/* over (M, 1): the mean over neurons */
GL_HD void gl_k_ipr_mean(long i, long unused, const gl_gview *v) {
    (void)unused;
    double s = 0;
    for (long k = 0; k < v->N; k++) s += v->part[i * v->N + k];
    v->acc[i * GL_ACC + GL_ACC_IPR] = s / v->N;
}

#endif
