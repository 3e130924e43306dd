/* groklab: looking inside a trained network (docs/paper.md sections 5, 7, 8).
 *
 *   neurons   per-neuron IPR of U rows, V rows, W columns, their dominant
 *             frequencies, power spectra, norms and BatchNorm gains
 *   reports   a run directory's tables: ipr.csv, ipr_summary.json,
 *             spectrum.csv, neuron_K*.csv (the two-layer MLP), and the
 *             input and output layers' IPR of any family (units)
 *   prune     cumulative pruning of neurons with an incremental evaluation,
 *             and a run's pruning tables (prune.csv, prune_summary.json)
 *   analytic  the weights of Eq. 2, the network that solves addition */
#ifndef GROKLAB_ANALYSIS_H
#define GROKLAB_ANALYSIS_H

#include <stdint.h>

#include "groklab/config.h"
#include "groklab/data.h"
#include "groklab/error.h"
#include "groklab/io.h"
#include "groklab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

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
/* The term of every neuron k (contrib, N) in output q of example i
 * (training examples first, as created) of the unpruned network: for no
 * norm a_k W_qk; BatchNorm W_qk (gamma_k (a_k - mu_k) / sd_k + beta_k) with
 * the running statistics; LayerNorm the same with the example's mean and
 * deviation over the neurons. The output is their sum. */
void gl_prune_contrib(const gl_prune *pr, int i, int q, double *contrib);
/* Prunes the neurons order[0], order[1], ... one at a time and measures the
 * network before any pruning and after each: rows[c] (c = 0..n) is the
 * network without order[0..c). Each block of examples goes through all
 * counts while it is in cache. threads <= 0: all cores. Returns 0, or
 * GL_E_NOMEM. */
int gl_prune_curve(gl_prune *pr, const int *order, int n, gl_prune_row *rows, int threads);
/* A copy of params with the neurons in pruned[0..n) zeroed (and their norm
 * gain and shift, which then no longer reach the output): the network the
 * evaluator describes, for checking it against a full forward pass. */
void gl_prune_apply(float *params, const gl_layout *L, const int *pruned, int n);

/* Orders of neurons by IPR: ascending (low first) or descending; ties by index. */
void gl_order_by(int *order, const double *key, int n, int descending);
/* A random order: draw `draw` of the Philox shuffle of (seed, PRUNE). */
void gl_order_random(int *order, int n, uint64_t seed, uint32_t draw);

/* ---- a run's dynamics (groklab dynamics) ---- */
typedef struct gl_dynamics_opts {
    double key_threshold; /* gl_progress_plan_create's (default 0.1) */
} gl_dynamics_opts;
void gl_dynamics_opts_default(gl_dynamics_opts *o);
typedef struct gl_dynamics_report {
    long snapshots;   /* snapshots analyzed (0: the final weights) */
    long step;        /* the step of the last weights analyzed */
    gl_progress last; /* their progress measures */
    gl_milestones ms; /* of metrics.csv (-1 each without one) */
    int has_story;    /* examples.csv was there */
    gl_story_stats story;
    /* two-layer MLP, at the last weights (NaN otherwise): the term-weighted
     * mean IPR of the neurons carrying the given label of the corrupted
     * examples answered with it (memorized), and of clean examples answered
     * right; every neuron's mean IPR; how many corrupted are memorized */
    double carrier_ipr_memorized, carrier_ipr_clean, mean_ipr;
    long n_memorized_now;
    int logged_progress; /* the run logged progress.csv while training */
} gl_dynamics_report;
/* Analyzes run ref (DIR, or DIR@STEP for one snapshot) into directory out
 * (created): progress.csv (the run's own when it logged one, the
 * snapshots' as progress_snapshots.csv then), key_power.csv
 * (snapshot,step,k,share: each frequency's line power share),
 * neuron_ipr.csv (snapshot,step,rank,ipr: every unit's IPR, decreasing),
 * neuron_power.csv (snapshot,step,k,share: the units' Fourier power per
 * frequency), for the two-layer MLP carriers.csv (each training example's
 * five largest neuron terms in its given label's output, their IPR), and
 * dynamics_summary.json. */
int gl_dynamics_run(const char *ref, const char *out, const gl_dynamics_opts *o, gl_dynamics_report *rep,
                    gl_error *err);

/* ---- the analytic solution (Eq. 2) ---- */

/* Fills U, V, W of params (layout L, act quadratic, no norm): neuron k has
 * frequency sigma(k), where sigma takes each block of p neurons through a
 * random permutation of 0..p-1, and phases phi_u, phi_v uniform in (-pi, pi];
 * amplitude (2/N)^(1/3), so the output approximates delta(m + n - q). */
int gl_analytic_weights(const gl_layout *L, float *params, uint64_t seed, gl_error *err);
/* The fraction of the p^2 pairs whose argmax is (m + n) mod p for the
 * two-layer MLP params of layout L (no norm); a negative status on error. */
int gl_analytic_accuracy(const gl_layout *L, const float *params, double *acc, gl_error *err);
/* groklab analytic: the run directory dir (gl_run_prepare with force) of
 * the analytic weights for config c (two-layer MLP, quadratic, no norm; the
 * seed draws the frequencies and phases) with one logged row, m; all_acc
 * (may be NULL): the accuracy over all pairs of the task. */
int gl_analytic_run(const char *dir, const gl_config *c, int force, gl_metrics *m, double *all_acc, gl_error *err);

/* ---- a run directory's reports ---- */

/* How `groklab ipr` measures: the DFT convention, the basis (auto: dlog for
 * mul and div), the order r, and the threshold between the low and high
 * modes (split < 0: Otsu's). */
typedef struct gl_ipr_opts {
    gl_ipr_conv conv;
    gl_basis basis;
    double r, split;
} gl_ipr_opts;
void gl_ipr_opts_default(gl_ipr_opts *o); /* rfft, auto, 2, Otsu */
const char *gl_ipr_conv_name(gl_ipr_conv c); /* "rfft", "full" */

/* A two-layer MLP run read back: its config, final and initial weights (the
 * latter when init.safetensors is there), and each one's neurons. */
typedef struct gl_run_view {
    gl_config c;
    gl_model model, init;
    int has_init;
    gl_neurons nr, nr0;
} gl_run_view;
int gl_run_view_load(gl_run_view *v, const char *dir, const gl_ipr_opts *o, gl_error *err);
void gl_run_view_free(gl_run_view *v);

/* What gl_ipr_write found: the mode threshold, the neurons below it, and
 * the IPR-gain correlations (NaN without a norm layer). */
typedef struct gl_ipr_report {
    double threshold;
    int n_low;
    double pearson, spearman;
} gl_ipr_report;
/* DIR/ipr.csv (a row per neuron) and DIR/ipr_summary.json. */
int gl_ipr_write(const char *dir, const gl_run_view *v, const gl_ipr_opts *o, gl_ipr_report *rep, gl_error *err);
/* The neuron with the highest IPR. */
int gl_best_neuron(const gl_neurons *nr);
/* DIR/spectrum.csv (every neuron's power per frequency, neurons sorted by
 * dominant frequency), DIR/neuron_K.csv (its weights along the basis, at
 * init and now) and DIR/neuron_K_spectrum.csv for K = neuron. */
int gl_spectrum_write(const char *dir, const gl_run_view *v, int neuron, gl_error *err);
/* The tables of groklab ipr for run dir (any family: gl_ipr_write for the
 * two-layer MLP, gl_units_write otherwise), without its report and figures. */
int gl_ipr_run(const char *dir, const gl_ipr_opts *o, gl_error *err);
/* The tables of groklab spectrum for run dir (the two-layer MLP) for neuron
 * (< 0: the one with the highest IPR; *chosen, if not NULL, gets it). */
int gl_spectrum_run(const char *dir, const gl_ipr_opts *o, int neuron, int *chosen, gl_error *err);

/* The IPR of the units of any family's input (0) and output (1) layers
 * (arch.h, gl_net_ipr_units), final and initial, with the adjacent gains. */
typedef struct gl_units {
    int K, has_init;
    gl_basis basis;
    double *ipr[2], *ipr0[2]; /* (K) each; ipr0 NaN without init weights */
    double *g[2];             /* |gain| next to each layer, NULL without a norm */
    double mean[2], mean0[2];
    double pearson[2], spearman[2]; /* IPR against |gain| (NaN without a norm) */
    double threshold;         /* the input layer's mode split */
    int n_low;
} gl_units;
/* m0: the initial weights, or NULL. */
int gl_units_compute(gl_units *u, const gl_model *m, const gl_model *m0, gl_basis basis, const gl_ipr_opts *o,
                     gl_error *err);
void gl_units_free(gl_units *u);
/* What layer l's vectors are, in words. */
const char *gl_units_layer_text(const gl_net *net, int l);
/* DIR/ipr.csv (unit, ipr_in, ipr_out, their initial values, gains) and
 * DIR/ipr_summary.json. */
int gl_units_write(const char *dir, const gl_model *m, const gl_units *u, const gl_ipr_opts *o, gl_error *err);

/* ---- pruning a run directory ---- */

/* Orders (bit 0 lowest IPR first, 1 highest first, 2 random), random draws
 * and their seed, whether to evaluate on all pairs (else the training set),
 * the test accuracy to keep, threads (0: all). */
typedef struct gl_prune_opts {
    int orders;
    int seeds;
    uint64_t seed;
    int on_all;
    double threshold;
    int threads;
} gl_prune_opts;
/* groklab prune's defaults: every order, 20 random draws from seed 0, all
 * pairs, threshold 0.9, all cores. */
void gl_prune_opts_default(gl_prune_opts *po);
extern const char *const gl_prune_order_names[3]; /* "low", "high", "random" */
/* "low,high", "all", ...: the orders bit mask. */
int gl_prune_parse_orders(const char *v, int *mask, gl_error *err);

typedef struct gl_prune_point {
    int pruned;
    double v[GL_PRUNE_NCOLS]; /* gl_prune_columns order; random orders: the mean */
} gl_prune_point;
typedef struct gl_prune_result {
    int N, has[3];
    double noise, seconds;
    int prunable; /* the largest count, lowest IPR first, with test accuracy >= threshold; -1 if none */
    int prefix;   /* the largest count with test accuracy >= threshold at every count up to it; -1 if none */
    gl_prune_point curve[3][11]; /* each order at 0%, 10%, ..., 100% pruned */
} gl_prune_result;
/* From the test accuracies at counts 0..n: the largest count with accuracy
 * >= threshold, and the largest k with accuracy >= threshold at every count
 * up to k (each -1 if there is none). */
void gl_prune_prunable(const double *test_acc, int n, double threshold, int *prunable, int *prefix);
/* Prunes the two-layer MLP of run dir in every order of po over all counts:
 * DIR/prune.csv (order, pruned, fraction, seeds, the columns, their _std)
 * and, with the low order, DIR/prune_summary.json. */
int gl_prune_run(const char *dir, const gl_prune_opts *po, gl_prune_result *res, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
