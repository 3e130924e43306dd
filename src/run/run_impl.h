/* groklab: what the run-directory files share (run.c, run_load.c). */
#ifndef GROKLAB_RUN_IMPL_H
#define GROKLAB_RUN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/io.h"

/* out = dir/name */
void gl_run_join(char *out, size_t cap, const char *dir, const char *name);
/* The running statistics' tensor shape: (N) for the two-layer MLP, (layers,
 * N) for the deep MLP; returns the dimensions. */
int gl_run_stats_shape(const gl_net *net, int64_t shape[2]);

/* The dynamics a run keeps while it trains (dynamics.c): begin sets the
 * trainer's log hook when the config asks for snapshots or progress
 * measures (*dy NULL otherwise; on resume the earlier progress rows up to
 * the checkpoint are kept); write saves progress.csv; end removes the hook. */
typedef struct gl_run_dyn gl_run_dyn;
int gl_run_dyn_begin(gl_run_dyn **dy, const char *dir, gl_trainer *t, int resumed, gl_error *err);
int gl_run_dyn_write(gl_run_dyn *dy, gl_error *err);
void gl_run_dyn_end(gl_run_dyn *dy, gl_trainer *t);

#endif
