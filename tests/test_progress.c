/* Progress measures against independent computations: the restricted
 * logits and line powers of random logits against a brute-force 2-D DFT of
 * each class's logits over the grid, the scores against argmax and losses
 * recomputed here, planted Fourier features found exactly (with the cached
 * and the two-call path), the analytic solution of addition, and bad input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/analysis.h"
#include "groklab/data.h"
#include "groklab/metrics.h"

enum { PMAX = 257 };

/* ---- the grid, by its definition in metrics.h ---- */

typedef struct grid {
    const char *task;
    int p, n, s;
    int pos[PMAX]; /* position of residue r; -1 off the grid */
} grid;

static void grid_init(grid *g, const char *task, int p, int dlog) {
    g->task = task;
    g->p = p;
    g->n = dlog ? p - 1 : p;
    g->s = !strcmp(task, "sub") || !strcmp(task, "div") ? -1 : 1;
    for (int r = 0; r < p; r++) g->pos[r] = dlog ? -1 : r;
    if (dlog) {
        int root = gl_primitive_root(p), r = 1;
        for (int j = 0; j < p - 1; j++, r = r * root % p) g->pos[r] = j;
    }
}

static int grid_line(const grid *g, int m, int n) {
    int a = g->pos[m], b = g->pos[n];
    return a < 0 || b < 0 ? -1 : ((a + g->s * b) % g->n + g->n) % g->n;
}

/* ---- fake networks ---- */

/* Random logits, or planted waves: class c's logit is
 * sum_i amp_i cos(2 pi f_i (t - pos(c)) / n) on the grid (-1 for a class
 * off the grid), plus noise everywhere. */
typedef struct fake {
    const grid *g;
    double *wave;   /* (n) planted logit at t - pos(c), or NULL: random logits */
    double noise;
    long *calls;    /* (p * p) calls per pair */
    int max_B;
} fake;

static double hash_unit(uint64_t x) { /* splitmix64, to [-1, 1) */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (double)(x >> 11) / 4503599627370496.0 - 1.0;
}

static float fake_logit(const fake *f, int m, int n, int c) {
    const grid *g = f->g;
    uint64_t id = ((uint64_t)m * g->p + n) * g->p + c;
    if (!f->wave) return (float)hash_unit(id);
    double v = f->noise * hash_unit(id);
    int t = grid_line(g, m, n);
    if (t >= 0) v += g->pos[c] < 0 ? -1.0 : f->wave[((t - g->pos[c]) % g->n + g->n) % g->n];
    return (float)v;
}

static int fake_fn(void *ctx, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    (void)err;
    fake *f = ctx;
    int p = f->g->p;
    if (B > f->max_B) f->max_B = B;
    for (int b = 0; b < B; b++) {
        f->calls[m[b] * p + n[b]]++;
        for (int c = 0; c < p; c++) out[(size_t)b * p + c] = fake_logit(f, m[b], n[b], c);
    }
    return 0;
}

/* A plan's restricted logits of the fake network f, or (excluded) f's
 * logits minus them, as a network: the projections of the projections. */
typedef struct derived {
    const gl_progress_plan *P;
    fake *f;
    int excluded;
} derived;

static int derived_fn(void *ctx, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    derived *d = ctx;
    int p = d->f->g->p;
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * p;
        int rc = gl_progress_restricted(d->P, m[b], n[b], o, err);
        if (rc) return rc;
        if (d->excluded)
            for (int c = 0; c < p; c++) o[c] = (float)((double)fake_logit(d->f, m[b], n[b], c) - o[c]);
    }
    return 0;
}

static int make_data(gl_dataset *d, const char *task, int p, double frac, double noise) {
    gl_config c;
    gl_config_default(&c);
    strcpy(c.task, task);
    c.p = p;
    c.frac = frac;
    c.noise = noise;
    gl_error e;
    int rc = gl_dataset_create(d, &c, &e);
    if (rc) printf("dataset: %s\n", e.msg);
    return rc;
}

static int is_dlog(const char *task, int p, gl_basis basis) {
    int mult = !strcmp(task, "mul") || !strcmp(task, "div");
    return basis == GL_BASIS_DLOG || (basis == GL_BASIS_AUTO && mult && gl_is_prime(p) && p > 2);
}

/* ---- the brute-force reference: each class's 2-D DFT over the grid ---- */

typedef struct brute {
    int n;
    size_t cells;                /* n * n */
    double *G, *R;               /* (p, n, n) logits on the grid (0 at a cell outside the task), projection */
    double share[PMAX / 2 + 1];  /* line power of k, modes (k, sk) and (-k, -sk), over the variance */
    int key[PMAX / 2 + 1];       /* whether k is key */
    int n_key;
    double var;                  /* sum over classes and cells of (G - class mean)^2 */
} brute;

static void brute_grid(brute *o, const grid *g, const fake *f) {
    int p = g->p, n = g->n;
    o->n = n;
    o->cells = (size_t)n * n;
    o->G = calloc((size_t)p * o->cells, sizeof(double));
    o->R = calloc((size_t)p * o->cells, sizeof(double));
    for (int m = 0; m < p; m++)
        for (int q = 0; q < p; q++)
            if (gl_task_label(g->task, p, m, q) >= 0 && g->pos[m] >= 0 && g->pos[q] >= 0)
                for (int c = 0; c < p; c++)
                    o->G[c * o->cells + (size_t)g->pos[m] * n + g->pos[q]] = fake_logit(f, m, q, c);
    o->var = 0;
    for (int c = 0; c < p; c++) {
        const double *G = o->G + c * o->cells;
        double mean = 0;
        for (size_t i = 0; i < o->cells; i++) mean += G[i] / (double)o->cells;
        for (size_t i = 0; i < o->cells; i++) o->var += (G[i] - mean) * (G[i] - mean);
    }
}

/* the coefficient of mode (k1, k2) of class c's grid */
static void brute_mode(const brute *o, const grid *g, int c, int k1, int k2, double *re, double *im) {
    int n = g->n;
    *re = *im = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double x = o->G[c * o->cells + (size_t)a * n + b], th = 2 * M_PI * ((long)k1 * a + (long)k2 * b) / n;
            *re += x * cos(th);
            *im -= x * sin(th);
        }
}

static void brute_compute(brute *o, const grid *g, const fake *f, double thr) {
    int p = g->p, n = g->n, nb = n / 2 + 1;
    brute_grid(o, g, f);
    memset(o->share, 0, sizeof o->share);
    memset(o->key, 0, sizeof o->key);
    double *mre = malloc(sizeof(double) * (size_t)p * n), *mim = malloc(sizeof(double) * (size_t)p * n);
    for (int c = 0; c < p; c++)
        for (int k1 = 1; k1 < n; k1++) { /* the line k2 = s k1; k1 and n - k1 are frequency min(k1, n - k1) */
            double *re = mre + (size_t)c * n + k1, *im = mim + (size_t)c * n + k1;
            brute_mode(o, g, c, k1, ((g->s * k1) % n + n) % n, re, im);
            o->share[k1 < n - k1 ? k1 : n - k1] += (*re * *re + *im * *im) / (double)o->cells;
        }
    double max = 0;
    for (int k = 1; k < nb; k++) max = fmax(max, o->share[k]);
    o->n_key = 0;
    for (int k = 1; k < nb; k++) {
        o->key[k] = o->share[k] >= thr * max;
        o->n_key += o->key[k];
        o->share[k] /= o->var;
    }
    for (int c = 0; c < p; c++)
        for (int k1 = 1; k1 < n; k1++) {
            if (!o->key[k1 < n - k1 ? k1 : n - k1]) continue;
            double re = mre[(size_t)c * n + k1], im = mim[(size_t)c * n + k1];
            int k2 = ((g->s * k1) % n + n) % n;
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) {
                    double th = 2 * M_PI * ((long)k1 * a + (long)k2 * b) / n;
                    o->R[c * o->cells + (size_t)a * n + b] += (re * cos(th) - im * sin(th)) / (double)o->cells;
                }
        }
    free(mre);
    free(mim);
}

static void brute_free(brute *o) {
    free(o->G);
    free(o->R);
}

/* ---- scores recomputed by argmax and the losses' formulas ---- */

typedef struct scores {
    double loss[GL_PM_NLOGITS][GL_PM_NSETS], acc[GL_PM_NLOGITS][GL_PM_NSETS];
} scores;

static double ref_loss(const float *o, int y, int p, gl_loss loss) {
    double s = 0, mx = o[0];
    if (loss == GL_LOSS_MSE) {
        for (int c = 0; c < p; c++) s += ((double)o[c] - (c == y)) * ((double)o[c] - (c == y));
        return s / p;
    }
    for (int c = 1; c < p; c++) mx = fmax(mx, o[c]);
    for (int c = 0; c < p; c++) s += exp((double)o[c] - mx);
    return mx + log(s) - o[y];
}

static int ref_argmax(const float *o, int p) {
    int best = 0;
    for (int c = 1; c < p; c++)
        if (o[c] > o[best]) best = c;
    return best;
}

/* full = f's logits, restricted = the plan's, excluded = full - restricted,
 * on every example of d against its labels */
static void ref_scores(scores *w, const gl_progress_plan *P, const fake *f, const gl_dataset *d, gl_loss loss) {
    int p = f->g->p;
    double ls[GL_PM_NLOGITS][GL_PM_NSETS] = {{0}};
    long hit[GL_PM_NLOGITS][GL_PM_NSETS] = {{0}}, cnt[GL_PM_NSETS] = {0};
    float rows[GL_PM_NLOGITS][PMAX];
    gl_error e;
    for (int i = 0; i < d->n_train + d->n_test; i++) {
        int train = i < d->n_train, j = train ? i : i - d->n_train;
        int m = train ? d->train_m[j] : d->test_m[j], q = train ? d->train_n[j] : d->test_n[j];
        int set[2] = {!train ? GL_PM_TEST : j < d->n_corrupt ? GL_PM_CORRUPTED : GL_PM_CLEAN, GL_PM_CORRUPTED_TRUE};
        int y[2] = {train ? d->train_y[j] : d->test_y[j], train ? d->train_true[j] : -1};
        gl_progress_restricted(P, m, q, rows[GL_PM_RESTRICTED], &e);
        for (int c = 0; c < p; c++) {
            rows[GL_PM_FULL][c] = fake_logit(f, m, q, c);
            rows[GL_PM_EXCLUDED][c] = (float)((double)rows[GL_PM_FULL][c] - rows[GL_PM_RESTRICTED][c]);
        }
        for (int u = 0; u < (set[0] == GL_PM_CORRUPTED ? 2 : 1); u++) {
            cnt[set[u]]++;
            for (int k = 0; k < GL_PM_NLOGITS; k++) {
                ls[k][set[u]] += ref_loss(rows[k], y[u], p, loss);
                hit[k][set[u]] += ref_argmax(rows[k], p) == y[u];
            }
        }
    }
    for (int k = 0; k < GL_PM_NLOGITS; k++)
        for (int s = 0; s < GL_PM_NSETS; s++) {
            w->loss[k][s] = cnt[s] ? ls[k][s] / cnt[s] : NAN;
            w->acc[k][s] = cnt[s] ? (double)hit[k][s] / cnt[s] : NAN;
        }
}

/* |a - b| (relative when rel), 0 when both are NaN, NaN when one is */
static double diff(double a, double b, int rel) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : NAN;
    return fabs(a - b) / (rel ? fmax(fabs(b), 1e-300) : 1.0);
}

static void check_scores(const gl_progress *pm, const scores *w, const char *what) {
    double el = 0, ea = 0;
    for (int k = 0; k < GL_PM_NLOGITS; k++)
        for (int s = 0; s < GL_PM_NSETS; s++) {
            el = check_worse(el, diff(pm->loss[k][s], w->loss[k][s], 1));
            ea = check_worse(ea, diff(pm->acc[k][s], w->acc[k][s], 0));
        }
    CHECK(el <= 1e-6, "%s: losses of full, restricted, excluded logits on every subset recomputed (rel err %.3g)", what, el);
    CHECK(ea == 0, "%s: accuracies recomputed by argmax (err %.3g)", what, ea);
}

/* ---- 1. random logits against the brute force ---- */

static gl_progress_plan *plan_of(const char *task, int p, gl_basis basis, const gl_dataset *d, gl_loss loss,
                                 double thr, gl_logits_fn fn, void *ctx, gl_progress *pm, const char *what) {
    gl_progress_plan *P;
    gl_error e;
    int rc = gl_progress_plan_create(&P, task, p, basis, d, loss, thr, &e);
    if (rc == 0) rc = gl_progress_compute(P, fn, ctx, pm, &e);
    CHECK(rc == 0, "%s: plan and compute (%s)", what, rc ? e.msg : "ok");
    return rc == 0 ? P : NULL;
}

/* the key frequencies are the brute force's, in decreasing power */
static void check_keys(const gl_progress_plan *P, const gl_progress *pm, const brute *b, const char *what) {
    int nk;
    const int *keys = gl_progress_plan_keys(P, &nk);
    int ok = nk == b->n_key && pm->n_key == nk;
    for (int i = 0; ok && i < nk; i++) ok = b->key[keys[i]] && (i == 0 || b->share[keys[i - 1]] >= b->share[keys[i]]);
    CHECK(ok, "%s: %d key frequencies = the brute-force line powers' above threshold, in decreasing power", what, nk);
    int nb;
    const double *pw = gl_progress_plan_power(P, &nb);
    double err = 0, total = 0, keyed = 0;
    for (int k = 0; k < nb; k++) {
        err = check_worse(err, fabs(pw[k] - b->share[k]));
        total += pw[k];
        keyed += b->key[k] ? b->share[k] : 0;
    }
    CHECK(nb == b->n / 2 + 1 && err < 1e-9,
          "%s: line power shares = the brute force's (abs err %.3g)", what, err);
    CHECK(total <= 1 + 1e-9, "%s: the shares of all frequencies sum to %.6f <= 1", what, total);
    CHECK(fabs(pm->key_share - keyed) < 1e-9, "%s: key_share %.9f = the key frequencies' brute-force shares %.9f", what,
          pm->key_share, keyed);
}

/* restricted logits of every pair = the brute-force projection (0 off the grid);
 * returns ||R||^2 over the grid */
static double check_restricted(const gl_progress_plan *P, const grid *g, const brute *b, const char *what) {
    int p = g->p, n = g->n;
    float out[PMAX];
    double err = 0, r2 = 0;
    gl_error e;
    for (int m = 0; m < p; m++)
        for (int q = 0; q < p; q++) {
            if (gl_task_label(g->task, p, m, q) < 0) continue;
            if (gl_progress_restricted(P, m, q, out, &e) != 0) err = NAN;
            int on = g->pos[m] >= 0 && g->pos[q] >= 0;
            for (int c = 0; c < p; c++) {
                double want = on ? b->R[c * b->cells + (size_t)g->pos[m] * n + g->pos[q]] : 0.0;
                err = check_worse(err, fabs(out[c] - want));
            }
        }
    for (size_t i = 0; i < (size_t)p * b->cells; i++) r2 += b->R[i] * b->R[i];
    CHECK(err < 2e-6, "%s: restricted logits of every pair = the brute-force 2-D DFT projection (abs err %.3g)", what, err);
    return r2;
}

/* projecting the restricted logits again changes nothing; the excluded
 * ones have no power at the key frequencies */
static void check_idempotent(const gl_progress_plan *P, gl_basis basis, fake *f, const gl_dataset *d,
                             gl_loss loss, double thr, const char *what) {
    const grid *g = f->g;
    derived r = {P, f, 0}, x = {P, f, 1};
    gl_progress pm2, pm3;
    gl_progress_plan *P2 = plan_of(g->task, g->p, basis, d, loss, thr, derived_fn, &r, &pm2, what);
    gl_progress_plan *P3 = plan_of(g->task, g->p, basis, d, loss, thr, derived_fn, &x, &pm3, what);
    if (!P2 || !P3) return;
    int n1, n2, nb, same;
    const int *k1 = gl_progress_plan_keys(P, &n1), *k2 = gl_progress_plan_keys(P2, &n2);
    same = n1 == n2;
    for (int i = 0; same && i < n1; i++) same = k1[i] == k2[i];
    double err = 0, left = 0;
    float a[PMAX], b[PMAX];
    gl_error e;
    for (int m = 0; m < g->p; m++)
        for (int q = 0; q < g->p; q++) {
            if (gl_task_label(g->task, g->p, m, q) < 0) continue;
            gl_progress_restricted(P, m, q, a, &e);
            gl_progress_restricted(P2, m, q, b, &e);
            for (int c = 0; c < g->p; c++) err = check_worse(err, fabs(a[c] - b[c]));
        }
    const double *pw3 = gl_progress_plan_power(P3, &nb);
    for (int i = 0; i < n1; i++) left = check_worse(left, pw3[k1[i]]);
    CHECK(same && err < 1e-6 && fabs(pm2.key_share - 1) < 1e-6,
          "%s: projecting twice: same keys, same restricted logits (abs err %.3g), key_share %.9f", what, err,
          pm2.key_share);
    CHECK(left < 1e-10, "%s: excluded logits have no power at the key frequencies (largest share %.3g)", what, left);
    gl_progress_plan_free(P2);
    gl_progress_plan_free(P3);
}

static void test_random(const char *task, int p, gl_basis basis, gl_loss loss, double thr) {
    char what[96];
    snprintf(what, sizeof what, "random logits, %s p=%d %s basis, %s, threshold %.2g", task, p, gl_basis_name(basis),
             loss == GL_LOSS_MSE ? "mse" : "ce", thr);
    grid g;
    grid_init(&g, task, p, is_dlog(task, p, basis));
    long *calls = calloc((size_t)p * p, sizeof(long));
    fake f = {&g, NULL, 0, calls, 0};
    gl_dataset d;
    if (make_data(&d, task, p, 0.5, 0.3)) return;
    gl_progress pm;
    gl_progress_plan *P = plan_of(task, p, basis, &d, loss, thr, fake_fn, &f, &pm, what);
    if (P) {
        brute b;
        brute_compute(&b, &g, &f, thr);
        check_keys(P, &pm, &b, what);
        double r2 = check_restricted(P, &g, &b, what);
        CHECK(fabs(pm.key_share / (r2 / b.var) - 1) < 1e-9, "%s: key_share = ||R||^2 / ||L - class mean||^2 over the grid, %.9f",
              what, r2 / b.var);
        scores w;
        ref_scores(&w, P, &f, &d, loss);
        check_scores(&pm, &w, what);
        /* div in the additive basis: the column n = 0 is not a pair, so its
         * cells count as 0 and the projection is idempotent only on the grid */
        if (strcmp(task, "div") || g.n != p) check_idempotent(P, basis, &f, &d, loss, thr, what);
        brute_free(&b);
        gl_progress_plan_free(P);
    }
    gl_dataset_free(&d);
    free(calls);
}

/* ---- 2. planted Fourier features ---- */

/* Waves at frequencies 3, 1 and n/2 with amplitudes 1, 0.8, 0.6 plus noise
 * 0.01: the key frequencies are exactly these, in the order of their line
 * power amp^2 (twice that for k = n/2, whose mode is its own conjugate), and
 * the restricted logits predict every true label. p = 257 is past the
 * cache, so there every pair is asked for twice. */
static void test_waves(const char *task, int p, gl_basis basis, double noise) {
    char what[96];
    snprintf(what, sizeof what, "planted waves, %s p=%d %s basis, label noise %.1f", task, p, gl_basis_name(basis), noise);
    grid g;
    grid_init(&g, task, p, is_dlog(task, p, basis));
    int n = g.n, freq[3] = {3, 1, n / 2};
    double amp[3] = {1.0, 0.8, 0.6}, power[3], *wave = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < 3; i++) power[i] = amp[i] * amp[i] * (2 * freq[i] == n ? 2 : 1);
    for (int x = 0; x < n; x++)
        for (int i = 0; i < 3; i++) wave[x] += amp[i] * cos(2 * M_PI * freq[i] * x / n);
    long *calls = calloc((size_t)p * p, sizeof(long));
    fake f = {&g, wave, 0.01, calls, 0};
    gl_dataset d;
    gl_progress pm;
    gl_progress_plan *P = make_data(&d, task, p, 0.5, noise) ? NULL
                          : plan_of(task, p, basis, &d, GL_LOSS_MSE, 0.1, fake_fn, &f, &pm, what);
    if (P) {
        int nk, ok;
        const int *keys = gl_progress_plan_keys(P, &nk);
        ok = nk == 3;
        for (int i = 0; ok && i < 3; i++) { /* the i-th strongest planted wave */
            int j = 0;
            for (int u = 0; u < 3; u++) j += power[u] > power[i];
            ok = keys[j] == freq[i];
        }
        CHECK(ok, "%s: key frequencies {%d, %d, %d} found, strongest first (%d keys)", what, freq[0], freq[1], freq[2], nk);
        double a = fmin(pm.acc[GL_PM_RESTRICTED][GL_PM_CLEAN], pm.acc[GL_PM_RESTRICTED][GL_PM_TEST]);
        if (d.n_corrupt) a = fmin(a, pm.acc[GL_PM_RESTRICTED][GL_PM_CORRUPTED_TRUE]);
        CHECK(a == 1.0, "%s: restricted logits predict every true label (lowest accuracy %.4f)", what, a);
        if (noise == 0)
            CHECK(isnan(pm.acc[GL_PM_FULL][GL_PM_CORRUPTED]) && isnan(pm.loss[GL_PM_EXCLUDED][GL_PM_CORRUPTED_TRUE]),
                  "%s: the corrupted subsets' scores are NaN when there are none", what);
        long bad = 0, want = (long)p * p * p * sizeof(float) > (64l << 20) ? 2 : 1;
        for (int m = 0; m < p; m++)
            for (int q = 0; q < p; q++) bad += calls[m * p + q] != (gl_task_label(task, p, m, q) >= 0 ? want : 0);
        CHECK(bad == 0 && f.max_B <= 2048, "%s: every pair of the task asked for %ld time(s), in chunks of at most 2048 "
                                           "(%ld pairs otherwise, largest chunk %d)", what, want, bad, f.max_B);
        gl_progress_plan_free(P);
        gl_dataset_free(&d);
    }
    free(calls);
    free(wave);
}

/* ---- 3. the analytic solution of addition ---- */

typedef struct mlp {
    const gl_layout *L;
    const float *params;
    gl_mlp_work w;
} mlp;

static int mlp_fn(void *ctx, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    (void)err;
    mlp *x = ctx;
    gl_mlp_eval(&x->w, x->L, x->params, NULL, NULL, 0, m, n, B);
    memcpy(out, x->w.out, sizeof(float) * (size_t)B * x->L->p);
    return 0;
}

/* every frequency min(f, p - f) != 0 of some neuron, from the peaks of the
 * DFTs of the rows of U */
static void neuron_frequencies(int *used, const gl_layout *L, const float *params) {
    int p = L->p, N = L->N;
    const float *Ut = params + L->off_u;
    memset(used, 0, sizeof(int) * (size_t)(p / 2 + 1));
    for (int k = 0; k < N; k++) {
        int best = 0;
        double top = -1;
        for (int f = 0; f <= p / 2; f++) {
            double re = 0, im = 0;
            for (int i = 0; i < p; i++) {
                re += Ut[(size_t)i * N + k] * cos(2 * M_PI * f * i / p);
                im -= Ut[(size_t)i * N + k] * sin(2 * M_PI * f * i / p);
            }
            if (re * re + im * im > top) top = re * re + im * im, best = f;
        }
        used[best] = best != 0;
    }
}

static void test_analytic(void) {
    enum { P = 97, N = 2000 };
    gl_layout L;
    gl_layout_init(&L, P, N, GL_ACT_QUADRATIC, GL_NORM_NONE);
    float *params = calloc(L.n_params, sizeof(float));
    gl_error e;
    mlp x = {&L, params, {0}};
    gl_dataset d;
    if (gl_analytic_weights(&L, params, 1, &e) || gl_mlp_work_alloc(&x.w, &L, 2048, 0) || make_data(&d, "add", P, 0.5, 0.2)) {
        CHECK(0, "analytic network p = %d, N = %d made", P, N);
        free(params);
        return;
    }
    int used[P / 2 + 1], n_used = 0;
    neuron_frequencies(used, &L, params);
    for (int k = 0; k <= P / 2; k++) n_used += used[k];
    gl_progress pm;
    gl_progress_plan *pp = plan_of("add", P, GL_BASIS_AUTO, &d, GL_LOSS_MSE, 0.1, mlp_fn, &x, &pm, "analytic solution");
    if (pp) {
        int nk, ok;
        const int *keys = gl_progress_plan_keys(pp, &nk);
        ok = nk == n_used;
        for (int i = 0; ok && i < nk; i++) ok = used[keys[i]];
        CHECK(ok, "analytic solution p=%d N=%d: the %d key frequencies are the %d neuron frequencies (key_share %.4f)", P,
              N, nk, n_used, pm.key_share);
        long hit = 0;
        float out[P];
        for (int m = 0; m < P; m++)
            for (int q = 0; q < P; q++) {
                gl_progress_restricted(pp, m, q, out, &e);
                hit += ref_argmax(out, P) == (m + q) % P;
            }
        const double *r = pm.acc[GL_PM_RESTRICTED], *xa = pm.acc[GL_PM_EXCLUDED], *fa = pm.acc[GL_PM_FULL];
        CHECK(hit == P * P && r[GL_PM_CLEAN] == 1 && r[GL_PM_TEST] == 1 && r[GL_PM_CORRUPTED_TRUE] == 1,
              "analytic solution: restricted logits right on %ld of %d pairs; accuracy clean %.4f, test %.4f, "
              "corrupted (true labels) %.4f (full: %.4f, %.4f)", hit, P * P, r[GL_PM_CLEAN], r[GL_PM_TEST],
              r[GL_PM_CORRUPTED_TRUE], fa[GL_PM_CLEAN], fa[GL_PM_TEST]);
        CHECK(xa[GL_PM_CLEAN] < 5.0 / P && xa[GL_PM_TEST] < 5.0 / P,
              "analytic solution: excluded logits at chance, accuracy clean %.4f, test %.4f < 5/p = %.4f "
              "(losses: full %.4f, restricted %.4f, excluded %.4f on test)", xa[GL_PM_CLEAN], xa[GL_PM_TEST], 5.0 / P,
              pm.loss[GL_PM_FULL][GL_PM_TEST], pm.loss[GL_PM_RESTRICTED][GL_PM_TEST], pm.loss[GL_PM_EXCLUDED][GL_PM_TEST]);
        gl_progress_plan_free(pp);
    }
    gl_dataset_free(&d);
    gl_mlp_work_free(&x.w);
    free(params);
}

/* ---- 4. bad input, columns ---- */

static int failing_fn(void *ctx, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    (void)ctx, (void)m, (void)n, (void)B, (void)out;
    return gl_failc(err, GL_E_DEVICE, "the device failed");
}

static void test_refusals(void) {
    gl_progress_plan *P;
    gl_error e;
    gl_dataset d;
    if (make_data(&d, "add", 13, 0.5, 0)) return;
    int rc = gl_progress_plan_create(&P, "sq_sum", 13, GL_BASIS_AUTO, &d, GL_LOSS_MSE, 0.1, &e);
    CHECK(rc == GL_E_INPUT && strstr(e.msg, "add") && strstr(e.msg, "div"), "task sq_sum refused: %s", rc ? e.msg : "");
    double bad[3] = {0, 1.5, NAN};
    for (int i = 0; i < 3; i++) {
        rc = gl_progress_plan_create(&P, "add", 13, GL_BASIS_AUTO, &d, GL_LOSS_MSE, bad[i], &e);
        CHECK(rc == GL_E_INPUT && strstr(e.msg, "(0, 1]"), "key threshold %g refused: %s", bad[i], rc ? e.msg : "");
    }
    rc = gl_progress_plan_create(&P, "add", 11, GL_BASIS_AUTO, &d, GL_LOSS_MSE, 0.1, &e);
    CHECK(rc == GL_E_INPUT, "a dataset of p = 13 refused for p = 11: %s", rc ? e.msg : "");
    rc = gl_progress_plan_create(&P, "mul", 12, GL_BASIS_DLOG, NULL, GL_LOSS_MSE, 0.1, &e);
    CHECK(rc == GL_E_INPUT && strstr(e.msg, "prime"), "the dlog basis at p = 12 refused: %s", rc ? e.msg : "");
    gl_dataset_free(&d);

    rc = gl_progress_plan_create(&P, "div", 11, GL_BASIS_AUTO, NULL, GL_LOSS_CE, 1.0, &e);
    CHECK(rc == 0, "a plan without a dataset, threshold 1 (%s)", rc ? e.msg : "ok");
    if (rc) return;
    float out[11];
    gl_progress pm;
    CHECK(gl_progress_restricted(P, 3, 4, out, &e) == GL_E_INPUT, "restricted logits before a compute refused: %s", e.msg);
    CHECK(gl_progress_compute(P, failing_fn, NULL, &pm, &e) == GL_E_DEVICE, "the logits function's failure passed on: %s",
          e.msg);
    grid g;
    grid_init(&g, "div", 11, 1);
    long calls[11 * 11] = {0};
    fake f = {&g, NULL, 0, calls, 0};
    rc = gl_progress_compute(P, fake_fn, &f, &pm, &e);
    CHECK(rc == 0 && pm.n_key == 1 && isnan(pm.acc[GL_PM_FULL][GL_PM_TEST]) && isnan(pm.loss[GL_PM_RESTRICTED][GL_PM_CLEAN]),
          "without a dataset: one key frequency at threshold 1, every score NaN");
    CHECK(gl_progress_restricted(P, 3, 0, out, &e) == GL_E_INPUT, "restricted logits of (3, 0), not a div pair, refused: %s",
          e.msg);
    CHECK(gl_progress_restricted(P, 0, 4, out, &e) == 0 && out[0] == 0 && out[5] == 0,
          "restricted logits of (0, 4), off the discrete-log grid, are 0");
    gl_progress_plan_free(P);
}

static void test_columns(void) {
    const char *kind[3] = {"full", "restricted", "excluded"}, *set[4] = {"clean", "corrupted", "corrupted_true", "test"},
               *what[2] = {"loss", "acc"};
    int bad = 0;
    for (int i = 0; i < 24; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s_%s_%s", kind[i / 8], set[i / 2 % 4], what[i % 2]);
        bad += strcmp(gl_progress_columns[i], want) != 0;
    }
    CHECK(bad == 0, "24 column names, logits-major, then subset, loss before acc (%d differ)", bad);
}

int main(void) {
    test_random("add", 11, GL_BASIS_AUTO, GL_LOSS_MSE, 0.5);
    test_random("sub", 13, GL_BASIS_AUTO, GL_LOSS_CE, 0.3);
    test_random("add", 12, GL_BASIS_AUTO, GL_LOSS_MSE, 0.3); /* even n: k = n/2 once */
    test_random("mul", 11, GL_BASIS_AUTO, GL_LOSS_MSE, 0.3); /* dlog, n = 10 */
    test_random("div", 13, GL_BASIS_AUTO, GL_LOSS_CE, 0.5);  /* dlog, n = 12 */
    test_random("mul", 13, GL_BASIS_ADDITIVE, GL_LOSS_MSE, 1.0);
    test_random("div", 11, GL_BASIS_ADDITIVE, GL_LOSS_MSE, 0.3); /* column n = 0 outside the task */
    test_random("add", 11, GL_BASIS_DLOG, GL_LOSS_MSE, 0.3);
    test_waves("add", 13, GL_BASIS_AUTO, 0.3);
    test_waves("sub", 12, GL_BASIS_AUTO, 0);
    test_waves("mul", 13, GL_BASIS_AUTO, 0.3);
    test_waves("div", 11, GL_BASIS_AUTO, 0.3); /* n = 10: the wave at n/2 = 5 */
    test_waves("add", 257, GL_BASIS_AUTO, 0.2);
    test_analytic();
    test_refusals();
    test_columns();
    return CHECK_DONE();
}
