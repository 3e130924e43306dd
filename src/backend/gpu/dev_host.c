/* groklab GPU backend: the host emulator of the device (see dev.h). Kernels
 * run as loops over their thread index (spread over cores: CUDA threads are
 * independent, and every body writes only its own outputs), GEMMs through
 * the CPU's BLAS with cuBLAS's arguments; memory is pages of this process.
 * Slower than the CPU backend, and exactly the population code that runs on
 * a GPU, so tests without a GPU check it against the CPU backend.
 *
 * In its strict mode (gl_runtime gpu_emulate 2, which the CLI sets for
 * GROKLAB_GPU_EMULATE=strict) the emulator also checks what a GPU would
 * enforce and the plain emulator cannot see, and reports a violation at the
 * next sync:
 *  - host code never touches device memory: between device operations every
 *    allocation is closed to the host (PROT_NONE), so a stray read or write
 *    of a device pointer outside a kernel, GEMM or copy crashes, with a
 *    message that says so;
 *  - a kernel's cells are independent, as a GPU runs them in any order and
 *    at once: each launch runs its cells in order and again, from the same
 *    memory, in the reverse order, and the two results must be equal to the
 *    byte (a cell that reads what another writes, or two cells writing one
 *    place, make them differ);
 *  - copies and products name device memory where cudaMemcpy and cuBLAS
 *    need it: an upload's destination and a download's source lie within
 *    one allocation and the other side outside all of them; a GEMM's three
 *    matrices, over the whole batch, lie within allocations, C overlaps
 *    neither A nor B, and each leading dimension is at least its matrix's
 *    rows (cuBLAS refuses less);
 *  - a queued upload's host memory stays as it was until the upload is
 *    waited for (wait_uploads of its slot, a sync or a download), as a
 *    GPU's copy may read it at any time until then: the emulator copies at
 *    once, keeps a snapshot and compares it when the wait comes.
 * A recorded graph (dev.h) is the list of its launches and GEMMs with their
 * arguments, views copied, replayed through the same launch and GEMM; a
 * copy, allocation or release while recording is an error, as it is in a
 * CUDA stream capture.
 * In both modes an allocation ends where its pages end and a page that is
 * never mapped for reading follows it (and precedes it), so a kernel that
 * reads or writes past the end of an array crashes, as out-of-bounds access
 * does on a GPU under compute-sanitizer. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/gpu/dev.h"
#include "groklab/runtime.h"
#include "groklab/model.h"
#include "model/blas.h"

typedef struct block {
    char *base;         /* the mapping: a guard page, span bytes of data pages, a guard page */
    char *p;            /* the allocation: its last byte is the data pages' last */
    size_t bytes, span;
} block;

/* A recorded operation: a launch (gemm 0) or a GEMM, with its arguments */
typedef struct rec_op {
    int gemm;
    gl_kernel k;
    long rows, cols;
    gl_gview v;
    int ta, tb, m, n, kk, lda, ldb, ldc, batch;
    const float *A, *B;
    float *C;
    long sa, sb, sc;
} rec_op;

/* strict: a queued upload's host side, and what it held when queued */
typedef struct queued {
    const void *src;
    void *snap;
    size_t bytes;
    int slot;
} queued;

typedef struct graph {
    rec_op *op;
    int n, cap;
    int failed; /* out of memory while recording */
} graph;

/* gl_runtime emulate_bytes n makes the emulated device hold at most n bytes
 * (tests of populations that do not fit). */
struct gl_dev {
    double limit, used; /* limit 0: half of this machine's memory */
    int strict;
    block *blocks; /* the live allocations */
    int n, cap;
    char *before, *ahead; /* strict: memory before a launch, and its in-order result */
    size_t scratch;
    graph *rec; /* the graph being recorded, or NULL */
    queued *q;  /* strict: the uploads queued and not yet waited for */
    int nq, capq;
    char first_error[256];
};

/* strict: a memory fault names its likely cause, then is what it was */
static void on_fault(int sig) {
    static const char msg[] =
        "GROKLAB_GPU_EMULATE=strict: memory fault: host code touched device memory outside a "
        "device operation, or a kernel went past the end of an array\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    signal(sig, SIG_DFL); /* the faulting access repeats and ends the process */
}

static int host_open(gl_dev **d, gl_error *err) {
    *d = calloc(1, sizeof **d);
    if (!*d) return gl_fail_nomem(err, "for the emulator");
    gl_blas_init(); /* the products are the CPU's BLAS on one thread, as the CPU backend's */
    const gl_runtime *rt = gl_runtime_get();
    (*d)->limit = rt->emulate_bytes > 0 ? rt->emulate_bytes : 0.5 * gl_system_memory();
    (*d)->strict = rt->gpu_emulate == 2;
    if ((*d)->strict) {
        signal(SIGSEGV, on_fault);
        signal(SIGBUS, on_fault);
    }
    return 0;
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static void unmap(const block *b) { munmap(b->base, b->span + 2 * page_size()); }

static void graph_free(graph *gr) {
    if (gr) free(gr->op);
    free(gr);
}

static void host_close(gl_dev *d) {
    graph_free(d->rec);
    for (int i = 0; i < d->nq; i++) free(d->q[i].snap);
    free(d->q);
    for (int i = 0; i < d->n; i++) unmap(&d->blocks[i]);
    free(d->blocks);
    free(d->before);
    free(d->ahead);
    free(d);
}

static double host_free_bytes(gl_dev *d) { return d->limit - d->used; }

static void note(gl_dev *d, const char *msg) {
    if (!d->first_error[0]) snprintf(d->first_error, sizeof d->first_error, "%s", msg);
}

/* 1 (noted) when an operation that cannot be recorded comes while recording */
static int recording(gl_dev *d, const char *what) {
    if (!d->rec) return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "%s while recording a graph (a stream capture refuses it)", what);
    note(d, msg);
    return 1;
}

/* the next operation slot of the graph being recorded, or NULL (out of memory: the recording fails) */
static rec_op *record(gl_dev *d) {
    graph *gr = d->rec;
    if (gr->n == gr->cap) {
        int cap = gr->cap ? 2 * gr->cap : 32;
        rec_op *op = realloc(gr->op, sizeof *op * (size_t)cap);
        if (!op) {
            gr->failed = 1;
            return NULL;
        }
        gr->op = op;
        gr->cap = cap;
    }
    rec_op *op = &gr->op[gr->n++];
    memset(op, 0, sizeof *op);
    return op;
}

/* strict: lets the host reach device memory (during a device operation) or not */
static void expose(gl_dev *d, int on) {
    if (!d->strict) return;
    for (int i = 0; i < d->n; i++)
        if (mprotect(d->blocks[i].base + page_size(), d->blocks[i].span,
                     on ? PROT_READ | PROT_WRITE : PROT_NONE))
            note(d, "mprotect failed");
}

static void *host_alloc(gl_dev *d, size_t bytes) {
    if (recording(d, "an allocation")) return NULL;
    if (d->used + (double)bytes > d->limit) return NULL;
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        block *b = realloc(d->blocks, sizeof *b * (size_t)cap);
        if (!b) return NULL;
        d->blocks = b;
        d->cap = cap;
    }
    size_t page = page_size(), span = (bytes + page - 1) / page * page;
    if (!span) span = page;
    /* anonymous pages are zero-filled; the data pages are opened below */
    char *base = mmap(NULL, span + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    if (!d->strict && mprotect(base + page, span, PROT_READ | PROT_WRITE)) {
        munmap(base, span + 2 * page);
        return NULL;
    }
    /* the arrays' sizes are multiples of their elements': the start is aligned */
    char *p = base + page + span - bytes;
    d->blocks[d->n++] = (block){base, p, bytes, span};
    d->used += (double)bytes;
    return p;
}

static void host_release(gl_dev *d, void *ptr) {
    if (recording(d, "a release")) return;
    for (int i = 0; ptr && i < d->n; i++) {
        if (d->blocks[i].p != ptr) continue;
        unmap(&d->blocks[i]);
        d->used -= (double)d->blocks[i].bytes;
        d->blocks[i] = d->blocks[--d->n];
        return;
    }
}

/* the allocation that holds [p, p + bytes), or NULL */
static const block *holder(const gl_dev *d, const void *p, size_t bytes) {
    const char *c = p;
    for (int i = 0; i < d->n; i++)
        if (c >= d->blocks[i].p && c + bytes <= d->blocks[i].p + d->blocks[i].bytes)
            return &d->blocks[i];
    return NULL;
}

/* strict: an upload (to_device) or download of bytes between host and
 * device; -1 (noted, and the copy is not done) when it is wrong */
static int check_copy(gl_dev *d, const void *dev, const void *host, size_t bytes, int to_device) {
    char msg[160];
    const char *what = to_device ? "upload" : "download";
    if (!holder(d, dev, bytes))
        snprintf(msg, sizeof msg, "%s of %zu bytes: the device side is not within one allocation",
                 what, bytes);
    else if (holder(d, host, 1))
        snprintf(msg, sizeof msg, "%s of %zu bytes: the host side is device memory", what, bytes);
    else
        return 0;
    note(d, msg);
    return -1;
}

/* a copy between host and device memory (to_device: an upload) */
static void copy(gl_dev *d, void *dst, const void *src, size_t bytes, int to_device) {
    const void *dev = to_device ? dst : src, *host = to_device ? src : dst;
    if (recording(d, to_device ? "an upload" : "a download")) return;
    if (!bytes || (d->strict && check_copy(d, dev, host, bytes, to_device) != 0)) return;
    expose(d, 1);
    memmove(dst, src, bytes);
    expose(d, 0);
}

static void host_upload(gl_dev *d, void *dst, const void *src, size_t bytes) {
    copy(d, dst, src, bytes, 1);
}

/* strict: the queued uploads of slot (-1: all) are done; their host memory
 * must not have changed since they were queued */
static void settle(gl_dev *d, int slot) {
    int kept = 0;
    for (int i = 0; i < d->nq; i++) {
        queued *u = &d->q[i];
        if (slot >= 0 && u->slot != slot) {
            d->q[kept++] = *u;
            continue;
        }
        if (memcmp(u->src, u->snap, u->bytes) != 0)
            note(d, "the host memory of a queued upload changed before the upload was waited for "
                    "(a GPU may copy it at any time until then)");
        free(u->snap);
    }
    d->nq = kept;
}

static void host_upload_queued(gl_dev *d, void *dst, const void *src, size_t bytes, int slot) {
    copy(d, dst, src, bytes, 1);
    if (!d->strict || !bytes || d->rec) return;
    if (d->nq == d->capq) {
        int cap = d->capq ? 2 * d->capq : 16;
        queued *q = realloc(d->q, sizeof *q * (size_t)cap);
        if (!q) {
            note(d, "out of memory for a queued upload's check");
            return;
        }
        d->q = q;
        d->capq = cap;
    }
    void *snap = malloc(bytes);
    if (!snap) {
        note(d, "out of memory for a queued upload's check");
        return;
    }
    memcpy(snap, src, bytes);
    d->q[d->nq++] = (queued){src, snap, bytes, slot};
}

static void host_wait_uploads(gl_dev *d, int slot) { settle(d, slot); }

static void host_download(gl_dev *d, void *dst, const void *src, size_t bytes) {
    copy(d, dst, src, bytes, 0);
    settle(d, -1);
}

static void run_cells(gl_kernel k, long rows, long cols, const gl_gview *v, int reverse) {
    switch (k) {
#define GL_K_LOOP(name)                                                                            \
    case GL_K_##name:                                                                              \
        if (reverse) {                                                                             \
            for (long r = rows - 1; r >= 0; r--)                                                   \
                for (long c = cols - 1; c >= 0; c--) gl_k_##name(r, c, v);                         \
        } else {                                                                                   \
            _Pragma("omp parallel for schedule(static) if (rows * cols > 4096)")                   \
            for (long r = 0; r < rows; r++)                                                        \
                for (long c = 0; c < cols; c++) gl_k_##name(r, c, v);                              \
        }                                                                                          \
        break;
        GL_GPU_KERNELS(GL_K_LOOP)
#undef GL_K_LOOP
    case GL_K_COUNT: break;
    }
}

/* copies every allocation into buf (to_buf) or back from it */
static void copy_all(gl_dev *d, char *buf, int to_buf) {
    for (int i = 0; i < d->n; i++) {
        if (to_buf) memcpy(buf, d->blocks[i].p, d->blocks[i].bytes);
        else memcpy(d->blocks[i].p, buf, d->blocks[i].bytes);
        buf += d->blocks[i].bytes;
    }
}

/* strict: the launch in order and in reverse order from the same memory;
 * notes the first byte where they differ */
static void launch_checked(gl_dev *d, gl_kernel k, long rows, long cols, const gl_gview *v) {
    size_t total = 0;
    for (int i = 0; i < d->n; i++) total += d->blocks[i].bytes;
    if (total > d->scratch) {
        free(d->before);
        free(d->ahead);
        d->before = malloc(total);
        d->ahead = malloc(total);
        d->scratch = d->before && d->ahead ? total : 0;
        if (!d->scratch) {
            note(d, "out of memory for the strict check");
            run_cells(k, rows, cols, v, 0);
            return;
        }
    }
    copy_all(d, d->before, 1);
    run_cells(k, rows, cols, v, 0);
    copy_all(d, d->ahead, 1);
    copy_all(d, d->before, 0);
    run_cells(k, rows, cols, v, 1);
    const char *a = d->ahead;
    for (int i = 0; i < d->n; a += d->blocks[i].bytes, i++) {
        const char *b = d->blocks[i].p;
        if (!memcmp(a, b, d->blocks[i].bytes)) continue;
        size_t at = 0;
        while (a[at] == b[at]) at++;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "kernel %s (%ld x %ld cells): the result depends on the order of its cells "
                 "(allocation of %zu bytes, byte %zu)",
                 gl_kernel_name(k), rows, cols, d->blocks[i].bytes, at);
        note(d, msg);
        return;
    }
}

static void host_launch(gl_dev *d, gl_kernel k, long rows, long cols, const gl_gview *v) {
    if (rows <= 0 || cols <= 0) return;
    if (d->rec) {
        rec_op *op = record(d);
        if (op) *op = (rec_op){.gemm = 0, .k = k, .rows = rows, .cols = cols, .v = *v};
        return;
    }
    expose(d, 1);
    if (d->strict) launch_checked(d, k, rows, cols, v);
    else run_cells(k, rows, cols, v, 0);
    expose(d, 0);
}

/* strict: the floats a batch of column-major rows x cols matrices (leading
 * dimension ld, stride apart) spans from X, into *span; -1 (noted) when
 * the matrix is wrong */
static int check_matrix(gl_dev *d, char name, const float *X, int rows, int cols, int ld,
                        long stride, int batch, size_t *span) {
    char msg[160];
    *span = (size_t)(cols - 1) * (size_t)ld + (size_t)rows + (size_t)(batch - 1) * stride;
    if (ld < rows || ld < 1)
        snprintf(msg, sizeof msg, "gemm: the leading dimension of %c (%d) is less than its %d rows",
                 name, ld, rows);
    else if (!holder(d, X, 4 * *span))
        snprintf(msg, sizeof msg,
                 "gemm: %c (%d x %d, ld %d, stride %ld, batch %d) is not within one allocation",
                 name, rows, cols, ld, stride, batch);
    else
        return 0;
    note(d, msg);
    return -1;
}

static int overlap(const float *x, size_t nx, const float *y, size_t ny) {
    return x < y + ny && y < x + nx;
}

/* cuBLAS's column-major arguments, one cblas_sgemm per matrix of the batch */
static void host_gemm(gl_dev *d, int ta, int tb, int m, int n, int k, const float *A, int lda,
                      long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc,
                      int batch) {
    if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return;
    if (d->rec) {
        rec_op *op = record(d);
        if (op)
            *op = (rec_op){.gemm = 1, .ta = ta, .tb = tb, .m = m, .n = n, .kk = k, .A = A, .lda = lda,
                           .sa = sa, .B = B, .ldb = ldb, .sb = sb, .C = C, .ldc = ldc, .sc = sc,
                           .batch = batch};
        return;
    }
    if (d->strict) {
        size_t na, nb, nc;
        if (check_matrix(d, 'A', A, ta ? k : m, ta ? m : k, lda, sa, batch, &na) ||
            check_matrix(d, 'B', B, tb ? n : k, tb ? k : n, ldb, sb, batch, &nb) ||
            check_matrix(d, 'C', C, m, n, ldc, sc, batch, &nc))
            return;
        if (overlap(C, nc, A, na) || overlap(C, nc, B, nb)) {
            note(d, "gemm: C overlaps A or B");
            return;
        }
    }
    expose(d, 1);
#pragma omp parallel for schedule(static) if (batch > 1)
    for (int q = 0; q < batch; q++)
        cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, A + q * sa, lda, B + q * sb, ldb, 0.0f, C + q * sc, ldc);
    expose(d, 0);
}

static int host_record_begin(gl_dev *d) {
    if (d->rec) return -1;
    d->rec = calloc(1, sizeof *d->rec);
    return d->rec ? 0 : -1;
}

static void *host_record_end(gl_dev *d) {
    graph *gr = d->rec;
    d->rec = NULL;
    if (gr && gr->failed) {
        graph_free(gr);
        return NULL;
    }
    return gr;
}

static void host_replay(gl_dev *d, void *graph_) {
    const graph *gr = graph_;
    for (int i = 0; i < gr->n; i++) {
        const rec_op *o = &gr->op[i];
        if (o->gemm)
            host_gemm(d, o->ta, o->tb, o->m, o->n, o->kk, o->A, o->lda, o->sa, o->B, o->ldb, o->sb,
                      o->C, o->ldc, o->sc, o->batch);
        else
            host_launch(d, o->k, o->rows, o->cols, &o->v);
    }
}

static void host_graph_release(gl_dev *d, void *graph_) {
    (void)d;
    graph_free(graph_);
}

static int host_sync(gl_dev *d, gl_error *err) {
    recording(d, "a sync");
    settle(d, -1);
    if (d->first_error[0]) return gl_failc(err, GL_E_DEVICE, "GPU emulator: %s", d->first_error);
    return 0;
}

static void host_describe(gl_dev *d, char *name, size_t cap, double *peak) {
    snprintf(name, cap, "host emulator (no GPU%s), FP32", d->strict ? ", strict checks" : "");
    *peak = 0;
}

/* host memory: this process's, as any other */
static void *host_pinned(gl_dev *d, size_t bytes) {
    (void)d;
    return calloc(1, bytes ? bytes : 1);
}

static void host_unpin(gl_dev *d, void *ptr) {
    (void)d;
    free(ptr);
}

const gl_dev_ops *gl_dev_host_ops(void) {
    static const gl_dev_ops ops = {.name = "host emulator",
                                   .open = host_open,
                                   .close = host_close,
                                   .free_bytes = host_free_bytes,
                                   .alloc = host_alloc,
                                   .release = host_release,
                                   .upload = host_upload,
                                   .upload_queued = host_upload_queued,
                                   .wait_uploads = host_wait_uploads,
                                   .download = host_download,
                                   .launch = host_launch,
                                   .gemm = host_gemm,
                                   .sync = host_sync,
                                   .describe = host_describe,
                                   .host_alloc = host_pinned,
                                   .host_release = host_unpin,
                                   .record_begin = host_record_begin,
                                   .record_end = host_record_end,
                                   .replay = host_replay,
                                   .graph_release = host_graph_release};
    return &ops;
}
