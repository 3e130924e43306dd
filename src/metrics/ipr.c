/* groklab: inverse participation ratio of Fourier spectra (PAPER.md section 5).
 *
 * One FFTW plan transforms all N length-p vectors of a (p, N) or (N, p)
 * array at once (advanced interface: howmany = N with the caller's strides).
 * Planning is not thread-safe in FFTW, so it is serialized here; executing a
 * plan on new arrays is. */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "groklab/metrics.h"

struct gl_ipr_plan {
    int p, N;
    float *in;            /* (p, N): vector k at in[i * N + k] */
    fftwf_complex *out;   /* (p/2+1, N) */
    fftwf_plan plan;
};

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

int gl_ipr_plan_create(gl_ipr_plan **plan, int p, int N, gl_error *err) {
    gl_ipr_plan *P = calloc(1, sizeof *P);
    if (!P) return gl_fail(err, "out of memory for the IPR plan");
    P->p = p;
    P->N = N;
    int nc = p / 2 + 1;
    P->in = fftwf_malloc(sizeof(float) * (size_t)p * N);
    P->out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)nc * N);
    if (!P->in || !P->out) {
        gl_ipr_plan_free(P);
        return gl_fail(err, "out of memory for the IPR plan");
    }
    pthread_mutex_lock(&planner_lock);
    P->plan = fftwf_plan_many_dft_r2c(1, &p, N, P->in, NULL, N, 1, P->out, NULL, N, 1,
                                      FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!P->plan) {
        gl_ipr_plan_free(P);
        return gl_fail(err, "FFTW could not plan a length-%d transform", p);
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
    fftwf_free(P->in);
    fftwf_free(P->out);
    free(P);
}

void gl_ipr_batch(gl_ipr_plan *P, double *ipr, const float *x, int stride, int dist,
                  gl_ipr_conv conv, double r) {
    int p = P->p, N = P->N, nc = p / 2 + 1;
    for (int i = 0; i < p; i++)
        for (int k = 0; k < N; k++) P->in[(size_t)i * N + k] = x[(size_t)i * stride + (size_t)k * dist];
    fftwf_execute(P->plan);
    for (int k = 0; k < N; k++) {
        double s2 = 0, sr = 0;
        for (int j = 0; j < nc; j++) {
            const float *c = P->out[(size_t)j * N + k];
            double a2 = (double)c[0] * c[0] + (double)c[1] * c[1];
            double ar = r == 2.0 ? a2 * a2 : pow(a2, r);
            /* full DFT: bins 1..ceil(p/2)-1 appear twice (j and p-j) */
            double mult = (conv == GL_IPR_FULL && j != 0 && 2 * j != p) ? 2.0 : 1.0;
            s2 += mult * a2;
            sr += mult * ar;
        }
        ipr[k] = s2 > 0 ? sr / pow(s2, r) : 0.0;
    }
}

double gl_ipr_neurons(gl_ipr_plan *P, double *ipr, const gl_layout *L, const float *params,
                      gl_ipr_conv conv) {
    int N = L->N;
    double *tmp = malloc(sizeof(double) * 2 * (size_t)N);
    if (!tmp) return NAN;
    /* Ut, Vt and W are all (p, N): neuron k's vector is column k */
    gl_ipr_batch(P, ipr, params + L->off_u, N, 1, conv, 2.0);
    gl_ipr_batch(P, tmp, params + L->off_v, N, 1, conv, 2.0);
    gl_ipr_batch(P, tmp + N, params + L->off_w, N, 1, conv, 2.0);
    double mean = 0;
    for (int k = 0; k < N; k++) {
        ipr[k] = (ipr[k] + tmp[k] + tmp[N + k]) / 3.0;
        mean += ipr[k];
    }
    free(tmp);
    return mean / N;
}
