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

/* The figures of groklab dynamics in DIR, from its tables there
 * (progress.csv, neuron_ipr.csv, neuron_power.csv) and the run's
 * metrics.csv and examples.csv (run: the run directory, relative to DIR):
 * dynamics_accuracy (accuracy on each subset of the full, restricted and
 * excluded logits against step), dynamics_times (histograms of the
 * examples' memorization and unlearning steps over the accuracy curves),
 * dynamics_ipr (per-neuron IPR, sorted, against step: a heat map) and
 * dynamics_power (the neurons' Fourier power per frequency against step).
 * logx: logarithmic step axes. A figure whose table is absent is skipped. */
int gl_figure_dynamics(const char *dir, const char *run, int logx, gl_error *err);
/* The restricted and excluded accuracies of n runs' dynamics directories
 * (relative to DIR) as panels, one per run, with log step axes
 * (reproduce dynamics). */
int gl_figure_dynamics_panels(const char *dir, const char *name, int n, const char *const *dyn_dirs,
                              const char *const *labels, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
