/* groklab GPU backend: a population of two-layer MLPs trained in lockstep
 * on one device (the internal interface of src/backend/gpu/).
 *
 * The order of one step, for all M members at once (kernels.h has the
 * bodies, dev.h the device):
 *
 *   batch_rows, gather, csr_*    the batch (full batch: once, until an
 *                                evaluation reuses the buffers)
 *   hidden                       h = Ut[m] + Vt[n], dropout, a = phi(h)
 *   bn_stats | ln_stats, norm    z = norm(a)
 *   GEMM                         out = z W^T
 *   mse_grad | loss_rows         dL/dout; a member whose loss is not finite stops
 *   GEMM, GEMM                   dW = dout^T z, dz = dout W
 *   *_back                       through the norm
 *   embed_back                   through the activation and dropout: dUt,
 *                                dVt gathered by operand (csr)
 *   optim_prep, optim            AdamW / Adam / SGD
 *
 * The host keeps only the step count and, with minibatches, draws each
 * member's epoch permutation with the CPU's gl_shuffle and queues its upload
 * (double-buffered: the host does not wait for the device). At a
 * logging step the population is evaluated on the device (norms, IPR as a
 * GEMM with the DFT matrix, accuracies and losses on every subset) and
 * GL_ACC numbers per member come back.
 *
 *   pop.c    the population on the device: its arrays (one table), the
 *            members' upload and download
 *   step.c   a training step, launches and products (and their profile)
 *   eval.c   evaluation and the logged rows
 *   gpu.c    the backend: device probe, policy (compatibility, what fits),
 *            advancing populations
 *   bench.c  gl_gpu_bench */
#ifndef GROKLAB_GPU_POP_H
#define GROKLAB_GPU_POP_H

#include "backend/gpu/dev.h"
#include "groklab/gpu.h"
#include "train/backend.h"

enum { GPOP_MAX_BLOCKS = 48 };
/* the device work recorded once and replayed: a training step without and
 * with the batch's load, an evaluation */
enum { GPOP_STEP, GPOP_STEP_LOAD, GPOP_EVAL, GPOP_GRAPHS };

typedef struct gpop {
    const gl_dev_ops *ops;
    gl_dev *dev;
    gl_trainer **t;
    gl_gview v;              /* device pointers and sizes */
    long step;               /* the step the population takes next (each member's mem.step) */
    gl_gmember *mem;         /* (M) host copy */
    double *acc;             /* (M, GL_ACC) host copy */
    int32_t *pred;           /* (M, T) host copy: the training examples' predictions */
    int32_t *perm[2];        /* (M, T) each, minibatches: the epochs' permutations drawn on the host
                              * (pinned), filled in turn while the other's upload runs */
    int perm_slot;           /* the one filled next */
    long *epoch;             /* (M) epoch whose permutation is on the device */
    float *dft;              /* device (ldo, 2nb): the IPR's basis functions (rows p.. zero) */
    int batch_ready;         /* the batch buffers hold this step's rows (full batch) */
    int graphs;              /* steps and evaluations replay recorded graphs (gpop_submit) */
    void *graph[GPOP_GRAPHS]; /* the recorded work (GPOP_STEP, GPOP_STEP_LOAD, GPOP_EVAL), or NULL */
    int ran[GPOP_GRAPHS];    /* that work has run (recording waits for its second time) */
    int recording;           /* between the device's record_begin and record_end */
    long submits;            /* launches, products and graph replays handed to the device */
    /* Full batch: members sorted by training-set size form groups of equal
     * rows, and each group's GEMMs cover its rows; consecutive groups are
     * merged, padded with zero rows, where the products' fixed cost saved
     * exceeds the padding's arithmetic (pop.c: merge_groups). */
    int n_groups;
    int *grp_first, *grp_rows; /* (n_groups + 1) first member; (n_groups) rows */
    int eval_rows;             /* an evaluation chunk's most rows of any member */
    double last_progress;      /* when the trainers' progress callbacks were last called */
    gl_gpu_profile *prof;      /* gl_gpu_bench: each operation synchronized and timed */
    int prof_failed;           /* a synchronization of the profile reported an error */
    void *blocks[GPOP_MAX_BLOCKS];
    int n_blocks;
} gpop;

/* The device of the runtime settings: the CUDA GPU, or the host emulator
 * (gl_runtime gpu_emulate); NULL when this build has no CUDA backend and no
 * emulation is asked for. */
const gl_dev_ops *gpop_device(void);

/* Rows per member: the batch, and at least a useful evaluation chunk. */
int gpop_rows(const gl_config *c, long n_train, long n_test);
/* Device bytes of one member of config c with R rows per launch, T training
 * and S test examples: the sum of the population's array table at M = 1. */
double gpop_member_bytes(const gl_config *c, int R, long T, long S);

/* Uploads the members (sorted by training-set size: results go back by
 * pointer) to a new population on the device. GL_E_NOMEM when the device's
 * memory cannot hold them (the caller may try fewer). */
int gpop_create(gpop *g, gl_trainer **members, int M, gl_error *err);
void gpop_free(gpop *g);
/* Copies the weights and BatchNorm's running statistics back into the
 * trainers, and with optimizer the optimizer's state and GrokFast's filter
 * too. */
int gpop_download(gpop *g, int optimizer, gl_error *err);

/* One training step of every member (step.c). */
void gpop_train_step(gpop *g);
/* Queues ops(g, arg), the same operations with the same arguments each time
 * (work: GPOP_STEP ...): launched directly the first time, recorded as a
 * graph the second and replayed from then on, as one submission. Directly
 * when profiling (each operation is timed on its own), with gl_runtime
 * gpu_direct, or where the device does not record. The host code of ops
 * runs only when its operations are launched or recorded. */
void gpop_submit(gpop *g, int work, void (*ops)(gpop *g, int arg), int arg);
/* The rows of this step (training) or of an evaluation chunk. */
void gpop_load_batch(gpop *g, int with_csr);
/* z = norm(a) and out = z W^T for the loaded rows. */
void gpop_forward(gpop *g);
/* A kernel over a rows x cols grid, and a batched GEMM (dev.h), each timed
 * on its own when profiling. */
void gpop_launch(gpop *g, gl_kernel k, long rows, long cols);
void gpop_gemm(gpop *g, const char *what, int ta, int tb, int m, int n, int k, const float *A, int lda,
               long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc, int batch);

/* Evaluates every member on the device into g->acc (host) (eval.c). */
int gpop_evaluate(gpop *g, gl_error *err);
/* Logs the population at the current step (eval.c): a row for each member
 * with skip[i] == 0 that is still training, and for one that stopped since,
 * its divergence row; stopped members get skip[i] = 1. With only_stopped,
 * rows only for the stopped ones. */
int gpop_log_rows(gpop *g, int *skip, int only_stopped, gl_error *err);

#endif
