/* groklab: what a trainer is, for the backends that train it, and the
 * table of operations each backend implements (src/backend/).
 *
 * The train layer owns a trainer's state (config, data, parameters,
 * optimizer moments, running statistics, the logged rows, the position)
 * and calls its backend only through this table; a backend reads and
 * writes the state it is handed and never calls back into the trainer's
 * advancing functions. Which backend a config gets is decided above, in
 * the backend layer (src/backend/select.c: gl_trainer_create). */
#ifndef GROKLAB_TRAIN_BACKEND_H
#define GROKLAB_TRAIN_BACKEND_H

#include "groklab/train.h"

struct gl_trainer {
    gl_config cfg;   /* resolved (gl_config_resolve) */
    gl_dataset data;
    gl_net net;      /* net.mlp: the two-layer MLP's layout */
    int B;           /* examples per step */
    float *params, *m1, *m2, *init; /* (n_params) each; m2 unused by SGD */
    float *run_mean, *run_var;      /* (n_run_layers, run_width) + 1 each */
    long step, diverged_at;
    gl_metrics *rows;
    long n_rows, cap_rows;
    double seconds;
    gl_progress_fn progress;
    void *progress_ctx;
    gl_log_hook hook;
    void *hook_ctx;
    int64_t *story;  /* (3, n_train): gl_trainer_story */
    int story_live;  /* predictions were recorded (or restored) */
    /* the training methods around the optimizer (src/train/methods.c) */
    float *filter;        /* GrokFast: EMA (n_params) or the MA ring (window, n_params); NULL when off */
    float *filter_acc;    /* MA: the window's sum (n_params) */
    struct gl_param_run *runs; /* the parameter array as runs of one role (trained, decayed);
                                * NULL when no method is active (gl_methods_active) */
    int n_runs;
    double init_norm;     /* L2 norm of the initial weights (--weight-norm) */
    const gl_backend *be; /* trains it */
    void *impl;           /* the backend's buffers (attach / detach) */
};

struct gl_backend {
    const char *name; /* the --device value */
    /* Whether a validated config can run on this backend here (the model
     * family, the device): GL_E_NODEVICE or GL_E_INPUT with a message. */
    int (*check)(const gl_config *c, gl_error *err);
    /* Bytes of the backend's buffers for one trainer of resolved config c,
     * B examples per step (for the memory check before anything is made). */
    double (*bytes)(const gl_config *c, const gl_net *net, int B);
    /* The backend's buffers of one trainer, into t->impl, and their release. */
    int (*attach)(gl_trainer *t, gl_error *err);
    void (*detach)(gl_trainer *t);
    /* Trains members[0..M) to step `until` (or their configured steps, or
     * divergence), logging on their schedules; they are compatible and at
     * one step. threads: cores for the host's share (0: all). Returns 0,
     * GL_E_INTERRUPTED (gl_stop_requested: every member stopped after a
     * whole step, its state consistent), or another error. */
    int (*advance)(gl_trainer **members, int M, long until, int threads, gl_error *err);
    /* Whether runs of configs a and b can train in one advance call. */
    int (*compatible)(const gl_config *a, const gl_config *b);
    /* How many runs of config c one advance call takes at most (>= 1), or
     * a negative status. */
    int (*fit)(const gl_config *c, gl_error *err);
    /* One optimizer step without logging, returning the training loss (the
     * benchmark's unit); NULL when the backend only trains populations. */
    double (*step)(gl_trainer *t, int threads);
    /* The metrics of the current weights; NULL when the backend has no
     * separate evaluation (the GPU evaluates inside advance). */
    int (*evaluate)(gl_trainer *t, gl_metrics *m, int threads, gl_error *err);
    /* Evaluation-mode logits of B <= 2048 pairs (gl_trainer_logits); NULL
     * when the backend has none. */
    int (*logits)(gl_trainer *t, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err);
    /* 1: sweeps run one worker that packs runs into populations (a GPU);
     * 0: one worker per core, one run each. */
    int packs;
};

/* Makes a trainer of resolved, validated config c for backend be: the
 * dataset, the initial parameters (gl_net_init_params), the optimizer and
 * running-statistics state; then be->attach. */
int gl_trainer_new(gl_trainer **t, const gl_config *c, const gl_backend *be, gl_error *err);
/* Bytes of the backend-independent state of a trainer of resolved config c
 * (dataset, parameters, moments, the initial copy). */
double gl_trainer_state_bytes(const gl_config *c, const gl_net *net);
/* Examples per step of config c with n_train training examples. */
int gl_batch_size(const gl_config *c, long n_train);

/* For the backends, which train the state: appends a logged row (steps must
 * increase); sets the position and the divergence step (-1: none) and adds
 * training seconds; calls the progress callback, if there is one. */
int gl_trainer_push_row(gl_trainer *t, const gl_metrics *r, gl_error *err);
void gl_trainer_set_position(gl_trainer *t, long step, long diverged_at, double seconds);
void gl_trainer_notify(gl_trainer *t);
/* After a logged row: the training examples' argmax predictions (n_train)
 * at the current step move their story on (gl_trainer_story); then the
 * log hook, if there is one. */
int gl_trainer_record(gl_trainer *t, const int32_t *pred, gl_error *err);

/* ---- the training methods (src/train/methods.c) ----
 * A run of parameters [off, off + len) that share a role: trained (0: frozen
 * by --trainable) and decayed (0: exempt by --wd-groups). */
typedef struct gl_param_run {
    size_t off, len;
    int trained, decayed;
} gl_param_run;

/* Whether config c uses any method beyond the plain optimizer step (a
 * backend that has none refuses such configs). */
int gl_methods_active(const gl_config *c);
/* The methods' state of a new trainer t (its initial weights set): the
 * parameter runs, the GrokFast filter, the initial norm. */
int gl_methods_attach(gl_trainer *t, gl_error *err);
void gl_methods_detach(gl_trainer *t);
/* The update of step t->step (1-based, already counted) from gradient
 * grads (n_params, modified in place): the frozen tensors' gradients
 * zeroed, the GrokFast filter, clipping, the optimizer at the scheduled
 * learning rate with the decay's groups and target, the weight-norm
 * rescaling. Returns the L2 norm of grads as it came in when a method
 * changes it, else NaN (the caller's grads are then the raw ones). */
double gl_methods_update(gl_trainer *t, float *grads);

/* Plans of backend be (see gl_plan in groklab/train.h). */
int gl_plan_begin_on(gl_plan *pl, const gl_backend *be, const gl_config *c, int max, gl_error *err);

#endif
