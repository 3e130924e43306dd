/*
 * transformer_step.c -- milliseconds per full-batch training step of groklab's
 * Transformer at the paper's default setting: p 97, alpha 0.5 (4704 training
 * pairs), n_embd 128, 4 heads, 1 block, ReLU, no LayerNorm, MSE, AdamW.
 * One step = forward, loss, backward (gl_tf_loss_grad_f32) and the optimizer
 * update (gl_optim_step) over all 4704 pairs. Prints median and min over the
 * repetitions for each thread count (1 and 2 by default).
 *
 * Build against a configured build directory (here build-tf):
 *   cmake -S . -B build-tf && cmake --build build-tf --target groklab_lib
 *   gcc -O2 -fopenmp -Iinclude bench/transformer_step.c build-tf/libgroklab.a \
 *       -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas \
 *       -lfftw3f -lcjson -lsqlite3 -lm -o /tmp/transformer_step
 * Usage: transformer_step [-r reps] [-t threads ...] [-d n_embd] [-H heads] [-L layers]
 *                         [--rows examples per chunk] [--lanes lanes]   (0: the defaults)
 * PyTorch's number on the same machine: bench/transformer_torch.py.
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groklab/optim.h"
#include "groklab/rng.h"
#include "groklab/transformer.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = 30, p = 97, nthreads = 0, threads[8], rows = 0, lanes = 0;
    gl_tf_spec sp;
    gl_tf_spec_default(&sp, p);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-r")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t") && nthreads < 8) threads[nthreads++] = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d")) sp.d = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-H")) sp.n_head = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-L")) sp.n_layer = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rows")) rows = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lanes")) lanes = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: transformer_step [-r reps] [-t threads ...] [-d n_embd] [-H heads] [-L layers]"
                            " [--rows examples per chunk] [--lanes lanes]\n");
            return 2;
        }
    }
    if (!nthreads) {
        threads[0] = 1;
        threads[1] = 2;
        nthreads = 2;
    }
    gl_error err;
    gl_tf_layout L;
    if (gl_tf_layout_init(&L, &sp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    /* the training half of a shuffle of all p^2 pairs, labels (m + n) mod p */
    int total = p * p, B = total / 2;
    int32_t *perm = malloc(sizeof(int32_t) * total), *m = malloc(sizeof(int32_t) * B),
            *n = malloc(sizeof(int32_t) * B), *y = malloc(sizeof(int32_t) * B);
    for (int i = 0; i < total; i++) perm[i] = i;
    gl_shuffle(perm, total, 1, GL_STREAM_SPLIT, 0);
    for (int b = 0; b < B; b++) {
        m[b] = perm[b] / p;
        n[b] = perm[b] % p;
        y[b] = (m[b] + n[b]) % p;
    }
    gl_config c;
    gl_config_default(&c);
    float *w = malloc(sizeof(float) * L.n_params), *g = malloc(sizeof(float) * L.n_params);
    float *m1 = calloc(L.n_params, sizeof(float)), *m2 = calloc(L.n_params, sizeof(float));
    gl_tf_init_f32(w, &L, 1);
    gl_tf_work_f32 *wk;
    if (gl_tf_work_new_f32(&wk, &L, B, rows, lanes, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    gl_batch bt = {m, n, y, NULL, B};
    printf("groklab transformer step: p %d, B %d, n_embd %d, heads %d, layers %d, %zu params, "
           "mse, adamw, %d reps, rows %d, lanes %d (0: defaults)\n", p, B, sp.d, sp.n_head,
           sp.n_layer, L.n_params, reps, rows, lanes);
    double *t = malloc(sizeof(double) * reps);
    long step = 0;
    for (int k = 0; k < nthreads; k++) {
        omp_set_num_threads(threads[k]);
        double loss = 0;
        for (int r = -3; r < reps; r++) {
            double t0 = now_ms();
            gl_tf_loss_grad_f32(wk, &loss, g, w, GL_LOSS_MSE, 1, step, &bt, NULL);
            gl_optim_step(&c, w, g, m1, m2, L.n_params, ++step);
            if (r >= 0) t[r] = now_ms() - t0;
        }
        qsort(t, reps, sizeof(double), cmp);
        printf("threads %d: median %.2f ms, min %.2f ms per step (loss %.5f)\n", threads[k],
               t[reps / 2], t[0], loss);
    }
    gl_tf_work_free_f32(wk);
    free(t);
    free(perm);
    free(m);
    free(n);
    free(y);
    free(w);
    free(g);
    free(m1);
    free(m2);
    return 0;
}
