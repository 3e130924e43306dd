/* groklab: which backend trains a config, and making trainers
 * (gl_trainer_create, gl_trainer_bytes, gl_backend_check, gl_plan_begin). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/backends.h"
#include "groklab/runtime.h"

const gl_backend *gl_backend_named(const char *device) {
    if (!strcmp(device, "cpu")) return gl_backend_cpu();
    if (!strcmp(device, "cuda")) return gl_backend_cuda();
    return NULL;
}

int gl_backend_packs(const char *device) {
    const gl_backend *be = gl_backend_named(device);
    return be && be->packs;
}

static const gl_backend *backend_of(const gl_config *c, gl_error *err) {
    const gl_backend *be = gl_backend_named(c->device);
    if (!be) gl_fail(err, "--device: '%s' is not a backend (allowed: cpu, cuda)", c->device);
    return be;
}

int gl_backend_check(const gl_config *c, gl_error *err) {
    const gl_backend *be = backend_of(c, err);
    if (!be) return GL_E_INPUT;
    gl_config r = *c;
    gl_config_resolve(&r);
    return be->check(&r, err);
}

/* Bytes of a trainer of the resolved config c on backend be. */
static double bytes_on(const gl_backend *be, const gl_config *c, const gl_net *net) {
    long n_train = (long)floor(c->frac * (double)gl_task_pairs(c->task, c->p));
    return gl_trainer_state_bytes(c, net) + be->bytes(c, net, gl_batch_size(c, n_train));
}

/* bytes as "1.5 GiB", or in MiB below a GiB (out: 32 bytes) */
static const char *size_text(char *out, double bytes) {
    if (bytes >= 1073741824.0) snprintf(out, 32, "%.1f GiB", bytes / 1073741824.0);
    else snprintf(out, 32, "%.1f MiB", bytes / 1048576.0);
    return out;
}

double gl_trainer_bytes(const gl_config *cfg) {
    gl_config c = *cfg;
    gl_config_resolve(&c);
    gl_net net;
    const gl_backend *be = gl_backend_named(c.device);
    if (!be || gl_net_init(&net, &c, NULL) != 0) return 0; /* invalid: validation says why */
    return bytes_on(be, &c, &net);
}

int gl_trainer_create(gl_trainer **out, const gl_config *cfg, gl_error *err) {
    *out = NULL;
    int rc = gl_config_validate(cfg, err);
    if (rc != 0) return rc;
    gl_config c = *cfg;
    gl_config_resolve(&c);
    const gl_backend *be = backend_of(&c, err);
    if (!be) return GL_E_INPUT;
    if ((rc = be->check(&c, err)) != 0) return rc;
    gl_net net;
    if ((rc = gl_net_init(&net, &c, err)) != 0) return rc;
    double need = bytes_on(be, &c, &net), have = gl_system_memory();
    int limited = gl_runtime_get()->memory_limit > 0;
    if (limited) have = gl_runtime_get()->memory_limit;
    if (have > 0 && need > 0.8 * have) {
        long n_train = (long)floor(c.frac * (double)gl_task_pairs(c.task, c.p));
        char a[32], b[32];
        return gl_fail(err,
                       "this run needs about %s (p %d, width %d, %d examples per step) but the limit is %s "
                       "(80%% of %s): lower --p, --width, --frac or --batch%s",
                       size_text(a, need), c.p, c.width, gl_batch_size(&c, n_train), size_text(b, 0.8 * have),
                       limited ? "the memory_limit setting: GROKLAB_MEMORY_LIMIT, groklab.runtime" : "physical memory",
                       c.grokfast == GL_GROKFAST_MA ? " (or --grokfast-window: the MA filter keeps that many gradients)" : "");
    }
    return gl_trainer_new(out, &c, be, err);
}

int gl_plan_begin(gl_plan *pl, const gl_config *c, int max, gl_error *err) {
    const gl_backend *be = backend_of(c, err);
    if (!be) return GL_E_INPUT;
    return gl_plan_begin_on(pl, be, c, max, err);
}
