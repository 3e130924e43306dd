/* groklab: the run configuration.
 *
 * One struct holds every knob of a run. A table of fields (config.c) drives
 * the CLI flags, config.json in both directions, --help and validation, so a
 * knob is declared once. Flags are spelled with '-', JSON keys with '_'. */
#ifndef GROKLAB_CONFIG_H
#define GROKLAB_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "groklab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GL_ACT_AUTO resolves per family (gl_config_resolve): quadratic for the
 * two-layer MLP, ReLU for the deep MLP and the Transformer. */
typedef enum { GL_ACT_QUADRATIC, GL_ACT_RELU, GL_ACT_GELU, GL_ACT_IDENTITY, GL_ACT_AUTO } gl_act;
typedef enum { GL_NORM_NONE, GL_NORM_BATCHNORM, GL_NORM_LAYERNORM } gl_norm;
typedef enum { GL_LOSS_MSE, GL_LOSS_CE } gl_loss;
typedef enum { GL_OPT_ADAMW, GL_OPT_ADAM, GL_OPT_SGD } gl_optim;
typedef enum { GL_IPR_RFFT, GL_IPR_FULL } gl_ipr_conv;
/* Index basis of the Fourier transform: additive (residues 0..p-1 in order)
 * or discrete-log (nonzero residues g^0..g^(p-2) for a primitive root g);
 * auto picks dlog for the multiplicative tasks (mul, div). */
typedef enum { GL_BASIS_AUTO, GL_BASIS_ADDITIVE, GL_BASIS_DLOG } gl_basis;
/* Model family: the paper's two-layer MLP, the deep MLP (src/model/deep*),
 * the encoder-only Transformer (src/model/transformer*). */
typedef enum { GL_ARCH_MLP, GL_ARCH_DEEP_MLP, GL_ARCH_TRANSFORMER } gl_arch;
/* Deep MLP initialization: standard N(0, 2/fan_in), lazy N(0, 2/N^(2/3)). */
typedef enum { GL_PARAM_STANDARD, GL_PARAM_LAZY } gl_param;
/* Training methods around the optimizer step (src/train/methods.c). */
typedef enum { GL_GROKFAST_OFF, GL_GROKFAST_EMA, GL_GROKFAST_MA } gl_grokfast; /* gradient filter */
typedef enum { GL_DECAY_NONE, GL_DECAY_COSINE, GL_DECAY_LINEAR } gl_lr_decay;  /* after warmup */
typedef enum { GL_WD_TO_ZERO, GL_WD_TO_INIT } gl_wd_toward;                    /* decay's target */
typedef enum { GL_WD_ALL, GL_WD_MATRICES } gl_wd_groups; /* matrices: 1-D tensors not decayed */
typedef enum { GL_TRAIN_ALL, GL_TRAIN_NORM } gl_trainable; /* norm: only the norm gains, shifts */

#define GL_TASK_LEN 32
#define GL_DEVICE_LEN 8
#define GL_PATH_LEN 512

typedef struct gl_config {
    /* task and data */
    char task[GL_TASK_LEN]; /* gl_task_names() lists them            */
    int p;                  /* modulus                                 */
    double frac;            /* alpha: fraction of the p^2 pairs trained */
    double noise;           /* xi: corrupted fraction of the train set */
    uint64_t split_seed;    /* shuffle of pairs -> train/test          */
    uint64_t noise_seed;    /* corrupted labels                        */
    uint64_t seed;          /* model: init, dropout, minibatch order   */
    char data[GL_PATH_LEN]; /* a dataset file used instead of the split above ("" = none) */
    /* model */
    gl_arch arch;           /* family: --model mlp|deep-mlp|transformer   */
    int width;              /* N (both MLPs)                              */
    int depth;              /* deep MLP: weight layers; Transformer: blocks; 0 = family default */
    gl_param param;         /* deep MLP initialization                    */
    int heads, embed, mlp_factor, tie; /* Transformer                     */
    double mu, scale_s;     /* Transformer: residual scale, scaling exponent s */
    gl_act act;
    gl_norm norm;
    double dropout;         /* probability, on the first layer's output */
    double init_std;        /* 0 = the paper's 0.5 * (2N)^(-1/3)        */
    double bn_momentum, norm_eps;
    /* training */
    gl_loss loss;
    gl_optim optim;
    double lr, wd, beta1, beta2, eps, momentum;
    int batch;              /* 0 = full batch */
    long steps;
    int drop_last;          /* 1: an epoch's short last minibatch is skipped */
    long warmup;            /* steps of linear learning-rate warmup (0 = none) */
    gl_lr_decay lr_decay;   /* the learning rate after warmup */
    double clip;            /* > 0: clip the gradient's total L2 norm to this */
    gl_grokfast grokfast;   /* GrokFast filter of the gradients */
    double grokfast_alpha;  /* EMA: s <- alpha s + (1 - alpha) g */
    double grokfast_lambda; /* g <- g + lambda s (0 = 2 for ema, 5 for ma) */
    int grokfast_window;    /* MA: s = mean of the last window gradients */
    double weight_norm;     /* > 0: after each step, rescale all weights to this x their initial norm */
    gl_wd_toward wd_toward; /* weight decay pulls toward zero or the initial weights */
    gl_wd_groups wd_groups; /* which tensors are decayed */
    gl_trainable trainable; /* which tensors train (the rest stay at their init) */
    /* logging and outputs */
    long log_every;         /* linear schedule (used when log_points == 0); 0: gl_log_period's */
    int log_points;         /* > 0: about this many log-spaced steps        */
    long checkpoint_every;  /* 0 = only at the end                          */
    int snapshots;          /* > 0: weights at about this many log-spaced steps and the milestones */
    int progress_measures;  /* 1: progress.csv at the logging steps         */
    gl_ipr_conv ipr;
    gl_basis ipr_basis;
    /* execution (does not change results) */
    char device[GL_DEVICE_LEN];
    int threads;            /* 0 = all cores */
} gl_config;

/* The paper's default setting. */
void gl_config_default(gl_config *c);

/* Checks every field and their combinations; the message names the field and
 * its allowed values. Whether the device can run the config here is not a
 * question about the config: gl_backend_check (groklab/train.h) answers it. */
int gl_config_validate(const gl_config *c, gl_error *err);

/* Sets one field from its name (flag or JSON spelling) and text value.
 * Returns GL_E_INPUT with a message for an unknown name (gl_config_has tells
 * them apart) or a malformed or out-of-range value. */
int gl_config_set(gl_config *c, const char *name, const char *value, gl_error *err);

/* JSON text of every field plus the groklab version; caller frees. Numbers
 * are written exactly: each reads back to the same double, bit for bit. */
char *gl_config_to_json(const gl_config *c);
/* The same on one line, without the version (a config's identity, as the
 * sweep store keeps it). */
char *gl_config_to_json_compact(const gl_config *c);

/* Reads fields from a JSON object text (unknown keys, and text after the
 * object, are errors; "groklab_version" is ignored). Fields not present
 * keep their value in c; on an error c is unchanged. */
int gl_config_from_json(gl_config *c, const char *json, gl_error *err);

/* Whether name (flag or JSON spelling) is a field. */
int gl_config_has(const char *name);

/* Whether a field may change on --resume without changing the trajectory. */
int gl_config_resume_safe(const char *name);
/* gl_config_set on a resumed run's config c: refused (GL_E_INPUT, c
 * unchanged) for a field that is not resume-safe, and for steps when the
 * learning rate decays over the run's steps (lr_decay other than none). The
 * message starts with the field's JSON name. */
int gl_config_set_on_resume(gl_config *c, const char *name, const char *value, gl_error *err);

/* The fields in table order (JSON spelling), whether each is a number, and
 * its value as text (numbers round-trip through gl_config_set). */
int gl_config_nfields(void);
const char *gl_config_field_name(int i);
int gl_config_field_numeric(int i);
void gl_config_field_text(const gl_config *c, int i, char *buf, size_t cap);

/* Field i's help line, its default as text, its kind ("int", "float",
 * "str", "enum", "path": a file name, "" for none) and its allowed values
 * as text ("0..1 (excl.)", "mse|ce", "" when any value is allowed): what
 * --help prints, for other front ends (the Python package). */
const char *gl_config_field_help(int i);
const char *gl_config_field_default(int i);
const char *gl_config_field_kind(int i);
void gl_config_field_allowed(int i, char *buf, size_t cap);

/* A config on the heap at its defaults (NULL when out of memory), for
 * programs that cannot embed the struct (language bindings); free with
 * gl_config_free. */
gl_config *gl_config_new(void);
void gl_config_free(gl_config *c);

/* Prints the flag list with defaults and allowed values. */
void gl_config_print_help(FILE *f);

/* Names of enum values, for messages and output. */
const char *gl_act_name(gl_act a);
const char *gl_norm_name(gl_norm n);
const char *gl_loss_name(gl_loss l);
const char *gl_optim_name(gl_optim o);
const char *gl_basis_name(gl_basis b);
const char *gl_lr_decay_name(gl_lr_decay d);

/* The IPR basis actually used (resolves auto: dlog for mul and div with p prime). */
gl_basis gl_config_basis(const gl_config *c);

/* Resolves the family-dependent defaults in place: act auto (quadratic for
 * mlp, relu otherwise) and depth 0 (3 for deep-mlp, 1 for transformer). */
void gl_config_resolve(gl_config *c);

const char *gl_arch_name(gl_arch a);
const char *gl_param_name(gl_param p);

/* The initialization std actually used (resolves init_std == 0). */
double gl_config_init_std(const gl_config *c);

#ifdef __cplusplus
}
#endif

#endif
