/* groklab: inverse participation ratio of Fourier spectra (docs/paper.md section 5).
 *
 * The transform runs in the plan's basis: the residues 0..p-1 in order
 * (additive), or the nonzero residues in the order g^0, g^1, ..., g^(p-2)
 * for a primitive root g of a prime p (discrete log), where multiplication
 * becomes a cyclic shift and the periodic features of mul and div live.
 * Up to DFT_MAX_P (the paper's p 97 included) it is one product: the
 * (2 nb, p) matrix of the bins' cosines and minus sines, with the basis'
 * order folded into its columns, times the (p, N) array of all N vectors,
 * read where they lie (no gather). A logging step transforms U, V and W
 * this way in about a tenth of FFTW's time for a prime length. Above it,
 * one FFTW plan transforms all N vectors at once (advanced interface:
 * howmany = N) after a gather into the basis. Planning is not thread-safe
 * in FFTW, so it is serialized here; executing a plan on new arrays is. */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/arch.h"
#include "groklab/metrics.h"
#include "groklab/modular.h"
#include "model/blas.h"

enum { DFT_MAX_P = 512 }; /* the DFT matrix: at most 2 x 257 x 512 floats (1 MiB) */

struct gl_ipr_plan {
    int p, N, n, nb; /* modulus, vectors, transform length, rfft bins */
    gl_basis basis;
    int *idx;            /* (n) residue read at position j */
    float *dft;          /* product path: (2 nb, p): row j cos, row nb + j -sin of bin j at residue idx[t] */
    float *spec;         /* product path: (2 nb, N): the real parts, then the imaginary ones */
    float *in;           /* (n, N): vector k at in[j * N + k] (product path: (p, N), residue order) */
    fftwf_complex *out;  /* FFTW path: (nb, N) */
    fftwf_plan plan;
};

/* The product path's matrix: bin j's e^(-2 pi i j t / n) at the residue of
 * position t; residues outside the basis (0 in the discrete log) get 0 */
static void dft_matrix(gl_ipr_plan *P) {
    int p = P->p, n = P->n, nb = P->nb;
    memset(P->dft, 0, sizeof(float) * 2 * (size_t)nb * p);
    for (int j = 0; j < nb; j++)
        for (int t = 0; t < n; t++) {
            double a = 2 * M_PI * (double)((long)j * t % n) / n; /* j t reduced exactly */
            P->dft[(size_t)j * p + P->idx[t]] = (float)cos(a);
            P->dft[(size_t)(nb + j) * p + P->idx[t]] = (float)-sin(a);
        }
}

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

int gl_ipr_plan_create(gl_ipr_plan **plan, int p, int N, gl_basis basis, gl_error *err) {
    int g = 0;
    if (basis == GL_BASIS_DLOG && (g = gl_primitive_root(p)) < 0)
        return gl_fail(err, "the discrete-log basis needs a prime modulus p >= 3 (got %d)", p);
    gl_ipr_plan *P = calloc(1, sizeof *P);
    if (!P) return gl_failc(err, GL_E_NOMEM, "out of memory for the IPR plan");
    P->p = p;
    P->N = N;
    P->basis = basis == GL_BASIS_DLOG ? GL_BASIS_DLOG : GL_BASIS_ADDITIVE;
    P->n = P->basis == GL_BASIS_DLOG ? p - 1 : p;
    P->nb = P->n / 2 + 1;
    P->idx = malloc(sizeof(int) * (size_t)P->n);
    if (!P->idx) {
        gl_ipr_plan_free(P);
        return gl_failc(err, GL_E_NOMEM, "out of memory for the IPR plan");
    }
    long r = 1;
    for (int j = 0; j < P->n; j++) {
        P->idx[j] = P->basis == GL_BASIS_DLOG ? (int)r : j;
        r = r * g % p;
    }
    if (p <= DFT_MAX_P) {
        P->dft = malloc(sizeof(float) * 2 * (size_t)P->nb * p);
        P->spec = malloc(sizeof(float) * 2 * (size_t)P->nb * N);
        P->in = fftwf_malloc(sizeof(float) * (size_t)p * N);
        if (!P->dft || !P->spec || !P->in) {
            gl_ipr_plan_free(P);
            return gl_failc(err, GL_E_NOMEM, "out of memory for the IPR plan");
        }
        dft_matrix(P);
        gl_blas_init(); /* one thread: the same numbers whatever the cores */
        *plan = P;
        return 0;
    }
    P->in = fftwf_malloc(sizeof(float) * (size_t)P->n * N);
    P->out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)P->nb * N);
    if (!P->in || !P->out) {
        gl_ipr_plan_free(P);
        return gl_failc(err, GL_E_NOMEM, "out of memory for the IPR plan");
    }
    pthread_mutex_lock(&planner_lock);
    P->plan = fftwf_plan_many_dft_r2c(1, &P->n, N, P->in, NULL, N, 1, P->out, NULL, N, 1,
                                      FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!P->plan) {
        int n = P->n;
        gl_ipr_plan_free(P);
        return gl_fail(err, "FFTW could not plan a length-%d transform", n);
    }
    *plan = P;
    return 0;
}

void gl_ipr_plan_free(gl_ipr_plan *P) {
    if (!P) return;
    if (P->plan) {
        pthread_mutex_lock(&planner_lock);
        fftwf_destroy_plan(P->plan);
        pthread_mutex_unlock(&planner_lock);
    }
    free(P->idx);
    free(P->dft);
    free(P->spec);
    fftwf_free(P->in);
    fftwf_free(P->out);
    free(P);
}

int gl_ipr_plan_length(const gl_ipr_plan *P) { return P->n; }
int gl_ipr_plan_bins(const gl_ipr_plan *P) { return P->nb; }
gl_basis gl_ipr_plan_basis(const gl_ipr_plan *P) { return P->basis; }
int gl_ipr_plan_index(const gl_ipr_plan *P, int j) { return P->idx[j]; }

/* The N vectors' bins into the plan's output (read with bin()) */
static void transform(gl_ipr_plan *P, const float *x, int stride, int dist) {
    int N = P->N, p = P->p;
    if (P->dft) {
        if (dist != 1) { /* not a (p, N) array: gathered into one */
            for (int t = 0; t < p; t++)
                for (int k = 0; k < N; k++) P->in[(size_t)t * N + k] = x[(size_t)t * stride + (size_t)k * dist];
            x = P->in;
            stride = N;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2 * P->nb, N, p, 1.0f, P->dft, p, x, stride, 0.0f,
                    P->spec, N);
        return;
    }
    for (int j = 0; j < P->n; j++) {
        const float *row = x + (size_t)P->idx[j] * stride;
        float *dst = P->in + (size_t)j * N;
        for (int k = 0; k < N; k++) dst[k] = row[(size_t)k * dist];
    }
    fftwf_execute(P->plan);
}

/* bin j of vector k: its real (c 0) or imaginary (c 1) part */
static double bin(const gl_ipr_plan *P, int j, int k, int c) {
    return P->dft ? P->spec[(size_t)(c * P->nb + j) * P->N + k] : P->out[(size_t)j * P->N + k][c];
}

/* The full DFT has bins 1..ceil(n/2)-1 twice (j and n-j); rfft once each. */
static double bin_weight(int j, int n, gl_ipr_conv conv) {
    return (conv == GL_IPR_FULL && j != 0 && 2 * j != n) ? 2.0 : 1.0;
}

double gl_ipr_of_power(const double *power, int n, gl_ipr_conv conv, double r) {
    double s2 = 0, sr = 0;
    for (int j = 0; j < n / 2 + 1; j++) {
        double w = bin_weight(j, n, conv), a2 = power[j];
        s2 += w * a2;
        sr += w * (r == 2.0 ? a2 * a2 : pow(a2, r));
    }
    return s2 > 0 ? sr / pow(s2, r) : 0.0;
}

void gl_ipr_power(gl_ipr_plan *P, double *power, const float *x, int stride, int dist) {
    transform(P, x, stride, dist);
    int N = P->N, nb = P->nb;
    for (int j = 0; j < nb; j++)
        for (int k = 0; k < N; k++) {
            double re = bin(P, j, k, 0), im = bin(P, j, k, 1);
            power[(size_t)k * nb + j] = re * re + im * im;
        }
}

void gl_ipr_batch(gl_ipr_plan *P, double *ipr, const float *x, int stride, int dist,
                  gl_ipr_conv conv, double r) {
    transform(P, x, stride, dist);
    int N = P->N, nb = P->nb;
    double pw[4096 / 2 + 1]; /* p <= 4096 */
    for (int k = 0; k < N; k++) {
        for (int j = 0; j < nb; j++) {
            double re = bin(P, j, k, 0), im = bin(P, j, k, 1);
            pw[j] = re * re + im * im;
        }
        ipr[k] = gl_ipr_of_power(pw, P->n, conv, r);
    }
}

/* Per-neuron mean of the IPRs of U, V and W into ipr; the three layers'
 * means into parts (may be NULL); returns the neurons' mean. */
static double neurons_parts(gl_ipr_plan *P, double *ipr, const gl_layout *L, const float *params,
                            gl_ipr_conv conv, double *parts) {
    int N = L->N;
    double *tmp = malloc(sizeof(double) * 2 * (size_t)N);
    if (!tmp) return NAN;
    /* Ut, Vt and W are all (p, N): neuron k's vector is column k */
    gl_ipr_batch(P, ipr, params + L->off_u, N, 1, conv, 2.0);
    gl_ipr_batch(P, tmp, params + L->off_v, N, 1, conv, 2.0);
    gl_ipr_batch(P, tmp + N, params + L->off_w, N, 1, conv, 2.0);
    double mean = 0, su = 0, sv = 0, sw = 0;
    for (int k = 0; k < N; k++) {
        su += ipr[k], sv += tmp[k], sw += tmp[N + k];
        ipr[k] = (ipr[k] + tmp[k] + tmp[N + k]) / 3.0;
        mean += ipr[k];
    }
    if (parts) parts[0] = su / N, parts[1] = sv / N, parts[2] = sw / N;
    free(tmp);
    return mean / N;
}

double gl_ipr_neurons(gl_ipr_plan *P, double *ipr, const gl_layout *L, const float *params,
                      gl_ipr_conv conv) {
    return neurons_parts(P, ipr, L, params, conv, NULL);
}

/* gl_ipr_layer, with each group's mean into group_mean[groups] (may be NULL). */
static double layer_parts(gl_ipr_plan *P, double *ipr, const gl_net *net, const float *params, int layer,
                          gl_ipr_conv conv, double r, double *group_mean) {
    size_t off[2];
    int groups, K = net->n_units;
    int stride = gl_net_ipr_units(net, layer, off, &groups);
    double *tmp = malloc(sizeof(double) * (size_t)K);
    if (!tmp) return NAN;
    for (int g = 0; g < groups; g++) {
        gl_ipr_batch(P, g ? tmp : ipr, params + off[g], stride, 1, conv, r);
        double sg = 0;
        for (int k = 0; k < K; k++) {
            if (g) ipr[k] += tmp[k];
            sg += g ? tmp[k] : ipr[k];
        }
        if (group_mean) group_mean[g] = sg / K;
    }
    double mean = 0;
    for (int k = 0; k < K; k++) {
        ipr[k] /= groups;
        mean += ipr[k];
    }
    free(tmp);
    return mean / K;
}

double gl_ipr_layer(gl_ipr_plan *P, double *ipr, const gl_net *net, const float *params, int layer,
                    gl_ipr_conv conv, double r) {
    return layer_parts(P, ipr, net, params, layer, conv, r, NULL);
}

double gl_ipr_net(gl_ipr_plan *P, double *ipr, const gl_net *net, const float *params, gl_ipr_conv conv) {
    return net->arch == GL_ARCH_MLP ? gl_ipr_neurons(P, ipr, &net->mlp, params, conv)
                                    : gl_ipr_layer(P, ipr, net, params, 0, conv, 2.0);
}

double gl_ipr_net_parts(gl_ipr_plan *P, double *ipr, const gl_net *net, const float *params, gl_ipr_conv conv,
                        double parts[3]) {
    if (net->arch == GL_ARCH_MLP) return neurons_parts(P, ipr, &net->mlp, params, conv, parts);
    double g[2] = {NAN, NAN}, mean;
    size_t off[2];
    int groups;
    gl_net_ipr_units(net, 0, off, &groups);
    parts[2] = layer_parts(P, ipr, net, params, 1, conv, 2.0, NULL); /* the output layer first: ipr ends as the input's */
    mean = layer_parts(P, ipr, net, params, 0, conv, 2.0, g);
    parts[0] = g[0];
    parts[1] = groups > 1 ? g[1] : NAN;
    return mean;
}

void gl_metrics_gains(gl_metrics *m, const gl_net *net, const float *params) {
    const float *g = gl_net_gains(net, params, 0);
    m->gamma_mean = m->gamma_std = NAN;
    if (!g) return;
    int K = net->n_units;
    double s = 0, s2 = 0;
    for (int k = 0; k < K; k++) s += fabs((double)g[k]);
    s /= K;
    for (int k = 0; k < K; k++) s2 += (fabs((double)g[k]) - s) * (fabs((double)g[k]) - s);
    m->gamma_mean = s;
    m->gamma_std = sqrt(s2 / K);
}
