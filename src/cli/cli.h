/* groklab CLI: commands share these helpers. Exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage or input. */
#ifndef GROKLAB_CLI_H
#define GROKLAB_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "groklab/config.h"
#include "groklab/error.h"
#include "groklab/train.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ipr(int argc, char **argv);
int cmd_spectrum(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_analytic(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_phase(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_merge(int argc, char **argv);

struct gl_grid;
/* Runs (or resumes, without a grid) the sweep in dir; returns an exit code. */
int cli_sweep_run(const char *dir, struct gl_grid *g, int have_grid, int extend, int threads, int keep,
                  int shard_i, int shard_n, int quiet, gl_error *err);
/* MPI (src/mpi/sweep_mpi.c, built when configure finds MPI): whether this
 * process was started by mpirun, and the sweep over all ranks (prints its
 * own errors; returns an exit code). */
int cli_mpi_active(void);
int cli_sweep_mpi(const char *dir, struct gl_grid *g, int have_grid, int extend, int threads, int keep,
                  int quiet, gl_error *err);

/* reproduce fig3a ... (cmd_reproduce_phase.c) */
int cli_is_phase_figure(const char *name);
int cli_reproduce_phase(int argc, char **argv);
void cli_phase_figures_help(FILE *f);
/* Phase diagram of dir/sweep.db into dir/phase.csv and phase.png; facet may
 * be NULL (the first other axis); title NULL for a plain one. */
int cli_phase_diagram(const char *dir, const char *x, const char *y, const char *facet, const char *title,
                      int quiet, gl_error *err);

/* Options of the IPR analysis (ipr, spectrum, plot). */
typedef struct ipr_opts {
    gl_ipr_conv conv;
    gl_basis basis;
    double r, split; /* split < 0: Otsu */
    int plot, quiet;
} ipr_opts;
void cli_ipr_opts_default(ipr_opts *o);
/* Everything `groklab plot` draws for one run (neuron < 0: the highest IPR);
 * returns an exit code. */
int cli_analyze_run(const char *dir, const ipr_opts *o, int neuron, gl_error *err);

/* groklab ipr for the deep MLP and the Transformer (cmd_ipr_units.c):
 * input- and output-layer IPR; returns an exit code. */
int cli_ipr_units(const char *dir, const gl_config *c, const ipr_opts *o);

/* Whether dir/name exists. */
int cli_file_exists(const char *dir, const char *name);

/* Checks that dir is a run directory and reads its validated config. */
int cli_open_run(const char *dir, gl_config *c, gl_error *err);

/* Pruning a run (groklab prune), shared with reproduce. */
typedef struct cli_prune_opts {
    int orders; /* bit 0 low, 1 high, 2 random */
    int seeds;
    uint64_t seed;
    int on_all;
    double threshold;
    int threads;
} cli_prune_opts;
typedef struct cli_prune_point {
    int pruned;
    double v[8]; /* gl_prune_columns order */
} cli_prune_point;
typedef struct cli_prune_result {
    int N, has[3];
    double noise, seconds;
    int prunable; /* the largest count, lowest IPR first, with test accuracy >= threshold; -1 if none */
    int prefix;   /* the largest count with test accuracy >= threshold at every count up to it */
    cli_prune_point curve[3][11]; /* each order at 0%, 10%, ..., 100% pruned */
} cli_prune_result;
/* Writes dir/prune.csv and prune_summary.json; returns an exit code. */
int cli_prune_run(const char *dir, const cli_prune_opts *po, cli_prune_result *res, gl_error *err);
void cli_prune_print(const char *dir, const cli_prune_result *r, const cli_prune_opts *po);
int cli_parse_orders(const char *v, int *mask);
/* Pruning figure of n runs (folders relative to dir) as rows of three panels
 * (low, high, random); long_form: counts on the x axis and every curve. */
int cli_plot_prune(const char *dir, const char *name, int n, const char *const *runs,
                   const char *const *labels, const double *noise, int long_form, gl_error *err);
/* Accuracies and mean IPR (second axis) of dir/metrics.csv into dir/NAME.png;
 * logx: logarithmic step axis. */
int cli_plot_run_curves(const char *dir, const char *name, int logx, gl_error *err);

/* Prints "groklab: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress line on a terminal: step, steps/s, ETA, accuracies. */
typedef struct cli_progress {
    int enabled;
    double t_start;
    long step_start;
    const char *label;
} cli_progress;
void cli_progress_init(cli_progress *pg, int quiet, const char *label);
void cli_progress_cb(void *ctx, const gl_trainer *t);
void cli_progress_done(cli_progress *pg);

double cli_now(void);

/* Runs one training from a ready directory: writes the initial files (unless
 * resuming), trains with checkpoints, writes the final files. */
int cli_train_run(const char *dir, gl_trainer *t, int resumed, int threads, int quiet,
                  gl_error *err);

/* A growing text buffer; failed is set when memory ran out. */
typedef struct cli_buf {
    char *data;
    size_t len, cap;
    int failed;
} cli_buf;
int cli_buf_printf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(cli_buf *b);
/* Writes the buffer to dir/name atomically. */
int cli_buf_save(cli_buf *b, const char *dir, const char *name, gl_error *err);

/* Runs a gnuplot body (plot commands, paths relative to dir) into
 * dir/NAME.png and dir/NAME.svg, saving the script as dir/NAME.gp. */
int cli_gnuplot(const char *dir, const char *name, int width, int height, const char *body,
                gl_error *err);

/* Figures: draws the accuracy curves of runs (folders relative to dir) as
 * panels of dir/NAME.png and .svg through gnuplot, saving dir/NAME.gp. */
int cli_plot_curves(const char *dir, const char *out_base, const char *title, int n, const char *const *run_dirs,
                    const char *const *labels, gl_error *err);

#endif
