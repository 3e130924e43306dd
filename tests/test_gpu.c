/* groklab tests: the GPU backend's populations against the CPU backend.
 *
 * Each case trains M members that differ in alpha, xi, seeds, lr, wd and
 * dropout as one population (src/backend/gpu/pop.c), and every member alone on the
 * CPU (src/train/trainer.c), for 100 steps, then compares every logged row
 * (losses, accuracies on every subset, norms, mean IPR), the divergence step,
 * each training example's story (examples.csv) and the final weights.
 * Tolerances: losses relative 1e-3, norms 2e-4 (FP32 sums in another order),
 * mean IPR 1e-4, accuracies and stories within 2 examples, weights relative
 * 1e-3 in L2 norm (Adam's normalized steps magnify the rounding of near-zero
 * gradients in single elements, not in the norm).
 * The population trains its steps and evaluates as recorded graphs
 * (step.c: gpop_submit); each case trains it again with every operation
 * launched on its own (gl_runtime gpu_direct), which must give the same
 * logged rows and weights to the bit.
 *
 *   test_gpu emulate   the population code on the host emulator (any machine),
 *                      in its strict mode (src/backend/gpu/dev_host.c): host code
 *                      never touches device memory, every kernel gives the
 *                      same bytes with its cells run in order and in reverse
 *                      order, and copies and GEMMs name device memory as
 *                      cudaMemcpy and cuBLAS need
 *   test_gpu cuda      on the GPU; exits 77 (skipped) when there is none */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "groklab/gpu.h"
#include "groklab/runtime.h"
#include "groklab/train.h"

enum { MAXM = 6 };

typedef struct member_set {
    double frac, noise, lr, wd, dropout;
    unsigned seed;
} member_set;

typedef struct gpu_case {
    const char *name, *task;
    int p, N, batch, M;
    gl_act act;
    gl_norm norm;
    gl_loss loss;
    gl_optim optim;
    double momentum;
    gl_ipr_conv ipr;
    member_set m[MAXM];
    const char *methods; /* "knob=value ..." for every member (the training methods), or NULL */
    const char *per_member[MAXM]; /* "knob=value ..." of member i only, or NULL */
} gpu_case;

static const gpu_case cases[] = {
    {"default: quadratic, MSE, AdamW, full batch, ragged alpha",
     "add", 23, 48, 0, 4, GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, GL_OPT_ADAMW, 0, GL_IPR_RFFT,
     {{0.5, 0.0, 0.01, 0, 0, 1}, {0.3, 0.2, 0.01, 1, 0, 2}, {0.7, 0.35, 0.005, 5, 0, 3},
      {0.5, 0.1, 0.012, 0.5, 0, 4}}, NULL, {NULL}},
    /* training sets of 264, 275, 285 and 158 rows: the first three share one
     * GEMM of 285 rows (pop.c: merge_groups), their padding zero */
    {"full batch, nearly equal alphas in one padded GEMM, MSE",
     "add", 23, 48, 0, 4, GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, GL_OPT_ADAMW, 0, GL_IPR_RFFT,
     {{0.5, 0.1, 0.01, 1, 0, 21}, {0.52, 0.2, 0.01, 0, 0, 22}, {0.54, 0.0, 0.008, 2, 0, 23},
      {0.3, 0.1, 0.01, 1, 0, 24}}, NULL, {NULL}},
    {"full batch, nearly equal alphas in one padded GEMM, CE, LayerNorm, dropout",
     "add", 23, 40, 0, 3, GL_ACT_RELU, GL_NORM_LAYERNORM, GL_LOSS_CE, GL_OPT_ADAM, 0, GL_IPR_RFFT,
     {{0.5, 0.1, 0.003, 0.1, 0.2, 25}, {0.52, 0.0, 0.003, 0, 0, 26}, {0.54, 0.2, 0.002, 1, 0.1, 27}}, NULL, {NULL}},
    {"CE, ReLU, LayerNorm, Adam, dropout per member",
     "add", 19, 40, 0, 3, GL_ACT_RELU, GL_NORM_LAYERNORM, GL_LOSS_CE, GL_OPT_ADAM, 0, GL_IPR_FULL,
     {{0.6, 0.1, 0.003, 0.1, 0.3, 5}, {0.45, 0.0, 0.003, 0, 0, 6}, {0.8, 0.3, 0.001, 1, 0.5, 7}}, NULL, {NULL}},
    {"BatchNorm, minibatch 32, SGD with momentum, GELU",
     "sub", 17, 32, 32, 3, GL_ACT_GELU, GL_NORM_BATCHNORM, GL_LOSS_MSE, GL_OPT_SGD, 0.9,
     GL_IPR_RFFT,
     {{0.5, 0.2, 0.05, 0, 0, 8}, {0.7, 0.0, 0.1, 0.01, 0.2, 9}, {0.3, 0.4, 0.05, 0.001, 0, 10}}, NULL, {NULL}},
    {"mul (discrete-log IPR), identity, minibatch 50, SGD, one member diverges",
     "mul", 23, 24, 50, 3, GL_ACT_IDENTITY, GL_NORM_NONE, GL_LOSS_CE, GL_OPT_SGD, 0, GL_IPR_RFFT,
     {{0.5, 0.1, 0.5, 0.01, 0.1, 11}, {0.6, 0.0, 1000, 0, 0, 12}, {0.4, 0.2, 0.2, 0, 0, 13}}, NULL, {NULL}},
    {"quadratic, BatchNorm, full batch, AdamW with weight decay",
     "add", 13, 20, 0, 2, GL_ACT_QUADRATIC, GL_NORM_BATCHNORM, GL_LOSS_MSE, GL_OPT_ADAMW, 0,
     GL_IPR_RFFT, {{0.5, 0.2, 0.005, 5, 0, 14}, {0.8, 0.0, 0.01, 1, 0.1, 15}}, NULL, {NULL}},
    /* 2528 and 2247 training rows: evaluated in chunks of 2048 rows (pop.c: gpop_rows) */
    {"minibatch 64, training sets larger than an evaluation chunk, CE, ReLU, AdamW",
     "add", 53, 16, 64, 2, GL_ACT_RELU, GL_NORM_NONE, GL_LOSS_CE, GL_OPT_ADAMW, 0, GL_IPR_RFFT,
     {{0.9, 0.2, 0.01, 1, 0, 18}, {0.8, 0.1, 0.01, 0, 0, 19}}, NULL, {NULL}},
    /* the training methods, each member with its own values */
    {"GrokFast EMA, warmup, cosine decay, clipping, AdamW",
     "add", 23, 48, 0, 3, GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, GL_OPT_ADAMW, 0, GL_IPR_RFFT,
     {{0.5, 0.2, 0.01, 1, 0, 41}, {0.4, 0.1, 0.01, 0, 0.1, 42}, {0.6, 0.0, 0.005, 2, 0, 43}},
     "grokfast=ema warmup=20 lr_decay=cosine clip=0.006", /* gradient norms about 0.0025 before the filter */
     {"grokfast_alpha=0.9 grokfast_lambda=3 clip=0.002", "grokfast_alpha=0.98", NULL}},
    /* 216 and 180 training rows in minibatches of 40: epochs of 5 and 4 steps, the short slices left out */
    {"GrokFast MA, decay toward theta_0, weight norm, SGD with momentum, minibatch 40, drop-last",
     "add", 19, 32, 40, 2, GL_ACT_RELU, GL_NORM_NONE, GL_LOSS_CE, GL_OPT_SGD, 0.9, GL_IPR_RFFT,
     {{0.6, 0.2, 0.05, 0.01, 0, 44}, {0.5, 0.1, 0.03, 0.1, 0, 45}},
     "grokfast=ma grokfast_window=6 wd_toward=init weight_norm=1.1 lr_decay=linear drop_last=on",
     {"weight_norm=0.9 grokfast_lambda=2", NULL}},
    /* frozen tensors would move under Adam's decay (wd_groups matrices decays
     * them), and their gradients would count in the clipped norm */
    {"only the LayerNorm trains, Adam with decay on the frozen matrices, clipping",
     "add", 17, 24, 0, 2, GL_ACT_GELU, GL_NORM_LAYERNORM, GL_LOSS_MSE, GL_OPT_ADAM, 0, GL_IPR_RFFT,
     {{0.6, 0.1, 0.01, 1, 0, 46}, {0.5, 0.0, 0.02, 0.5, 0, 47}}, "trainable=norm wd_groups=matrices clip=0.001",
     {NULL}},
    {"BatchNorm's gains and shifts not decayed, AdamW toward theta_0, GrokFast EMA",
     "sub", 17, 24, 0, 2, GL_ACT_RELU, GL_NORM_BATCHNORM, GL_LOSS_MSE, GL_OPT_ADAMW, 0, GL_IPR_RFFT,
     {{0.6, 0.1, 0.01, 2, 0, 48}, {0.5, 0.2, 0.01, 5, 0, 49}}, "wd_groups=matrices wd_toward=init grokfast=ema",
     {NULL}},
    {"quadratic, MSE, SGD, full batch, one member diverges",
     "add", 13, 20, 0, 2, GL_ACT_QUADRATIC, GL_NORM_NONE, GL_LOSS_MSE, GL_OPT_SGD, 0, GL_IPR_RFFT,
     {{0.5, 0.2, 0.5, 0, 0, 16}, {0.6, 0.0, 1000, 0, 0, 17}}, NULL, {NULL}},
};

static void config_of(gl_config *c, const gpu_case *k, const member_set *m, const char *device) {
    gl_config_default(c);
    snprintf(c->task, sizeof c->task, "%s", k->task);
    snprintf(c->device, sizeof c->device, "%s", device);
    c->p = k->p;
    c->width = k->N;
    c->batch = k->batch;
    c->act = k->act;
    c->norm = k->norm;
    c->loss = k->loss;
    c->optim = k->optim;
    c->momentum = k->momentum;
    c->ipr = k->ipr;
    c->frac = m->frac;
    c->noise = m->noise;
    c->lr = m->lr;
    c->wd = m->wd;
    c->dropout = m->dropout;
    c->seed = m->seed;
    c->split_seed = 100 + m->seed;
    c->noise_seed = 200 + m->seed;
    c->steps = 100;
    c->log_every = 20;
    c->threads = 1;
    const char *sets[2] = {k->methods, k->per_member[m - k->m]};
    for (int s = 0; s < 2; s++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", sets[s] ? sets[s] : "");
        gl_error err;
        for (char *save = NULL, *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(kv, '=');
            if (eq) *eq = '\0';
            CHECK(eq && gl_config_set(c, kv, eq + 1, &err) == 0, "%s: %s: %s", k->name, kv, eq ? err.msg : "no value");
        }
    }
}

static double rel(double a, double b) {
    if (isnan(a) && isnan(b)) return 0;
    if (isinf(a) && isinf(b) && (a > 0) == (b > 0)) return 0;
    return fabs(a - b) / fmax(1e-3, fabs(b));
}

/* a member trained with recorded steps and the same with direct launches: equal to the bit */
static void same_bits(const gpu_case *k, int i, gl_trainer *graphs, gl_trainer *direct) {
    long na, nb;
    const gl_metrics *ra = gl_trainer_rows(graphs, &na), *rb = gl_trainer_rows(direct, &nb);
    size_t np = gl_trainer_layout(graphs)->n_params;
    int same = na == nb && !memcmp(ra, rb, sizeof *ra * (size_t)na) &&
               gl_trainer_diverged_at(graphs) == gl_trainer_diverged_at(direct) &&
               !memcmp(gl_trainer_params(graphs), gl_trainer_params(direct), 4 * np);
    size_t n = (size_t)gl_trainer_data(graphs)->n_train;
    for (int w = 0; w < 3; w++) {
        const int64_t *a = gl_trainer_story(graphs, w), *b = gl_trainer_story(direct, w);
        same &= a && b && !memcmp(a, b, n * sizeof *a);
    }
    CHECK(same,
          "%s, member %d: recorded steps and direct launches give the same rows, weights and story to the bit",
          k->name, i);
}

/* the worst differences of one member, against its CPU run */
static void compare(const gpu_case *k, int i, gl_trainer *gpu, gl_trainer *cpu) {
    long ng, nc;
    const gl_metrics *rg = gl_trainer_rows(gpu, &ng), *rc = gl_trainer_rows(cpu, &nc);
    const gl_dataset *d = gl_trainer_data(cpu);
    CHECK(ng == nc, "%s, member %d: %ld rows logged (CPU %ld)", k->name, i, ng, nc);
    CHECK(gl_trainer_diverged_at(gpu) == gl_trainer_diverged_at(cpu),
          "%s, member %d: diverged at %ld (CPU %ld)", k->name, i, gl_trainer_diverged_at(gpu),
          gl_trainer_diverged_at(cpu));
    double e_loss = 0, e_norm = 0, e_ipr = 0, e_acc = 0;
    int steps_ok = 1;
    for (long r = 0; r < ng && r < nc; r++) {
        const gl_metrics *a = &rg[r], *b = &rc[r];
        steps_ok &= a->step == b->step;
        e_loss = check_worse(e_loss, fmax(rel(a->train_loss, b->train_loss), rel(a->test_loss, b->test_loss)));
        e_norm = check_worse(e_norm, fmax(rel(a->norm_u, b->norm_u),
                                   fmax(rel(a->norm_v, b->norm_v), rel(a->norm_w, b->norm_w))));
        if (isfinite(b->mean_ipr)) e_ipr = check_worse(e_ipr, fabs(a->mean_ipr - b->mean_ipr));
        /* accuracies as example counts */
        double acc[][3] = {{a->train_acc, b->train_acc, d->n_train},
                           {a->test_acc, b->test_acc, d->n_test},
                           {a->corrupted_acc, b->corrupted_acc, d->n_corrupt},
                           {a->corrupted_true_acc, b->corrupted_true_acc, d->n_corrupt},
                           {a->clean_acc, b->clean_acc, d->n_train - d->n_corrupt}};
        for (int j = 0; j < 5; j++) {
            if (isnan(acc[j][0]) && isnan(acc[j][1])) continue;
            double diff = fabs(acc[j][0] - acc[j][1]) * acc[j][2];
            e_acc = fmax(e_acc, isnan(diff) ? INFINITY : diff);
        }
    }
    CHECK(steps_ok, "%s, member %d: rows at the same steps", k->name, i);
    CHECK(e_loss <= 1e-3, "%s, member %d: train/test loss, worst relative error %.2e", k->name, i,
          e_loss);
    CHECK(e_norm <= 2e-4, "%s, member %d: norms of U, V, W, worst relative error %.2e", k->name, i,
          e_norm);
    CHECK(e_ipr <= 1e-4, "%s, member %d: mean IPR, worst error %.2e", k->name, i, e_ipr);
    CHECK(e_acc <= 2, "%s, member %d: accuracies on every subset, worst difference %.0f examples",
          k->name, i, e_acc);
    /* the examples' story (examples.csv): the logged steps each training
     * example was first and last predicted as labelled, and unlearned; an
     * example whose prediction flips where two outputs nearly tie has
     * another story, so at most 2 of them may differ, as the accuracies */
    int differ = 0, live = 1;
    for (int w = 0; w < 3; w++) live &= gl_trainer_story(gpu, w) && gl_trainer_story(cpu, w);
    for (int32_t j = 0; live && j < d->n_train; j++) {
        int same = 1;
        for (int w = 0; w < 3; w++) same &= gl_trainer_story(gpu, w)[j] == gl_trainer_story(cpu, w)[j];
        differ += !same;
    }
    CHECK(live && differ <= 2, "%s, member %d: the examples' story %s, %d of %d examples differ (at most 2)",
          k->name, i, live ? "recorded" : "NOT recorded", differ, d->n_train);
    size_t np = gl_trainer_layout(cpu)->n_params;
    const float *pg = gl_trainer_params(gpu), *pc = gl_trainer_params(cpu);
    double sq = 0, dsq = 0, worst = 0;
    for (size_t j = 0; j < np; j++) {
        double e = (double)pg[j] - pc[j];
        sq += (double)pc[j] * pc[j];
        dsq += e * e;
        worst = check_worse(worst, fabs(e));
    }
    if (gl_trainer_diverged_at(cpu) < 0)
        CHECK(sqrt(dsq) <= 1e-3 * sqrt(sq),
              "%s, member %d: final weights, relative L2 difference %.2e (worst element %.2e)",
              k->name, i, sqrt(dsq / sq), worst);
}

int main(int argc, char **argv) {
    int emulate = argc > 1 && strcmp(argv[1], "emulate") == 0;
    gl_runtime rt;
    gl_runtime_default(&rt);
    if (emulate) rt.gpu_emulate = 2; /* the host emulator, strict */
    gl_runtime_set(&rt);
    char why[256];
    if (!gl_gpu_available(why, sizeof why)) {
        /* a machine with an NVIDIA device node has a GPU: finding none there
         * (CUDA failing to start, e.g. under a sanitizer) is a failure, not a skip */
        if (!emulate && access("/dev/nvidia0", F_OK) == 0) {
            printf("NOT OK  /dev/nvidia0 exists but no GPU is usable: %s\n", why);
            return 1;
        }
        printf("SKIP: %s\n", why);
        return 77;
    }
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        const gpu_case *k = &cases[q];
        gl_trainer *gpu[MAXM], *cpu[MAXM], *direct[MAXM];
        gl_error err;
        int ok = 1;
        for (int i = 0; i < k->M; i++) {
            gl_config cg, cc;
            config_of(&cg, k, &k->m[i], "cuda");
            config_of(&cc, k, &k->m[i], "cpu");
            if (gl_trainer_create(&gpu[i], &cg, &err) != 0 || gl_trainer_create(&direct[i], &cg, &err) != 0 ||
                gl_trainer_create(&cpu[i], &cc, &err) != 0) {
                CHECK(0, "%s: create member %d: %s", k->name, i, err.msg);
                return CHECK_DONE();
            }
            if (gl_trainer_advance(cpu[i], 100, 1, &err) != 0) ok = 0;
        }
        if (ok && gl_gpu_population_advance(gpu, k->M, 100, &err) != 0) ok = 0;
        CHECK(ok, "%s: %d members trained (%s)", k->name, k->M, ok ? "ok" : err.msg);
        for (int i = 0; ok && i < k->M; i++) compare(k, i, gpu[i], cpu[i]);
        rt.gpu_direct = 1;
        gl_runtime_set(&rt);
        int ok_direct = ok && gl_gpu_population_advance(direct, k->M, 100, &err) == 0;
        CHECK(!ok || ok_direct, "%s: %d members trained with direct launches (%s)", k->name, k->M,
              ok_direct ? "ok" : err.msg);
        for (int i = 0; ok_direct && i < k->M; i++) same_bits(k, i, gpu[i], direct[i]);
        rt.gpu_direct = 0;
        gl_runtime_set(&rt);
        for (int i = 0; i < k->M; i++) {
            gl_trainer_free(gpu[i]);
            gl_trainer_free(direct[i]);
            gl_trainer_free(cpu[i]);
        }
    }
    /* a population the device cannot hold at once: trained in halves, with
     * the same results (emulator only: its memory can be limited) */
    if (emulate) {
        const gpu_case *k = &cases[0];
        gl_trainer *gpu[MAXM], *cpu[MAXM];
        gl_error err;
        rt.emulate_bytes = 800000; /* about two members of case 0 */
        gl_runtime_set(&rt);
        int ok = 1;
        for (int i = 0; i < k->M && ok; i++) {
            gl_config cg, cc;
            config_of(&cg, k, &k->m[i], "cuda");
            config_of(&cc, k, &k->m[i], "cpu");
            ok = gl_trainer_create(&gpu[i], &cg, &err) == 0 && gl_trainer_create(&cpu[i], &cc, &err) == 0 &&
                 gl_trainer_advance(cpu[i], 100, 1, &err) == 0;
        }
        ok = ok && gl_gpu_population_advance(gpu, k->M, 100, &err) == 0;
        CHECK(ok, "%d members on a device that holds about 2: trained in parts (%s)", k->M,
              ok ? "ok" : err.msg);
        for (int i = 0; ok && i < k->M; i++) compare(k, i, gpu[i], cpu[i]);
        for (int i = 0; i < k->M; i++) {
            gl_trainer_free(gpu[i]);
            gl_trainer_free(cpu[i]);
        }
        rt.emulate_bytes = 0;
        gl_runtime_set(&rt);
    }
    return CHECK_DONE();
}
