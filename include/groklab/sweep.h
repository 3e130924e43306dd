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

#ifdef __cplusplus
extern "C" {
#endif

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
/* Checks every point, and that its backend can run it here
 * (gl_backend_check); the message names the first bad one. */
int gl_grid_validate(const gl_grid *g, gl_error *err);
/* The definition as JSON (caller frees) and back. */
char *gl_grid_to_json(const gl_grid *g);
int gl_grid_from_json(gl_grid *g, const char *json, gl_error *err);
/* Index of the axis named name, or -1. */
int gl_grid_axis(const gl_grid *g, const char *name);
/* Grows the replicate axis to values 0..k-1 (none removed: k at most its
 * count leaves it as it is); fails when the grid has none. */
int gl_grid_grow_replicates(gl_grid *g, int k, gl_error *err);

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
    int has_story;         /* the examples' story was recorded (the CPU) */
    gl_story_stats story;  /* the corrupted examples' memorization and unlearning steps */
    /* optional (--keep-weights): per-neuron IPR and the final weights */
    int N, p;
    const double *ipr;     /* (N) */
    const float *U, *V, *W; /* (N,p), (N,p), (p,N) in the files' shapes */
} gl_run_result;
/* Records a finished run in one transaction (row, time series, extras). */
int gl_store_finish(gl_store *s, long id, const gl_config *c, const gl_run_result *r, gl_error *err);
/* Copies every finished run of src into s (same grid): groklab merge. */
int gl_store_merge(gl_store *s, const char *src_path, long *copied, gl_error *err);

/* A run back to pending (its worker stopped before finishing it). */
int gl_store_release(gl_store *s, long id, gl_error *err);
/* A numeric result column (gl_store_result_cols: test_acc, test_acc_90,
 * ...) of run id into *v: NaN when the run has not finished or the value is
 * NULL. GL_E_INPUT for a column that is not a numeric result. */
int gl_store_result(gl_store *s, long id, const char *column, double *v, gl_error *err);
/* Writes a table of the store ("runs", ordered by id, or "metrics", by run
 * and step) as CSV to path (atomically); *rows gets the row count. */
int gl_store_export_csv(gl_store *s, const char *table, const char *path, long *rows, gl_error *err);

/* ---- adaptive refinement: a phase diagram from a subset of its grid ---- */

/* A refined sweep (groklab sweep --refine) trains, in each panel (every
 * combination of the axes other than x, y and replicate), a coarse lattice
 * of the x by y target grid first, then in rounds the points between
 * trained neighbours whose phases differ, until those differences are
 * resolved at the grid's own spacing. A point's phase is the majority over
 * its seeds; its seeds train together. Points no round scheduled are never
 * trained; their phase is inferred from the neighbours they lie between,
 * which agree by construction (docs/design.md, "Refinement").
 *
 * The lattice of level t along an axis of n values has stride
 * max(1, s >> t), s = gl_refine_stride(n), and always holds both ends. A
 * point of the level-(t+1) lattice that the level-t lattice lacks has as
 * neighbours the two level-t points it lies between along one axis (an
 * edge's midpoint), or, off the level-t lattice in both, the four edge
 * midpoints around it (a centre). Its value: its phase once finished; else
 * its neighbours' one phase when they all have values that agree. */

/* A point's state on a panel's map: a phase (gl_phase, >= 0) or one of these. */
#define GL_REFINE_UNTRAINED (-1) /* no round has scheduled it */
#define GL_REFINE_WAITING (-2)   /* scheduled, not finished */
#define GL_REFINE_NOPHASE (-3)   /* finished without a phase (failed) */

/* The coarse stride of an axis of n values: the largest power of two that
 * leaves at least 4 intervals (17 values: 4, a lattice of 5; 9: 2; 5: 1). */
int gl_refine_stride(int n);
/* The refinement step on one panel. state: (nx, ny), index ix * ny + iy.
 * Marks in next (nx, ny) the untrained points to train now: the coarse
 * lattice's, and every point whose neighbours all have values but disagree
 * (two phases, or one finished without a phase). Returns how many, or -1
 * when out of memory. */
long gl_refine_next(int nx, int ny, const int *state, unsigned char *next);
/* The phase of every point (nx, ny): a finished one's own state; an
 * untrained one's value when it has one (inferred); else
 * GL_REFINE_UNTRAINED. Returns the count of inferred points, or -1 when out
 * of memory. */
long gl_refine_infer(int nx, int ny, const int *state, int *phase);

/* Makes the store a refined sweep, before its first gl_store_define:
 * spatially over knobs x and y, axes of grid g (NULL: not checked), or in
 * seeds only (x NULL); seeds S > 0: the replicates from S on are extra seeds,
 * trained only where the first S leave a point uncertain. Again with the
 * same mode is a no-op. Refused for a store that already holds a full sweep
 * or is refined in another mode. */
int gl_store_refine_start(gl_store *s, const gl_grid *g, const char *x, const char *y, int seeds, gl_error *err);
/* 1 if the store is a refined sweep that still schedules rounds (not
 * completed, or refining seeds), else 0; x and y, when given, get its knobs
 * (40 bytes; "" in seeds only). */
int gl_store_refining(gl_store *s, char *x, char *y);
/* One round, in one transaction: the points gl_refine_next marks in each
 * panel (seeds only, or completed: every untrained point) become pending,
 * and so do the extra seeds of every finished point whose seeds leave it
 * uncertain (gl_phase_uncertain), their rows' round one more than the
 * panel's last (0: the coarse lattice). Call when no run is pending or
 * running; 0 runs scheduled means the refinement is done. */
int gl_store_refine(gl_store *s, long *scheduled, gl_error *err);
/* Turns a refined sweep into a full one: every row no round scheduled
 * becomes pending (round NULL), but for extra seeds, which the rounds go on
 * placing; finished runs stay as they are. */
int gl_store_complete(gl_store *s, long *added, gl_error *err);

/* ---- phase diagrams: the cells of a store ---- */

/* A cell: the finished runs of one (facet value, x, y), the count of each
 * phase (gl_phase order) under the grid's rule, the majority (ties: the
 * lower index), whether all agree, whether the majority is uncertain
 * (gl_phase_uncertain), and the half-gaps dx, dy to the neighbouring x and
 * y values. Both rules' majorities, how many runs the two rules classify
 * differently, and the runs' mean final accuracies and xi (over the runs
 * that have them; NaN when none does) are there for the rule comparison. */
typedef struct gl_phase_cell {
    char facet[64];
    double x, y;
    long count[6], n;
    int phase, agree, uncertain;
    double dx, dy;
    int majority[2];   /* by gl_phase_rule */
    long runs_differ;  /* runs whose paper and subset phases differ */
    double train_acc, test_acc, corrupted_acc, corrupted_true_acc, clean_acc, noise;
    int inferred; /* a refined sweep's untrained cell: n 0, phase inferred (gl_refine_infer) from the
                   * stored Table 2 phases; no accuracies (NaN) */
} gl_phase_cell;

typedef struct gl_phase_grid {
    char x[40], y[40], facet[40]; /* the knobs; facet "" when there is none */
    gl_phase_rule rule;           /* the rule of count, phase, agree, uncertain */
    gl_phase_cell *cells;         /* in order of first appearance by run id */
    int n_cells;
    char (*facets)[64];           /* facet values in order of first appearance */
    int n_facets;
    double *xs, *ys;              /* the distinct x and y values, ascending */
    int nx, ny;
    long runs, disagree;          /* classified runs; cells whose runs disagree */
    long uncertain;               /* uncertain cells */
    long rule_disagree;           /* cells whose two rules' majorities differ */
} gl_phase_grid;

/* The cells of every finished (done or diverged) run of the store by knobs
 * x and y, one panel per value of facet (NULL: the first axis with several
 * values that is neither x, y nor replicate; "": none), classified by rule:
 * the paper's, the stored runs.phase, or the subset rule, computed here
 * from each run's stored final accuracies (gl_phase_classify_subset; a run
 * without them keeps its stored phase); in a refined sweep also the cells
 * of its untrained points with their inferred phase (inferred 1, n 0).
 * GL_E_INPUT when a knob is not one or no run has finished. */
int gl_phase_cells(gl_store *s, const char *x, const char *y, const char *facet, gl_phase_rule rule,
                   gl_phase_grid *pg, gl_error *err);
void gl_phase_grid_free(gl_phase_grid *pg);
/* The cell at (facet index f, x, y), or NULL. */
const gl_phase_cell *gl_phase_grid_at(const gl_phase_grid *pg, int f, double x, double y);
/* phase.csv: facet, x, y, runs, phase, phase_index, agree, dx, dy, the
 * count of each phase, then for each phase frac_PHASE, lo_PHASE, hi_PHASE
 * (its fraction of the runs and 95% Wilson interval), uncertain, rule and
 * inferred (0/1); one row per cell, facets in order. */
int gl_phase_grid_write(const gl_phase_grid *pg, const char *path, gl_error *err);
/* rule-disagreements.csv: the cells whose paper and subset majorities
 * differ: facet, x, y, runs, paper, subset, runs_differ, the mean
 * train_acc, test_acc, corrupted_acc, corrupted_true_acc, clean_acc, xi,
 * and reason (gl_phase_rule_reason). */
int gl_phase_disagreements_write(const gl_phase_grid *pg, const char *path, gl_error *err);

/* ---- running a sweep in this process ---- */

/* Counts of a sweep as it starts and ends (gl_sweep_run). */
typedef struct gl_sweep_report {
    char store[4200];        /* the store's path */
    long total, added, requeued, pending; /* at the start: runs, new, back from a killed process, to do */
    long trained;            /* runs this process finished */
    double seconds;          /* spent training */
    long status[5], phase[6]; /* at the end (gl_store_counts) */
    int ranks;               /* MPI ranks (1 without MPI) */
    int rank;                /* this process's MPI rank (0 without MPI; the report is rank 0's) */
    long from_ranks;         /* MPI: runs the other ranks trained */
    int rounds;              /* a refined sweep: rounds this process scheduled */
    long untrained;          /* at the end: points no round scheduled (a refined sweep) */
} gl_sweep_report;

typedef struct gl_sweep_opts {
    int threads;      /* workers; 0 = all cores */
    int keep_weights;
    int extend;       /* gl_sweep_run: add a different grid's new points */
    int shard_i, shard_n; /* 0, 1: everything */
    int max_population;   /* a packing backend: at most this many runs at once (0: as many as fit) */
    void (*on_start)(void *ctx, const gl_sweep_report *r); /* the store is ready */
    void (*on_done)(void *ctx, long id, const gl_config *c, const gl_run_result *r); /* under a lock */
    void (*on_tick)(void *ctx, gl_store *s); /* about every 0.25 s, from the main thread */
    void *ctx;
    /* gl_sweep_run: a new store becomes a refined sweep over knobs refine_x,
     * refine_y (gl_store_refine_start) when refine is set; a refined store
     * trains its rounds either way; complete: gl_store_complete first */
    int refine, complete;
    const char *refine_x, *refine_y;
    /* refine_seeds K (> the grid's S seeds, S >= 2): the replicate axis grows
     * to K values, and the K - S extra seeds of a point train only when its
     * S seeds leave it uncertain (gl_phase_uncertain); with or without
     * refine. 0: off */
    int refine_seeds;
} gl_sweep_opts;

/* Trains every pending run of the store; one run per worker thread at a
 * time, or, when the grid's backend packs populations (a GPU), one worker
 * that fills populations as a plan allows (gl_plan). A run that diverges is
 * recorded as diverged; one that cannot start (bad config, memory) as
 * failed with its message. After gl_stop_request no run is claimed, the
 * runs in flight go back to pending, and GL_E_INTERRUPTED is returned. */
int gl_sweep_work(gl_store *s, const gl_sweep_opts *o, gl_error *err);

/* The sweep of directory dir, start to end: its store DIR/sweep.db (with
 * shard_n > 1: DIR/shard-I-of-N.db) is locked for this process (a lock file
 * beside it: a second process is refused), opened (created from g when g is
 * given; a different grid is refused unless o->extend, which adds its new
 * points; g NULL resumes the stored sweep), runs left running by a killed
 * process are requeued, every pending run is trained (gl_sweep_work), and
 * the store is closed. rep gets the counts. */
int gl_sweep_run(const char *dir, const gl_grid *g, const gl_sweep_opts *o, gl_sweep_report *rep,
                 gl_error *err);

/* The same across MPI ranks (the program runs under mpirun): rank 0 owns
 * the store and hands out runs, every rank trains (a GPU rank: populations
 * of an even share). Every rank returns its own status; rep is filled on
 * rank 0. GL_E_NODEVICE when groklab was built without MPI. */
int gl_sweep_run_mpi(const char *dir, const gl_grid *g, const gl_sweep_opts *o, gl_sweep_report *rep,
                     gl_error *err);
/* Whether this build has MPI sweeps. */
int gl_sweep_mpi_built(void);

/* Combines finished runs of the stores src[0..n) (shards of one sweep) into
 * DIR/sweep.db, which takes the grid of the first; copied[i] gets the runs
 * taken from each. */
int gl_sweep_merge(const char *dir, const char *const *src, int n, long *copied, gl_error *err);

/* Where run id of store s trains when its config asks for snapshots or
 * progress measures: DIR/runs/ID beside the store's DIR/sweep.db (MPI ranks
 * need DIR on a shared filesystem); "" when it asks for neither (the run
 * lives in the store alone). */
void gl_sweep_run_dir(const gl_store *s, long id, const gl_config *c, char *out, size_t cap);

/* One run from its config to its result (used by workers and MPI ranks).
 * With run_dir not "" it trains into that directory (gl_run_train: config,
 * metrics, snapshots, progress.csv, summary, as groklab train writes them),
 * made afresh; a directory that cannot be written is the sweep's error
 * (GL_E_IO), not the run's.
 * The caller owns *t afterwards (rows and weights point into it). Returns 0
 * with r filled (done, diverged, or failed with its message when the run
 * cannot start), GL_E_INTERRUPTED (nothing to record: the run goes back to
 * pending), or another error when what was asked for cannot be computed
 * (keep_weights: out of memory for the IPR). */
typedef struct gl_trainer gl_trainer;
int gl_sweep_train_one(const gl_config *c, int keep_weights, const char *run_dir, gl_trainer **t,
                       gl_run_result *r, double **ipr_buf, float **wbuf, gl_error *err);
/* The result of trained trainer t (the second half of gl_sweep_train_one);
 * an error, and nothing in r to record, when keep_weights cannot be served. */
int gl_sweep_result(gl_trainer *t, const gl_config *c, int keep_weights, gl_run_result *r,
                    double **ipr_buf, float **wbuf, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
