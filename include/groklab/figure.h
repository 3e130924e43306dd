/* groklab: figures, drawn by gnuplot from the tables groklab writes.
 *
 * Every figure DIR/NAME.png and DIR/NAME.svg comes with the gnuplot script
 * that draws it, DIR/NAME.gp, whose paths are relative to DIR: a user can
 * restyle a figure by editing its script and running `gnuplot NAME.gp`
 * there. Paths of runs below are relative to DIR. Errors: GL_E_IO when
 * gnuplot is missing or fails (with its first line of output). */
#ifndef GROKLAB_FIGURE_H
#define GROKLAB_FIGURE_H

#include "groklab/analysis.h"
#include "groklab/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes DIR/NAME.gp (a header, then body for the PNG and again for the
 * SVG terminal) and runs it. */
int gl_gnuplot(const char *dir, const char *name, int width, int height, const char *body, gl_error *err);

/* Accuracies and the mean IPR (a second axis) of DIR/metrics.csv (Figure
 * 2a); logx: a logarithmic step axis. */
int gl_figure_run_curves(const char *dir, const char *name, int logx, gl_error *err);
/* The accuracy curves of n runs as panels (Figure 1). */
int gl_figure_curves(const char *dir, const char *name, const char *title, int n, const char *const *runs,
                     const char *const *labels, gl_error *err);
/* DIR/scan.csv of `groklab analytic --scan`: accuracy against width. */
int gl_figure_scan(const char *dir, int p, unsigned long long seed, gl_error *err);

/* ipr_hist (Figure 4: after training, and at initialization) with the mode
 * threshold th, and with a norm layer ipr_gain (Figure 5 right). */
int gl_figure_ipr(const char *dir, const gl_run_view *v, double th, gl_error *err);
/* spectrum (the heat map of |DFT| of every neuron) and neuron_K (Figure 2b)
 * from the tables gl_spectrum_write wrote. */
int gl_figure_spectrum(const char *dir, const gl_run_view *v, int neuron, gl_error *err);
/* ipr_hist, ipr_hist_out (the input and output layers) and with a norm
 * ipr_gain, for any family (gl_units_write's tables). */
int gl_figure_units(const char *dir, const gl_model *m, const gl_units *u, gl_error *err);
/* The IPR histograms of n two-layer MLP runs side by side, and (scatter >= 0)
 * run scatter's IPR against |gamma| (Figures 4 and 5). */
int gl_figure_ipr_hists(const char *dir, const char *name, int n, const char *const *runs,
                        const char *const *labels, int scatter, gl_error *err);
/* The input-layer IPR histograms of n runs of any family (Figure 7). */
int gl_figure_units_hists(const char *dir, const char *name, const char *title, int n, const char *const *runs,
                          const char *const *labels, gl_error *err);

/* Pruning curves of n runs as rows of panels, one per order in prune.csv
 * (Figure 6); long_form: neuron counts on the x axis and every curve (Figure
 * 17). noise: each run's xi (the 1 - xi line). */
int gl_figure_prune(const char *dir, const char *name, int n, const char *const *runs, const char *const *labels,
                    const double *noise, int long_form, gl_error *err);
/* DIR/fig32.csv: the prunable fraction against width (Figure 32). */
int gl_figure_fig32(const char *dir, double threshold, gl_error *err);

/* DIR/phase.png from DIR/phase.csv (gl_phase_grid_write) (Figure 3). */
int gl_figure_phase(const char *dir, const gl_phase_grid *pg, const char *title, gl_error *err);

/* The figures of groklab dynamics in DIR, from its tables there and the
 * run's (run: the run directory, relative to DIR; NULL: no dynamics_times):
 * - dynamics_accuracy (progress.csv): a panel for each of the full,
 *   restricted and excluded logits, the accuracy on each subset in it
 *   (clean, corrupted against the given and against the true labels, test)
 *   against step; key_share in the restricted panel, the last row's key
 *   frequencies in the title.
 * - dynamics_times (run/examples.csv): histograms of first_given (clean and
 *   corrupted examples apart) and of unlearned (corrupted), each as a share
 *   of its group per bin (a tenth of a decade when logx, step 0 left out;
 *   else 60 bins), the key counting each group's -1s (never); over the
 *   train, test and corrupted (given and true) accuracies of
 *   run/metrics.csv on a second axis when that table is there.
 * - dynamics_ipr (neuron_ipr.csv: color ipr, y rank) and dynamics_power
 *   (neuron_power.csv: color share, y k): heat maps over the step, each
 *   snapshot's cells reaching from the midpoints (geometric when logx)
 *   with its neighbours' steps.
 * The tables: comma-separated, a header line whose first columns are
 * those the figure reads (more may follow), a missing number written nan
 * (any text that is not a number is not drawn), blank lines ignored.
 * progress.csv and metrics.csv: rows in increasing step (step 0 may be
 * there); progress.csv's key_frequencies: integers separated by spaces,
 * no comma, may be empty. examples.csv: any order. neuron_ipr.csv and
 * neuron_power.csv: snapshots 0..S-1 in increasing step (every row carries
 * its snapshot's step), its rows in increasing y (rank 0 first, k = 0
 * first), snapshot after snapshot; a blank line between snapshots is
 * allowed, not needed. (A cell is painted on over the next row's and the
 * next snapshot's, which paint over it in turn: the order is what keeps
 * seams and pale colours out of the heat maps.)
 * logx: logarithmic step axes (step 0 not drawn). A figure whose table does
 * not exist or has no row is skipped; one whose header begins with other
 * columns is not drawn and fails with GL_E_CORRUPT, naming the column,
 * while the others are drawn. Returns 0 or the first failure. */
int gl_figure_dynamics(const char *dir, const char *run, int logx, gl_error *err);
/* DIR/NAME: a row of n panels, one per run, each from dyn_dirs[i]/progress.csv
 * (relative to DIR) and titled labels[i]: the full logits' test accuracy
 * and the restricted and excluded accuracies on the corrupted examples
 * against their given and their true labels, on log step axes, with one
 * legend along the foot (reproduce dynamics: weight decay 0, 5, 15). A
 * progress.csv that is absent or has no row fails with GL_E_IO, one with
 * another header with GL_E_CORRUPT; nothing is drawn then. */
int gl_figure_dynamics_panels(const char *dir, const char *name, int n, const char *const *dyn_dirs,
                              const char *const *labels, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
