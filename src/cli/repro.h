/* groklab reproduce: what the figures of cmd_reproduce.c share
 * (cmd_reproduce_runs.c): the options, the runs of a figure (members)
 * trained as a population, and their analysis. */
#ifndef GROKLAB_CLI_REPRO_H
#define GROKLAB_CLI_REPRO_H

#include "cli.h"

typedef struct repro_opts {
    const char *out;
    int force, quiet, threads;
    gl_config base;          /* the figure's setting after --p/--steps overrides */
    int seeds;               /* fig32 (and random pruning orders elsewhere) */
    int widths[32], n_widths; /* fig32 */
    double threshold;        /* fig32 */
} repro_opts;

typedef struct member {
    char name[64], label[96];
    gl_config c;
} member;

/* Trains the members into out/NAME (a population) and writes every file;
 * returns an exit status (the error printed). */
int repro_train_members(const repro_opts *o, const char *what, member *m, int M, gl_trainer **t);
void repro_free_members(gl_trainer **t, int M);
/* The final-accuracy table every figure prints. */
void repro_print_runs(const member *m, gl_trainer **t, int M);
/* `groklab plot` on every member. */
int repro_analyze(const repro_opts *o, const member *m, int M);
/* The IPR histograms of the members; scatter > 0: member scatter - 1's IPR
 * against |gamma| too. */
int repro_plot_histograms(const repro_opts *o, const char *name, const member *m, int M, int scatter);
/* The table of the members' ipr_summary.json. */
void repro_print_ipr_table(const repro_opts *o, const member *m, int M);
/* Prunes every member and draws the figure NAME. */
int repro_prune_members(const repro_opts *o, const member *m, int M, const char *name, int long_form);
void repro_set_member(member *m, const char *name, const char *label, const gl_config *c);
/* Members wd0, wd5, wd15 of base. */
void repro_wd_members(member *m, const gl_config *base);
/* "-" for a milestone that did not happen, else the step. */
const char *repro_fmt_step(long s, char *buf, size_t cap);
/* "-" for a value that is not finite (none happened), else it rounded. */
const char *repro_fmt_num(double v, char *buf, size_t cap);

#endif
