/* groklab: the analytic solution of modular addition (docs/paper.md
 * section 8, Eq. 2).
 *
 *   U_ki = A cos(2 pi sigma(k) i / p + phi_k^u)
 *   V_kj = A cos(2 pi sigma(k) j / p + phi_k^v)
 *   W_qk = A cos(-2 pi sigma(k) q / p - phi_k^u - phi_k^v)
 *
 * With phi(x) = x^2 the term 2 U_km V_kn W_qk of neuron k carries
 * (A^3 / 2) cos(2 pi sigma(k) (m + n - q) / p); summed over N neurons whose
 * frequencies cover 0..p-1 evenly this is (N A^3 / 2) delta(m + n - q), so
 * A = (2/N)^(1/3) gives an output of height 1 at the right answer (the other
 * terms average out, with corrections of order 1/sqrt(N)). The scale does
 * not change the argmax, only the MSE against one-hot targets. */
#include <math.h>
#include <stdlib.h>

#include "groklab/analysis.h"
#include "groklab/rng.h"

int gl_analytic_weights(const gl_layout *L, float *params, uint64_t seed, gl_error *err) {
    int N = L->N, p = L->p;
    double A = cbrt(2.0 / N);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)p);
    if (!perm) return gl_fail_nomem(err, "for the analytic solution");
    float *Ut = params + L->off_u, *Vt = params + L->off_v, *W = params + L->off_w;
    for (int k = 0; k < N; k++) {
        if (k % p == 0) { /* a fresh permutation for each block of p neurons */
            for (int f = 0; f < p; f++) perm[f] = f;
            gl_shuffle(perm, p, seed, GL_STREAM_ANALYTIC, 1u + (uint32_t)(k / p));
        }
        int f = perm[k % p];
        uint32_t r[4];
        gl_philox(seed, GL_STREAM_ANALYTIC, (uint64_t)k, 0, r);
        /* uniform in (-pi, pi]: pi - 2 pi u with u in [0, 1) */
        double pu = M_PI - 2 * M_PI * gl_u01(r[0]), pv = M_PI - 2 * M_PI * gl_u01(r[1]);
        for (int i = 0; i < p; i++) {
            double th = 2 * M_PI * (double)f * i / p;
            Ut[(size_t)i * N + k] = (float)(A * cos(th + pu));
            Vt[(size_t)i * N + k] = (float)(A * cos(th + pv));
            W[(size_t)i * N + k] = (float)(A * cos(-th - pu - pv));
        }
    }
    free(perm);
    return 0;
}

int gl_analytic_accuracy(const gl_layout *L, const float *params, double *acc, gl_error *err) {
    enum { CHUNK = 1024 };
    int p = L->p;
    gl_mlp_work w;
    if (gl_mlp_work_alloc(&w, L, CHUNK, 0) != 0) return gl_fail_nomem(err, "for the accuracy of all pairs");
    int32_t m[CHUNK], n[CHUNK];
    long hit = 0, total = (long)p * p;
    for (long s = 0; s < total; s += CHUNK) {
        int b = (int)(total - s < CHUNK ? total - s : CHUNK);
        for (int i = 0; i < b; i++) m[i] = (int32_t)((s + i) / p), n[i] = (int32_t)((s + i) % p);
        gl_mlp_eval(&w, L, params, NULL, NULL, 0, m, n, b);
        for (int i = 0; i < b; i++) {
            hit += gl_argmax_f32(w.out + (size_t)i * p, p) == (m[i] + n[i]) % p;
        }
    }
    gl_mlp_work_free(&w);
    *acc = (double)hit / total;
    return 0;
}

int gl_analytic_run(const char *dir, const gl_config *c, int force, gl_metrics *m, double *all_acc, gl_error *err) {
    gl_trainer *t;
    int rc = gl_trainer_create(&t, c, err);
    if (rc != 0) return rc;
    rc = gl_run_prepare(dir, force, err);
    if (rc == 0) rc = gl_analytic_weights(gl_trainer_layout(t), gl_trainer_params(t), c->seed, err);
    if (rc == 0) rc = gl_trainer_evaluate(t, m, c->threads, err);
    if (rc == 0) rc = gl_trainer_restore(t, 0, m, 1, 0.0, err);
    if (rc == 0) rc = gl_run_write_config(dir, c, err);
    if (rc == 0) rc = gl_run_write_data(dir, gl_trainer_data(t), err);
    if (rc == 0) rc = gl_run_save_all(dir, t, err);
    if (rc == 0 && all_acc) {
        const gl_dataset *d = gl_trainer_data(t);
        *all_acc = (m->train_acc * d->n_train + m->test_acc * d->n_test) / (d->n_train + d->n_test);
    }
    gl_trainer_free(t);
    return rc;
}
