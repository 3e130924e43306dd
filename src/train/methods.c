/* groklab: the training methods around the optimizer step (src/train/backend.h).
 *
 * A step's update, in order, each only when its knob asks for it:
 *   1. --trainable norm: the gradients of every tensor but the norms' gains
 *      and shifts are zeroed (those tensors are frozen: never updated,
 *      never decayed, left out of the norms below);
 *   2. GrokFast (docs/training.md): g <- g + lambda s, with s the EMA of the
 *      gradients (s_1 = g_1, then s <- alpha s + (1 - alpha) g) or their
 *      mean over the last `window` steps (only once that many exist);
 *   3. --clip c: g <- g * min(1, c / (||g|| + 1e-6)), ||g|| over all tensors;
 *   4. the optimizer (groklab/optim.h) at the scheduled learning rate
 *      lr * gl_lr_factor(t), with weight decay on the decayed tensors
 *      (--wd-groups) toward zero or, --wd-toward init, toward theta_0:
 *      adamw theta <- theta - lr wd (theta - theta_0) before its step,
 *      adam and sgd g <- g + wd (theta - theta_0);
 *   5. --weight-norm f: every weight times f ||theta_0|| / ||theta||.
 * Without any of them the update is gl_optim_step's alone, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/optim.h"
#include "model/ops.h"
#include "train/backend.h"

int gl_methods_active(const gl_config *c) {
    return c->grokfast != GL_GROKFAST_OFF || c->clip > 0 || c->warmup > 0 || c->lr_decay != GL_DECAY_NONE ||
           c->weight_norm > 0 || c->wd_toward != GL_WD_TO_ZERO || c->wd_groups != GL_WD_ALL ||
           c->trainable != GL_TRAIN_ALL || c->drop_last;
}

double gl_lr_factor(const gl_config *c, long t) { return gl_lr_schedule(c->warmup, c->lr_decay, c->steps, t); }

double gl_grokfast_lambda(const gl_config *c) {
    if (c->grokfast_lambda > 0) return c->grokfast_lambda;
    return c->grokfast == GL_GROKFAST_MA ? 5.0 : 2.0;
}

static double norm2(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* The roles of every parameter, as runs of equal roles in array order. */
static int build_runs(gl_trainer *t, gl_error *err) {
    const gl_config *c = &t->cfg;
    size_t n = t->net.n_params;
    unsigned char *role = malloc(n ? n : 1);
    if (!role) return gl_fail_nomem(err, "for the parameters' roles");
    memset(role, 3, n); /* bit 0 trained, bit 1 decayed */
    for (int i = 0; i < gl_net_tensor_count(&t->net); i++) {
        gl_net_tensor nt;
        gl_net_tensor_at(&t->net, i, &nt);
        size_t len = (size_t)nt.shape[0] * (size_t)(nt.ndim == 2 ? nt.shape[1] : 1);
        unsigned char r = 3;
        if (c->trainable == GL_TRAIN_NORM && !nt.vector) r = 0;
        if (c->wd_groups == GL_WD_MATRICES && nt.vector) r &= (unsigned char)~2u;
        memset(role + nt.off, r, len);
    }
    int cap = 0;
    for (size_t i = 0; i < n; i++) cap += i == 0 || role[i] != role[i - 1];
    t->runs = calloc((size_t)(cap ? cap : 1), sizeof *t->runs);
    if (!t->runs) {
        free(role);
        return gl_fail_nomem(err, "for the parameters' roles");
    }
    t->n_runs = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || role[i] != role[i - 1])
            t->runs[t->n_runs++] = (gl_param_run){i, 0, role[i] & 1, (role[i] >> 1) & 1};
        t->runs[t->n_runs - 1].len++;
    }
    free(role);
    return 0;
}

int gl_methods_attach(gl_trainer *t, gl_error *err) {
    const gl_config *c = &t->cfg;
    size_t n = t->net.n_params;
    if (!gl_methods_active(c)) return 0;
    if (build_runs(t, err) != 0) return err ? err->code : GL_E_NOMEM;
    t->init_norm = sqrt(norm2(t->init, n));
    if (c->grokfast != GL_GROKFAST_OFF) {
        size_t len = c->grokfast == GL_GROKFAST_MA ? (size_t)c->grokfast_window * n : n;
        t->filter = calloc(len ? len : 1, sizeof(float));
        if (c->grokfast == GL_GROKFAST_MA) t->filter_acc = calloc(n ? n : 1, sizeof(float));
        if (!t->filter || (c->grokfast == GL_GROKFAST_MA && !t->filter_acc))
            return gl_fail_nomem(err, "for the GrokFast filter");
    }
    return 0;
}

void gl_methods_detach(gl_trainer *t) {
    free(t->filter);
    free(t->filter_acc);
    free(t->runs);
    t->filter = t->filter_acc = NULL;
    t->runs = NULL;
}

float *gl_trainer_filter(gl_trainer *t, int64_t shape[2]) {
    if (!t->filter) return NULL;
    shape[0] = t->cfg.grokfast == GL_GROKFAST_MA ? t->cfg.grokfast_window : 1;
    shape[1] = (int64_t)t->net.n_params;
    return t->filter;
}

/* Step 2: the filter of step ts (1-based) on g (n). */
static void grokfast(gl_trainer *t, float *restrict g, long ts) {
    const gl_config *c = &t->cfg;
    size_t n = t->net.n_params;
    float *restrict s = t->filter, lam = (float)gl_grokfast_lambda(c);
    if (c->grokfast == GL_GROKFAST_EMA) {
        float a = (float)c->grokfast_alpha, b = (float)(1.0 - c->grokfast_alpha);
        if (ts == 1) memcpy(s, g, n * sizeof(float));
        for (size_t i = 0; i < n; i++) g[i] = gl_grokfast_ema_f32(s + i, g[i], a, b, lam);
        return;
    }
    long w = c->grokfast_window;
    memcpy(s + (size_t)((ts - 1) % w) * n, g, n * sizeof(float)); /* the newest */
    if (ts < w) return;                                            /* not yet w gradients */
    /* their sum, oldest first, then the mean: blocks of parameters on the
     * cores, each element's sum in the same order whatever the thread count */
    float *restrict acc = t->filter_acc, fw = (float)w;
    const size_t blk = 4096;
    long nblk = (long)((n + blk - 1) / blk);
#pragma omp parallel for schedule(static)
    for (long k = 0; k < nblk; k++) {
        size_t lo = (size_t)k * blk, hi = lo + blk < n ? lo + blk : n;
        memcpy(acc + lo, s + (size_t)(ts % w) * n + lo, (hi - lo) * sizeof(float));
        for (long j = 1; j < w; j++) {
            const float *restrict r = s + (size_t)((ts + j) % w) * n;
            for (size_t i = lo; i < hi; i++) acc[i] += r[i];
        }
        for (size_t i = lo; i < hi; i++) g[i] = g[i] + acc[i] / fw * lam;
    }
}

double gl_methods_update(gl_trainer *t, float *grads) {
    const gl_config *c = &t->cfg;
    size_t n = t->net.n_params;
    long ts = t->step;
    if (!t->runs) { /* no method: attach made no runs */
        gl_optim_step(c, t->params, grads, t->m1, t->m2, n, ts);
        return NAN;
    }
    for (int r = 0; r < t->n_runs; r++)
        if (!t->runs[r].trained) memset(grads + t->runs[r].off, 0, t->runs[r].len * sizeof(float));
    double raw = sqrt(norm2(grads, n));
    if (c->grokfast != GL_GROKFAST_OFF) grokfast(t, grads, ts);
    if (c->clip > 0) {
        double coef = c->clip / (sqrt(norm2(grads, n)) + 1e-6);
        if (coef < 1.0) {
            float f = (float)coef;
            for (size_t i = 0; i < n; i++) grads[i] *= f;
        }
    }
    gl_config k = *c;
    k.lr = c->lr * gl_lr_factor(c, ts);
    for (int r = 0; r < t->n_runs; r++) {
        const gl_param_run *pr = &t->runs[r];
        if (!pr->trained) continue;
        float *p = t->params + pr->off, *g = grads + pr->off;
        const float *p0 = t->init + pr->off;
        k.wd = pr->decayed ? c->wd : 0.0;
        if (k.wd != 0 && c->wd_toward == GL_WD_TO_INIT) {
            if (c->optim == GL_OPT_ADAMW) {
                float d = (float)(k.lr * k.wd);
                for (size_t i = 0; i < pr->len; i++) p[i] = p[i] - d * (p[i] - p0[i]);
            } else {
                float d = (float)k.wd;
                for (size_t i = 0; i < pr->len; i++) g[i] = g[i] + d * (p[i] - p0[i]);
            }
            k.wd = 0;
        }
        gl_optim_step(&k, p, g, t->m1 + pr->off, t->m2 + pr->off, pr->len, ts);
    }
    if (c->weight_norm > 0) {
        double now = sqrt(norm2(t->params, n));
        if (now > 0) {
            float f = (float)(c->weight_norm * t->init_norm / now);
            for (size_t i = 0; i < n; i++) t->params[i] *= f;
        }
    }
    return raw;
}
