/* groklab GPU backend, kernels: the batch: its rows per member, gathered from
 * the data or the epoch's permutation, and grouped by operand value for the
 * embedding's backward. Included by src/backend/gpu/kernels.h (types, conventions, the
 * kernel list). */
#ifndef GROKLAB_GPU_K_BATCH_H
#define GROKLAB_GPU_K_BATCH_H

/* over (M, 1): this step's row count. Minibatch: epoch e = step / nb uses the
 * permutation in perm (uploaded by the host), slice step % nb. */
GL_HD void gl_k_batch_rows(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    if (v->training) {
        long n = g->n_train;
        if (v->batch <= 0 || v->batch >= n) {
            g->rows = (int)n;
        } else {
            long nb = gl_minibatch_count(n, v->batch, v->drop_last), start = (g->step % nb) * v->batch;
            g->rows = (int)gl_k_min(v->batch, n - start);
        }
    } else {
        long count = v->set == GK_SET_TRAIN ? g->n_train : g->n_test;
        long left = count - v->start;
        g->rows = (int)(left <= 0 ? 0 : gl_k_min(v->R, left));
    }
}

/* over (M, R): the rows of the batch (training) or evaluation chunk */
GL_HD void gl_k_gather(long i, long b, const gl_gview *v) {
    const gl_gmember *g = &v->mem[i];
    long o = i * v->R + b;
    if (b >= g->rows) {
        v->bm[o] = v->bn[o] = v->by[o] = v->by2[o] = v->bid[o] = 0;
        return;
    }
    long src;
    const int32_t *m, *n, *y, *y2;
    if (v->training || v->set == GK_SET_TRAIN) {
        m = v->tr_m + i * v->T;
        n = v->tr_n + i * v->T;
        y = v->tr_y + i * v->T;
        y2 = v->tr_true + i * v->T;
        if (!v->training) {
            src = v->start + b;
        } else if (v->batch <= 0 || v->batch >= g->n_train) {
            src = b;
        } else {
            long nb = gl_minibatch_count(g->n_train, v->batch, v->drop_last);
            src = v->perm[i * v->T + (g->step % nb) * v->batch + b];
        }
    } else {
        m = v->te_m + i * v->S;
        n = v->te_n + i * v->S;
        y = v->te_y + i * v->S;
        y2 = y;
        src = v->start + b;
    }
    v->bm[o] = m[src];
    v->bn[o] = n[src];
    v->by[o] = y[src];
    v->by2[o] = y2[src];
    v->bid[o] = (int32_t)src;
}

/* over (2M, p): rows per operand value r (c = 0: bm, 1: bn), into csr_off[r+1] */
GL_HD void gl_k_csr_count(long row, long r, const gl_gview *v) {
    long p = v->p, i = row >> 1, c = row & 1;
    const int32_t *x = (c ? v->bn : v->bm) + i * v->R;
    int rows = v->mem[i].rows, cnt = 0;
    for (int b = 0; b < rows; b++) cnt += x[b] == r;
    v->csr_off[(i * 2 + c) * (p + 1) + r + 1] = cnt;
}

/* over (2M, 1): prefix sums of the counts */
GL_HD void gl_k_csr_scan(long t, long unused, const gl_gview *v) {
    (void)unused;
    int32_t *off = v->csr_off + t * (v->p + 1);
    off[0] = 0;
    for (int r = 0; r < v->p; r++) off[r + 1] += off[r];
}

/* over (2M, p): the rows of value r in increasing order */
GL_HD void gl_k_csr_fill(long row, long r, const gl_gview *v) {
    long p = v->p, i = row >> 1, c = row & 1;
    const int32_t *x = (c ? v->bn : v->bm) + i * v->R;
    int32_t *idx = v->csr_idx + (i * 2 + c) * v->R;
    int rows = v->mem[i].rows, j = v->csr_off[(i * 2 + c) * (p + 1) + r];
    for (int b = 0; b < rows; b++)
        if (x[b] == r) idx[j++] = b;
}

#endif
