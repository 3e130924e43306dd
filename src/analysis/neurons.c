/* groklab: per-neuron spectra and IPR of a two-layer MLP, and the small
 * statistics the reports use. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/analysis.h"
#include "groklab/metrics.h"

void gl_neurons_free(gl_neurons *nr) {
    if (!nr) return;
    free(nr->ipr);
    for (int v = 0; v < GL_NVEC; v++) {
        free(nr->vec_ipr[v]);
        free(nr->dominant[v]);
        free(nr->share[v]);
        free(nr->norm[v]);
        free(nr->power[v]);
    }
    free(nr->gain);
    memset(nr, 0, sizeof *nr);
}

int gl_neurons_compute(gl_neurons *nr, const gl_config *c, const gl_layout *L, const float *params,
                       gl_basis basis, gl_ipr_conv conv, double r, gl_error *err) {
    memset(nr, 0, sizeof *nr);
    if (basis == GL_BASIS_AUTO) {
        gl_config tmp = *c;
        tmp.ipr_basis = GL_BASIS_AUTO;
        basis = gl_config_basis(&tmp);
    }
    if (!(r > 0) || !isfinite(r)) return gl_fail(err, "--r: %g is not a positive number", r);
    int N = L->N, p = L->p;
    gl_ipr_plan *P;
    if (gl_ipr_plan_create(&P, p, N, basis, err) != 0) return -1;
    nr->N = N;
    nr->n = gl_ipr_plan_length(P);
    nr->bins = gl_ipr_plan_bins(P);
    nr->basis = basis;
    nr->conv = conv;
    nr->r = r;
    int ok = (nr->ipr = calloc((size_t)N, sizeof(double))) != NULL;
    for (int v = 0; v < GL_NVEC && ok; v++) {
        nr->vec_ipr[v] = malloc((size_t)N * sizeof(double));
        nr->dominant[v] = malloc((size_t)N * sizeof(int));
        nr->share[v] = malloc((size_t)N * sizeof(double));
        nr->norm[v] = malloc((size_t)N * sizeof(double));
        nr->power[v] = malloc((size_t)N * nr->bins * sizeof(double));
        ok = nr->vec_ipr[v] && nr->dominant[v] && nr->share[v] && nr->norm[v] && nr->power[v];
    }
    if (ok && L->norm != GL_NORM_NONE) ok = (nr->gain = malloc((size_t)N * sizeof(double))) != NULL;
    if (!ok) {
        gl_ipr_plan_free(P);
        gl_neurons_free(nr);
        return gl_failc(err, GL_E_NOMEM, "out of memory for the spectra of %d neurons", N);
    }
    /* Ut, Vt and W are all (p, N): neuron k's vector is column k */
    const size_t off[GL_NVEC] = {L->off_u, L->off_v, L->off_w};
    for (int v = 0; v < GL_NVEC; v++) {
        const float *x = params + off[v];
        gl_ipr_power(P, nr->power[v], x, N, 1);
        for (int k = 0; k < N; k++) {
            const double *pw = nr->power[v] + (size_t)k * nr->bins;
            double total = 0, best = -1, n2 = 0;
            int arg = 0;
            for (int j = 0; j < nr->bins; j++) {
                double w = (j != 0 && 2 * j != nr->n) ? 2.0 : 1.0; /* two-sided power */
                total += w * pw[j];
                if (w * pw[j] > best) best = w * pw[j], arg = j;
            }
            for (int i = 0; i < p; i++) n2 += (double)x[(size_t)i * N + k] * x[(size_t)i * N + k];
            nr->vec_ipr[v][k] = gl_ipr_of_power(pw, nr->n, conv, r);
            nr->dominant[v][k] = arg;
            nr->share[v][k] = total > 0 ? best / total : 0.0;
            nr->norm[v][k] = sqrt(n2);
        }
    }
    double mean = 0;
    for (int k = 0; k < N; k++) {
        nr->ipr[k] = (nr->vec_ipr[0][k] + nr->vec_ipr[1][k] + nr->vec_ipr[2][k]) / 3.0;
        mean += nr->ipr[k];
        if (nr->gain) nr->gain[k] = fabs((double)params[L->off_gamma + k]);
    }
    nr->mean_ipr = mean / N;
    gl_ipr_plan_free(P);
    return 0;
}

int gl_neurons_frequency(const gl_neurons *nr, int k) {
    double tot[GL_NVEC] = {0};
    for (int v = 0; v < GL_NVEC; v++)
        for (int i = 0; i < nr->bins; i++) tot[v] += nr->power[v][(size_t)k * nr->bins + i];
    int arg = 0;
    double best = -1;
    for (int j = 0; j < nr->bins; j++) {
        double s = 0;
        for (int v = 0; v < GL_NVEC; v++)
            s += tot[v] > 0 ? nr->power[v][(size_t)k * nr->bins + j] / tot[v] : 0;
        if (s > best) best = s, arg = j;
    }
    return arg;
}

double gl_otsu_threshold(const double *x, int n, double lo, double hi) {
    enum { NB = 64 };
    double h[NB] = {0};
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        int b = (int)((x[i] - lo) / (hi - lo) * NB);
        h[b < 0 ? 0 : b >= NB ? NB - 1 : b] += 1;
        cnt++;
    }
    if (cnt == 0) return 0.5 * (lo + hi);
    double sum_all = 0;
    for (int b = 0; b < NB; b++) sum_all += b * h[b];
    double w0 = 0, s0 = 0, best = -1;
    int arg = NB / 2;
    for (int b = 0; b < NB - 1; b++) {
        w0 += h[b];
        s0 += b * h[b];
        double w1 = cnt - w0;
        if (w0 == 0 || w1 == 0) continue;
        double m0 = s0 / w0, m1 = (sum_all - s0) / w1;
        double between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if (between > best) best = between, arg = b;
    }
    return lo + (hi - lo) * (arg + 1) / NB;
}

double gl_pearson(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

typedef struct {
    double key;
    int idx;
} keyed;
static int keyed_cmp(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* ranks 1..n, ties get their average rank */
static void ranks(double *rk, const double *x, int n, keyed *tmp) {
    for (int i = 0; i < n; i++) tmp[i] = (keyed){x[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, keyed_cmp);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && tmp[j + 1].key == tmp[i].key) j++;
        for (int k = i; k <= j; k++) rk[tmp[k].idx] = 0.5 * (i + j) + 1;
        i = j + 1;
    }
}

double gl_spearman(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double *rx = malloc(sizeof(double) * (size_t)n), *ry = malloc(sizeof(double) * (size_t)n);
    keyed *idx = malloc(sizeof(keyed) * (size_t)n);
    double r = NAN;
    if (rx && ry && idx) {
        ranks(rx, x, n, idx);
        ranks(ry, y, n, idx);
        r = gl_pearson(rx, ry, n);
    }
    free(rx);
    free(ry);
    free(idx);
    return r;
}

void gl_order_by(int *order, const double *key, int n, int descending) {
    keyed *tmp = malloc(sizeof(keyed) * (size_t)(n > 0 ? n : 1));
    if (!tmp) { /* index order rather than nothing */
        for (int i = 0; i < n; i++) order[i] = i;
        return;
    }
    for (int i = 0; i < n; i++) tmp[i] = (keyed){descending ? -key[i] : key[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, keyed_cmp);
    for (int i = 0; i < n; i++) order[i] = tmp[i].idx;
    free(tmp);
}
