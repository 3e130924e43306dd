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

#endif
