/* groklab GPU backend: gl_gpu_bench, a population's synchronized steps
 * timed one by one, and where a step's time goes (the profile). */
#include "backend/gpu/pop.h"
#include "groklab/runtime.h"

int gl_gpu_bench(gl_trainer **members, int M, int warmup, int steps, double *ms, char *device,
                 size_t cap, double *peak, gl_gpu_profile *prof, gl_error *err) {
    gpop g;
    int rc = gpop_create(&g, members, M, err);
    if (rc != 0) return rc;
    g.ops->describe(g.dev, device, cap, peak);
    g.v.step = gl_trainer_step_count(members[0]);
    for (int i = 0; i < warmup && rc == 0; i++) {
        gpop_train_step(&g);
        rc = g.ops->sync(g.dev, err);
    }
    for (int i = 0; i < steps && rc == 0; i++) {
        double t0 = gl_now();
        gpop_train_step(&g);
        rc = g.ops->sync(g.dev, err);
        ms[i] = 1e3 * (gl_now() - t0);
    }
    if (prof && rc == 0) {
        prof->n = 0;
        g.prof = prof;
        for (int i = 0; i < prof->steps; i++) gpop_train_step(&g);
        g.prof = NULL;
        rc = g.ops->sync(g.dev, err);
        if (rc == 0 && g.prof_failed) rc = gl_failc(err, GL_E_DEVICE, "GPU: an operation failed while profiling");
    }
    gpop_free(&g);
    return rc;
}
