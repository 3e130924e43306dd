/* groklab: the run configuration, driven by one table of fields.
 *
 * Each field has a name, a kind, an offset into gl_config, a range or a list
 * of allowed words, and a help line. Flags, JSON, --help and validation all
 * read this table, so adding a knob is one line here (and its default). */
#include "groklab/config.h"
#include "core/config_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/task.h"
#include "groklab/modular.h"
#include "groklab/version.h"

/* F_PATH: a file name that may be empty (none); written to JSON only when
 * set, so configs without one read and write as before it existed. */
typedef enum { F_INT, F_LONG, F_U64, F_DOUBLE, F_STRING, F_ENUM, F_PATH } field_kind;

typedef struct field {
    const char *name; /* JSON spelling; the flag uses '-' for '_' */
    const char *def;  /* default value, as text (the paper's setting) */
    field_kind kind;
    size_t offset;
    double lo, hi;       /* inclusive range for numbers */
    int hi_open;         /* 1: hi is excluded */
    const char *words;   /* F_ENUM: allowed values, '|'-separated, in enum order */
    int resume_safe;     /* may change on --resume */
    const char *help;
    /* 1: left out of JSON at its default, so configs of runs that did not
     * use the knob read and write (and sweep points match) as before it
     * existed */
    int quiet_default;
} field;

#define OFF(f) offsetof(gl_config, f)
static const field fields[] = {
    {"task", "add", F_STRING, OFF(task), 0, 0, 0, NULL, 0, "operation (see the task list below)", 0},
    {"p", "97", F_INT, OFF(p), 2, 4096, 0, NULL, 0, "modulus", 0},
    {"frac", "0.5", F_DOUBLE, OFF(frac), 0, 1, 0, NULL, 0, "data fraction alpha: share of pairs trained on", 0},
    {"noise", "0", F_DOUBLE, OFF(noise), 0, 1, 0, NULL, 0, "corruption fraction xi of the training set", 0},
    {"split_seed", "0", F_U64, OFF(split_seed), 0, 0, 0, NULL, 0, "seed of the train/test split", 0},
    {"noise_seed", "0", F_U64, OFF(noise_seed), 0, 0, 0, NULL, 0, "seed of the corrupted labels", 0},
    {"seed", "0", F_U64, OFF(seed), 0, 0, 0, NULL, 0, "model seed: init, dropout, minibatch order", 0},
    {"data", "", F_PATH, OFF(data), 0, 0, 0, NULL, 0, "a dataset file (a run's data.safetensors, or one written by groklab import) used instead of the generated split; frac and noise are then the file's", 0},
    {"model", "mlp", F_ENUM, OFF(arch), 0, 0, 0, "mlp|deep-mlp|transformer", 0, "model family: the paper's two-layer MLP, a deep MLP, or the encoder-only Transformer", 0},
    {"width", "500", F_INT, OFF(width), 1, 1 << 20, 0, NULL, 0, "hidden width N (mlp, deep-mlp)", 0},
    {"depth", "0", F_INT, OFF(depth), 0, 64, 0, NULL, 0, "deep-mlp: weight layers (0 = 3; at 2 it is not --model mlp: its own init, and dropout after each activation from its own stream); transformer: blocks (0 = 1)", 0},
    {"param", "standard", F_ENUM, OFF(param), 0, 0, 0, "standard|lazy", 0, "deep-mlp init: N(0, 2/fan_in) or N(0, 2/N^(2/3))", 0},
    {"embed", "128", F_INT, OFF(embed), 1, 65536, 0, NULL, 0, "transformer: embedding dimension n_embd", 0},
    {"heads", "4", F_INT, OFF(heads), 1, 1024, 0, NULL, 0, "transformer: attention heads (divides --embed)", 0},
    {"mlp_factor", "4", F_INT, OFF(mlp_factor), 1, 64, 0, NULL, 0, "transformer: MLP width = factor x --embed", 0},
    {"tie", "0", F_INT, OFF(tie), 0, 1, 0, NULL, 0, "transformer: 1 = the head is the token embedding", 0},
    {"mu", "1", F_DOUBLE, OFF(mu), -1e3, 1e3, 0, NULL, 0, "transformer: residual scale mu", 0},
    {"scale_s", "1", F_DOUBLE, OFF(scale_s), -1e3, 1e3, 0, NULL, 0, "transformer: s of the scalings d_head^(-(1+s)/2) (scores) and n_embd^(-(1+s)/2) (logits)", 0},
    {"act", "auto", F_ENUM, OFF(act), 0, 0, 0, "quadratic|relu|gelu|identity|auto", 0, "activation phi (auto: quadratic for mlp, relu otherwise)", 0},
    {"norm", "none", F_ENUM, OFF(norm), 0, 0, 0, "none|batchnorm|layernorm", 0, "norm after the activation (mlp, deep-mlp: every hidden layer); transformer: layernorm or none", 0},
    {"dropout", "0", F_DOUBLE, OFF(dropout), 0, 1, 1, NULL, 0, "dropout probability: mlp first layer's output; deep-mlp every hidden layer; transformer embeddings, attention and residual", 0},
    {"init_std", "0", F_DOUBLE, OFF(init_std), 0, 1e3, 0, NULL, 0, "init std (0 = paper: 0.5*(2N)^(-1/3))", 0},
    {"bn_momentum", "0.1", F_DOUBLE, OFF(bn_momentum), 0, 1, 0, NULL, 0, "BatchNorm running-stat momentum", 0},
    {"norm_eps", "1e-5", F_DOUBLE, OFF(norm_eps), 0, 1, 0, NULL, 0, "BatchNorm/LayerNorm epsilon", 0},
    {"loss", "mse", F_ENUM, OFF(loss), 0, 0, 0, "mse|ce", 0, "loss: mean squared error on one-hot targets, or cross-entropy", 0},
    {"optim", "adamw", F_ENUM, OFF(optim), 0, 0, 0, "adamw|adam|sgd", 0, "optimizer (PyTorch semantics)", 0},
    {"lr", "0.01", F_DOUBLE, OFF(lr), 0, 1e3, 0, NULL, 0, "learning rate", 0},
    {"wd", "0", F_DOUBLE, OFF(wd), 0, 1e4, 0, NULL, 0, "weight decay (decoupled for adamw, L2 for adam/sgd)", 0},
    {"beta1", "0.9", F_DOUBLE, OFF(beta1), 0, 1, 1, NULL, 0, "Adam beta1", 0},
    {"beta2", "0.98", F_DOUBLE, OFF(beta2), 0, 1, 1, NULL, 0, "Adam beta2", 0},
    {"eps", "1e-8", F_DOUBLE, OFF(eps), 0, 1, 0, NULL, 0, "Adam epsilon", 0},
    {"momentum", "0", F_DOUBLE, OFF(momentum), 0, 1, 1, NULL, 0, "SGD momentum", 0},
    {"batch", "0", F_INT, OFF(batch), 0, INT_MAX, 0, NULL, 0, "minibatch size (0 = full batch)", 0},
    {"steps", "2000", F_LONG, OFF(steps), 0, 1e12, 0, NULL, 1, "optimizer steps in all", 0},
    {"drop_last", "off", F_ENUM, OFF(drop_last), 0, 0, 0, "off|on", 0, "minibatches: on = skip the short last batch of each epoch (as the authors' data loaders do)", 1},
    {"warmup", "0", F_LONG, OFF(warmup), 0, 1e12, 0, NULL, 0, "steps of linear learning-rate warmup: step t (1-based) of the first k uses lr t/k", 1},
    {"lr_decay", "none", F_ENUM, OFF(lr_decay), 0, 0, 0, "none|cosine|linear", 0, "learning rate after warmup, over the remaining steps: constant, cosine or linear decay toward 0", 1},
    {"clip", "0", F_DOUBLE, OFF(clip), 0, 1e12, 0, NULL, 0, "clip the gradient's total L2 norm to this before the optimizer (0 = off)", 1},
    {"grokfast", "off", F_ENUM, OFF(grokfast), 0, 0, 0, "off|ema|ma", 0, "GrokFast gradient filter: g + lambda * (EMA of the gradients, or their mean over the last window steps)", 1},
    {"grokfast_alpha", "0.98", F_DOUBLE, OFF(grokfast_alpha), 0, 1, 1, NULL, 0, "GrokFast EMA: s <- alpha s + (1 - alpha) g", 1},
    {"grokfast_lambda", "0", F_DOUBLE, OFF(grokfast_lambda), 0, 1e6, 0, NULL, 0, "GrokFast amplification lambda (0 = the published default: 2 for ema, 5 for ma)", 1},
    {"grokfast_window", "100", F_INT, OFF(grokfast_window), 1, 100000, 0, NULL, 0, "GrokFast MA: gradients averaged (the filter acts once that many exist)", 1},
    {"weight_norm", "0", F_DOUBLE, OFF(weight_norm), 0, 1e6, 0, NULL, 0, "after each step rescale all weights together to this times their initial L2 norm (0 = off)", 1},
    {"wd_toward", "zero", F_ENUM, OFF(wd_toward), 0, 0, 0, "zero|init", 0, "weight decay pulls the weights toward zero or toward their initial values", 1},
    {"wd_groups", "all", F_ENUM, OFF(wd_groups), 0, 0, 0, "all|matrices", 0, "tensors decayed: all, or matrices only (norm gains and shifts are not; the authors' Transformer default)", 1},
    {"trainable", "all", F_ENUM, OFF(trainable), 0, 0, 0, "all|norm", 0, "tensors trained: all, or only the norm gains and shifts (the rest stay at their initial values)", 1},
    {"log_every", "0", F_LONG, OFF(log_every), 0, 1e12, 0, NULL, 1, "log metrics every k steps (0: about 200 rows, fewer where evaluating all pairs would take most of the run)", 0},
    {"log_points", "0", F_INT, OFF(log_points), 0, 1e6, 0, NULL, 1, "if > 0: about this many log-spaced logging steps instead", 0},
    {"checkpoint_every", "500", F_LONG, OFF(checkpoint_every), 0, 1e12, 0, NULL, 1, "write a checkpoint every k steps (0 = at the end only)", 0},
    {"snapshots", "0", F_INT, OFF(snapshots), 0, 100000, 0, NULL, 1, "keep the weights at about this many log-spaced steps and at each milestone (train 90%, test 90%, unlearned) in snapshots/ (0 = none)", 1},
    {"progress_measures", "off", F_ENUM, OFF(progress_measures), 0, 0, 0, "off|on", 1, "log the full, restricted and excluded logits' loss and accuracy on every subset to progress.csv (add, sub, mul, div)", 1},
    {"ipr", "rfft", F_ENUM, OFF(ipr), 0, 0, 0, "rfft|full", 1, "DFT convention of the IPR", 0},
    {"ipr_basis", "auto", F_ENUM, OFF(ipr_basis), 0, 0, 0, "auto|additive|dlog", 1, "IPR index basis (auto: dlog for mul and div)", 0},
    {"device", "cpu", F_STRING, OFF(device), 0, 0, 0, NULL, 1, "backend: cpu | cuda (the two-layer MLP on one GPU)", 0},
    {"threads", "0", F_INT, OFF(threads), 0, 4096, 0, NULL, 1, "threads (0 = all cores); results do not depend on it", 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

void gl_config_default(gl_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NFIELDS; i++) gl_config_set(c, fields[i].name, fields[i].def, NULL);
}

static const field *find_field(const char *name) {
    char key[64];
    size_t n = strlen(name);
    if (n >= sizeof key) return NULL;
    for (size_t i = 0; i <= n; i++) key[i] = name[i] == '-' ? '_' : name[i];
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].name, key) == 0) return &fields[i];
    return NULL;
}

static void flag_name(const field *f, char *out, size_t cap) {
    snprintf(out, cap, "--%s", f->name);
    for (char *s = out; *s; s++)
        if (*s == '_') *s = '-';
}

/* Index of word in a '|'-separated list, or -1. */
static int word_index(const char *words, const char *w) {
    int idx = 0;
    size_t wl = strlen(w);
    for (const char *s = words;; idx++) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        if (len == wl && strncmp(s, w, len) == 0) return idx;
        if (!bar) return -1;
        s = bar + 1;
    }
}

static const char *word_at(const char *words, int idx, char *buf, size_t cap) {
    const char *s = words;
    for (int i = 0; i < idx && s; i++) {
        s = strchr(s, '|');
        if (s) s++;
    }
    if (!s) return "?";
    const char *bar = strchr(s, '|');
    size_t len = bar ? (size_t)(bar - s) : strlen(s);
    if (len >= cap) len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return buf;
}

static int range_error(const field *f, const char *value, gl_error *err) {
    char fl[64];
    flag_name(f, fl, sizeof fl);
    if (f->kind == F_U64)
        return gl_fail(err, "%s: '%s' is not a valid value (expected an integer from 0 to 2^64-1)",
                       fl, value);
    return gl_fail(err, "%s: '%s' is out of range (allowed: %s%g to %g%s)", fl, value,
                   "", f->lo, f->hi, f->hi_open ? ", exclusive" : "");
}

static int in_range(const field *f, double v) {
    if (!(v >= f->lo)) return 0;
    return f->hi_open ? v < f->hi : v <= f->hi;
}

int gl_config_set(gl_config *c, const char *name, const char *value, gl_error *err) {
    const field *f = find_field(name);
    if (!f) {
        return gl_fail(err, "unknown option '%s' (see --help for the list)", name);
    }
    char fl[64];
    flag_name(f, fl, sizeof fl);
    char *base = (char *)c + f->offset;
    char *end = NULL;
    if (!value || (!*value && f->kind != F_PATH)) return gl_fail(err, "%s: missing value", fl);
    switch (f->kind) {
    case F_INT:
    case F_LONG: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || *end)
            return gl_fail(err, "%s: '%s' is not an integer (allowed: %g to %g)", fl, value, f->lo,
                           f->hi);
        if (!in_range(f, (double)v)) return range_error(f, value, err);
        if (f->kind == F_INT)
            *(int *)base = (int)v;
        else
            *(long *)base = (long)v;
        return 0;
    }
    case F_U64: {
        errno = 0;
        if (value[0] < '0' || value[0] > '9') return range_error(f, value, err); /* no sign, no blank */
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || *end) return range_error(f, value, err);
        *(uint64_t *)base = (uint64_t)v;
        return 0;
    }
    case F_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || *end || !isfinite(v))
            return gl_fail(err, "%s: '%s' is not a number (allowed: %g to %g%s)", fl, value, f->lo,
                           f->hi, f->hi_open ? ", exclusive" : "");
        if (!in_range(f, v)) return range_error(f, value, err);
        *(double *)base = v;
        return 0;
    }
    case F_STRING:
    case F_PATH: {
        size_t cap = f->kind == F_PATH ? GL_PATH_LEN : f->offset == OFF(task) ? GL_TASK_LEN : GL_DEVICE_LEN;
        if (strlen(value) >= cap)
            return gl_fail(err, "%s: '%.60s...' is too long (%zu characters; at most %zu)", fl, value, strlen(value),
                           cap - 1);
        strcpy(base, value);
        return 0;
    }
    case F_ENUM: {
        int idx = word_index(f->words, value);
        if (idx < 0) return gl_fail(err, "%s: '%s' is not allowed (allowed: %s)", fl, value, f->words);
        *(int *)base = idx;
        return 0;
    }
    }
    return gl_fail(err, "%s: internal error", fl);
}

int gl_config_validate(const gl_config *c, gl_error *err) {
    int needs_prime = 0;
    if (!gl_task_lookup(c->task, &needs_prime))
        return gl_fail(err, "--task: '%s' is not a task (allowed: %s)", c->task, gl_task_names());
    if (c->p < 2 || c->p > 4096) return gl_fail(err, "--p: %d is out of range (allowed: 2 to 4096)", c->p);
    if (needs_prime) {
        for (int d = 2; (long)d * d <= c->p; d++)
            if (c->p % d == 0)
                return gl_fail(err, "--p: task '%s' needs a prime modulus, and %d = %d x %d", c->task,
                               c->p, d, c->p / d);
    }
    /* re-check numeric ranges (a config file may bypass gl_config_set) */
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        const char *base = (const char *)c + f->offset;
        double v;
        if (f->kind == F_INT) v = *(const int *)base;
        else if (f->kind == F_LONG) v = (double)*(const long *)base;
        else if (f->kind == F_DOUBLE) v = *(const double *)base;
        else continue;
        if (!in_range(f, v)) {
            char buf[64];
            snprintf(buf, sizeof buf, "%g", v);
            return range_error(f, buf, err);
        }
    }
    /* whether the device can run this config here is the backend's to say
     * (gl_backend_check); the config only names one */
    if (strcmp(c->device, "cpu") != 0 && strcmp(c->device, "cuda") != 0)
        return gl_fail(err, "--device: '%s' is not a backend (allowed: cpu, cuda)", c->device);
    long total = gl_task_pairs(c->task, c->p);
    long n_train = (long)floor(c->frac * (double)total);
    if (n_train < 1)
        return gl_fail(err, "--frac: %g of %ld pairs leaves no training example (allowed: frac >= %g)",
                       c->frac, total, 1.0 / (double)total);
    if (c->batch > n_train)
        return gl_fail(err, "--batch: %d is larger than the training set (%ld examples; 0 = full batch)",
                       c->batch, n_train);
    if (c->norm == GL_NORM_BATCHNORM && c->batch == 1)
        return gl_fail(err, "--batch: BatchNorm needs at least 2 examples per batch (got 1)");
    if (c->beta1 >= 1 || c->beta2 >= 1) return gl_fail(err, "--beta1/--beta2 must be below 1");
    gl_config r = *c;
    gl_config_resolve(&r);
    if (r.arch == GL_ARCH_MLP && r.depth != 0 && r.depth != 2)
        return gl_fail(err, "--depth: the mlp model has 2 layers (got %d; use --model deep-mlp for deeper MLPs)", r.depth);
    if (r.arch == GL_ARCH_DEEP_MLP && (r.depth < 2 || r.depth > 16))
        return gl_fail(err, "--depth: the deep-mlp model has 2 to 16 weight layers (got %d)", r.depth);
    if (r.arch == GL_ARCH_TRANSFORMER) {
        if (r.norm == GL_NORM_BATCHNORM)
            return gl_fail(err, "--norm: the transformer takes layernorm or none (got batchnorm)");
        if (r.embed % r.heads != 0)
            return gl_fail(err, "--heads: %d does not divide --embed %d", r.heads, r.embed);
        if ((long)r.embed * r.mlp_factor > (1L << 20))
            return gl_fail(err, "--mlp-factor: %d x --embed %d is too large (at most 2^20)", r.mlp_factor, r.embed);
    }
    if (c->ipr_basis == GL_BASIS_DLOG && gl_primitive_root(c->p) < 0)
        return gl_fail(err, "--ipr-basis: dlog needs a prime modulus p >= 3 (got %d; allowed: auto, additive)", c->p);
    if (c->trainable == GL_TRAIN_NORM && r.norm == GL_NORM_NONE)
        return gl_fail(err, "--trainable norm: the model has no norm to train (use --norm batchnorm or layernorm, or "
                            "--trainable all)");
    if (c->lr_decay != GL_DECAY_NONE && c->warmup >= c->steps && c->steps > 0)
        return gl_fail(err, "--lr-decay %s: --warmup %ld leaves none of the %ld steps to decay over (allowed: warmup < steps)",
                       gl_lr_decay_name(c->lr_decay), c->warmup, c->steps);
    if (c->progress_measures && strcmp(c->task, "add") && strcmp(c->task, "sub") && strcmp(c->task, "mul") &&
        strcmp(c->task, "div"))
        return gl_fail(err, "--progress-measures on: task '%s' has no Fourier solution to restrict the logits to "
                            "(allowed tasks: add, sub, mul, div)", c->task);
    return 0;
}

gl_basis gl_config_basis(const gl_config *c) {
    if (c->ipr_basis != GL_BASIS_AUTO) return c->ipr_basis;
    int mult = !strcmp(c->task, "mul") || !strcmp(c->task, "div");
    return mult && gl_primitive_root(c->p) > 0 ? GL_BASIS_DLOG : GL_BASIS_ADDITIVE;
}

/* The shortest decimal text that reads back as exactly v (%.15g, else
 * %.16g, else %.17g): the JSON of a config keeps every bit. */
static void exact_number(char *buf, size_t cap, double v) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Every field as a JSON object; numbers exactly (as raw text). */
static cJSON *config_object(const gl_config *c) {
    cJSON *o = cJSON_CreateObject();
    char buf[64];
    for (size_t i = 0; o && i < NFIELDS; i++) {
        const field *f = &fields[i];
        const char *base = (const char *)c + f->offset;
        if (f->quiet_default) { /* the value, as text, against the default's (0.98 prints as 0.97999...) */
            gl_config d = *c;
            char at_def[64];
            gl_config_set(&d, f->name, f->def, NULL);
            gl_config_field_text(c, (int)i, buf, sizeof buf);
            gl_config_field_text(&d, (int)i, at_def, sizeof at_def);
            if (strcmp(buf, at_def) == 0) continue;
        }
        switch (f->kind) {
        case F_INT: snprintf(buf, sizeof buf, "%d", *(const int *)base); cJSON_AddRawToObject(o, f->name, buf); break;
        case F_LONG: snprintf(buf, sizeof buf, "%ld", *(const long *)base); cJSON_AddRawToObject(o, f->name, buf); break;
        case F_U64:
            /* seeds up to 2^53 are plain numbers (exact in any JSON reader); larger ones are strings */
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)base);
            if (*(const uint64_t *)base <= (1ull << 53)) cJSON_AddRawToObject(o, f->name, buf);
            else cJSON_AddStringToObject(o, f->name, buf);
            break;
        case F_DOUBLE:
            exact_number(buf, sizeof buf, *(const double *)base);
            cJSON_AddRawToObject(o, f->name, buf);
            break;
        case F_STRING: cJSON_AddStringToObject(o, f->name, base); break;
        case F_PATH:
            if (*base) cJSON_AddStringToObject(o, f->name, base);
            break;
        case F_ENUM:
            cJSON_AddStringToObject(o, f->name, word_at(f->words, *(const int *)base, buf, sizeof buf));
            break;
        }
    }
    return o;
}

char *gl_config_to_json(const gl_config *c) {
    cJSON *o = config_object(c);
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "groklab_version", GL_VERSION);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

char *gl_config_to_json_compact(const gl_config *c) {
    cJSON *o = config_object(c);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

int gl_config_nfields(void) { return (int)NFIELDS; }
const char *gl_config_field_name(int i) { return i >= 0 && i < (int)NFIELDS ? fields[i].name : NULL; }
int gl_config_field_numeric(int i) {
    return i >= 0 && i < (int)NFIELDS && fields[i].kind != F_STRING && fields[i].kind != F_ENUM &&
           fields[i].kind != F_PATH;
}

void gl_config_field_text(const gl_config *c, int i, char *buf, size_t cap) {
    const field *f = &fields[i];
    const char *base = (const char *)c + f->offset;
    switch (f->kind) {
    case F_INT: snprintf(buf, cap, "%d", *(const int *)base); break;
    case F_LONG: snprintf(buf, cap, "%ld", *(const long *)base); break;
    case F_U64: snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)base); break;
    case F_DOUBLE: snprintf(buf, cap, "%.17g", *(const double *)base); break;
    case F_STRING:
    case F_PATH: snprintf(buf, cap, "%s", base); break;
    case F_ENUM: word_at(f->words, *(const int *)base, buf, cap); break;
    }
}

int gl_config_from_cjson(gl_config *c, const cJSON *o, gl_error *err) {
    if (!cJSON_IsObject(o)) return gl_fail(err, "a config must be a JSON object");
    gl_config tmp = *c;
    int rc = 0;
    for (const cJSON *it = o->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "groklab_version") == 0) continue;
        const field *f = find_field(it->string);
        if (!f || strchr(it->string, '-')) {
            rc = gl_fail(err, "unknown key '%s'", it->string);
            break;
        }
        char buf[128];
        const char *text = buf;
        if (cJSON_IsString(it)) {
            text = it->valuestring; /* gl_config_set checks its length */
        } else if (cJSON_IsNumber(it)) {
            if (f->kind == F_DOUBLE)
                snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
            else if (it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > 9.1e18) {
                rc = gl_fail(err, "key '%s': %g is not an integer", it->string, it->valuedouble);
                break;
            } else
                snprintf(buf, sizeof buf, "%.0f", it->valuedouble);
        } else {
            rc = gl_fail(err, "key '%s': expected a number or a string", it->string);
            break;
        }
        if (gl_config_set(&tmp, f->name, text, err) != 0) rc = GL_E_INPUT;
    }
    if (rc == 0) *c = tmp;
    return rc;
}

int gl_config_from_json(gl_config *c, const char *json, gl_error *err) {
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(json, &end, 1);
    if (!o || !cJSON_IsObject(o)) {
        const char *where = o ? NULL : cJSON_GetErrorPtr();
        char ctx[24] = "";
        if (where) snprintf(ctx, sizeof ctx, "%.20s", where);
        cJSON_Delete(o);
        if (!ctx[0]) return gl_fail(err, "malformed JSON (it ends too early, is not an object, or has text after it)");
        return gl_fail(err, "malformed JSON near '%s'", ctx);
    }
    int rc = gl_config_from_cjson(c, o, err);
    cJSON_Delete(o);
    return rc;
}

int gl_config_has(const char *name) { return find_field(name) != NULL; }

int gl_config_resume_safe(const char *name) {
    const field *f = find_field(name);
    return f && f->resume_safe;
}

int gl_config_set_on_resume(gl_config *c, const char *name, const char *value, gl_error *err) {
    const field *f = find_field(name);
    if (f && !f->resume_safe) return gl_fail(err, "%s cannot change when resuming (it would change the run)", f->name);
    gl_config next = *c;
    int rc = gl_config_set(&next, name, value, err);
    if (rc) return rc;
    if (c->lr_decay != GL_DECAY_NONE && next.steps != c->steps)
        return gl_fail(err, "steps cannot change when resuming a run with lr_decay %s (its schedule decays over its "
                            "%ld steps)", gl_lr_decay_name(c->lr_decay), c->steps);
    *c = next;
    return 0;
}

const char *gl_config_field_help(int i) { return i >= 0 && i < (int)NFIELDS ? fields[i].help : NULL; }
const char *gl_config_field_default(int i) { return i >= 0 && i < (int)NFIELDS ? fields[i].def : NULL; }

const char *gl_config_field_kind(int i) {
    static const char *const kinds[] = {"int", "int", "int", "float", "str", "enum", "path"};
    return i >= 0 && i < (int)NFIELDS ? kinds[fields[i].kind] : NULL;
}

void gl_config_field_allowed(int i, char *buf, size_t cap) {
    const field *f = &fields[i];
    if (f->kind == F_ENUM) snprintf(buf, cap, "%s", f->words);
    else if (f->kind == F_DOUBLE) snprintf(buf, cap, "%g..%g%s", f->lo, f->hi, f->hi_open ? " (excl.)" : "");
    else if (f->kind == F_INT || f->kind == F_LONG) snprintf(buf, cap, "%.0f..%.0f", f->lo, f->hi);
    else if (cap) buf[0] = 0;
}

gl_config *gl_config_new(void) {
    gl_config *c = malloc(sizeof *c);
    if (c) gl_config_default(c);
    return c;
}

void gl_config_free(gl_config *c) { free(c); }

void gl_config_print_help(FILE *out) {
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        char fl[64], allowed[96];
        flag_name(f, fl, sizeof fl);
        gl_config_field_allowed((int)i, allowed, sizeof allowed);
        fprintf(out, "  %-20s %s [default %s%s%s]\n", fl, f->help, f->kind == F_PATH ? "none" : f->def,
                allowed[0] ? "; " : "", allowed);
    }
    fprintf(out, "\n  tasks: %s\n", gl_task_names());
}

/* Names in enum order; they match the words of the field table. */
static const char *name_of(const char *const *names, int n, int v) {
    return v >= 0 && v < n ? names[v] : "?";
}
const char *gl_act_name(gl_act a) {
    static const char *const n[] = {"quadratic", "relu", "gelu", "identity", "auto"};
    return name_of(n, 5, a);
}
const char *gl_arch_name(gl_arch a) {
    static const char *const n[] = {"mlp", "deep-mlp", "transformer"};
    return name_of(n, 3, a);
}
const char *gl_param_name(gl_param v) {
    static const char *const n[] = {"standard", "lazy"};
    return name_of(n, 2, v);
}

void gl_config_resolve(gl_config *c) {
    if (c->act == GL_ACT_AUTO) c->act = c->arch == GL_ARCH_MLP ? GL_ACT_QUADRATIC : GL_ACT_RELU;
    if (c->depth == 0) c->depth = c->arch == GL_ARCH_DEEP_MLP ? 3 : c->arch == GL_ARCH_TRANSFORMER ? 1 : 2;
}
const char *gl_norm_name(gl_norm v) {
    static const char *const n[] = {"none", "batchnorm", "layernorm"};
    return name_of(n, 3, v);
}
const char *gl_loss_name(gl_loss l) {
    static const char *const n[] = {"mse", "ce"};
    return name_of(n, 2, l);
}
const char *gl_optim_name(gl_optim o) {
    static const char *const n[] = {"adamw", "adam", "sgd"};
    return name_of(n, 3, o);
}

const char *gl_lr_decay_name(gl_lr_decay d) {
    static const char *const n[] = {"none", "cosine", "linear"};
    return name_of(n, 3, d);
}

const char *gl_basis_name(gl_basis b) {
    static const char *const n[] = {"auto", "additive", "dlog"};
    return name_of(n, 3, b);
}

double gl_config_init_std(const gl_config *c) {
    return c->init_std > 0 ? c->init_std : 0.5 * pow(2.0 * c->width, -1.0 / 3.0);
}
