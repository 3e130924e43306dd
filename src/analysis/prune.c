/* groklab: cumulative pruning of neurons (docs/paper.md section 7), evaluated
 * incrementally.
 *
 * Every example's output is held in double as S_x = sum over live neurons of
 * (neuron's activation) x (its scaled column of W), plus terms shared by all
 * examples; pruning neuron k subtracts its term from every S_x and measures
 * the result in the same pass. One count costs O(examples x p), against
 * O(examples x N x p) for a forward pass of the pruned network. Blocks of
 * rows run in parallel and their sums are added in block order, so results
 * do not depend on the thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/analysis.h"
#include "groklab/rng.h"

const char *const gl_prune_columns[GL_PRUNE_NCOLS] = {
    "train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc", "all_true_acc",
    "train_loss", "test_loss"};

void gl_prune_row_to_array(const gl_prune_row *r, double out[GL_PRUNE_NCOLS]) {
    const double v[GL_PRUNE_NCOLS] = {r->train_acc,  r->test_acc,     r->corrupted_acc,
                                      r->corrupted_true_acc, r->clean_acc, r->all_true_acc,
                                      r->train_loss, r->test_loss};
    memcpy(out, v, sizeof v);
}

enum { G_CLEAN, G_CORRUPT, G_TEST, NGROUP };
#define BLOCK 256

struct gl_prune {
    int p, N, E, n_blocks;
    gl_norm norm;
    gl_act act;
    gl_loss loss;
    double eps;
    const float *Ut, *Vt, *W; /* the caller's parameters (p, N) each */
    double *col;              /* (N, p) column k of W, scaled (none: W, BN: W gamma/sd, LN: W gamma) */
    double *shift;            /* (N) BN: beta - gamma mu / sd; LN: beta; none: 0 */
    double *gsum;             /* (N) LN: gamma */
    double *S0;               /* (E, p) per-example sums of the unpruned network */
    double *wb0, *g0;         /* (p) shared terms: W shift, and LN's W gamma */
    double *s10, *s20;        /* (E) LN: sums of a and a^2 over the neurons */
    int32_t *nz0;             /* (E) neurons with a nonzero activation: when no live one
                                 is left the sums are set to exactly 0, so exact ties stay exact */
    int32_t *m, *n, *y, *t;   /* (E) operands, given and true labels */
    uint8_t *group;           /* (E) G_* */
    long count[NGROUP];
};

void gl_prune_free(gl_prune *pr) {
    if (!pr) return;
    free(pr->col);
    free(pr->shift);
    free(pr->gsum);
    free(pr->S0);
    free(pr->wb0);
    free(pr->g0);
    free(pr->s10);
    free(pr->s20);
    free(pr->nz0);
    free(pr->m);
    free(pr->n);
    free(pr->y);
    free(pr->t);
    free(pr->group);
    free(pr);
}

/* activation column of neuron k over examples [b0, b1): a[i - b0] */
static void act_column(const gl_prune *pr, int k, int b0, int b1, double *a) {
    for (int i = b0; i < b1; i++)
        a[i - b0] = (double)pr->Ut[(size_t)pr->m[i] * pr->N + k] + (double)pr->Vt[(size_t)pr->n[i] * pr->N + k];
    gl_act_forward_f64(a, a, b1 - b0, pr->act);
}

int gl_prune_create(gl_prune **out, const gl_config *c, const gl_layout *L, const float *params,
                    const float *run_mean, const float *run_var, const gl_dataset *d,
                    int all_pairs, gl_error *err) {
    gl_prune *pr = calloc(1, sizeof *pr);
    if (!pr) return gl_fail_nomem(err, "");
    int p = L->p, N = L->N;
    long E = d->n_train + (all_pairs ? d->n_test : 0);
    pr->p = p;
    pr->N = N;
    pr->E = (int)E;
    pr->n_blocks = (int)((E + BLOCK - 1) / BLOCK);
    pr->norm = L->norm;
    pr->act = L->act;
    pr->loss = c->loss;
    pr->eps = c->norm_eps;
    pr->Ut = params + L->off_u;
    pr->Vt = params + L->off_v;
    pr->W = params + L->off_w;
    size_t Ep = (size_t)E * p;
    pr->col = malloc(sizeof(double) * (size_t)N * p);
    pr->shift = calloc((size_t)N, sizeof(double));
    pr->gsum = calloc((size_t)N, sizeof(double));
    pr->S0 = malloc(sizeof(double) * Ep);
    pr->wb0 = calloc((size_t)p, sizeof(double));
    pr->g0 = calloc((size_t)p, sizeof(double));
    pr->s10 = calloc((size_t)E + 1, sizeof(double));
    pr->s20 = calloc((size_t)E + 1, sizeof(double));
    pr->nz0 = calloc((size_t)E + 1, sizeof(int32_t));
    pr->m = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->n = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->y = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->t = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->group = malloc((size_t)E + 1);
    if (!pr->col || !pr->S0 || !pr->s10 || !pr->s20 || !pr->m || !pr->n || !pr->y || !pr->t ||
        !pr->group || !pr->shift || !pr->gsum || !pr->wb0 || !pr->g0 || !pr->nz0) {
        gl_prune_free(pr);
        return gl_failc(err, GL_E_NOMEM, "out of memory for pruning (%ld examples x %d outputs)", E, p);
    }
    for (long i = 0; i < d->n_train; i++) {
        pr->m[i] = d->train_m[i];
        pr->n[i] = d->train_n[i];
        pr->y[i] = d->train_y[i];
        pr->t[i] = d->train_true[i];
        pr->group[i] = i < d->n_corrupt ? G_CORRUPT : G_CLEAN;
    }
    for (long i = d->n_train; i < E; i++) {
        long j = i - d->n_train;
        pr->m[i] = d->test_m[j];
        pr->n[i] = d->test_n[j];
        pr->y[i] = pr->t[i] = d->test_y[j];
        pr->group[i] = G_TEST;
    }
    for (long i = 0; i < E; i++) pr->count[pr->group[i]]++;
    /* per-neuron scaled columns and shifts */
    const float *gamma = L->norm != GL_NORM_NONE ? params + L->off_gamma : NULL;
    const float *beta = L->norm != GL_NORM_NONE ? params + L->off_beta : NULL;
    for (int k = 0; k < N; k++) {
        double scale = 1.0;
        if (L->norm == GL_NORM_BATCHNORM) {
            double sd = sqrt((double)run_var[k] + c->norm_eps);
            scale = gamma[k] / sd;
            pr->shift[k] = beta[k] - gamma[k] * (double)run_mean[k] / sd;
        } else if (L->norm == GL_NORM_LAYERNORM) {
            scale = gamma[k];
            pr->shift[k] = beta[k];
            pr->gsum[k] = gamma[k];
        }
        for (int q = 0; q < p; q++) {
            double w = pr->W[(size_t)q * N + k];
            pr->col[(size_t)k * p + q] = w * scale;
            pr->wb0[q] += w * pr->shift[k];
            pr->g0[q] += w * pr->gsum[k];
        }
    }
    /* S0 = sum_k a_k col_k, block by block; each thread's activations in its
     * own part of one buffer, allocated before the threads start */
    int nt = omp_get_max_threads();
    double *scratch = malloc(sizeof(double) * BLOCK * (size_t)N * (size_t)nt);
    if (!scratch) {
        gl_prune_free(pr);
        return gl_failc(err, GL_E_NOMEM, "out of memory for pruning (%d threads x %d neurons)", nt, N);
    }
#pragma omp parallel num_threads(nt)
    {
        double *a = scratch + (size_t)omp_get_thread_num() * BLOCK * (size_t)N;
#pragma omp for schedule(dynamic)
        for (int bl = 0; bl < pr->n_blocks; bl++) {
            int b0 = bl * BLOCK, b1 = b0 + BLOCK < pr->E ? b0 + BLOCK : pr->E, nb = b1 - b0;
            for (int k = 0; k < N; k++) act_column(pr, k, b0, b1, a + (size_t)k * BLOCK);
            for (int i = 0; i < nb; i++) {
                double *s = pr->S0 + (size_t)(b0 + i) * p, s1 = 0, s2 = 0;
                memset(s, 0, sizeof(double) * p);
                for (int k = 0; k < N; k++) {
                    double ak = a[(size_t)k * BLOCK + i];
                    const double *ck = pr->col + (size_t)k * p;
                    for (int q = 0; q < p; q++) s[q] += ak * ck[q];
                    s1 += ak;
                    s2 += ak * ak;
                    pr->nz0[b0 + i] += ak != 0;
                }
                pr->s10[b0 + i] = s1;
                pr->s20[b0 + i] = s2;
            }
        }
    }
    free(scratch);
    *out = pr;
    return 0;
}

void gl_prune_contrib(const gl_prune *pr, int i, int q, double *contrib) {
    int N = pr->N, p = pr->p;
    double mu = 0, inv_sd = 1;
    if (pr->norm == GL_NORM_LAYERNORM) {
        mu = pr->s10[i] / N;
        double var = pr->s20[i] / N - mu * mu;
        inv_sd = 1.0 / sqrt((var > 0 ? var : 0) + pr->eps);
    }
    for (int k = 0; k < N; k++) {
        double a;
        act_column(pr, k, i, i + 1, &a);
        double w = pr->W[(size_t)q * N + k];
        contrib[k] = (a - mu) * inv_sd * pr->col[(size_t)k * p + q] + w * pr->shift[k];
    }
}

static double frac(long num, long den) { return den > 0 ? (double)num / (double)den : NAN; }

/* Sums of one block at one count: correct vs given labels per group (3),
 * correct vs true labels per group (3), loss on train and test (2). */
enum { NSUM = 8 };

int gl_prune_curve(gl_prune *pr, const int *order, int n, gl_prune_row *rows, int threads) {
    int p = pr->p, N = pr->N;
    double *sums = malloc(sizeof(double) * NSUM * (size_t)(n + 1) * pr->n_blocks);
    double *wb = malloc(sizeof(double) * (size_t)(n + 1) * p), *g = malloc(sizeof(double) * (size_t)(n + 1) * p);
    if (!sums || !wb || !g) {
        free(sums);
        free(wb);
        free(g);
        return GL_E_NOMEM;
    }
    /* shared terms after each count; at 0 live neurons exactly 0 */
    memcpy(wb, pr->wb0, sizeof(double) * p);
    memcpy(g, pr->g0, sizeof(double) * p);
    for (int c = 1; c <= n; c++) {
        int k = order[c - 1];
        for (int q = 0; q < p; q++) {
            double w = pr->W[(size_t)q * N + k];
            wb[(size_t)c * p + q] = c < N ? wb[(size_t)(c - 1) * p + q] - w * pr->shift[k] : 0.0;
            g[(size_t)c * p + q] = c < N ? g[(size_t)(c - 1) * p + q] - w * pr->gsum[k] : 0.0;
        }
    }
    int nt = threads > 0 ? threads : omp_get_max_threads();
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        /* one block of rows stays in cache through every count */
        double *S = malloc(sizeof(double) * BLOCK * (size_t)p), *a = malloc(sizeof(double) * BLOCK);
        double *s1 = malloc(sizeof(double) * BLOCK), *s2 = malloc(sizeof(double) * BLOCK);
        double *o = malloc(sizeof(double) * (size_t)p);
        int32_t *nz = malloc(sizeof(int32_t) * BLOCK);
        if (!S || !a || !s1 || !s2 || !o || !nz) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic)
        for (int bl = 0; bl < pr->n_blocks; bl++) {
            if (!S || !a || !s1 || !s2 || !o || !nz) continue;
            int b0 = bl * BLOCK, b1 = b0 + BLOCK < pr->E ? b0 + BLOCK : pr->E, nb = b1 - b0;
            memcpy(S, pr->S0 + (size_t)b0 * p, sizeof(double) * (size_t)nb * p);
            memcpy(s1, pr->s10 + b0, sizeof(double) * nb);
            memcpy(s2, pr->s20 + b0, sizeof(double) * nb);
            memcpy(nz, pr->nz0 + b0, sizeof(int32_t) * nb);
            for (int c = 0; c <= n; c++) {
                const double *ck = NULL;
                if (c > 0) {
                    act_column(pr, order[c - 1], b0, b1, a);
                    ck = pr->col + (size_t)order[c - 1] * p;
                }
                const double *wbc = wb + (size_t)c * p, *gc = g + (size_t)c * p;
                double cg[NGROUP] = {0}, ct[NGROUP] = {0}, loss[NGROUP] = {0};
                for (int i = 0; i < nb; i++) {
                    double *s = S + (size_t)i * p;
                    double ak = c > 0 ? a[i] : 0.0;
                    if (ak != 0 && --nz[i] == 0) { /* no live neuron reaches this example any more */
                        memset(s, 0, sizeof(double) * p);
                        s1[i] = s2[i] = ak = 0;
                    } else {
                        s1[i] -= ak;
                        s2[i] -= ak * ak;
                    }
                    /* one pass: update, output, its maximum and sum of squares */
                    double sc = 1.0, sh = 0.0, mx = -INFINITY, sq = 0.0;
                    if (pr->norm == GL_NORM_LAYERNORM) {
                        double mean = s1[i] / N, var = s2[i] / N - mean * mean;
                        sc = 1.0 / sqrt((var > 0 ? var : 0) + pr->eps);
                        sh = mean;
                    }
                    const double *cq = ck ? ck : wbc; /* unused when ak == 0 */
#pragma omp simd reduction(max : mx) reduction(+ : sq)
                    for (int q = 0; q < p; q++) {
                        double v = s[q] - ak * cq[q];
                        s[q] = v;
                        double ov = (v - sh * gc[q]) * sc + wbc[q];
                        o[q] = ov;
                        mx = ov > mx ? ov : mx;
                        sq += ov * ov;
                    }
                    int best = 0;
                    while (best < p - 1 && o[best] != mx) best++;
                    int y = pr->y[b0 + i], grp = pr->group[b0 + i];
                    double l;
                    if (pr->loss == GL_LOSS_MSE) {
                        l = (sq - 2 * o[y] + 1) / p;
                    } else {
                        double se = 0;
#pragma omp simd reduction(+ : se)
                        for (int q = 0; q < p; q++) se += exp(o[q] - mx);
                        l = mx + log(se) - o[y];
                    }
                    cg[grp] += best == y;
                    ct[grp] += best == pr->t[b0 + i];
                    loss[grp] += l;
                }
                double *pt = sums + ((size_t)c * pr->n_blocks + bl) * NSUM;
                pt[0] = cg[G_CLEAN], pt[1] = cg[G_CORRUPT], pt[2] = cg[G_TEST];
                pt[3] = ct[G_CLEAN], pt[4] = ct[G_CORRUPT], pt[5] = ct[G_TEST];
                pt[6] = loss[G_CLEAN] + loss[G_CORRUPT], pt[7] = loss[G_TEST];
            }
        }
        free(S);
        free(a);
        free(s1);
        free(s2);
        free(o);
        free(nz);
    }
    long n_train = pr->count[G_CLEAN] + pr->count[G_CORRUPT], n_test = pr->count[G_TEST];
    for (int c = 0; c <= n && !failed; c++) {
        double t[NSUM] = {0}; /* blocks added in order: no dependence on threads */
        for (int bl = 0; bl < pr->n_blocks; bl++)
            for (int j = 0; j < NSUM; j++) t[j] += sums[((size_t)c * pr->n_blocks + bl) * NSUM + j];
        gl_prune_row *row = &rows[c];
        row->train_acc = frac((long)(t[0] + t[1]), n_train);
        row->test_acc = frac((long)t[2], n_test);
        row->corrupted_acc = frac((long)t[1], pr->count[G_CORRUPT]);
        row->corrupted_true_acc = frac((long)t[4], pr->count[G_CORRUPT]);
        row->clean_acc = frac((long)t[0], pr->count[G_CLEAN]);
        row->all_true_acc = n_test > 0 ? frac((long)(t[3] + t[4] + t[5]), n_train + n_test) : NAN;
        row->train_loss = n_train > 0 ? t[6] / n_train : NAN;
        row->test_loss = n_test > 0 ? t[7] / n_test : NAN;
    }
    free(sums);
    free(wb);
    free(g);
    return failed ? GL_E_NOMEM : 0;
}

void gl_prune_apply(float *params, const gl_layout *L, const int *pruned, int n) {
    int N = L->N, p = L->p;
    for (int i = 0; i < n; i++) {
        int k = pruned[i];
        for (int q = 0; q < p; q++) {
            params[L->off_u + (size_t)q * N + k] = 0;
            params[L->off_v + (size_t)q * N + k] = 0;
            params[L->off_w + (size_t)q * N + k] = 0;
        }
        if (L->norm == GL_NORM_BATCHNORM) { /* the gain and shift reach the output only through W */
            params[L->off_gamma + k] = 0;
            params[L->off_beta + k] = 0;
        }
    }
}

void gl_order_random(int *order, int n, uint64_t seed, uint32_t draw) {
    for (int i = 0; i < n; i++) order[i] = i;
    gl_shuffle((int32_t *)order, n, seed, GL_STREAM_PRUNE, draw);
}
