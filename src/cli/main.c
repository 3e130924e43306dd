/* groklab: the command-line program. The one place that reads the
 * environment (the library's runtime settings), handles SIGINT and SIGTERM,
 * and turns a failure into an exit status. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "groklab/gpu.h"
#include "groklab/runtime.h"
#include "groklab/version.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("groklab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double cli_now(void) { return gl_now(); }

static volatile sig_atomic_t stop_signal;

int cli_signal(void) { return stop_signal; }

int cli_exit_code(const gl_error *e) {
    switch (e->code) {
    case GL_OK: return EXIT_OK;
    case GL_E_INPUT:
    case GL_E_CORRUPT:
    case GL_E_NODEVICE: return EXIT_USAGE;
    case GL_E_INTERRUPTED: return 128 + (stop_signal ? stop_signal : SIGINT);
    default: return EXIT_FAIL;
    }
}

int cli_fail(const gl_error *e) {
    cli_error("%s", e->msg);
    return cli_exit_code(e);
}

/* The first SIGINT or SIGTERM asks the library to stop after the step it is
 * in (runs then save a checkpoint); a second one ends the process. */
static void on_signal(int sig) {
    stop_signal = sig;
    gl_stop_request();
    signal(sig, SIG_DFL);
}

/* The library's runtime settings from the environment (docs/commands.md,
 * "Exit codes and environment"); a bad value fails every command. */
static int runtime_from_env(void) {
    gl_runtime rt;
    gl_error err = {{0}, 0};
    int rc = gl_runtime_environment(&rt, &err);
    if (rc < 0) return cli_fail(&err);
    gl_runtime_set(&rt);
    return EXIT_OK;
}

static int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    char why[GL_ERRLEN];
    int gpu = gl_gpu_available(why, sizeof why);
    printf("groklab %s (%s)\n", GL_VERSION, gl_blas_name());
    printf("--device cuda: %s\n", gpu ? "available" : why);
    /* the runtime settings in force (from the environment), by name */
    char names[256], value[64];
    snprintf(names, sizeof names, "%s", gl_runtime_names());
    fputs("settings:", stdout);
    for (char *save = NULL, *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save))
        if (gl_runtime_format(gl_runtime_get(), n, value, sizeof value, NULL) == 0) printf(" %s=%s", n, value);
    putchar('\n');
    return EXIT_OK;
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"train", cmd_train, "train a model (groklab train --help)"},
    {"reproduce", cmd_reproduce, "a figure of the paper in one command (groklab reproduce fig1)"},
    {"ipr", cmd_ipr, "per-neuron IPR of a run, histogram (groklab ipr RUN)"},
    {"spectrum", cmd_spectrum, "Fourier spectra of a run's neurons (groklab spectrum RUN)"},
    {"prune", cmd_prune, "prune neurons by IPR and measure what is left (groklab prune RUN)"},
    {"analytic", cmd_analytic, "the analytic solution of addition as a run (groklab analytic --p 97)"},
    {"dynamics", cmd_dynamics, "memorization and generalization inside a run over time (groklab dynamics RUN)"},
    {"plot", cmd_plot, "every figure that applies to a run (groklab plot RUN)"},
    {"import", cmd_import, "a run from a network and dataset made elsewhere (groklab import --help)"},
    {"sweep", cmd_sweep, "a grid of runs into a crash-safe SQLite store (groklab sweep --help)"},
    {"phase", cmd_phase, "the phase diagram of a sweep (groklab phase DIR)"},
    {"export", cmd_export, "a sweep's runs as CSV (groklab export DIR --csv runs.csv)"},
    {"merge", cmd_merge, "combine the shard stores of a sweep (groklab merge DIR)"},
    {"bench", cmd_bench, "speed of a training step on this machine"},
    {"version", cmd_version, "print the version"},
};
#define NCMD (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "groklab %s: memorization and generalization on corrupted modular arithmetic\n\n"
               "usage: groklab <command> [options]\n\ncommands:\n",
            GL_VERSION);
    for (int i = 0; i < NCMD; i++) fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    int rc = runtime_from_env();
    if (rc != EXIT_OK) return rc;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) cmd = "version";
    for (int i = 0; i < NCMD; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return EXIT_OK;
    }
    char names[256] = "";
    for (int i = 0; i < NCMD; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", commands[i].name);
    cli_error("unknown command '%s' (allowed: %s)", cmd, names);
    return EXIT_USAGE;
}
