/* groklab: the command-line program. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "groklab/gpu.h"
#include "groklab/version.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("groklab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f) {
    fprintf(f,
            "groklab %s: memorization and generalization on corrupted modular arithmetic\n\n"
            "usage: groklab <command> [options]\n\n"
            "commands:\n"
            "  train       train a model (groklab train --help)\n"
            "  reproduce   a figure of the paper in one command (groklab reproduce fig1)\n"
            "  ipr         per-neuron IPR of a run, histogram (groklab ipr RUN)\n"
            "  spectrum    Fourier spectra of a run's neurons (groklab spectrum RUN)\n"
            "  prune       prune neurons by IPR and measure what is left (groklab prune RUN)\n"
            "  analytic    the analytic solution of addition as a run (groklab analytic --p 97)\n"
            "  plot        every figure that applies to a run (groklab plot RUN)\n"
            "  sweep       a grid of runs into a crash-safe SQLite store (groklab sweep --help)\n"
            "  phase       the phase diagram of a sweep (groklab phase DIR)\n"
            "  export      a sweep's runs as CSV (groklab export DIR --csv runs.csv)\n"
            "  merge       combine the shard stores of a sweep (groklab merge DIR)\n"
            "  bench       speed of a training step on this machine\n"
            "  version     print the version\n",
            GL_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "reproduce") == 0) return cmd_reproduce(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "ipr") == 0) return cmd_ipr(argc - 1, argv + 1);
    if (strcmp(cmd, "spectrum") == 0) return cmd_spectrum(argc - 1, argv + 1);
    if (strcmp(cmd, "prune") == 0) return cmd_prune(argc - 1, argv + 1);
    if (strcmp(cmd, "analytic") == 0) return cmd_analytic(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "phase") == 0) return cmd_phase(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0) return cmd_merge(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        char why[GL_ERRLEN];
        int gpu = gl_gpu_available(why, sizeof why);
        printf("groklab %s (%s)\n", GL_VERSION, gl_blas_name());
        printf("--device cuda: %s\n", gpu ? "available" : why);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    cli_error("unknown command '%s' (allowed: train, reproduce, ipr, spectrum, prune, analytic, plot, sweep, phase, export, merge, bench, version)", cmd);
    return EXIT_USAGE;
}
