/* groklab: measurements of a model: metrics, IPR, phases, milestones. */
#ifndef GROKLAB_METRICS_H
#define GROKLAB_METRICS_H

#include "groklab/config.h"
#include "groklab/model.h"
#include "groklab/modular.h" /* gl_primitive_root */

#ifdef __cplusplus
extern "C" {
#endif

/* One logged row. Accuracies are fractions in [0, 1]; an accuracy over an
 * empty subset is NaN (e.g. corrupted_acc when noise = 0). */
typedef struct gl_metrics {
    long step;
    double train_loss, test_loss;
    double train_acc, test_acc;
    double corrupted_acc;      /* corrupted examples vs their given labels */
    double corrupted_true_acc; /* corrupted examples vs their true labels  */
    double clean_acc;          /* uncorrupted training examples            */
    double norm_u, norm_v, norm_w;
    double mean_ipr;
    /* mean IPR of U, V and W apart (two-layer MLP: its neurons' rows and
     * columns; other families: the input layer's groups (ipr_v NaN with
     * one group) and the output layer, as gl_ipr_layer) */
    double ipr_u, ipr_v, ipr_w;
    double grad_norm;              /* L2 norm of the step's loss gradient (NaN at step 0) */
    double gamma_mean, gamma_std;  /* mean and standard deviation of |gamma| of the
                                      first norm layer (NaN without one) */
} gl_metrics;

/* Column names of metrics.csv, in the order of gl_metrics (the first 12
 * are those of groklab before 0.5; readers look columns up by name). */
extern const char *const gl_metrics_columns[];
#define GL_METRICS_NCOLS 18
void gl_metrics_to_array(const gl_metrics *m, double out[GL_METRICS_NCOLS]);
void gl_metrics_from_array(gl_metrics *m, const double in[GL_METRICS_NCOLS]);

/* Evaluation sums of a set of examples: the loss summed over examples (MSE:
 * over examples and outputs), argmax hits against the labels y, and, for
 * examples below `split` (the corrupted prefix of the training set), hits
 * against y and against y2 (their true labels) apart from the rest. */
typedef struct gl_eval_counts {
    double loss_sum;
    long correct, correct_lo, correct2_lo, correct_hi;
} gl_eval_counts;
/* The prediction of an output row o (p >= 1): the first index of its
 * largest entry, as the loop "best = j where o[j] > o[best]" (NaNs never
 * win; a NaN at 0 stays best), vectorized. */
int gl_argmax_f32(const float *o, int p);
/* Adds rows s..s+B-1 of a set whose outputs are out (B, p). y, y2: the
 * whole set's labels (y2 may be NULL); pred (may be NULL): the whole set's
 * argmax predictions, rows s..s+B-1 written. */
void gl_eval_add(gl_eval_counts *ec, const float *out, const int32_t *y, const int32_t *y2, long s, int B,
                 long split, int p, gl_loss loss, int32_t *pred);
/* The metrics of a dataset's training and test sums (step, norms and IPR
 * are the caller's). */
struct gl_dataset;
void gl_eval_metrics(gl_metrics *r, const gl_eval_counts *train, const gl_eval_counts *test,
                     const struct gl_dataset *d, int p, gl_loss loss);

/* IPR of r-th order of a length-n signal from its DFT magnitudes,
 * sum_j a_j^(2r) / (sum_j a_j^2)^r, with the one-sided real FFT (rfft: the
 * floor(n/2)+1 coefficients, DC included) or the full complex DFT. In the
 * additive basis n = p; in the discrete-log basis (prime p, primitive root g)
 * the signal is x[g^0], x[g^1], ..., x[g^(p-2)] (residue 0 left out), n = p-1. */
typedef struct gl_ipr_plan gl_ipr_plan;
/* basis: GL_BASIS_ADDITIVE or GL_BASIS_DLOG (resolve auto with gl_config_basis). */
int gl_ipr_plan_create(gl_ipr_plan **plan, int p, int N, gl_basis basis, gl_error *err);
void gl_ipr_plan_free(gl_ipr_plan *plan);
int gl_ipr_plan_length(const gl_ipr_plan *plan); /* n */
int gl_ipr_plan_bins(const gl_ipr_plan *plan);   /* n/2 + 1 */
gl_basis gl_ipr_plan_basis(const gl_ipr_plan *plan);
int gl_ipr_plan_index(const gl_ipr_plan *plan, int j); /* residue at position j */
/* ipr_k for the N length-p vectors x[i * stride + k * dist], i < p. */
void gl_ipr_batch(gl_ipr_plan *plan, double *ipr, const float *x, int stride, int dist,
                  gl_ipr_conv conv, double r);
/* Power |x~_j|^2 of the same N vectors: power[k * bins + j], j < bins. */
void gl_ipr_power(gl_ipr_plan *plan, double *power, const float *x, int stride, int dist);
/* IPR from the bins = n/2+1 one-sided powers of a length-n signal. */
double gl_ipr_of_power(const double *power, int n, gl_ipr_conv conv, double r);
/* Per-neuron IPR_k = (IPR(U_k.) + IPR(V_k.) + IPR(W_.k)) / 3 into ipr (N),
 * returns the mean over neurons. */
double gl_ipr_neurons(gl_ipr_plan *plan, double *ipr, const gl_layout *L, const float *params,
                      gl_ipr_conv conv);
/* Per-unit IPR of one layer of any family (arch.h, gl_net_ipr_units: layer 0
 * the input / embedding, 1 the output), averaged over the layer's groups
 * (U and V), into ipr (n_units); returns the mean. The plan must have been
 * created for N >= n_units vectors. */
struct gl_net;
double gl_ipr_layer(gl_ipr_plan *plan, double *ipr, const struct gl_net *net, const float *params,
                    int layer, gl_ipr_conv conv, double r);
/* The per-unit IPR that metrics.csv logs as mean_ipr, into ipr (n_units),
 * returning their mean: the two-layer MLP's gl_ipr_neurons, every other
 * family's input layer (gl_ipr_layer, layer 0, r = 2). */
double gl_ipr_net(gl_ipr_plan *plan, double *ipr, const struct gl_net *net, const float *params,
                  gl_ipr_conv conv);
/* gl_ipr_net, and the means of metrics.csv's ipr_u, ipr_v, ipr_w into
 * parts[3]. */
double gl_ipr_net_parts(gl_ipr_plan *plan, double *ipr, const struct gl_net *net, const float *params,
                        gl_ipr_conv conv, double parts[3]);
/* Mean and standard deviation of |gamma| of net's first norm layer
 * (gl_net_gains layer 0) into m->gamma_mean, gamma_std; NaN without one. */
void gl_metrics_gains(gl_metrics *m, const struct gl_net *net, const float *params);

/* Phases of docs/paper.md section 6. */
typedef enum {
    GL_PHASE_COEXISTENCE,
    GL_PHASE_PARTIAL_INVERSION,
    GL_PHASE_FULL_INVERSION,
    GL_PHASE_MEMORIZATION,
    GL_PHASE_FORGETTING,
    GL_PHASE_CONFUSION,
} gl_phase;
const char *gl_phase_name(gl_phase ph);
/* Classify from final accuracies (fractions); reached_test90: test accuracy
 * was at least 0.9 at some logged step before (separates forgetting). */
gl_phase gl_phase_classify(double train_acc, double test_acc, double noise, int reached_test90);

/* The subset rule (docs/paper.md section 6): the paper's test-accuracy split,
 * with the corrupted examples read from what the network answers on them
 * rather than from train accuracy. Fractions; corrupted_acc against their
 * given labels, corrupted_true_acc against their true labels.
 *   test >= 0.9: coexistence if corrupted_acc >= 0.9 (memorized), full
 *                inversion if corrupted_true_acc >= 0.9 (answers the true
 *                labels), else partial inversion;
 *   test <  0.9: memorization if train_acc >= 0.9 and corrupted_acc >= 0.9,
 *                else forgetting (reached_test90) or confusion.
 * With no corrupted examples (either corrupted accuracy NaN) it is
 * gl_phase_classify. */
gl_phase gl_phase_classify_subset(double train_acc, double test_acc, double corrupted_acc,
                                  double corrupted_true_acc, double noise, int reached_test90);

/* Which of the two rules classifies a sweep's runs. */
typedef enum { GL_RULE_PAPER, GL_RULE_SUBSET } gl_phase_rule;
const char *gl_phase_rule_name(gl_phase_rule rule); /* "paper", "subset" */
/* Which thresholds make a run (or a cell's majority) paper-phase `paper` and
 * subset-phase `subset` (a short phrase; "" when they are the same). */
const char *gl_phase_rule_reason(gl_phase paper, gl_phase subset);

/* The 95% (z = 1.96) Wilson score interval of a fraction k/n (docs/paper.md
 * section 10): centre (k + z^2/2) / (n + z^2), half-width
 * z sqrt(k (n - k) / n + z^2/4) / (n + z^2), bounds clipped to [0, 1];
 * [0, 1] when n = 0. */
void gl_wilson(long k, long n, double z, double *lo, double *hi);
/* Whether a cell whose majority phase holds k of its n runs is uncertain:
 * its runs disagree (k < n) and the Wilson lower bound of k/n (z = 1.96) is
 * below 0.5, so the runs do not show that most seeds land in that phase. A
 * cell whose runs all agree is not uncertain (docs/commands.md, phase). */
int gl_phase_uncertain(long k, long n);

/* Milestones of the two-stage dynamics over logged rows; -1 = did not happen. */
typedef struct gl_milestones {
    long train90;  /* first step with train_acc >= 0.9 */
    long test90;   /* first step with test_acc >= 0.9 (grokking) */
    long unlearn;  /* first step with corrupted_acc < 0.1 after it was > 0.5 */
} gl_milestones;
void gl_milestones_compute(gl_milestones *ms, const gl_metrics *rows, long n_rows);

/* Memorization and unlearning times of a run's corrupted examples (the
 * first n_corrupt of gl_trainer_story's arrays): how many memorized (a
 * first step at their given label) and unlearned (a later step at their
 * true label), and the median and interquartile range (linear
 * interpolation) of those steps; NaN when none did. */
typedef struct gl_story_stats {
    long n_memorized, n_unlearned;
    double mem_median, mem_iqr, unl_median, unl_iqr;
} gl_story_stats;
/* scratch: n_corrupt doubles (the steps are sorted there). */
void gl_story_stats_compute(gl_story_stats *st, const int64_t *first_given, const int64_t *unlearned, long n_corrupt,
                            double *scratch);

/* The phase of a logged run and its milestones (ms may be NULL); a diverged
 * run's last row is non-finite, so its phase comes from the row before.
 * *last (if non-NULL) is set to the row the phase was read from, or NULL. */
gl_phase gl_phase_of_run(const gl_metrics *rows, long n_rows, double noise, int diverged,
                         gl_milestones *ms, const gl_metrics **last);

/* ---- progress measures: the logits split by Fourier content ----
 *
 * For a task whose answer is linear in a Fourier basis (add, sub: residues;
 * mul, div: discrete logs of the nonzero residues, as gl_config_basis
 * resolves), the generalizing solution's logit of class c is a function of
 * t = a + s b (s = +1 for add and mul, -1 for sub and div; a, b the
 * operands' positions in the basis, n = p or p - 1 values). Of the 2-D
 * Fourier modes (k1, k2) of each class's logits over the n x n grid of
 * pairs, those on the line k2 = s k1 are exactly the functions of t. The
 * key frequencies are the k = 1..n/2 whose line power P_k (over every
 * class, modes k and -k together) is at least key_threshold times the
 * largest P_k. The restricted logits are the projection of each class's
 * logits onto the modes (k, s k) and (-k, -s k) of the key frequencies; the
 * excluded logits are the rest (full - restricted, the constant mode
 * included). Pairs outside the grid (mul: an operand 0) have restricted
 * logits 0.
 *
 * The basis may also be chosen against the task (additive for mul and div,
 * dlog for add and sub), which measures the logits in a basis that the
 * solution is not linear in. In the additive basis, div's grid has cells
 * that are not pairs (n = 0): they count as logits 0, so the projection is
 * that of the zero-filled grid; restricted + excluded = full still holds
 * on the pairs, but projecting the restricted logits again does not give
 * them back. */
typedef struct gl_progress_plan gl_progress_plan;
enum { GL_PM_FULL, GL_PM_RESTRICTED, GL_PM_EXCLUDED, GL_PM_NLOGITS };
/* Subsets: clean training examples, corrupted ones against their given
 * labels, the same against their true labels, the test set. */
enum { GL_PM_CLEAN, GL_PM_CORRUPTED, GL_PM_CORRUPTED_TRUE, GL_PM_TEST, GL_PM_NSETS };
typedef struct gl_progress {
    long step;
    int n_key;        /* key frequencies (gl_progress_plan_keys lists them) */
    double key_share; /* ||restricted||^2 / ||full - its per-class mean over pairs||^2 */
    double loss[GL_PM_NLOGITS][GL_PM_NSETS]; /* the run's loss, mean over the subset (MSE: and outputs) */
    double acc[GL_PM_NLOGITS][GL_PM_NSETS];  /* argmax accuracy; NaN over an empty subset */
} gl_progress;
/* The logits of pairs (m[i], n[i]), i < B, into out (B, p) row-major; 0 or
 * a negative status. */
typedef int (*gl_logits_fn)(void *ctx, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err);
/* A plan for task (add, sub, mul, div; others are refused with a message
 * that names the allowed tasks) at modulus p (2..4096; prime for div) in
 * basis (GL_BASIS_AUTO resolves as gl_config_basis: dlog for mul and div
 * at a prime p; dlog needs a prime p >= 3), for the examples of dataset d
 * (its p must be p; NULL: no examples, every score NaN), scored with loss;
 * key_threshold in (0, 1]. Allocates everything compute needs. */
struct gl_dataset;
int gl_progress_plan_create(gl_progress_plan **pp, const char *task, int p, gl_basis basis,
                            const struct gl_dataset *d, gl_loss loss, double key_threshold, gl_error *err);
void gl_progress_plan_free(gl_progress_plan *pp);
/* The measures of the network whose logits fn gives, called on chunks of
 * at most 2048 pairs in a fixed order (m-major): every pair of the task
 * once when the (pairs, p) floats fit in 64 MiB (they are kept for the
 * second pass), else twice, so fn must give the same logits each time. A
 * failure of fn (a negative status) is returned as it is. Losses are the
 * model's (gl_mse_loss_f32, gl_ce_loss_f32) per example, averaged in
 * double; sums run in a fixed order, so the result is deterministic.
 * pm->step is left to the caller. */
int gl_progress_compute(gl_progress_plan *pp, gl_logits_fn fn, void *ctx, gl_progress *pm, gl_error *err);
/* After a gl_progress_compute that returned 0: the key frequencies, in
 * decreasing power (*n of them; none when every line power is 0), and the
 * line power of every frequency k = 0..n/2 as a share of the logits' power
 * over the n x n grid (each class's mean removed), *n_bins = n/2 + 1. The
 * k = 0 entry, the constant mode, is that mean, so it is always 0; the
 * shares sum to at most 1, and key_share is the key frequencies' sum (NaN
 * when every class's logits are constant over the grid). Valid until the
 * next compute. */
const int *gl_progress_plan_keys(const gl_progress_plan *pp, int *n);
const double *gl_progress_plan_power(const gl_progress_plan *pp, int *n_bins);
/* After gl_progress_compute: the restricted logits of pair (m, n) into
 * out (p), for tests and per-example tables; 0, or GL_E_INPUT for a pair
 * outside the task or when the last compute failed or none ran. */
int gl_progress_restricted(const gl_progress_plan *pp, int m, int n, float *out, gl_error *err);
/* Column names of a progress row in CSV order after step, key_frequencies
 * and key_share: {full,restricted,excluded}_{clean,corrupted,
 * corrupted_true,test}_{loss,acc}, logits-major, then subset, loss before
 * acc (24 names). */
extern const char *const gl_progress_columns[2 * GL_PM_NLOGITS * GL_PM_NSETS];

#ifdef __cplusplus
}
#endif

#endif
