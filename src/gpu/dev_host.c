/* groklab GPU backend: the host emulator of the device (see dev.h). Kernels
 * run as loops over their thread index (spread over cores: CUDA threads are
 * independent, and every body writes only its own outputs), GEMMs through
 * the CPU's BLAS with cuBLAS's arguments; memory is ordinary memory. Slower
 * than the CPU backend, and exactly the population code that runs on a GPU,
 * so tests without a GPU check it against the CPU backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/dev.h"
#include "groklab/train.h"
#include "model/blas.h"

/* GROKLAB_GPU_EMULATE_BYTES=n makes the emulated device hold at most n
 * bytes (tests of populations that do not fit). */
struct gl_dev {
    double limit, used; /* limit 0: half of this machine's memory */
};

static int host_open(gl_dev **d, gl_error *err) {
    *d = calloc(1, sizeof **d);
    if (!*d) return gl_fail(err, "out of memory");
    const char *lim = getenv("GROKLAB_GPU_EMULATE_BYTES");
    (*d)->limit = lim && atof(lim) > 0 ? atof(lim) : 0.5 * gl_system_memory();
    return 0;
}

static void host_close(gl_dev *d) { free(d); }

static double host_free_bytes(gl_dev *d) { return d->limit - d->used; }

/* blocks carry their size in front, for the accounting */
enum { HEAD = 16 };

static void *host_alloc(gl_dev *d, size_t bytes) {
    if (d->used + (double)bytes > d->limit) return NULL;
    char *p = calloc(1, bytes + HEAD);
    if (!p) return NULL;
    memcpy(p, &bytes, sizeof bytes);
    d->used += (double)bytes;
    return p + HEAD;
}

static void host_release(gl_dev *d, void *ptr) {
    if (!ptr) return;
    char *p = (char *)ptr - HEAD;
    size_t bytes;
    memcpy(&bytes, p, sizeof bytes);
    d->used -= (double)bytes;
    free(p);
}

static void host_copy(gl_dev *d, void *dst, const void *src, size_t bytes) {
    (void)d;
    if (bytes) memmove(dst, src, bytes);
}

static void host_launch(gl_dev *d, gl_kernel k, long rows, long cols, const gl_gview *v) {
    (void)d;
    switch (k) {
#define GL_K_LOOP(name)                                                                            \
    case GL_K_##name:                                                                              \
        _Pragma("omp parallel for schedule(static) if (rows * cols > 4096)")                       \
        for (long r = 0; r < rows; r++)                                                            \
            for (long c = 0; c < cols; c++) gl_k_##name(r, c, v);                                  \
        break;
        GL_GPU_KERNELS(GL_K_LOOP)
#undef GL_K_LOOP
    case GL_K_COUNT: break;
    }
}

/* cuBLAS's column-major arguments, one cblas_sgemm per matrix of the batch */
static void host_gemm(gl_dev *d, int ta, int tb, int m, int n, int k, const float *A, int lda,
                      long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc,
                      int batch) {
    (void)d;
#pragma omp parallel for schedule(static) if (batch > 1)
    for (int q = 0; q < batch; q++)
        cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, A + q * sa, lda, B + q * sb, ldb, 0.0f, C + q * sc, ldc);
}

static int host_sync(gl_dev *d, gl_error *err) {
    (void)d;
    (void)err;
    return 0;
}

static void host_describe(gl_dev *d, char *name, size_t cap, double *peak) {
    (void)d;
    snprintf(name, cap, "host emulator (no GPU), FP32");
    *peak = 0;
}

const gl_dev_ops *gl_dev_host_ops(void) {
    static const gl_dev_ops ops = {"host emulator", host_open,  host_close,  host_free_bytes,
                                   host_alloc,      host_release, host_copy, host_copy,
                                   host_launch,     host_gemm,  host_sync,  host_describe};
    return &ops;
}
