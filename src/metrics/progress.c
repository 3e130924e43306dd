/* groklab: progress measures, the logits split by Fourier content (metrics.h).
 *
 * Operands sit on an n x n grid at their positions a, b in the basis, and
 * each class's logits L_c(a, b) are projected onto the 2-D Fourier modes on
 * the line k2 = s k1, the functions of t = a + s b (mod n). Such a mode's
 * coefficient is a 1-D DFT of the line sums S_c(t) (the sum of L_c over the
 * n pairs with that t), so one pass over the pairs gathers S, a direct DFT
 * of length n per class gives every line mode, and the projection onto the
 * key frequencies is a function of t alone:
 *
 *   Shat_c(k) = sum_t S_c(t) e^(-2 pi i k t / n)
 *   R_c(t)    = (1/n^2) sum_{k in keys} w_k Re(Shat_c(k) e^(2 pi i k t / n))
 *
 * with w_k = 2 (modes k and -k, conjugate for real logits) except w = 1 for
 * k = n/2. By Parseval the projection onto +-k has energy w_k |Shat_c(k)|^2
 * / n^2 over the grid, which is what the line powers report.
 *
 * A second pass scores the examples of the dataset with the full,
 * restricted (R) and excluded (full - R) logits. The logits of every pair
 * are kept between the passes when they fit (CACHE_BYTES); otherwise the
 * network is asked twice. Sums run in double in the fixed order of the
 * pairs, so the result does not depend on the logits function's threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/data.h"
#include "groklab/metrics.h"
#include "groklab/modular.h"
#include "groklab/task.h"

enum { CHUNK = 2048, P_MAX = 4096 };
#define CACHE_BYTES ((size_t)64 << 20)

const char *const gl_progress_columns[2 * GL_PM_NLOGITS * GL_PM_NSETS] = {
    "full_clean_loss",       "full_clean_acc",       "full_corrupted_loss",       "full_corrupted_acc",
    "full_corrupted_true_loss", "full_corrupted_true_acc", "full_test_loss",       "full_test_acc",
    "restricted_clean_loss", "restricted_clean_acc", "restricted_corrupted_loss", "restricted_corrupted_acc",
    "restricted_corrupted_true_loss", "restricted_corrupted_true_acc", "restricted_test_loss", "restricted_test_acc",
    "excluded_clean_loss",   "excluded_clean_acc",   "excluded_corrupted_loss",   "excluded_corrupted_acc",
    "excluded_corrupted_true_loss", "excluded_corrupted_true_acc", "excluded_test_loss", "excluded_test_acc"};

/* One example of the dataset: its pair's index, its subset (clean,
 * corrupted or test; a corrupted one also counts in corrupted_true), its
 * given and true labels, and its place in the dataset (a tie-break that
 * keeps the order of sums fixed). */
typedef struct example {
    long pair;
    int set, y, y_true, order;
} example;

struct gl_progress_plan {
    int p, n, s;      /* modulus, grid side, sign of b in t = a + s b */
    int skip_n0;      /* div: the pairs have n != 0 */
    long pairs;       /* pairs of the task, m-major */
    long missing;     /* grid cells that are not pairs of the task (div, additive: n = 0) */
    gl_loss loss;
    double threshold;
    int *pos;         /* (p) position of residue r in the basis; -1: off the grid (dlog: 0) */
    double *cs, *sn;  /* (n) cos and sin of 2 pi j / n */
    example *ex;      /* (n_ex) sorted by pair */
    long n_ex, count[GL_PM_NSETS];
    float *cache;     /* (pairs, p) logits of every pair, or NULL */
    float *buf;       /* (CHUNK, p) a chunk's logits without the cache */
    int32_t *cm, *cn; /* (CHUNK) a chunk's operands */
    float *rows;      /* (GL_PM_NLOGITS, p) one example's logits of each kind */
    double *line;     /* (p, n) line sums S_c(t) */
    double *mean;     /* (p) each class's mean over the grid */
    double *re, *im;  /* (p, n/2 + 1) Shat_c(k) */
    double *power;    /* (n/2 + 1) line power as a share of the logits' variance */
    int *keys, n_key; /* (n/2) key frequencies, decreasing power */
    double *rt;       /* (n, p) restricted logits at line t: rt[t * p + c] */
    int computed;
    /* sums of the current compute */
    double var;       /* sum over classes and grid cells of (L - mean)^2 */
    long next_ex;     /* the first example not yet scored */
    double loss_sum[GL_PM_NLOGITS][GL_PM_NSETS];
    long hits[GL_PM_NLOGITS][GL_PM_NSETS];
};

static int bins(const gl_progress_plan *P) { return P->n / 2 + 1; }

static long pair_index(const gl_progress_plan *P, int m, int n) {
    return (long)m * (P->p - P->skip_n0) + (n - P->skip_n0);
}

static void pair_of(const gl_progress_plan *P, long i, int32_t *m, int32_t *n) {
    int row = P->p - P->skip_n0;
    *m = (int32_t)(i / row);
    *n = (int32_t)(i % row + P->skip_n0);
}

/* t = a + s b mod n of pair (m, n), or -1 off the grid */
static int line_of(const gl_progress_plan *P, int m, int n) {
    int a = P->pos[m], b = P->pos[n];
    if (a < 0 || b < 0) return -1;
    return (int)gl_mod(a + (long)P->s * b, P->n);
}

/* The sign s of the task, and its basis with auto resolved as
 * gl_config_basis does; 0, or GL_E_INPUT naming what is allowed. */
static int resolve_task(const char *task, int p, gl_basis basis, int *s, gl_basis *out, gl_error *err) {
    static const char *const names[] = {"add", "sub", "mul", "div"};
    int t = 0;
    while (t < 4 && strcmp(task, names[t]) != 0) t++;
    if (t == 4)
        return gl_fail(err, "progress measures: task %s is not linear in a Fourier basis (allowed: add, sub, mul, div)",
                       task);
    if (p < 2 || p > P_MAX) return gl_fail(err, "progress measures: p = %d is outside [2, %d]", p, P_MAX);
    if (t == 3 && !gl_is_prime(p)) return gl_fail(err, "progress measures: task div needs a prime p (got %d)", p);
    *s = t % 2 ? -1 : 1;
    if (basis == GL_BASIS_AUTO) basis = t >= 2 && gl_primitive_root(p) > 0 ? GL_BASIS_DLOG : GL_BASIS_ADDITIVE;
    if (basis == GL_BASIS_DLOG && gl_primitive_root(p) < 0)
        return gl_fail(err, "progress measures: the discrete-log basis needs a prime p >= 3 (got %d; allowed: auto, additive)",
                       p);
    *out = basis;
    return 0;
}

static int example_cmp(const void *x, const void *y) {
    const example *a = x, *b = y;
    if (a->pair != b->pair) return a->pair < b->pair ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Example i of d (train first, then test) into e; GL_E_INPUT for a pair
 * outside the task or a label outside [0, p). */
static int take_example(gl_progress_plan *P, const gl_dataset *d, int i, example *e, gl_error *err) {
    int train = i < d->n_train, j = train ? i : i - d->n_train;
    int m = train ? d->train_m[j] : d->test_m[j], n = train ? d->train_n[j] : d->test_n[j];
    e->y = train ? d->train_y[j] : d->test_y[j];
    e->y_true = train ? d->train_true[j] : e->y;
    e->set = !train ? GL_PM_TEST : j < d->n_corrupt ? GL_PM_CORRUPTED : GL_PM_CLEAN;
    e->order = i;
    int p = P->p;
    if (m < 0 || m >= p || n < 0 || n >= p || (P->skip_n0 && n == 0) || e->y < 0 || e->y >= p ||
        e->y_true < 0 || e->y_true >= p)
        return gl_fail(err, "progress measures: %s example %d, (%d, %d) with labels %d, %d, is not a pair of the "
                       "task with labels in [0, %d)", train ? "training" : "test", j, m, n, e->y, e->y_true, p);
    e->pair = pair_index(P, m, n);
    return 0;
}

static int take_dataset(gl_progress_plan *P, const gl_dataset *d, gl_error *err) {
    if (!d) return 0;
    if (d->p != P->p) return gl_fail(err, "progress measures: the dataset has p = %d, the plan p = %d", d->p, P->p);
    P->n_ex = (long)d->n_train + d->n_test;
    P->ex = malloc(sizeof(example) * (size_t)(P->n_ex ? P->n_ex : 1));
    if (!P->ex) return gl_fail_nomem(err, "for the progress measures' examples");
    for (int i = 0; i < P->n_ex; i++) {
        int rc = take_example(P, d, i, &P->ex[i], err);
        if (rc) return rc;
        P->count[P->ex[i].set]++;
        if (P->ex[i].set == GL_PM_CORRUPTED) P->count[GL_PM_CORRUPTED_TRUE]++;
    }
    qsort(P->ex, (size_t)P->n_ex, sizeof(example), example_cmp);
    return 0;
}

/* The basis positions, the trigonometric tables, and how many grid cells
 * are not pairs of the task. */
static void fill_tables(gl_progress_plan *P, gl_basis basis) {
    int p = P->p, n = P->n;
    for (int r = 0; r < p; r++) P->pos[r] = basis == GL_BASIS_DLOG ? -1 : r;
    if (basis == GL_BASIS_DLOG) {
        long r = 1, g = gl_primitive_root(p);
        for (int j = 0; j < n; j++, r = r * g % p) P->pos[r] = j; /* position j holds g^j, as in ipr.c */
    }
    for (int j = 0; j < n; j++) {
        P->cs[j] = cos(2 * M_PI * j / n);
        P->sn[j] = sin(2 * M_PI * j / n);
    }
    long on_grid = 0;
    for (long i = 0; i < P->pairs; i++) {
        int32_t m, q;
        pair_of(P, i, &m, &q);
        on_grid += line_of(P, m, q) >= 0;
    }
    P->missing = (long)n * n - on_grid;
}

static int alloc_buffers(gl_progress_plan *P) {
    size_t p = (size_t)P->p, n = (size_t)P->n, nb = (size_t)bins(P);
    if (P->pairs * p * sizeof(float) <= CACHE_BYTES)
        P->cache = malloc(sizeof(float) * P->pairs * p);
    else
        P->buf = malloc(sizeof(float) * CHUNK * p);
    P->pos = malloc(sizeof(int) * p);
    P->cs = malloc(sizeof(double) * n);
    P->sn = malloc(sizeof(double) * n);
    P->cm = malloc(sizeof(int32_t) * CHUNK);
    P->cn = malloc(sizeof(int32_t) * CHUNK);
    P->rows = malloc(sizeof(float) * GL_PM_NLOGITS * p);
    P->line = malloc(sizeof(double) * p * n);
    P->mean = malloc(sizeof(double) * p);
    P->re = malloc(sizeof(double) * p * nb);
    P->im = malloc(sizeof(double) * p * nb);
    P->power = calloc(nb, sizeof(double));
    P->keys = malloc(sizeof(int) * nb);
    P->rt = calloc(n * p, sizeof(double));
    return (P->cache || P->buf) && P->pos && P->cs && P->sn && P->cm && P->cn && P->rows && P->line &&
           P->mean && P->re && P->im && P->power && P->keys && P->rt;
}

int gl_progress_plan_create(gl_progress_plan **pp, const char *task, int p, gl_basis basis,
                            const gl_dataset *d, gl_loss loss, double key_threshold, gl_error *err) {
    int s = 1;
    int rc = resolve_task(task, p, basis, &s, &basis, err);
    if (rc) return rc;
    if (!(key_threshold > 0 && key_threshold <= 1))
        return gl_fail(err, "progress measures: key_threshold %g is outside (0, 1]", key_threshold);
    gl_progress_plan *P = calloc(1, sizeof *P);
    if (!P) return gl_fail_nomem(err, "for the progress measures");
    P->p = p;
    P->n = basis == GL_BASIS_DLOG ? p - 1 : p;
    P->s = s;
    P->skip_n0 = !strcmp(task, "div");
    P->pairs = gl_task_pairs(task, p);
    P->loss = loss;
    P->threshold = key_threshold;
    rc = alloc_buffers(P) ? 0 : gl_fail_nomem(err, "for the progress measures");
    if (rc == 0) rc = take_dataset(P, d, err);
    if (rc) {
        gl_progress_plan_free(P);
        return rc;
    }
    fill_tables(P, basis);
    *pp = P;
    return 0;
}

void gl_progress_plan_free(gl_progress_plan *P) {
    if (!P) return;
    free(P->pos);
    free(P->cs);
    free(P->sn);
    free(P->ex);
    free(P->cache);
    free(P->buf);
    free(P->cm);
    free(P->cn);
    free(P->rows);
    free(P->line);
    free(P->mean);
    free(P->re);
    free(P->im);
    free(P->power);
    free(P->keys);
    free(P->rt);
    free(P);
}

/* ---- the two passes ---- */

typedef void (*visit_fn)(gl_progress_plan *P, long s, int B, const float *logits);

/* Calls visit on the logits of every chunk of pairs, in order: from the
 * cache when use_cache, else from fn (into the cache when there is one). */
static int sweep(gl_progress_plan *P, gl_logits_fn fn, void *ctx, int use_cache, visit_fn visit, gl_error *err) {
    for (long s = 0; s < P->pairs; s += CHUNK) {
        int B = (int)(P->pairs - s < CHUNK ? P->pairs - s : CHUNK);
        float *out = P->cache ? P->cache + (size_t)s * P->p : P->buf;
        if (!use_cache) {
            for (int i = 0; i < B; i++) pair_of(P, s + i, &P->cm[i], &P->cn[i]);
            int rc = fn(ctx, P->cm, P->cn, B, out, err);
            if (rc > 0) rc = gl_failc(err, GL_E_INTERNAL, "the logits function returned %d (allowed: 0 or a negative status)", rc);
            if (rc) return rc;
        }
        visit(P, s, B, out);
    }
    return 0;
}

/* pass 1: the line sums */
static void add_lines(gl_progress_plan *P, long s, int B, const float *logits) {
    int p = P->p, n = P->n;
    for (int i = 0; i < B; i++) {
        int32_t m, q;
        pair_of(P, s + i, &m, &q);
        int t = line_of(P, m, q);
        if (t < 0) continue;
        const float *L = logits + (size_t)i * p;
        for (int c = 0; c < p; c++) P->line[(size_t)c * n + t] += L[c];
    }
}

/* Shat_c(k), k = 0..n/2, by a direct DFT of the line sums; the class means. */
static void line_spectrum(gl_progress_plan *P) {
    int p = P->p, n = P->n, nb = bins(P);
    for (int c = 0; c < p; c++) {
        const double *S = P->line + (size_t)c * n;
        double total = 0;
        for (int t = 0; t < n; t++) total += S[t];
        P->mean[c] = total / ((double)n * n);
        for (int k = 0; k < nb; k++) {
            double re = 0, im = 0;
            for (int t = 0, j = 0; t < n; t++, j = (j + k) % n) {
                re += S[t] * P->cs[j];
                im -= S[t] * P->sn[j];
            }
            P->re[(size_t)c * nb + k] = re;
            P->im[(size_t)c * nb + k] = im;
        }
    }
}

static double mode_weight(int k, int n) { return 2 * k == n ? 1.0 : 2.0; }

/* Unnormalized line powers into P->power (shares once the variance is
 * known), and the key frequencies in decreasing power (ties: lower k). */
static void find_keys(gl_progress_plan *P) {
    int p = P->p, n = P->n, nb = bins(P);
    double max = 0;
    P->power[0] = 0; /* the constant mode is the class mean, which shares leave out */
    for (int k = 1; k < nb; k++) {
        double pk = 0;
        for (int c = 0; c < p; c++) {
            double re = P->re[(size_t)c * nb + k], im = P->im[(size_t)c * nb + k];
            pk += re * re + im * im;
        }
        P->power[k] = mode_weight(k, n) * pk / ((double)n * n);
        if (P->power[k] > max) max = P->power[k];
    }
    P->n_key = 0;
    for (int k = 1; k < nb && max > 0; k++) {
        if (!(P->power[k] >= P->threshold * max)) continue;
        int j = P->n_key++;
        for (; j > 0 && P->power[P->keys[j - 1]] < P->power[k]; j--) P->keys[j] = P->keys[j - 1];
        P->keys[j] = k;
    }
}

/* R_c(t) of the key frequencies into rt. */
static void restrict_lines(gl_progress_plan *P) {
    int p = P->p, n = P->n, nb = bins(P);
    double scale = 1.0 / ((double)n * n);
    for (int t = 0; t < n; t++)
        for (int c = 0; c < p; c++) {
            double r = 0;
            for (int i = 0; i < P->n_key; i++) {
                int k = P->keys[i], j = (int)((long)k * t % n);
                size_t at = (size_t)c * nb + k;
                r += mode_weight(k, n) * (P->re[at] * P->cs[j] - P->im[at] * P->sn[j]);
            }
            P->rt[(size_t)t * p + c] = r * scale;
        }
}

static double loss_of(const gl_progress_plan *P, const float *row, int y) {
    return P->loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, row, &y, 1, P->p) : gl_ce_loss_f32(NULL, row, &y, 1, P->p);
}

static void score_kind(gl_progress_plan *P, int kind, int set, const float *row, int y) {
    P->loss_sum[kind][set] += loss_of(P, row, y);
    P->hits[kind][set] += gl_argmax_f32(row, P->p) == y; /* ties: the first maximum, as gl_eval_add */
}

/* The three kinds of logits of the pair whose full logits are L and whose
 * restricted ones R (NULL off the grid: 0), scored for example e. */
static void score_example(gl_progress_plan *P, const example *e, const float *L, const double *R) {
    int p = P->p;
    float *full = P->rows, *res = P->rows + p, *exc = P->rows + 2 * p;
    for (int c = 0; c < p; c++) {
        double r = R ? R[c] : 0.0;
        full[c] = L[c];
        res[c] = (float)r;
        exc[c] = (float)(L[c] - r);
    }
    for (int kind = 0; kind < GL_PM_NLOGITS; kind++) {
        const float *row = P->rows + (size_t)kind * p;
        score_kind(P, kind, e->set, row, e->y);
        if (e->set == GL_PM_CORRUPTED) score_kind(P, kind, GL_PM_CORRUPTED_TRUE, row, e->y_true);
    }
}

/* pass 2: the variance over the grid and the examples' scores */
static void score(gl_progress_plan *P, long s, int B, const float *logits) {
    int p = P->p;
    for (int i = 0; i < B; i++) {
        int32_t m, q;
        pair_of(P, s + i, &m, &q);
        int t = line_of(P, m, q);
        const float *L = logits + (size_t)i * p;
        const double *R = t < 0 ? NULL : P->rt + (size_t)t * p;
        if (R)
            for (int c = 0; c < p; c++) P->var += ((double)L[c] - P->mean[c]) * ((double)L[c] - P->mean[c]);
        for (; P->next_ex < P->n_ex && P->ex[P->next_ex].pair == s + i; P->next_ex++)
            score_example(P, &P->ex[P->next_ex], L, R);
    }
}

static void reset_sums(gl_progress_plan *P) {
    memset(P->line, 0, sizeof(double) * (size_t)P->p * P->n);
    memset(P->loss_sum, 0, sizeof P->loss_sum);
    memset(P->hits, 0, sizeof P->hits);
    P->var = 0;
    P->next_ex = 0;
    P->computed = 0;
}

static double ratio_or_nan(double num, double den) { return den > 0 ? num / den : NAN; }

static void finish(gl_progress_plan *P, gl_progress *pm) {
    for (int c = 0; c < P->p; c++) P->var += (double)P->missing * P->mean[c] * P->mean[c];
    for (int k = 0; k < bins(P); k++) P->power[k] = ratio_or_nan(P->power[k], P->var);
    pm->n_key = P->n_key;
    pm->key_share = 0;
    for (int i = 0; i < P->n_key; i++) pm->key_share += P->power[P->keys[i]];
    if (!(P->var > 0)) pm->key_share = NAN;
    for (int kind = 0; kind < GL_PM_NLOGITS; kind++)
        for (int set = 0; set < GL_PM_NSETS; set++) {
            double cnt = (double)P->count[set];
            pm->loss[kind][set] = ratio_or_nan(P->loss_sum[kind][set], cnt);
            pm->acc[kind][set] = ratio_or_nan((double)P->hits[kind][set], cnt);
        }
    P->computed = 1;
}

int gl_progress_compute(gl_progress_plan *P, gl_logits_fn fn, void *ctx, gl_progress *pm, gl_error *err) {
    reset_sums(P);
    int rc = sweep(P, fn, ctx, 0, add_lines, err);
    if (rc) return rc;
    line_spectrum(P);
    find_keys(P);
    restrict_lines(P);
    rc = sweep(P, fn, ctx, P->cache != NULL, score, err);
    if (rc) return rc;
    finish(P, pm);
    return 0;
}

const int *gl_progress_plan_keys(const gl_progress_plan *P, int *n) {
    *n = P->computed ? P->n_key : 0;
    return P->keys;
}

const double *gl_progress_plan_power(const gl_progress_plan *P, int *n_bins) {
    *n_bins = bins(P);
    return P->power;
}

int gl_progress_restricted(const gl_progress_plan *P, int m, int n, float *out, gl_error *err) {
    int p = P->p;
    if (m < 0 || m >= p || n < 0 || n >= p || (P->skip_n0 && n == 0))
        return gl_fail(err, "progress measures: (%d, %d) is not a pair of the task at p = %d", m, n, p);
    if (!P->computed) return gl_fail(err, "progress measures: no gl_progress_compute has finished on this plan");
    int t = line_of(P, m, n);
    for (int c = 0; c < p; c++) out[c] = t < 0 ? 0.0f : (float)P->rt[(size_t)t * p + c];
    return 0;
}
