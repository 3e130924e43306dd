/* groklab: looking inside a trained two-layer MLP (PAPER.md sections 5, 7, 8).
 *
 *   neurons   per-neuron IPR of U rows, V rows, W columns, their dominant
 *             frequencies, power spectra, norms and BatchNorm gains
 *   prune     cumulative pruning of neurons with an incremental evaluation
 *   analytic  the weights of Eq. 2, the network that solves addition */
#ifndef GROKLAB_ANALYSIS_H
#define GROKLAB_ANALYSIS_H

#include <stdint.h>

#include "groklab/config.h"
#include "groklab/data.h"
#include "groklab/error.h"
#include "groklab/model.h"

/* ---- neurons ---- */

enum { GL_VEC_U, GL_VEC_V, GL_VEC_W, GL_NVEC }; /* row k of U, row k of V, column k of W */

typedef struct gl_neurons {
    int N, n, bins;        /* neurons; transform length (p, or p-1 in dlog); n/2+1 */
    gl_basis basis;        /* resolved: additive or dlog */
    gl_ipr_conv conv;
    double r;
    double *ipr;           /* (N) IPR_k, mean of the three vectors */
    double *vec_ipr[GL_NVEC];   /* (N) each */
    int *dominant[GL_NVEC];     /* (N) bin with the most power (0 = DC) */
    double *share[GL_NVEC];     /* (N) that bin's share of the vector's power */
    double *norm[GL_NVEC];      /* (N) Euclidean norm of the vector */
    double *power[GL_NVEC];     /* (N, bins) one-sided power |x~_j|^2 */
    double *gain;          /* (N) |gamma_k| with a norm layer, else NULL */
    double mean_ipr;
} gl_neurons;

/* basis may be GL_BASIS_AUTO (resolved from the task by c). */
int gl_neurons_compute(gl_neurons *nr, const gl_config *c, const gl_layout *L, const float *params,
                       gl_basis basis, gl_ipr_conv conv, double r, gl_error *err);
void gl_neurons_free(gl_neurons *nr);
/* The neuron's dominant frequency: the bin with the largest summed share of
 * power over its three vectors. */
int gl_neurons_frequency(const gl_neurons *nr, int k);

/* Two-mode split of values (Otsu: the threshold that maximizes the
 * between-class variance of a 64-bin histogram over [lo, hi]). */
double gl_otsu_threshold(const double *x, int n, double lo, double hi);
/* Correlation coefficients; NaN when undefined (n < 2 or a constant input). */
double gl_pearson(const double *x, const double *y, int n);
double gl_spearman(const double *x, const double *y, int n); /* Pearson of ranks, ties averaged */

/* ---- pruning ---- */

typedef struct gl_prune_row {
    double train_acc, test_acc, corrupted_acc, corrupted_true_acc, clean_acc, all_true_acc;
    double train_loss, test_loss;
} gl_prune_row;
#define GL_PRUNE_NCOLS 8
extern const char *const gl_prune_columns[GL_PRUNE_NCOLS];
void gl_prune_row_to_array(const gl_prune_row *r, double out[GL_PRUNE_NCOLS]);

/* An evaluator of a network with a growing set of pruned neurons. Pruning
 * neuron k zeroes row k of U and V and column k of W. Every example's output
 * is kept (in double) as a sum of per-neuron contributions, so removing a
 * neuron subtracts its contribution instead of re-running the network:
 *   none:      out = W a
 *   batchnorm: out = W (gamma/sd (a - mu) + beta): the neuron's whole term,
 *              shift included, goes with its column of W
 *   layernorm: out = (W diag(gamma) a - mean W gamma) / sd + W beta, with the
 *              per-example mean and sd over all N features updated as the
 *              pruned neuron's activation becomes phi(0) = 0.
 * Examples: the training set, and with all_pairs also the test set (all pairs
 * of the task together); without it test metrics are NaN. */
typedef struct gl_prune gl_prune;
int gl_prune_create(gl_prune **pr, const gl_config *c, const gl_layout *L, const float *params,
                    const float *run_mean, const float *run_var, const gl_dataset *d,
                    int all_pairs, gl_error *err);
void gl_prune_free(gl_prune *pr);
/* Prunes the neurons order[0], order[1], ... one at a time and measures the
 * network before any pruning and after each: rows[c] (c = 0..n) is the
 * network without order[0..c). Each block of examples goes through all
 * counts while it is in cache. threads <= 0: all cores. Returns 0, or -1
 * when out of memory. */
int gl_prune_curve(gl_prune *pr, const int *order, int n, gl_prune_row *rows, int threads);
/* A copy of params with the neurons in pruned[0..n) zeroed (and their norm
 * gain and shift, which then no longer reach the output): the network the
 * evaluator describes, for checking it against a full forward pass. */
void gl_prune_apply(float *params, const gl_layout *L, const int *pruned, int n);

/* Orders of neurons by IPR: ascending (low first) or descending; ties by index. */
void gl_order_by(int *order, const double *key, int n, int descending);
/* A random order: draw `draw` of the Philox shuffle of (seed, PRUNE). */
void gl_order_random(int *order, int n, uint64_t seed, uint32_t draw);

/* ---- the analytic solution (Eq. 2) ---- */

/* Fills U, V, W of params (layout L, act quadratic, no norm): neuron k has
 * frequency sigma(k), where sigma takes each block of p neurons through a
 * random permutation of 0..p-1, and phases phi_u, phi_v uniform in (-pi, pi];
 * amplitude (2/N)^(1/3), so the output approximates delta(m + n - q). */
void gl_analytic_weights(const gl_layout *L, float *params, uint64_t seed);

#endif
