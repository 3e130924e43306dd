/* groklab: training one model, and populations of same-shape models.
 *
 * A trainer is an opaque handle with a create / advance / free life cycle:
 * all buffers are allocated at create time, none in the step loop. A
 * population is M trainers of one shape advanced in lockstep; the CPU backend
 * spreads members over cores (one member per core), and a single member uses
 * all cores itself. Results never depend on the thread count. */
#ifndef GROKLAB_TRAIN_H
#define GROKLAB_TRAIN_H

#include "groklab/arch.h"
#include "groklab/config.h"
#include "groklab/data.h"
#include "groklab/metrics.h"
#include "groklab/model.h"

typedef struct gl_trainer gl_trainer;

/* Bytes a trainer for this config needs (data, parameters, optimizer state,
 * activations): used to refuse too-large configs before allocating. */
double gl_trainer_bytes(const gl_config *c);
/* Physical memory of this machine in bytes (0 if unknown). */
double gl_system_memory(void);

int gl_trainer_create(gl_trainer **t, const gl_config *c, gl_error *err);
void gl_trainer_free(gl_trainer *t);

/* Trains until step `until` (or divergence), logging rows on the schedule
 * (step 0 and the last step are always logged). Uses `threads` cores. */
int gl_trainer_advance(gl_trainer *t, long until, int threads, gl_error *err);

/* One optimizer step without logging; returns the training-mode batch loss.
 * This and gl_trainer_evaluate are the CPU backend's (NaN for a trainer of
 * device cuda, which gl_trainer_advance trains on the GPU). */
double gl_trainer_step(gl_trainer *t, int threads);

/* Evaluates the current weights into m (step = current step). */
void gl_trainer_evaluate(gl_trainer *t, gl_metrics *m, int threads);

/* Whether step s is on the logging schedule of config c. */
int gl_log_due(const gl_config *c, long s);

/* Access. */
const gl_config *gl_trainer_config(const gl_trainer *t);
const gl_dataset *gl_trainer_data(const gl_trainer *t);
const gl_layout *gl_trainer_layout(const gl_trainer *t); /* the two-layer MLP's */
const gl_net *gl_trainer_net(const gl_trainer *t);       /* any family */
long gl_trainer_step_count(const gl_trainer *t);
long gl_trainer_diverged_at(const gl_trainer *t); /* -1 if not */
const gl_metrics *gl_trainer_rows(const gl_trainer *t, long *n_rows);
float *gl_trainer_params(gl_trainer *t);      /* (n_params) current weights */
const float *gl_trainer_init_params(const gl_trainer *t);
/* Optimizer moments (n_params each; m2 NULL for SGD) and BN running stats
 * ((net.n_run_layers, net.run_width) each, NULL without batchnorm): the rest
 * of a checkpoint. */
float *gl_trainer_moment(gl_trainer *t, int which);
float *gl_trainer_running(gl_trainer *t, int which);
/* Restores position, logged history and training time so far when resuming
 * from a checkpoint. */
int gl_trainer_restore(gl_trainer *t, long step, const gl_metrics *rows, long n_rows,
                       double seconds, gl_error *err);
/* For backends that train a trainer's state elsewhere (src/gpu): appends a
 * logged row (steps must increase), and sets the position, the divergence
 * step (-1: none) and adds training seconds. */
int gl_trainer_push_row(gl_trainer *t, const gl_metrics *r, gl_error *err);
void gl_trainer_set_position(gl_trainer *t, long step, long diverged_at, double seconds);
/* Calls the trainer's progress callback, if it has one. */
void gl_trainer_notify(gl_trainer *t);

/* Wall-clock seconds spent in gl_trainer_advance. */
double gl_trainer_seconds(const gl_trainer *t);

/* Progress callback: called from the advancing thread about every 0.25 s. */
typedef void (*gl_progress_fn)(void *ctx, const gl_trainer *t);
void gl_trainer_set_progress(gl_trainer *t, gl_progress_fn fn, void *ctx);

/* Advances every member to its configured number of steps, members spread
 * over `threads` cores (a member per core; with one member it gets all). */
int gl_population_advance(gl_trainer **members, int M, int threads, gl_error *err);

/* Sets the BLAS library to one thread: groklab parallelizes around it. */
void gl_blas_init(void);
/* Name of the BLAS compiled in. */
const char *gl_blas_name(void);

#endif
