/* groklab: sweeps. A grid of run configs, a crash-safe SQLite store of their
 * results, and the workers that fill it.
 *
 * A grid is a base config and a list of axes; any knob of the config can be
 * an axis. The grid is the product of the axes, the first axis varying
 * slowest; point i of the grid is run id i + 1 of the store. Two special
 * axes: `replicate` (from --seeds K: values 0..K-1, each sets seed,
 * split_seed and noise_seed to the value) and `variant` (each value is a
 * ';'-separated list of knob=value assignments, for knobs that move together,
 * such as a batch size with its learning rate and step count). */
#ifndef GROKLAB_SWEEP_H
#define GROKLAB_SWEEP_H

#include <stdint.h>

#include "groklab/config.h"
#include "groklab/error.h"
#include "groklab/metrics.h"

#define GL_MAX_AXES 16
#define GL_AXIS_VALUE_LEN 160

typedef struct gl_axis {
    char name[40]; /* JSON spelling of the knob, or replicate / variant */
    int n;
    char (*values)[GL_AXIS_VALUE_LEN];
    char (*labels)[48]; /* variant: a short name for each value (else the value) */
} gl_axis;

typedef struct gl_grid {
    gl_config base;
    int n_axes;
    gl_axis axes[GL_MAX_AXES];
} gl_grid;

void gl_grid_init(gl_grid *g, const gl_config *base);
void gl_grid_free(gl_grid *g);
/* Adds knob `name` with the value spec: a single value (sets the base, no
 * axis), a list "a,b,c", a range "lo:hi:count" (inclusive, evenly spaced) or
 * a log range "lo:hi:count:log". For replicate the spec is the count; for
 * variant, values are separated by '|' and may start with "label=" + ':'
 * ("bs8:batch=8;lr=0.00177"). Every value is checked against the knob. */
int gl_grid_add(gl_grid *g, const char *name, const char *spec, gl_error *err);
long gl_grid_size(const gl_grid *g);
/* The config of point idx (0-based); fails if the point is not a valid run. */
int gl_grid_point(const gl_grid *g, long idx, gl_config *c, gl_error *err);
/* The value index of each axis at point idx. */
void gl_grid_coords(const gl_grid *g, long idx, int *coord);
/* Checks every point; the message names the first bad one. */
int gl_grid_validate(const gl_grid *g, gl_error *err);
/* The definition as JSON (caller frees) and back. */
char *gl_grid_to_json(const gl_grid *g);
int gl_grid_from_json(gl_grid *g, const char *json, gl_error *err);
/* Index of the axis named name, or -1. */
int gl_grid_axis(const gl_grid *g, const char *name);

/* ---- the store: DIR/sweep.db (SQLite, WAL) ---- */

typedef enum { GL_RUN_PENDING, GL_RUN_RUNNING, GL_RUN_DONE, GL_RUN_DIVERGED, GL_RUN_FAILED } gl_run_status;
const char *gl_run_status_name(gl_run_status s);

typedef struct gl_store gl_store;
/* Opens (create: or creates) a sweep store; a file that is not one is
 * refused with a message. */
int gl_store_open(gl_store **s, const char *path, int create, gl_error *err);
void gl_store_close(gl_store *s);
/* First use: writes the grid and one pending row per point. Later: the grid
 * must equal the stored one, or with extend, the new points are added. */
int gl_store_define(gl_store *s, const gl_grid *g, int extend, long *added, gl_error *err);
/* The stored grid (the last definition). */
int gl_store_grid(gl_store *s, gl_grid *g, gl_error *err);
/* Runs left running by a killed process go back to pending. */
int gl_store_requeue(gl_store *s, long *n, gl_error *err);
/* Claims the pending run with the lowest id (only ids with
 * (id - 1) % shard_n == shard_i), marks it running. Returns 1 and fills
 * *id, 0 when none is left, -1 on error. */
int gl_store_claim(gl_store *s, int shard_i, int shard_n, const char *worker, long *id, gl_error *err);
/* The config of run id. */
int gl_store_point(gl_store *s, long id, gl_config *c, gl_error *err);
/* Counts by status (pending, running, done, diverged, failed) and phase. */
int gl_store_counts(gl_store *s, int shard_i, int shard_n, long status[5], long phase[6], gl_error *err);

/* What a finished run leaves in the store. */
typedef struct gl_run_result {
    gl_run_status status;
    char message[512];     /* failed: why */
    const gl_metrics *rows;
    long n_rows;
    long steps, diverged_at;
    double wall_seconds;
    /* optional (--keep-weights): per-neuron IPR and the final weights */
    int N, p;
    const double *ipr;     /* (N) */
    const float *U, *V, *W; /* (N,p), (N,p), (p,N) in the files' shapes */
} gl_run_result;
/* Records a finished run in one transaction (row, time series, extras). */
int gl_store_finish(gl_store *s, long id, const gl_config *c, const gl_run_result *r, gl_error *err);
/* Copies every finished run of src into s (same grid): groklab merge. */
int gl_store_merge(gl_store *s, const char *src_path, long *copied, gl_error *err);

/* ---- running a sweep in this process ---- */

typedef struct gl_sweep_opts {
    int threads;      /* workers; 0 = all cores */
    int keep_weights;
    int shard_i, shard_n; /* 0, 1: everything */
    int max_population;   /* device cuda: at most this many runs at once (0: as many as fit) */
    void (*on_done)(void *ctx, long id, const gl_config *c, const gl_run_result *r); /* under a lock */
    void (*on_tick)(void *ctx, gl_store *s); /* about every 0.5 s, from the main thread */
    void *ctx;
} gl_sweep_opts;

/* Trains every pending run of the store; one run per worker thread at a time,
 * or, when the grid's device is cuda, as GPU populations of compatible runs
 * (gl_gpu_compatible), as many as fit the GPU at once (one worker).
 * A run that diverges is recorded as diverged; one that cannot start (bad
 * config, memory) as failed with its message. */
int gl_sweep_work(gl_store *s, const gl_sweep_opts *o, gl_error *err);

/* One run from its config to its result (used by workers and MPI ranks).
 * The caller owns *t afterwards (rows and weights point into it). */
typedef struct gl_trainer gl_trainer;
int gl_sweep_train_one(const gl_config *c, int keep_weights, gl_trainer **t, gl_run_result *r,
                       double **ipr_buf, float **wbuf);
/* The result of trained trainer t (the second half of gl_sweep_train_one). */
int gl_sweep_result(gl_trainer *t, const gl_config *c, int keep_weights, gl_run_result *r,
                    double **ipr_buf, float **wbuf);

#endif
