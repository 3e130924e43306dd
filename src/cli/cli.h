/* groklab CLI: the program is a thin shell over the library. Each command
 * is one file (cmd_NAME.c) that reads its flags from an option table
 * (opts.c), calls the library, and prints; main.c maps a failure's code to
 * the exit status in one place: 0 ok, 2 bad input, 1 a runtime failure,
 * 128 + the signal after SIGINT or SIGTERM. */
#ifndef GROKLAB_CLI_H
#define GROKLAB_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "groklab/analysis.h"
#include "groklab/figure.h"
#include "groklab/io.h"
#include "groklab/sweep.h"
#include "groklab/text.h"
#include "groklab/train.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The commands (one file each). */
int cmd_train(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ipr(int argc, char **argv);
int cmd_spectrum(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_dynamics(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_analytic(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_phase(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_import(int argc, char **argv);

/* ---- failures and exit codes (main.c) ---- */

/* Prints "groklab: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit status of a failure's code: 2 bad input (and corrupt files, a
 * device that is not there), 130 / 143 interrupted by SIGINT / SIGTERM, 1
 * otherwise. */
int cli_exit_code(const gl_error *e);
/* Prints e's message (one line) and returns its exit status. */
int cli_fail(const gl_error *e);
/* The signal that stopped the run (SIGINT, SIGTERM), 0 if none. */
int cli_signal(void);

/* ---- options (opts.c) ---- */

typedef enum { OPT_FLAG, OPT_STR, OPT_INT, OPT_LONG, OPT_U64, OPT_DOUBLE, OPT_WORD } cli_opt_kind;

/* One option: --name (FLAG sets an int to 1; the others take a value,
 * "--name value" or "--name=value", checked against the range or words). */
typedef struct cli_opt {
    const char *name;  /* with the leading -- */
    cli_opt_kind kind;
    void *dst;         /* int (FLAG, INT, WORD: the word's index), long, uint64_t, double, const char * */
    double lo, hi;     /* INT, LONG, U64, DOUBLE: the allowed range */
    const char *words; /* WORD: "a|b|c" */
} cli_opt;

/* Table entries: a flag, a string, a number in [lo, hi], a word of "a|b|c",
 * and the end of the table. */
#define OPT_F(name, dst) {name, OPT_FLAG, dst, 0, 0, NULL}
#define OPT_S(name, dst) {name, OPT_STR, dst, 0, 0, NULL}
#define OPT_N(name, kind, dst, lo, hi) {name, kind, dst, lo, hi, NULL}
#define OPT_W(name, dst, words) {name, OPT_WORD, dst, 0, 0, words}
#define OPT_END {NULL, OPT_FLAG, NULL, 0, 0, NULL}

/* What a command accepts: its options (ending with {NULL}), up to max_pos
 * arguments that are not options, any other --name value handed to knob
 * (NULL: refused; name, without the --, lives only for the call), its help (--help, -h) and a usage line for messages. */
typedef struct cli_args {
    const char *cmd, *usage;
    const cli_opt *opts;
    const char **pos;
    int max_pos, n_pos;
    int (*knob)(void *ctx, const char *name, const char *value, gl_error *err);
    void *ctx;
    void (*help)(FILE *f);
} cli_args;

/* Parses argv[1..]: returns -1 to go on, or the exit status to return now
 * (0 after --help, 2 with one line printed for a bad option or value). */
int cli_parse(int argc, char **argv, cli_args *a);

/* ---- shared pieces ---- */

double cli_now(void);

/* The progress line of a training run on a terminal (progress.c). */
typedef struct cli_progress {
    int enabled;
    double t_start;
    long step_start;
    const char *label;
} cli_progress;
void cli_progress_init(cli_progress *pg, int quiet, const char *label);
void cli_progress_cb(void *ctx, const gl_trainer *t);
void cli_progress_done(cli_progress *pg);

/* One training from a ready directory: writes the initial files (unless
 * resuming), trains with checkpoints every checkpoint_every steps, writes
 * the final files. Interrupted (GL_E_INTERRUPTED), it writes a checkpoint
 * and the metrics first, so that --resume continues bit-identically. */
int cli_train_run(const char *dir, gl_trainer *t, int resumed, int threads, int quiet, gl_error *err);

/* A sweep's progress (progress.c): a line per finished run (or the counts on
 * a terminal), the start and end reports. */
typedef struct cli_sweep_progress {
    int tty, quiet;
    double t0;
    long total, finished;
    int shard_i, shard_n;
    int n_knobs, knob[GL_MAX_AXES]; /* the config fields of the grid's axes, for each run's line */
} cli_sweep_progress;
void cli_sweep_callbacks(gl_sweep_opts *o, cli_sweep_progress *pg, int quiet, int shard_i, int shard_n);
void cli_sweep_print_start(const gl_sweep_report *r, int quiet);
void cli_sweep_print_end(const gl_sweep_report *r, const cli_sweep_progress *pg, int quiet);
/* A sweep's refinement flags: --refine over knobs x, y (a new store), and
 * --complete (a refined store into its full grid). */
typedef struct cli_refine {
    int on, complete, seeds; /* seeds: --refine-seeds K (0: none) */
    const char *x, *y;
} cli_refine;
/* Runs (g) or resumes (g NULL) the sweep in dir, over MPI when started by
 * mpirun; rf NULL: no refinement flags. Returns the exit status (errors printed). */
int cli_sweep(const char *dir, const gl_grid *g, int extend, int threads, int keep, int shard_i, int shard_n,
              int quiet, const cli_refine *rf);

/* The phase diagram of dir/sweep.db by rule into phase.csv, phase.png,
 * rule-disagreements.csv and the printed grid (cmd_phase.c); facet NULL:
 * the default; title NULL: plain. */
int cli_phase_diagram(const char *dir, const char *x, const char *y, const char *facet, gl_phase_rule rule,
                      const char *title, int quiet);
/* The words of --rule, in gl_phase_rule order. */
#define CLI_RULES "paper|subset"

/* The options of the commands that read one run (ipr, spectrum, plot):
 * RUN, --convention, --basis, --r, --split, --no-plot, --quiet and (with
 * with_neuron) --neuron. Returns -1 to go on, or the exit status. */
typedef struct cli_run_args {
    const char *dir;
    gl_ipr_opts o;
    long neuron; /* -1: the highest IPR */
    int plot, quiet;
} cli_run_args;
int cli_parse_run(int argc, char **argv, const char *cmd, const char *usage, void (*help)(FILE *), int with_neuron,
                  cli_run_args *r);

/* `groklab plot` for one run: every figure that applies (cmd_plot.c);
 * neuron < 0: the highest IPR. */
int cli_plot_run(const char *dir, const gl_ipr_opts *o, int neuron, int quiet);
/* `groklab ipr` for one run of any family (cmd_ipr.c). */
int cli_ipr_run(const char *dir, const gl_ipr_opts *o, int plot, int quiet);
/* The reports of `groklab ipr` and `groklab spectrum` (neuron k). */
void cli_print_ipr(const gl_run_view *v, const gl_ipr_opts *o, const gl_ipr_report *r);
void cli_print_neuron(const gl_run_view *v, int k);
/* groklab dynamics on ref into out_opt (NULL: RUN/dynamics, or
 * RUN/at_S/dynamics for a snapshot), with its figures when plot, its
 * report printed unless quiet (cmd_dynamics.c); an exit status. */
int cli_dynamics_run(const char *ref, const char *out_opt, const gl_dynamics_opts *o, int plot, int quiet,
                     gl_dynamics_report *rep);
void cli_print_dynamics(const char *ref, const gl_dynamics_report *r);
/* `groklab prune`'s report (cmd_prune.c). */
void cli_prune_print(const char *label, const gl_prune_result *r, const gl_prune_opts *po);

/* reproduce fig3a ... (cmd_reproduce_phase.c) */
int cli_is_phase_figure(const char *name);
int cli_reproduce_phase(int argc, char **argv);
void cli_phase_figures_help(FILE *f);

#endif
