/* groklab GPU backend: the backend's table (src/train/backend.h) and its
 * policy: whether a config can run on the GPU, which runs share a
 * population, how many fit, and advancing a population (see pop.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backends.h"
#include "backend/gpu/pop.h"
#include "groklab/arch.h"
#include "groklab/model.h"
#include "groklab/runtime.h"

int gl_gpu_compatible(const gl_config *a, const gl_config *b) {
    return strcmp(a->task, b->task) == 0 && a->p == b->p && a->width == b->width &&
           a->arch == b->arch && a->act == b->act && a->norm == b->norm && a->loss == b->loss &&
           a->optim == b->optim && a->batch == b->batch && a->steps == b->steps &&
           a->ipr == b->ipr && gl_config_basis(a) == gl_config_basis(b) &&
           a->log_every == b->log_every && a->log_points == b->log_points && a->snapshots == b->snapshots &&
           a->progress_measures == b->progress_measures &&
           /* the training methods' kernels (their values may differ) */
           a->grokfast == b->grokfast && (a->grokfast != GL_GROKFAST_MA || a->grokfast_window == b->grokfast_window) &&
           (a->clip > 0) == (b->clip > 0) && (a->weight_norm > 0) == (b->weight_norm > 0) &&
           a->wd_toward == b->wd_toward && a->wd_groups == b->wd_groups && a->trainable == b->trainable &&
           a->drop_last == b->drop_last;
}

/* Opening a device (a CUDA context, a cuBLAS handle) takes milliseconds and
 * configs are checked often (a sweep checks every point): the answer is
 * found once per process for each device (the GPU, the emulator), again
 * when the runtime settings name another GPU. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int probed[2], probe_ok[2], probe_gpu[2];
static char probe_why[2][GL_ERRLEN];

int gl_gpu_available(char *why, size_t cap) {
    const gl_runtime *rt = gl_runtime_get();
    int k = rt->gpu_emulate != 0;
    pthread_mutex_lock(&probe_lock);
    if (!probed[k] || (!k && probe_gpu[k] != rt->gpu)) {
        probed[k] = 1;
        probe_gpu[k] = rt->gpu;
        probe_ok[k] = 0;
        const gl_dev_ops *ops = gpop_device();
        gl_dev *d;
        gl_error e;
        if (!ops)
            snprintf(probe_why[k], sizeof probe_why[k],
                     "this build has no CUDA backend (it is compiled when CMake finds nvcc; "
                     "configure with -DGL_CUDA=ON to require it)");
        else if (ops->open(&d, &e) != 0)
            snprintf(probe_why[k], sizeof probe_why[k], "%s", e.msg);
        else {
            ops->close(d);
            probe_ok[k] = 1;
        }
    }
    int ok = probe_ok[k];
    if (!ok && why) snprintf(why, cap, "%s", probe_why[k]);
    pthread_mutex_unlock(&probe_lock);
    return ok;
}

int gl_gpu_check_config(const gl_config *c, gl_error *err) {
    if (c->arch != GL_ARCH_MLP)
        return gl_fail(err,
                       "--device cuda: the CUDA backend trains the two-layer MLP (--model mlp); "
                       "use --device cpu for --model %s",
                       gl_arch_name(c->arch));
    char why[GL_ERRLEN];
    if (!gl_gpu_available(why, sizeof why)) return gl_failc(err, GL_E_NODEVICE, "--device cuda: %s", why);
    return 0;
}

int gl_gpu_population_fit(const gl_config *c, gl_error *err) {
    const gl_dev_ops *ops = gpop_device();
    if (!ops) return gl_failc(err, GL_E_NODEVICE, "this build has no CUDA backend");
    gl_dev *d;
    int rc = ops->open(&d, err);
    if (rc != 0) return rc;
    double free_b = ops->free_bytes(d);
    if (free_b < 0) { /* not "0 MiB free": the device's own error */
        rc = ops->sync(d, err);
        ops->close(d);
        return rc ? rc : gl_failc(err, GL_E_DEVICE, "the GPU's free memory cannot be read");
    }
    ops->close(d);
    long pairs = gl_task_pairs(c->task, c->p);
    /* the largest member of any alpha: all pairs in both sets */
    double per = gpop_member_bytes(c, gpop_rows(c, pairs, pairs), pairs, pairs);
    long M = (long)(0.85 * free_b / per);
    if (M < 1)
        return gl_failc(err, GL_E_NOMEM, "one model of this size (%.1f MiB) does not fit the GPU's %.1f MiB free",
                        per / 1048576.0, free_b / 1048576.0);
    return M > 65536 ? 65536 : (int)M;
}

int gl_gpu_population_advance(gl_trainer **members, int M, long until, gl_error *err) {
    if (M <= 0) return 0;
    const gl_config *c = gl_trainer_config(members[0]);
    if (until > c->steps) until = c->steps;
    gpop g;
    int made = gpop_create(&g, members, M, err);
    if (made == GL_E_NOMEM && M > 1) { /* the estimate of what fits was too high: halves */
        int h = M / 2, rc = gl_gpu_population_advance(members, h, until, err);
        return rc != 0 ? rc : gl_gpu_population_advance(members + h, M - h, until, err);
    }
    if (made != 0) return made;
    double t0 = gl_now();
    /* stopped[i]: diverged and logged; skip: also those logged at this step */
    int *stopped = calloc((size_t)M, sizeof(int)), *skip = calloc((size_t)M, sizeof(int));
    int rc = 0, any = 0;
    if (!stopped || !skip) rc = gl_fail_nomem(err, "for the population's flags");
    for (int i = 0; rc == 0 && i < M; i++) {
        long n;
        const gl_metrics *rows = gl_trainer_rows(members[i], &n);
        stopped[i] = !g.mem[i].alive;
        skip[i] = stopped[i] || (n > 0 && rows[n - 1].step == g.step);
        any |= !skip[i];
    }
    if (rc == 0 && any && gl_log_due(c, g.step)) rc = gpop_log_rows(&g, skip, 0, err);
    int stop = 0; /* gl_stop_request: after this step */
    for (int live = 1; rc == 0 && live && !stop && g.step < until;) {
        gpop_train_step(&g);
        stop = g.step < until && gl_stop_requested();
        if (!gl_log_due(c, g.step)) continue;
        rc = gpop_log_rows(&g, stopped, 0, err);
        live = 0;
        for (int i = 0; i < M; i++) live |= !stopped[i];
    }
    /* members that stopped after the last log: their divergence rows */
    if (rc == 0) {
        g.ops->download(g.dev, g.mem, g.v.mem, sizeof(gl_gmember) * (size_t)M);
        rc = g.ops->sync(g.dev, err);
    }
    for (int i = 0; rc == 0 && i < M; i++)
        if (!stopped[i] && !g.mem[i].alive) {
            rc = gpop_log_rows(&g, stopped, 1, err);
            break;
        }
    if (rc == 0) rc = gpop_download(&g, 1, err);
    double secs = gl_now() - t0;
    for (int i = 0; rc == 0 && i < M; i++) {
        const gl_gmember *m = &g.mem[i];
        long step = m->alive ? g.step : m->diverged_at;
        gl_trainer_set_position(g.t[i], step, m->alive ? -1 : m->diverged_at, secs / M);
    }
    if (rc == 0 && stop)
        rc = gl_failc(err, GL_E_INTERRUPTED, "interrupted at step %ld of %ld", g.step, c->steps);
    free(stopped);
    free(skip);
    gpop_free(&g);
    return rc;
}


/* --progress-measures on: the run's log hook scores the logits of every
 * pair at each logged row (src/run/dynamics.c), which the device does not
 * compute: a host pass of the CPU's code makes them from the weights that
 * came back for the row (eval.c: gpop_log_rows), up to HOST_LOGITS pairs at
 * a time. Otherwise the trainer has no buffers of the backend's. */
enum { HOST_LOGITS = 2048 };

static double gpu_bytes(const gl_config *c, const gl_net *net, int B) {
    (void)B; /* the pass lives on the device; the host keeps the trainer's state */
    return c->progress_measures ? gl_net_pass_bytes(net, c, 1, HOST_LOGITS) : 0;
}

static int gpu_attach(gl_trainer *t, gl_error *err) {
    if (!t->cfg.progress_measures) return 0;
    gl_blas_init(); /* the pass chunks its products: the BLAS runs on one thread */
    gl_net_pass *ps;
    int rc = gl_net_pass_new(&ps, &t->net, &t->cfg, 1, HOST_LOGITS, err);
    if (rc == 0) t->impl = ps;
    return rc;
}

static void gpu_detach(gl_trainer *t) {
    gl_net_pass_free(t->impl);
    t->impl = NULL;
}

static int gpu_logits(gl_trainer *t, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    if (!t->impl) /* only progress measures ask for logits */
        return gl_failc(err, GL_E_NODEVICE, "the cuda backend computes logits only for --progress-measures on");
    if (B < 0 || B > HOST_LOGITS)
        return gl_failc(err, GL_E_INTERNAL, "logits of %d pairs at once (at most %d)", B, HOST_LOGITS);
    memcpy(out, gl_net_pass_logits(t->impl, t->params, t->run_mean, t->run_var, m, n, B),
           (size_t)B * (size_t)t->cfg.p * sizeof(float));
    return 0;
}

static int gpu_advance(gl_trainer **members, int M, long until, int threads, gl_error *err) {
    (void)threads; /* the host's share (uploads, the emulator's kernels) uses omp's setting */
    return gl_gpu_population_advance(members, M, until, err);
}

const gl_backend *gl_backend_cuda(void) {
    static const gl_backend be = {
        .name = "cuda", .check = gl_gpu_check_config, .bytes = gpu_bytes, .attach = gpu_attach,
        .detach = gpu_detach, .advance = gpu_advance, .compatible = gl_gpu_compatible,
        .fit = gl_gpu_population_fit, .logits = gpu_logits, .packs = 1,
    };
    return &be;
}
