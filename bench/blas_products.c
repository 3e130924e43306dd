/*
 * blas_products.c -- times ONLY the three matrix products of one full-batch
 * training step of the groklab MLP (default setting B=4704, N=500, p=97),
 * row-major float32:
 *
 *   out (B,p) = a (B,N) * W^T            forward, second layer
 *   dW  (p,N) = dout^T (p,B) * a (B,N)   gradient of W
 *   da  (B,N) = dout (B,p) * W (p,N)     gradient w.r.t. the hidden activations
 *
 * (The first layer, U e_m + V e_n, is a gather and its gradient a scatter-add;
 * neither is a GEMM, so they are not timed here.)
 *
 * Two modes:
 *   blas  the BLAS library's own threading; the thread count comes from the
 *         environment (OPENBLAS_NUM_THREADS or BLIS_NUM_THREADS).
 *   omp   BLAS forced single-threaded; OpenMP (OMP_NUM_THREADS, or -t) splits
 *         out and da into fixed-size row chunks and dW into fixed-size column
 *         chunks, one single-threaded sgemm per chunk. Chunk sizes do not
 *         depend on the thread count, so results are bitwise identical for
 *         any number of threads.
 *
 * Prints median and min ms over the repetitions (default 30) of the three
 * products together, the per-product medians, and GFLOP/s counting
 * 3 * 2*B*N*p flops.
 *
 * Build (or use bench/Makefile: make -C bench OUT=/tmp/x openblas blis):
 *   gcc -O2 -fopenmp -DUSE_OPENBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *       blas_products.c -o blas_products_openblas \
 *       -L/usr/lib/x86_64-linux-gnu/openblas-pthread \
 *       -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lm
 *   gcc -O2 -fopenmp -DUSE_BLIS -I/usr/include/x86_64-linux-gnu/blis-openmp \
 *       blas_products.c -o blas_products_blis \
 *       -L/usr/lib/x86_64-linux-gnu/blis-openmp \
 *       -Wl,-rpath,/usr/lib/x86_64-linux-gnu/blis-openmp -lblis -lm
 *
 * Usage: blas_products_{openblas,blis} [-m blas|omp] [-t threads] [-r reps]
 *            [--row-chunk R] [--col-chunk C] [-B B] [-N N] [-p p] [--json]
 * Defaults: 30 reps (after 3 warm-up reps), row chunk 256, column chunk 128
 * (a sweep over 64..1176 on the 2-core EPYC VM showed differences within noise).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <omp.h>

#if defined(USE_OPENBLAS)
#include <cblas.h>
#define LIB_NAME "openblas"
static void blas_set_threads(int t) { openblas_set_num_threads(t); }
static int blas_get_threads(void) { return openblas_get_num_threads(); }
#elif defined(USE_BLIS)
#include <blis.h>
#define LIB_NAME "blis"
static void blas_set_threads(int t) { bli_thread_set_num_threads(t); }
static int blas_get_threads(void) { return (int)bli_thread_get_num_threads(); }
#else
#error "define USE_OPENBLAS or USE_BLIS"
#endif

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_fill(size_t n, unsigned *seed)
{
    float *x = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!x) { perror("aligned_alloc"); exit(1); }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;              /* LCG */
        x[i] = (float)((*seed >> 8) * (1.0 / 16777216.0)) - 0.5f;
    }
    return x;
}

/* ---- the three products, BLAS-threaded (one call each) ---- */
static void out_blas(int B, int N, int p, const float *a, const float *W, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, p, N,
                1.0f, a, N, W, N, 0.0f, out, p);
}
static void dW_blas(int B, int N, int p, const float *dout, const float *a, float *dW)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, N, B,
                1.0f, dout, p, a, N, 0.0f, dW, N);
}
static void da_blas(int B, int N, int p, const float *dout, const float *W, float *da)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, p,
                1.0f, dout, p, W, N, 0.0f, da, N);
}

/* ---- the same products, OpenMP over fixed-size chunks, BLAS single-threaded ---- */
static void out_omp(int B, int N, int p, const float *a, const float *W, float *out, int rc)
{
    int nch = (B + rc - 1) / rc;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nch; c++) {
        int r0 = c * rc, nr = B - r0 < rc ? B - r0 : rc;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, p, N,
                    1.0f, a + (size_t)r0 * N, N, W, N, 0.0f, out + (size_t)r0 * p, p);
    }
}
static void dW_omp(int B, int N, int p, const float *dout, const float *a, float *dW, int cc)
{
    int nch = (N + cc - 1) / cc;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nch; c++) {
        int c0 = c * cc, nc = N - c0 < cc ? N - c0 : cc;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, nc, B,
                    1.0f, dout, p, a + c0, N, 0.0f, dW + c0, N);
    }
}
static void da_omp(int B, int N, int p, const float *dout, const float *W, float *da, int rc)
{
    int nch = (B + rc - 1) / rc;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nch; c++) {
        int r0 = c * rc, nr = B - r0 < rc ? B - r0 : rc;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, N, p,
                    1.0f, dout + (size_t)r0 * p, p, W, N, 0.0f, da + (size_t)r0 * N, N);
    }
}

static float max_rel_diff(const float *x, const float *y, size_t n)
{
    float m = 0.0f, s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(x[i] - y[i]);
        if (d > m) m = d;
        if (fabsf(y[i]) > s) s = fabsf(y[i]);
    }
    return s > 0 ? m / s : m;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-m blas|omp] [-t threads] [-r reps] [--row-chunk R]\n"
            "          [--col-chunk C] [-B B] [-N N] [-p p] [--json]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int B = 4704, N = 500, p = 97, reps = 30, warmup = 3;
    int threads = 0, row_chunk = 256, col_chunk = 128, json = 0;
    const char *mode = "blas";

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--json")) { json = 1; continue; }
        if (i + 1 >= argc) usage(argv[0]);
        const char *v = argv[++i];
        if (!strcmp(o, "-m")) mode = v;
        else if (!strcmp(o, "-t")) threads = atoi(v);
        else if (!strcmp(o, "-r")) reps = atoi(v);
        else if (!strcmp(o, "--row-chunk")) row_chunk = atoi(v);
        else if (!strcmp(o, "--col-chunk")) col_chunk = atoi(v);
        else if (!strcmp(o, "-B")) B = atoi(v);
        else if (!strcmp(o, "-N")) N = atoi(v);
        else if (!strcmp(o, "-p")) p = atoi(v);
        else usage(argv[0]);
    }
    int omp_mode = !strcmp(mode, "omp");
    if (!omp_mode && strcmp(mode, "blas")) usage(argv[0]);
    if (reps < 1 || row_chunk < 1 || col_chunk < 1 || B < 1 || N < 1 || p < 1) usage(argv[0]);

    unsigned seed = 12345u;
    float *a = alloc_fill((size_t)B * N, &seed);
    float *W = alloc_fill((size_t)p * N, &seed);
    float *dout = alloc_fill((size_t)B * p, &seed);
    float *out = alloc_fill((size_t)B * p, &seed);
    float *dW = alloc_fill((size_t)p * N, &seed);
    float *da = alloc_fill((size_t)B * N, &seed);

    /* Reference results with the BLAS's default threading, for the omp check. */
    float *ref_out = NULL, *ref_dW = NULL, *ref_da = NULL;
    if (omp_mode) {
        ref_out = alloc_fill((size_t)B * p, &seed);
        ref_dW = alloc_fill((size_t)p * N, &seed);
        ref_da = alloc_fill((size_t)B * N, &seed);
        out_blas(B, N, p, a, W, ref_out);
        dW_blas(B, N, p, dout, a, ref_dW);
        da_blas(B, N, p, dout, W, ref_da);
        blas_set_threads(1);
        if (threads > 0) omp_set_num_threads(threads);
        threads = omp_get_max_threads();
    } else {
        threads = blas_get_threads();
    }

    double *t_all = malloc(sizeof(double) * reps), *t_out = malloc(sizeof(double) * reps);
    double *t_dW = malloc(sizeof(double) * reps), *t_da = malloc(sizeof(double) * reps);
    for (int r = -warmup; r < reps; r++) {
        double t0 = now_ms();
        if (omp_mode) out_omp(B, N, p, a, W, out, row_chunk);
        else          out_blas(B, N, p, a, W, out);
        double t1 = now_ms();
        if (omp_mode) dW_omp(B, N, p, dout, a, dW, col_chunk);
        else          dW_blas(B, N, p, dout, a, dW);
        double t2 = now_ms();
        if (omp_mode) da_omp(B, N, p, dout, W, da, row_chunk);
        else          da_blas(B, N, p, dout, W, da);
        double t3 = now_ms();
        if (r >= 0) {
            t_all[r] = t3 - t0; t_out[r] = t1 - t0; t_dW[r] = t2 - t1; t_da[r] = t3 - t2;
        }
    }

    float err = 0.0f;
    if (omp_mode) {
        float e1 = max_rel_diff(out, ref_out, (size_t)B * p);
        float e2 = max_rel_diff(dW, ref_dW, (size_t)p * N);
        float e3 = max_rel_diff(da, ref_da, (size_t)B * N);
        err = fmaxf(e1, fmaxf(e2, e3));
        if (err > 1e-4f) {
            fprintf(stderr, "blas_products: omp result differs from BLAS result (rel %g)\n", err);
            return 1;
        }
    }

    double min_all = t_all[0];
    for (int r = 1; r < reps; r++) if (t_all[r] < min_all) min_all = t_all[r];
    double med_all = median(t_all, reps);
    double med_out = median(t_out, reps), med_dW = median(t_dW, reps), med_da = median(t_da, reps);
    double gflops = 3.0 * 2.0 * B * N * p / (med_all * 1e6);

    if (json) {
        printf("{\"bench\":\"blas_products\",\"lib\":\"%s\",\"mode\":\"%s\",\"threads\":%d,"
               "\"B\":%d,\"N\":%d,\"p\":%d,\"reps\":%d,", LIB_NAME, mode, threads, B, N, p, reps);
        if (omp_mode) printf("\"row_chunk\":%d,\"col_chunk\":%d,", row_chunk, col_chunk);
        printf("\"median_ms\":%.4f,\"min_ms\":%.4f,\"gflops\":%.2f,"
               "\"out_ms\":%.4f,\"dW_ms\":%.4f,\"da_ms\":%.4f}\n",
               med_all, min_all, gflops, med_out, med_dW, med_da);
    } else {
        printf("%s, mode %s, %d thread(s)", LIB_NAME, mode, threads);
        if (omp_mode) printf(", chunks %d rows / %d cols (max rel diff vs BLAS %.1e)",
                             row_chunk, col_chunk, err);
        printf("\n  B=%d N=%d p=%d, %d reps\n", B, N, p, reps);
        printf("  three products: median %.3f ms, min %.3f ms, %.1f GFLOP/s\n",
               med_all, min_all, gflops);
        printf("  medians: out %.3f ms, dW %.3f ms, da %.3f ms\n", med_out, med_dW, med_da);
    }

    free(a); free(W); free(dout); free(out); free(dW); free(da);
    free(ref_out); free(ref_dW); free(ref_da);
    free(t_all); free(t_out); free(t_dW); free(t_da);
    return 0;
}
