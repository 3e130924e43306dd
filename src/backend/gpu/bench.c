/* groklab GPU backend: gl_gpu_bench, a population's synchronized steps
 * timed one by one, and where a step's time goes (the profile). */
#include <string.h>

#include "backend/gpu/pop.h"
#include "groklab/runtime.h"

/* a step, and with log_every the evaluation of a logging step after it */
static int step(gpop *g, int log_every, gl_error *err) {
    gpop_train_step(g);
    if (log_every > 0 && g->step % log_every == 0) return gpop_evaluate(g, err);
    return 0;
}

int gl_gpu_bench(gl_trainer **members, int M, int warmup, int steps, int log_every, double *ms,
                 char *device, size_t cap, double *peak, gl_gpu_profile *prof, gl_error *err) {
    gpop g;
    int rc = gpop_create(&g, members, M, err);
    if (rc != 0) return rc;
    g.ops->describe(g.dev, device, cap, peak);
    for (int i = 0; i < warmup && rc == 0; i++)
        if ((rc = step(&g, log_every, err)) == 0) rc = g.ops->sync(g.dev, err);
    long submits = g.submits;
    for (int i = 0; i < steps && rc == 0; i++) {
        double t0 = gl_now();
        if ((rc = step(&g, log_every, err)) == 0) rc = g.ops->sync(g.dev, err);
        ms[i] = 1e3 * (gl_now() - t0);
    }
    size_t used = strlen(device);
    snprintf(device + used, cap - used, ", %s (%.1f submissions per step: launches, products, graphs)",
             g.graphs ? "steps replayed as recorded graphs" : "steps launched operation by operation",
             steps > 0 ? (double)(g.submits - submits) / steps : 0.0);
    if (prof && rc == 0) {
        prof->n = 0;
        g.prof = prof;
        for (int i = 0; i < prof->steps && rc == 0; i++) rc = step(&g, log_every, err);
        g.prof = NULL;
        if (rc == 0) rc = g.ops->sync(g.dev, err);
        if (rc == 0 && g.prof_failed) rc = gl_failc(err, GL_E_DEVICE, "GPU: an operation failed while profiling");
    }
    gpop_free(&g);
    return rc;
}
