/* groklab: training one model, and populations of models.
 *
 * A trainer is an opaque handle with a create / advance / free life cycle:
 * all buffers are allocated at create time, none in the step loop. The
 * trainer holds a run's state (data, parameters, optimizer moments, BatchNorm
 * running statistics, the logged rows, its step); a backend trains it (the
 * CPU, or a GPU for --device cuda), picked by gl_trainer_create from the
 * config's device. A population is several trainers advanced together: on
 * the CPU one member per core (a single member uses every core), on a GPU in
 * lockstep as one set of kernels. Results never depend on the thread count. */
#ifndef GROKLAB_TRAIN_H
#define GROKLAB_TRAIN_H

#include "groklab/arch.h"
#include "groklab/config.h"
#include "groklab/data.h"
#include "groklab/metrics.h"
#include "groklab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_trainer gl_trainer;
typedef struct gl_backend gl_backend; /* opaque: src/train/backend.h */

/* Whether config c (validated) can run here on the backend its device
 * names: the model family is one the backend trains and the device is
 * usable (GL_E_NODEVICE otherwise, with the reason). */
int gl_backend_check(const gl_config *c, gl_error *err);

/* Whether the backend of a --device value packs runs into populations (a
 * GPU: sweeps then run one worker that fills them) rather than one run per
 * core (the CPU). */
int gl_backend_packs(const char *device);

/* Bytes a trainer for this config needs (data, parameters, optimizer state,
 * the backend's buffers): runs over 80% of the memory limit (gl_runtime) are
 * refused before anything is allocated. 0 for an invalid config. */
double gl_trainer_bytes(const gl_config *c);

/* Validates c, checks the backend (gl_backend_check) and the memory, and
 * makes the trainer at step 0 with its initial weights. */
int gl_trainer_create(gl_trainer **t, const gl_config *c, gl_error *err);
void gl_trainer_free(gl_trainer *t);

/* Trains until step `until` (or divergence), logging rows on the schedule
 * (step 0 and the last step are always logged). Uses `threads` cores (0:
 * all). GL_E_INTERRUPTED when gl_stop_request stopped it after a step: the
 * state is consistent and can be checkpointed. */
int gl_trainer_advance(gl_trainer *t, long until, int threads, gl_error *err);

/* One optimizer step without logging; returns the training-mode batch loss
 * (NaN when the trainer's backend trains only populations, as the GPU). */
double gl_trainer_step(gl_trainer *t, int threads);

/* Evaluates the current weights into m (step = current step); every value
 * NaN when the backend evaluates only inside gl_trainer_advance (the GPU). */
int gl_trainer_evaluate(gl_trainer *t, gl_metrics *m, int threads, gl_error *err);

/* The linear schedule's period: log_every, or with log_every 0 (the
 * default) the larger of steps / GL_LOG_ROWS and, with minibatches of B,
 * ceil(pairs / (2 B)) (at least 1): a run of any length logs about GL_LOG_ROWS
 * rows (2000 full-batch steps: every 10th), fewer where one evaluation of
 * all pairs (about pairs / (2 B) steps' work) would otherwise take most of
 * the run (2000 steps at b 256, p 97: every 19th, 107 rows). */
enum { GL_LOG_ROWS = 200 };
long gl_log_period(const gl_config *c);
/* Whether step s is on the logging schedule of config c: step 0, the last
 * step, every gl_log_period-th step (or the log_points log-spaced steps), and
 * with snapshots the snapshot steps (gl_snapshot_due), so that every
 * snapshot has its row. */
int gl_log_due(const gl_config *c, long s);
/* Whether s is one of the P log-spaced steps round(steps^(i / (P-1))),
 * i < P, of a run of `steps` steps (step 0 is not among them). */
int gl_log_spaced(long steps, int P, long s);
/* Whether the weights of step s are kept as a snapshot on c's schedule
 * (step 0 and the c->snapshots log-spaced steps; the milestones are added
 * as they happen, by the run directory's hook). */
int gl_snapshot_due(const gl_config *c, long s);

/* Called by the backend after each logged row (the last of
 * gl_trainer_rows), from the thread that advances t: a run directory keeps
 * snapshots and progress measures this way. A nonzero return stops the
 * advance with that status (err filled). */
typedef int (*gl_log_hook)(void *ctx, gl_trainer *t, gl_error *err);
void gl_trainer_set_log_hook(gl_trainer *t, gl_log_hook fn, void *ctx);

/* The evaluation-mode logits (no dropout, BatchNorm's running statistics)
 * of pairs (m[i], n[i]), i < B <= 2048, into out (B, p). GL_E_NODEVICE when
 * the backend has no separate evaluation (the GPU). Matches gl_logits_fn
 * with t as the context. */
int gl_trainer_logits(void *t, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err);

/* Each training example's story over the logged steps (n_train entries,
 * example order of gl_trainer_data): which 0, the first logged step at
 * which the argmax was its given label; 1, the last such step; 2, for a
 * corrupted example, the first logged step after its first at which the
 * argmax was its true label instead (unlearned; one whose drawn label is
 * its true label never unlearns). -1: never. NULL when the backend
 * records no predictions (the GPU). */
const int64_t *gl_trainer_story(const gl_trainer *t, int which);
/* Restores the story (3 arrays of n_train) on resume. */
void gl_trainer_restore_story(gl_trainer *t, const int64_t *first, const int64_t *last, const int64_t *unlearned);

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
/* Optimizer moments (n_params each; m2 unused by SGD) and BN running stats
 * ((net.n_run_layers, net.run_width) each, NULL without batchnorm): the rest
 * of a checkpoint. */
float *gl_trainer_moment(gl_trainer *t, int which);
float *gl_trainer_running(gl_trainer *t, int which);
/* Restores position, logged history and training time so far when resuming
 * from a checkpoint (rows past step are left out). */
int gl_trainer_restore(gl_trainer *t, long step, const gl_metrics *rows, long n_rows,
                       double seconds, gl_error *err);

/* The GrokFast filter's state (the rest of a checkpoint with --grokfast):
 * shape (1, n_params) for the EMA, (window, n_params) for the MA ring
 * (slot (t - 1) % window holds step t's gradient); NULL when off. */
float *gl_trainer_filter(gl_trainer *t, int64_t shape[2]);

/* The training methods' schedules (docs/training.md): the factor of the
 * learning rate at step t (1-based): t / warmup for t <= warmup, then 1,
 * or with u = (t - 1 - warmup) / (steps - warmup) the cosine decay
 * (1 + cos(pi u)) / 2 or the linear 1 - u. */
double gl_lr_factor(const gl_config *c, long t);
/* GrokFast's lambda (its published default for 0: 2 for ema, 5 for ma). */
double gl_grokfast_lambda(const gl_config *c);

/* Wall-clock seconds spent in gl_trainer_advance. */
double gl_trainer_seconds(const gl_trainer *t);

/* Progress callback: called from the advancing thread about every 0.25 s. */
typedef void (*gl_progress_fn)(void *ctx, const gl_trainer *t);
void gl_trainer_set_progress(gl_trainer *t, gl_progress_fn fn, void *ctx);

/* Advances every member to its configured number of steps: consecutive
 * members that one backend can train together (a plan, below) go to it as
 * one population. threads: cores (0: all). GL_E_INTERRUPTED as for
 * gl_trainer_advance. */
int gl_population_advance(gl_trainer **members, int M, int threads, gl_error *err);

/* A plan packs runs into one population: the first run's backend says how
 * many fit at once (a GPU: as many as its memory holds; the CPU: any number)
 * and which others can join (a GPU: the same shape). gl_plan_begin starts
 * with config c (n = 1; max > 0 caps the size); gl_plan_accepts(pl, c2)
 * adds c2 (n + 1) when it fits and can join, and returns whether it did. */
typedef struct gl_plan {
    gl_config first;
    const gl_backend *be;
    int fit, n;
    int packs; /* the backend packs populations (sweeps run one worker) */
} gl_plan;
int gl_plan_begin(gl_plan *pl, const gl_config *c, int max, gl_error *err);
int gl_plan_accepts(gl_plan *pl, const gl_config *c);

#ifdef __cplusplus
}
#endif

#endif
