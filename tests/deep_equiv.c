/* deep_equiv: trains groklab's deep MLP full batch from weights and data
 * written by tests/python/torch_deep.py, and prints the loss of every step,
 * so the Python side can compare with PyTorch step by step.
 *
 * Usage: deep_equiv FILE.safetensors [key=value ...]
 *   p N depth act(relu|gelu|quadratic|identity) norm(none|batchnorm|layernorm)
 *   norm_eps momentum                                   the model
 *   loss(mse|ce) lr wd beta1 beta2 eps steps            training (AdamW)
 *   out=FILE                                            final weights
 * Defaults: depth 3, relu, no norm, eps 1e-5 / momentum 0.1, mse, lr 1e-3,
 * betas 0.9/0.98, eps 1e-8, wd 1, 50 steps; p and N must be given.
 *
 * FILE holds the tensors in the paper's (out, in) shapes, float32: U, V
 * (N, p), H.1 .. H.<depth-2> (N, N), W (p, N), and with a norm norm.weight,
 * norm.bias (depth-1, N); and the training pairs as int32 tensors m, n, y.
 * Prints "step S loss L" for S = 0..steps-1 (the training loss of the
 * forward pass of step S, before its update), then "eval loss L": the loss
 * over the same pairs in evaluation mode after the last step (BatchNorm with
 * the running statistics, which start at 0 and 1). out= writes the final
 * tensors under the same names, and norm.running_mean, norm.running_var
 * with BatchNorm. Exit 0, or 2 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/deep.h"
#include "groklab/io.h"
#include "groklab/optim.h"

static int die(const char *msg) {
    fprintf(stderr, "deep_equiv: %s\n", msg);
    return 2;
}

/* A tensor of the file: name, offset in the parameter array, (rows, cols),
 * and whether the array holds it transposed (U and V). */
typedef struct tensor {
    char name[32];
    size_t off;
    int rows, cols, transposed;
} tensor;

static int tensors(const gl_deep_layout *L, tensor *t) {
    int n = 0, N = L->N, p = L->p;
    t[n++] = (tensor){"U", L->off_u, N, p, 1};
    t[n++] = (tensor){"V", L->off_v, N, p, 1};
    for (int l = 1; l <= L->depth - 2; l++) {
        t[n] = (tensor){"", L->off_hidden + (size_t)(l - 1) * N * N, N, N, 0};
        snprintf(t[n].name, sizeof t[n].name, "H.%d", l);
        n++;
    }
    t[n++] = (tensor){"W", L->off_w, p, N, 0};
    if (L->norm != GL_NORM_NONE) {
        t[n++] = (tensor){"norm.weight", L->off_gamma, L->depth - 1, N, 0};
        t[n++] = (tensor){"norm.bias", L->off_beta, L->depth - 1, N, 0};
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) return die("usage: deep_equiv FILE.safetensors [key=value ...]");
    int p = 0, N = 0, depth = 3;
    gl_act act = GL_ACT_RELU;
    gl_norm norm = GL_NORM_NONE;
    gl_config c;
    gl_config_default(&c);
    c.optim = GL_OPT_ADAMW;
    c.lr = 1e-3;
    c.wd = 1.0;
    c.beta1 = 0.9;
    c.beta2 = 0.98;
    c.eps = 1e-8;
    c.loss = GL_LOSS_MSE;
    double norm_eps = 1e-5, momentum = 0.1;
    long steps = 50;
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        char key[32];
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq - argv[i] >= (long)sizeof key) return die("arguments are key=value");
        memcpy(key, argv[i], (size_t)(eq - argv[i]));
        key[eq - argv[i]] = 0;
        const char *v = eq + 1;
        if (!strcmp(key, "p")) p = atoi(v);
        else if (!strcmp(key, "N")) N = atoi(v);
        else if (!strcmp(key, "depth")) depth = atoi(v);
        else if (!strcmp(key, "act"))
            act = !strcmp(v, "gelu")        ? GL_ACT_GELU
                  : !strcmp(v, "quadratic") ? GL_ACT_QUADRATIC
                  : !strcmp(v, "identity")  ? GL_ACT_IDENTITY
                                            : GL_ACT_RELU;
        else if (!strcmp(key, "norm"))
            norm = !strcmp(v, "batchnorm")   ? GL_NORM_BATCHNORM
                   : !strcmp(v, "layernorm") ? GL_NORM_LAYERNORM
                                             : GL_NORM_NONE;
        else if (!strcmp(key, "norm_eps")) norm_eps = atof(v);
        else if (!strcmp(key, "momentum")) momentum = atof(v);
        else if (!strcmp(key, "loss")) c.loss = !strcmp(v, "ce") ? GL_LOSS_CE : GL_LOSS_MSE;
        else if (!strcmp(key, "lr")) c.lr = atof(v);
        else if (!strcmp(key, "wd")) c.wd = atof(v);
        else if (!strcmp(key, "beta1")) c.beta1 = atof(v);
        else if (!strcmp(key, "beta2")) c.beta2 = atof(v);
        else if (!strcmp(key, "eps")) c.eps = atof(v);
        else if (!strcmp(key, "steps")) steps = atol(v);
        else if (!strcmp(key, "out")) out = v;
        else return die("unknown key (p N depth act norm norm_eps momentum loss lr wd beta1 "
                        "beta2 eps steps out)");
    }

    gl_error err;
    gl_deep_layout L;
    if (gl_deep_layout_init(&L, p, N, depth, act, norm, GL_PARAM_STANDARD, &err))
        return die(err.msg);
    gl_st_file *f;
    if (gl_st_open(&f, argv[1], &err)) return die(err.msg);

    size_t np = L.n_params, nrun = (size_t)(depth - 1) * N;
    float *w = calloc(np, sizeof(float)), *g = calloc(np, sizeof(float));
    float *m1 = calloc(np, sizeof(float)), *m2 = calloc(np, sizeof(float));
    float *rm = calloc(nrun, sizeof(float)), *rv = calloc(nrun, sizeof(float));
    tensor *ts = calloc((size_t)depth + 3, sizeof *ts);
    if (!w || !g || !m1 || !m2 || !rm || !rv || !ts) return die("out of memory");
    for (size_t k = 0; k < nrun; k++) rv[k] = 1.0f;
    int nt = tensors(&L, ts);
    for (int i = 0; i < nt; i++) {
        const tensor *t = &ts[i];
        gl_st_tensor st;
        if (gl_st_get(f, t->name, GL_ST_F32, (int64_t)t->rows * t->cols, &st, &err))
            return die(err.msg);
        if (st.ndim != 2 || st.shape[0] != t->rows) return die("a tensor has the wrong shape");
        const float *src = st.data;
        for (int r = 0; r < t->rows; r++)
            for (int q = 0; q < t->cols; q++)
                w[t->off + (t->transposed ? (size_t)q * t->rows + r : (size_t)r * t->cols + q)] =
                    src[(size_t)r * t->cols + q];
    }
    gl_st_tensor tm, tn, ty;
    if (gl_st_get(f, "m", GL_ST_I32, -1, &tm, &err) || gl_st_get(f, "n", GL_ST_I32, -1, &tn, &err) ||
        gl_st_get(f, "y", GL_ST_I32, -1, &ty, &err))
        return die(err.msg);
    int B = (int)tm.shape[0];
    if (tn.shape[0] != B || ty.shape[0] != B || B < 1) return die("m, n, y differ in length");
    const int32_t *m = tm.data, *n = tn.data, *y = ty.data;
    for (int b = 0; b < B; b++)
        if (m[b] < 0 || m[b] >= p || n[b] < 0 || n[b] >= p || y[b] < 0 || y[b] >= p)
            return die("an operand or label is outside [0, p)");

    gl_deep_work_f32 *wk;
    if (gl_deep_work_new_f32(&wk, &L, B, 0, &err)) return die(err.msg);
    gl_deep_opts o = {c.loss, 0.0, norm_eps, momentum, c.seed, 0};
    gl_batch bt = {m, n, y, NULL, B};
    for (long s = 0; s < steps; s++) {
        double loss;
        o.step = s;
        if (gl_deep_loss_grad_f32(wk, &loss, g, w, &o, &bt, rm, rv, &err)) return die(err.msg);
        printf("step %ld loss %.9g\n", s, loss);
        gl_optim_step(&c, w, g, m1, m2, np, s + 1);
    }
    float *logits = malloc(sizeof(float) * (size_t)B * p);
    if (!logits) return die("out of memory");
    gl_deep_logits_f32(wk, logits, w, rm, rv, norm_eps, m, n, B);
    double el = c.loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, logits, y, B, p)
                                      : gl_ce_loss_f32(NULL, logits, y, B, p);
    printf("eval loss %.9g\n", el);

    if (out) {
        gl_st_writer *wr = gl_st_writer_new();
        float *tr = malloc(sizeof(float) * 2 * (size_t)p * N); /* U, V in (N, p) */
        if (!wr || !tr) return die("out of memory");
        for (int i = 0; i < nt; i++) {
            const tensor *t = &ts[i];
            int64_t shape[2] = {t->rows, t->cols};
            const float *src = w + t->off;
            if (t->transposed) {
                float *dst = tr + (size_t)i * p * N; /* U and V are tensors 0 and 1 */
                for (int r = 0; r < t->rows; r++)
                    for (int q = 0; q < t->cols; q++)
                        dst[(size_t)r * t->cols + q] = src[(size_t)q * t->rows + r];
                src = dst;
            }
            if (gl_st_add(wr, t->name, GL_ST_F32, 2, shape, src, &err)) return die(err.msg);
        }
        int64_t rshape[2] = {depth - 1, N};
        if (norm == GL_NORM_BATCHNORM &&
            (gl_st_add(wr, "norm.running_mean", GL_ST_F32, 2, rshape, rm, &err) ||
             gl_st_add(wr, "norm.running_var", GL_ST_F32, 2, rshape, rv, &err)))
            return die(err.msg);
        if (gl_st_writer_save(wr, out, &err)) return die(err.msg);
        gl_st_writer_free(wr);
        free(tr);
    }
    gl_deep_work_free_f32(wk);
    gl_st_close(f);
    free(w);
    free(g);
    free(m1);
    free(m2);
    free(rm);
    free(rv);
    free(ts);
    free(logits);
    return 0;
}
