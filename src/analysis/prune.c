/* groklab: cumulative pruning of neurons (PAPER.md section 7), evaluated
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
    double *S0, *S;           /* (E, p) per-example sums, unpruned and current */
    double *wb0, *wb, *g0, *g;  /* (p) shared terms: W shift, and LN's W gamma */
    double *s10, *s1, *s20, *s2; /* (E) LN: sums of a and a^2 over live neurons */
    int32_t *nz0, *nz;        /* (E) live neurons with a nonzero activation: at 0 the sums
                                 are set to exactly 0, so exact ties stay exact */
    int live;                 /* neurons not pruned */
    int32_t *m, *n, *y, *t;   /* (E) operands, given and true labels */
    uint8_t *group;           /* (E) G_* */
    long count[NGROUP];
    double *part;             /* (n_blocks, 8) block sums */
};

void gl_prune_free(gl_prune *pr) {
    if (!pr) return;
    free(pr->col);
    free(pr->shift);
    free(pr->gsum);
    free(pr->S0);
    free(pr->S);
    free(pr->wb0);
    free(pr->wb);
    free(pr->g0);
    free(pr->g);
    free(pr->s10);
    free(pr->s1);
    free(pr->s20);
    free(pr->s2);
    free(pr->nz0);
    free(pr->nz);
    free(pr->m);
    free(pr->n);
    free(pr->y);
    free(pr->t);
    free(pr->group);
    free(pr->part);
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
    if (!pr) return gl_fail(err, "out of memory");
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
    pr->S = malloc(sizeof(double) * Ep);
    pr->wb0 = calloc((size_t)p, sizeof(double));
    pr->wb = malloc(sizeof(double) * p);
    pr->g0 = calloc((size_t)p, sizeof(double));
    pr->g = malloc(sizeof(double) * p);
    pr->s10 = calloc((size_t)E + 1, sizeof(double));
    pr->s1 = malloc(sizeof(double) * ((size_t)E + 1));
    pr->s20 = calloc((size_t)E + 1, sizeof(double));
    pr->s2 = malloc(sizeof(double) * ((size_t)E + 1));
    pr->nz0 = calloc((size_t)E + 1, sizeof(int32_t));
    pr->nz = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->m = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->n = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->y = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->t = malloc(sizeof(int32_t) * ((size_t)E + 1));
    pr->group = malloc((size_t)E + 1);
    pr->part = malloc(sizeof(double) * 8 * ((size_t)pr->n_blocks + 1));
    if (!pr->col || !pr->S0 || !pr->S || !pr->wb || !pr->g || !pr->s10 || !pr->s1 || !pr->s20 ||
        !pr->s2 || !pr->m || !pr->n || !pr->y || !pr->t || !pr->group || !pr->part || !pr->shift ||
        !pr->gsum || !pr->wb0 || !pr->g0 || !pr->nz0 || !pr->nz) {
        gl_prune_free(pr);
        return gl_fail(err, "out of memory for pruning (%ld examples x %d outputs)", E, p);
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
    /* S0 = sum_k a_k col_k, block by block */
#pragma omp parallel
    {
        double *a = malloc(sizeof(double) * BLOCK * (size_t)N);
#pragma omp for schedule(dynamic)
        for (int bl = 0; bl < pr->n_blocks; bl++) {
            int b0 = bl * BLOCK, b1 = b0 + BLOCK < pr->E ? b0 + BLOCK : pr->E, nb = b1 - b0;
            if (!a) continue;
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
        free(a);
    }
    gl_prune_reset(pr);
    *out = pr;
    return 0;
}

void gl_prune_reset(gl_prune *pr) {
    memcpy(pr->S, pr->S0, sizeof(double) * (size_t)pr->E * pr->p);
    memcpy(pr->wb, pr->wb0, sizeof(double) * pr->p);
    memcpy(pr->g, pr->g0, sizeof(double) * pr->p);
    memcpy(pr->s1, pr->s10, sizeof(double) * (size_t)pr->E);
    memcpy(pr->s2, pr->s20, sizeof(double) * (size_t)pr->E);
    memcpy(pr->nz, pr->nz0, sizeof(int32_t) * (size_t)pr->E);
    pr->live = pr->N;
}

static double frac(long num, long den) { return den > 0 ? (double)num / (double)den : NAN; }

void gl_prune_step(gl_prune *pr, int k, gl_prune_row *row, int threads) {
    int p = pr->p, N = pr->N;
    if (k >= 0) { /* shared terms leave with the neuron's column */
        pr->live--;
        for (int q = 0; q < p; q++) {
            double w = pr->W[(size_t)q * N + k];
            pr->wb[q] = pr->live ? pr->wb[q] - w * pr->shift[k] : 0.0;
            pr->g[q] = pr->live ? pr->g[q] - w * pr->gsum[k] : 0.0;
        }
    }
    int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        double a[BLOCK], o[4096];
#pragma omp for schedule(static)
        for (int bl = 0; bl < pr->n_blocks; bl++) {
            int b0 = bl * BLOCK, b1 = b0 + BLOCK < pr->E ? b0 + BLOCK : pr->E;
            if (k >= 0) act_column(pr, k, b0, b1, a);
            /* sums: correct[group] vs given, correct-true[group], loss[train/test] */
            double c_given[NGROUP] = {0}, c_true[NGROUP] = {0}, loss[NGROUP] = {0};
            const double *ck = k >= 0 ? pr->col + (size_t)k * p : NULL;
            for (int i = b0; i < b1; i++) {
                double *s = pr->S + (size_t)i * p;
                double ak = k >= 0 ? a[i - b0] : 0.0;
                if (ak != 0 && --pr->nz[i] > 0) {
                    for (int q = 0; q < p; q++) s[q] -= ak * ck[q];
                    pr->s1[i] -= ak;
                    pr->s2[i] -= ak * ak;
                } else if (ak != 0) { /* no live neuron reaches this example any more */
                    memset(s, 0, sizeof(double) * p);
                    pr->s1[i] = pr->s2[i] = 0;
                }
                if (pr->norm == GL_NORM_LAYERNORM) {
                    double mean = pr->s1[i] / N, var = pr->s2[i] / N - mean * mean;
                    double r = 1.0 / sqrt((var > 0 ? var : 0) + pr->eps);
                    for (int q = 0; q < p; q++) o[q] = (s[q] - mean * pr->g[q]) * r + pr->wb[q];
                } else {
                    for (int q = 0; q < p; q++) o[q] = s[q] + pr->wb[q];
                }
                int best = 0;
                for (int q = 1; q < p; q++)
                    if (o[q] > o[best]) best = q;
                int y = pr->y[i], g = pr->group[i];
                double l;
                if (pr->loss == GL_LOSS_MSE) {
                    l = 0;
                    for (int q = 0; q < p; q++) {
                        double e = o[q] - (q == y);
                        l += e * e;
                    }
                    l /= p;
                } else {
                    double mx = o[best], se = 0;
                    for (int q = 0; q < p; q++) se += exp(o[q] - mx);
                    l = mx + log(se) - o[y];
                }
                c_given[g] += best == y;
                c_true[g] += best == pr->t[i];
                loss[g] += l;
            }
            double *pt = pr->part + (size_t)bl * 8;
            pt[0] = c_given[G_CLEAN];
            pt[1] = c_given[G_CORRUPT];
            pt[2] = c_given[G_TEST];
            pt[3] = c_true[G_CLEAN];
            pt[4] = c_true[G_CORRUPT];
            pt[5] = c_true[G_TEST];
            pt[6] = loss[G_CLEAN] + loss[G_CORRUPT];
            pt[7] = loss[G_TEST];
        }
    }
    double t[8] = {0};
    for (int bl = 0; bl < pr->n_blocks; bl++)
        for (int j = 0; j < 8; j++) t[j] += pr->part[(size_t)bl * 8 + j];
    long n_train = pr->count[G_CLEAN] + pr->count[G_CORRUPT], n_test = pr->count[G_TEST];
    row->train_acc = frac((long)(t[0] + t[1]), n_train);
    row->test_acc = frac((long)t[2], n_test);
    row->corrupted_acc = frac((long)t[1], pr->count[G_CORRUPT]);
    row->corrupted_true_acc = frac((long)t[4], pr->count[G_CORRUPT]);
    row->clean_acc = frac((long)t[0], pr->count[G_CLEAN]);
    row->all_true_acc = n_test > 0 ? frac((long)(t[3] + t[4] + t[5]), n_train + n_test) : NAN;
    row->train_loss = n_train > 0 ? t[6] / n_train : NAN;
    row->test_loss = n_test > 0 ? t[7] / n_test : NAN;
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
