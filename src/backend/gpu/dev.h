/* groklab GPU backend: the device a population runs on.
 *
 * Two implementations of one table of operations: CUDA (src/backend/gpu/dev_cuda.cu:
 * cudaMalloc, one stream, the kernels of src/backend/gpu/kernels.h launched over a
 * grid, cuBLAS strided batched GEMM) and the host emulator
 * (src/backend/gpu/dev_host.c: the same kernel bodies in loops, a plain GEMM), which
 * lets the population code (src/backend/gpu/pop.c) be tested on machines without a
 * GPU. Pointers returned by alloc are device pointers: only the kernels and
 * the copies read them. Work is queued in order; upload, download and sync
 * wait. */
#ifndef GROKLAB_GPU_DEV_H
#define GROKLAB_GPU_DEV_H

#include <stddef.h>

#include "groklab/error.h"
#include "backend/gpu/kernels.h"

typedef struct gl_dev gl_dev;

typedef struct gl_dev_ops {
    const char *name;
    int (*open)(gl_dev **d, gl_error *err);
    void (*close)(gl_dev *d);
    double (*free_bytes)(gl_dev *d);       /* device memory available now; -1 when it cannot be read (sync says why) */
    void *(*alloc)(gl_dev *d, size_t bytes); /* zero-filled; NULL when out of memory */
    void (*release)(gl_dev *d, void *ptr);
    void (*upload)(gl_dev *d, void *dst, const void *src, size_t bytes); /* the host's side is free on return */
    /* An upload queued in order, not waited for: its host memory (best
     * from host_alloc) must stay as it is until wait_uploads(slot), sync
     * or a download returns. slot, 0 or 1, names the uploads one wait
     * covers, so that the host fills one slot's memory while the other's
     * copies run (double buffering). */
    void (*upload_queued)(gl_dev *d, void *dst, const void *src, size_t bytes, int slot);
    void (*wait_uploads)(gl_dev *d, int slot);
    void (*download)(gl_dev *d, void *dst, const void *src, size_t bytes);
    /* runs kernel k on every cell (row, col) of a rows x cols grid */
    void (*launch)(gl_dev *d, gl_kernel k, long rows, long cols, const gl_gview *v);
    /* C = op(A) op(B) for each of batch matrices (column-major, cuBLAS's
     * conventions: op(A) is m x k, op(B) k x n, C m x n; strides in floats
     * between the matrices of the batch, 0 to reuse one) */
    void (*gemm)(gl_dev *d, int trans_a, int trans_b, int m, int n, int k, const float *A, int lda,
                 long stride_a, const float *B, int ldb, long stride_b, float *C, int ldc,
                 long stride_c, int batch);
    /* waits for the queued work; -1 with a message if any of it failed */
    int (*sync)(gl_dev *d, gl_error *err);
    /* the device's name and the precision of its products, and its FP32
     * peak in FLOP/s (0 if unknown) */
    void (*describe)(gl_dev *d, char *name, size_t cap, double *peak_flops);
    /* host memory that copies move fastest (CUDA: pinned), zero-filled; NULL
     * when out of memory */
    void *(*host_alloc)(gl_dev *d, size_t bytes);
    void (*host_release)(gl_dev *d, void *ptr);
    /* Graphs: between record_begin and record_end the launches and GEMMs
     * queued are recorded, not run (no copy, allocation or sync may come
     * between them); replay queues the recorded operations again, each
     * with the arguments it had (a launch's view as it was then), so a
     * step recorded once runs as one submission (CUDA: a stream capture,
     * instantiated). record_begin: 0, or -1 when the device does not
     * record now (the caller launches the operations itself); record_end:
     * the graph, or NULL when recording failed (nothing ran). */
    int (*record_begin)(gl_dev *d);
    void *(*record_end)(gl_dev *d);
    void (*replay)(gl_dev *d, void *graph);
    void (*graph_release)(gl_dev *d, void *graph);
} gl_dev_ops;

const gl_dev_ops *gl_dev_host_ops(void);
/* NULL when this build has no CUDA backend */
const gl_dev_ops *gl_dev_cuda_ops(void);

#endif
