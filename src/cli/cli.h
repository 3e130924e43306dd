/* groklab CLI: commands share these helpers. Exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage or input. */
#ifndef GROKLAB_CLI_H
#define GROKLAB_CLI_H

#include <stdio.h>

#include "groklab/config.h"
#include "groklab/error.h"
#include "groklab/train.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_bench(int argc, char **argv);

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

/* Figures: draws the accuracy curves of runs (folders relative to dir) as
 * panels of dir/NAME.png and .svg through gnuplot, saving dir/NAME.gp. */
int cli_plot_curves(const char *dir, const char *out_base, const char *title, int n, const char *const *run_dirs,
                    const char *const *labels, gl_error *err);

#endif
