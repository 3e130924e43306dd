/* groklab GPU backend: the CUDA device (see dev.h), built as the module
 * groklab-cuda.so that the library loads on demand (dev_module.h): it calls
 * the library only through the host table it is handed.
 *
 * Everything runs in order on one stream of the device's own (non-blocking,
 * so that a stream capture records it whole): each kernel of kernels.h
 * becomes grid-stride __global__ functions over its grid's cells, GEMMs are
 * cuBLAS strided batched SGEMMs in FP32 (CUBLAS_DEFAULT_MATH: no TF32, unless
 * gl_runtime's tf32), copies are cudaMemcpyAsync on the stream, waited for
 * (the host's side may be reused at once, as with cudaMemcpy), except the
 * queued uploads, each followed by its slot's event, which wait_uploads
 * waits for. A graph
 * (dev.h) is a capture of the stream, instantiated once and launched on it.
 * The GPU is gl_runtime's gpu, else its MPI local rank modulo the GPUs
 * present, else 0.
 * Errors of queued work are collected and reported by sync; every CUDA and
 * cuBLAS return is checked, a kernel's errors name the kernel, and with
 * gl_runtime's gpu_sync (GROKLAB_GPU_SYNC=1 from the CLI) each operation
 * is followed by a synchronize, so that an asynchronous fault is reported
 * under the operation that caused it (slow: for debugging). cuBLAS gets its
 * workspace at open (CUBLAS_WORKSPACE), so that no product allocates in the
 * middle of a step. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "backend/gpu/dev_module.h"
}

static const gl_cuda_host *H; /* the library's functions (gl_cuda_module_ops) */

#define CUBLAS_WORKSPACE (32u << 20) /* cuBLAS's recommendation for Hopper */

struct gl_dev {
    cudaStream_t stream;
    cublasHandle_t blas;
    void *workspace; /* cuBLAS's, CUBLAS_WORKSPACE bytes */
    cudaEvent_t queued[2]; /* after the last queued upload of each slot */
    int device;
    int tf32;      /* gl_runtime tf32: cuBLAS may use TF32 tensor cores */
    int sync_each; /* gl_runtime gpu_sync: synchronize after every operation */
    int capturing; /* between record_begin and record_end */
    char first_error[256];
    char capture_error[256]; /* the first error while capturing: the recording fails, nothing ran */
};

/* While capturing, an error fails the recording only: the caller then
 * launches the same operations itself, and those report their own errors. */
static void note(gl_dev *d, const char *what, const char *msg) {
    char *first = d->capturing ? d->capture_error : d->first_error;
    if (!first[0]) snprintf(first, sizeof d->first_error, "%s: %s", what, msg);
}

static void check(gl_dev *d, cudaError_t e, const char *what) {
    if (e != cudaSuccess) note(d, what, cudaGetErrorString(e));
    else if (d->sync_each && (e = cudaDeviceSynchronize()) != cudaSuccess) note(d, what, cudaGetErrorString(e));
}

static int pick_device(int count) {
    const gl_runtime *rt = H->runtime();
    if (rt->gpu >= 0) return rt->gpu % count;
    return rt->local_rank >= 0 ? rt->local_rank % count : 0;
}

/* Releases what open made, as far as it got (cuBLAS before its workspace). */
static void destroy(gl_dev *d) {
    if (d->blas) cublasDestroy(d->blas);
    for (int i = 0; i < 2; i++)
        if (d->queued[i]) cudaEventDestroy(d->queued[i]);
    if (d->stream) cudaStreamDestroy(d->stream);
    if (d->workspace) cudaFree(d->workspace);
    free(d);
}

static int cuda_open(gl_dev **out, gl_error *err) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return H->failc(err, GL_E_NODEVICE, "no CUDA GPU is usable here (%s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "no devices");
    int device = pick_device(count);
    if ((e = cudaSetDevice(device)) != cudaSuccess)
        return H->failc(err, GL_E_NODEVICE, "cudaSetDevice(%d): %s", device, cudaGetErrorString(e));
    gl_dev *d = (gl_dev *)calloc(1, sizeof *d);
    if (!d) return H->failc(err, GL_E_NOMEM, "out of memory for the device");
    d->device = device;
    d->sync_each = H->runtime()->gpu_sync != 0;
    if ((e = cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        d->stream = NULL;
        destroy(d);
        return H->failc(err, GL_E_NODEVICE, "cudaStreamCreateWithFlags on GPU %d: %s", device,
                        cudaGetErrorString(e));
    }
    cublasStatus_t s = cublasCreate(&d->blas);
    if (s != CUBLAS_STATUS_SUCCESS) {
        d->blas = NULL;
        destroy(d);
        return H->failc(err, GL_E_NODEVICE, "cublasCreate failed on GPU %d (status %d)", device, (int)s);
    }
    d->tf32 = H->runtime()->tf32 != 0;
    const char *failed = NULL;
    if ((s = cublasSetStream(d->blas, d->stream)) != CUBLAS_STATUS_SUCCESS)
        failed = "cublasSetStream";
    else if ((s = cublasSetMathMode(d->blas, d->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)) !=
             CUBLAS_STATUS_SUCCESS)
        failed = "cublasSetMathMode";
    else if ((e = cudaEventCreateWithFlags(&d->queued[0], cudaEventDisableTiming)) != cudaSuccess ||
             (e = cudaEventCreateWithFlags(&d->queued[1], cudaEventDisableTiming)) != cudaSuccess) {
        cudaGetLastError();
        destroy(d);
        return H->failc(err, GL_E_DEVICE, "GPU %d: cudaEventCreateWithFlags: %s", device, cudaGetErrorString(e));
    } else if ((e = cudaMalloc(&d->workspace, CUBLAS_WORKSPACE)) != cudaSuccess) {
        cudaGetLastError();
        d->workspace = NULL;
        destroy(d);
        return H->failc(err, GL_E_NOMEM, "GPU %d: no memory for cuBLAS's %u MiB workspace (%s)", device,
                        CUBLAS_WORKSPACE >> 20, cudaGetErrorString(e));
    } else if ((s = cublasSetWorkspace(d->blas, d->workspace, CUBLAS_WORKSPACE)) != CUBLAS_STATUS_SUCCESS)
        failed = "cublasSetWorkspace";
    if (failed) {
        destroy(d);
        return H->failc(err, GL_E_DEVICE, "GPU %d: %s failed (status %d)", device, failed, (int)s);
    }
    *out = d;
    return 0;
}

static void cuda_close(gl_dev *d) {
    cudaStreamSynchronize(d->stream);
    destroy(d);
}

static double cuda_free_bytes(gl_dev *d) {
    size_t free_b = 0, total = 0;
    cudaError_t e = cudaMemGetInfo(&free_b, &total);
    if (e != cudaSuccess) {
        note(d, "cudaMemGetInfo", cudaGetErrorString(e));
        return -1;
    }
    return (double)free_b;
}

static void *cuda_alloc(gl_dev *d, size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError(); /* an allocation failure is not sticky: the caller reports it */
        return NULL;
    }
    check(d, cudaMemsetAsync(p, 0, bytes, d->stream), "cudaMemsetAsync");
    return p;
}

/* after the stream's work: its kernels may still read the memory */
static void cuda_release(gl_dev *d, void *ptr) {
    check(d, cudaStreamSynchronize(d->stream), "cudaStreamSynchronize");
    check(d, cudaFree(ptr), "cudaFree");
}

/* a copy on the stream, waited for: the host's side is free when it returns */
static void copy(gl_dev *d, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what) {
    if (!bytes) return;
    check(d, cudaMemcpyAsync(dst, src, bytes, kind, d->stream), what);
    check(d, cudaStreamSynchronize(d->stream), what);
}

static void cuda_upload(gl_dev *d, void *dst, const void *src, size_t bytes) {
    copy(d, dst, src, bytes, cudaMemcpyHostToDevice, "upload");
}

static void cuda_download(gl_dev *d, void *dst, const void *src, size_t bytes) {
    copy(d, dst, src, bytes, cudaMemcpyDeviceToHost, "download");
}

/* in stream order, not waited for: from pinned memory the copy runs while
 * the host goes on (dev.h) */
static void cuda_upload_queued(gl_dev *d, void *dst, const void *src, size_t bytes, int slot) {
    if (!bytes) return;
    check(d, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, d->stream), "queued upload");
    check(d, cudaEventRecord(d->queued[slot & 1], d->stream), "cudaEventRecord (a queued upload)");
}

static void cuda_wait_uploads(gl_dev *d, int slot) {
    check(d, cudaEventSynchronize(d->queued[slot & 1]), "cudaEventSynchronize (queued uploads)");
}

/* Each kernel in two forms: over a rows x cols grid (blockIdx.y strides
 * over rows, x over columns), and for one column over rows alone. */
#define GL_K_GLOBAL(name)                                                                          \
    __global__ void gl_kernel_##name(long rows, long cols, gl_gview v) {                           \
        for (long r = blockIdx.y; r < rows; r += gridDim.y)                                        \
            for (long c = (long)blockIdx.x * blockDim.x + threadIdx.x; c < cols;                   \
                 c += (long)gridDim.x * blockDim.x)                                                \
                gl_k_##name(r, c, &v);                                                             \
    }                                                                                              \
    __global__ void gl_kernel_##name##_rows(long rows, gl_gview v) {                               \
        for (long r = (long)blockIdx.x * blockDim.x + threadIdx.x; r < rows;                       \
             r += (long)gridDim.x * blockDim.x)                                                    \
            gl_k_##name(r, 0, &v);                                                                 \
    }
GL_GPU_KERNELS(GL_K_GLOBAL)
#undef GL_K_GLOBAL

static void cuda_launch(gl_dev *d, gl_kernel k, long rows, long cols, const gl_gview *v) {
    if (rows <= 0 || cols <= 0) return;
    /* columns: a block of up to 256 threads (whole warps), grid x to cover
     * them; rows: grid y, at most 65535, striding beyond */
    int threads = cols >= 256 ? 256 : (int)((cols + 31) / 32 * 32);
    long bx = (cols + threads - 1) / threads, by = rows < 65535 ? rows : 65535;
    if (bx > 65535) bx = 65535;
    long b1 = (rows + 255) / 256;
    if (b1 > (1L << 20)) b1 = 1L << 20;
    switch (k) {
#define GL_K_CASE(name)                                                                            \
    case GL_K_##name:                                                                              \
        if (cols == 1)                                                                             \
            gl_kernel_##name##_rows<<<(unsigned)b1, 256, 0, d->stream>>>(rows, *v);                \
        else                                                                                       \
            gl_kernel_##name<<<dim3((unsigned)bx, (unsigned)by), threads, 0, d->stream>>>(rows,    \
                                                                                    cols, *v);     \
        break;
        GL_GPU_KERNELS(GL_K_CASE)
#undef GL_K_CASE
    case GL_K_COUNT: break;
    }
    char what[64];
    snprintf(what, sizeof what, "kernel %s", gl_kernel_name(k));
    check(d, cudaGetLastError(), what);
}

static void cuda_gemm(gl_dev *d, int ta, int tb, int m, int n, int k, const float *A, int lda,
                      long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc,
                      int batch) {
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = cublasSgemmStridedBatched(
        d->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &one, A,
        lda, (long long)sa, B, ldb, (long long)sb, &zero, C, ldc, (long long)sc, batch);
    char what[96];
    snprintf(what, sizeof what, "cublasSgemmStridedBatched (%c%c, %d x %d x %d, batch %d)", ta ? 'T' : 'N',
             tb ? 'T' : 'N', m, n, k, batch);
    if (s != CUBLAS_STATUS_SUCCESS) {
        char msg[64];
        snprintf(msg, sizeof msg, "status %d", (int)s);
        note(d, what, msg);
    } else if (d->sync_each) {
        check(d, cudaGetLastError(), what);
    }
}

/* Graphs: a capture of the stream (only this thread's calls are checked
 * against it), instantiated. Not with gpu_sync, whose
 * synchronizations a capture refuses. */
static int cuda_record_begin(gl_dev *d) {
    if (d->sync_each) return -1;
    if (cudaStreamBeginCapture(d->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    d->capturing = 1;
    d->capture_error[0] = 0;
    return 0;
}

static void *cuda_record_end(gl_dev *d) {
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    cudaError_t e = cudaStreamEndCapture(d->stream, &graph);
    d->capturing = 0;
    if (e == cudaSuccess && !d->capture_error[0]) e = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (e != cudaSuccess || d->capture_error[0]) {
        if (exec) cudaGraphExecDestroy(exec);
        cudaGetLastError(); /* the caller launches the operations one by one instead */
        return NULL;
    }
    return (void *)exec;
}

static void cuda_replay(gl_dev *d, void *graph) {
    check(d, cudaGraphLaunch((cudaGraphExec_t)graph, d->stream), "cudaGraphLaunch (a recorded step)");
}

static void cuda_graph_release(gl_dev *d, void *graph) {
    check(d, cudaGraphExecDestroy((cudaGraphExec_t)graph), "cudaGraphExecDestroy");
}

static int cuda_sync(gl_dev *d, gl_error *err) {
    check(d, cudaStreamSynchronize(d->stream), "cudaStreamSynchronize");
    if (d->first_error[0]) return H->failc(err, GL_E_DEVICE, "GPU: %s", d->first_error);
    return 0;
}

/* FP32 peak: SMs x FP32 lanes per SM x 2 (FMA) x clock. Lanes: 128 per SM
 * from compute capability 8.6 on (and 8.9, 9.0 Hopper), 64 on 7.x and 8.0. */
static void cuda_describe(gl_dev *d, char *name, size_t cap, double *peak) {
    cudaDeviceProp pr;
    int clock_khz = 0;
    const char *precision = d->tf32 ? "TF32 products (GROKLAB_TF32=1)" : "FP32";
    *peak = 0;
    if (cudaGetDeviceProperties(&pr, d->device) != cudaSuccess) {
        cudaGetLastError();
        snprintf(name, cap, "GPU %d, %s", d->device, precision);
        return;
    }
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, d->device) != cudaSuccess) {
        cudaGetLastError();
        snprintf(name, cap, "%s (compute %d.%d, %d SMs, clock unknown), %s", pr.name, pr.major, pr.minor,
                 pr.multiProcessorCount, precision);
        return;
    }
    int lanes = pr.major >= 9 || (pr.major == 8 && pr.minor >= 6) ? 128 : 64;
    *peak = (double)pr.multiProcessorCount * lanes * 2.0 * clock_khz * 1e3;
    snprintf(name, cap, "%s (compute %d.%d, %d SMs, %.0f MHz, %.1f GiB), %s", pr.name, pr.major,
             pr.minor, pr.multiProcessorCount, clock_khz / 1e3, pr.totalGlobalMem / 1073741824.0,
             precision);
}

/* pinned host memory: copies from it need no staging */
static void *cuda_host_alloc(gl_dev *d, size_t bytes) {
    (void)d;
    void *p = NULL;
    if (cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void cuda_host_release(gl_dev *d, void *ptr) {
    if (ptr) check(d, cudaFreeHost(ptr), "cudaFreeHost");
}

extern "C" __attribute__((visibility("default"))) const gl_dev_ops *gl_cuda_module_ops(const gl_cuda_host *host) {
    if (host->abi != GL_CUDA_MODULE_ABI || host->view_bytes != sizeof(gl_gview) ||
        host->ops_bytes != sizeof(gl_dev_ops))
        return NULL;
    H = host;
    /* in dev.h's order */
    static const gl_dev_ops ops = {"cuda",
                                   cuda_open,
                                   cuda_close,
                                   cuda_free_bytes,
                                   cuda_alloc,
                                   cuda_release,
                                   cuda_upload,
                                   cuda_upload_queued,
                                   cuda_wait_uploads,
                                   cuda_download,
                                   cuda_launch,
                                   cuda_gemm,
                                   cuda_sync,
                                   cuda_describe,
                                   cuda_host_alloc,
                                   cuda_host_release,
                                   cuda_record_begin,
                                   cuda_record_end,
                                   cuda_replay,
                                   cuda_graph_release};
    return &ops;
}
