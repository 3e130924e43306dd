/* tf_equiv: trains groklab's Transformer full batch from weights and data
 * written by tests/python/torch_transformer.py, and prints the loss of every
 * step, so the Python side can compare with PyTorch step by step.
 *
 * Usage: tf_equiv FILE.safetensors [key=value ...]
 *   p d heads layers mlp act(relu|gelu) ln(0|1) tie(0|1) mu s   the model
 *   loss(mse|ce) lr wd beta1 beta2 eps steps                     training (AdamW)
 *   out=FILE                                                     final weights
 * Defaults: the paper's model (d 128, 4 heads, 1 block), mse, lr 1e-3,
 * betas 0.9/0.98, eps 1e-8, wd 1, 50 steps; p must be given.
 *
 * FILE holds every tensor of the model under its state_dict name (float32,
 * the shapes of transformer.h) and the training pairs as int32 tensors
 * m, n, y. Prints "step S loss L" for S = 0..steps-1: the training loss
 * computed in the forward pass of step S, before its update. Exit 0, or 2 with
 * a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/io.h"
#include "groklab/optim.h"
#include "groklab/transformer.h"

static int die(const char *msg) {
    fprintf(stderr, "tf_equiv: %s\n", msg);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return die("usage: tf_equiv FILE.safetensors [key=value ...]");
    gl_tf_spec sp;
    gl_tf_spec_default(&sp, 0);
    gl_config c;
    gl_config_default(&c);
    c.optim = GL_OPT_ADAMW;
    c.lr = 1e-3;
    c.wd = 1.0;
    c.beta1 = 0.9;
    c.beta2 = 0.98;
    c.eps = 1e-8;
    c.loss = GL_LOSS_MSE;
    long steps = 50;
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        char key[32];
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq - argv[i] >= (long)sizeof key) return die("arguments are key=value");
        memcpy(key, argv[i], (size_t)(eq - argv[i]));
        key[eq - argv[i]] = 0;
        const char *v = eq + 1;
        if (!strcmp(key, "p")) sp.p = atoi(v);
        else if (!strcmp(key, "d")) sp.d = atoi(v);
        else if (!strcmp(key, "heads")) sp.n_head = atoi(v);
        else if (!strcmp(key, "layers")) sp.n_layer = atoi(v);
        else if (!strcmp(key, "mlp")) sp.mlp_factor = atoi(v);
        else if (!strcmp(key, "act")) sp.act = !strcmp(v, "gelu") ? GL_ACT_GELU : GL_ACT_RELU;
        else if (!strcmp(key, "ln")) sp.layernorm = atoi(v);
        else if (!strcmp(key, "tie")) sp.tie = atoi(v);
        else if (!strcmp(key, "mu")) sp.mu = atof(v);
        else if (!strcmp(key, "s")) sp.s = atof(v);
        else if (!strcmp(key, "loss")) c.loss = !strcmp(v, "ce") ? GL_LOSS_CE : GL_LOSS_MSE;
        else if (!strcmp(key, "lr")) c.lr = atof(v);
        else if (!strcmp(key, "wd")) c.wd = atof(v);
        else if (!strcmp(key, "beta1")) c.beta1 = atof(v);
        else if (!strcmp(key, "beta2")) c.beta2 = atof(v);
        else if (!strcmp(key, "eps")) c.eps = atof(v);
        else if (!strcmp(key, "steps")) steps = atol(v);
        else if (!strcmp(key, "out")) out = v;
        else return die("unknown key (p d heads layers mlp act ln tie mu s loss lr wd beta1 beta2 eps steps out)");
    }

    gl_error err;
    gl_tf_layout L;
    if (gl_tf_layout_init(&L, &sp, &err)) return die(err.msg);
    gl_st_file *f;
    if (gl_st_open(&f, argv[1], &err)) return die(err.msg);

    float *w = calloc(L.n_params, sizeof(float)), *g = calloc(L.n_params, sizeof(float));
    float *m1 = calloc(L.n_params, sizeof(float)), *m2 = calloc(L.n_params, sizeof(float));
    if (!w || !g || !m1 || !m2) return die("out of memory");
    for (int i = 0; i < gl_tf_tensor_count(&L); i++) {
        gl_tf_tensor t;
        gl_st_tensor st;
        gl_tf_tensor_at(&L, i, &t);
        int64_t numel = (int64_t)t.shape[0] * t.shape[1];
        if (gl_st_get(f, t.name, GL_ST_F32, numel, &st, &err)) return die(err.msg);
        memcpy(w + t.off, st.data, sizeof(float) * (size_t)numel);
    }
    gl_st_tensor tm, tn, ty;
    if (gl_st_get(f, "m", GL_ST_I32, -1, &tm, &err) || gl_st_get(f, "n", GL_ST_I32, -1, &tn, &err) ||
        gl_st_get(f, "y", GL_ST_I32, -1, &ty, &err))
        return die(err.msg);
    int B = (int)tm.shape[0];
    if (tn.shape[0] != B || ty.shape[0] != B || B < 1) return die("m, n, y differ in length");
    const int32_t *m = tm.data, *n = tn.data, *y = ty.data;
    for (int b = 0; b < B; b++)
        if (m[b] < 0 || m[b] >= sp.p || n[b] < 0 || n[b] >= sp.p || y[b] < 0 || y[b] >= sp.p)
            return die("a token or label is outside [0, p)");

    gl_tf_work_f32 *wk;
    if (gl_tf_work_new_f32(&wk, &L, B, 0, 0, &err)) return die(err.msg);
    gl_batch bt = {m, n, y, NULL, B};
    for (long s = 0; s < steps; s++) {
        double loss;
        if (gl_tf_loss_grad_f32(wk, &loss, g, w, c.loss, c.seed, s, &bt, &err)) return die(err.msg);
        printf("step %ld loss %.9g\n", s, loss);
        gl_optim_step(&c, w, g, m1, m2, L.n_params, s + 1);
    }

    if (out) {
        gl_st_writer *wr = gl_st_writer_new();
        for (int i = 0; i < gl_tf_tensor_count(&L); i++) {
            gl_tf_tensor t;
            gl_tf_tensor_at(&L, i, &t);
            int64_t shape[2] = {t.shape[0], t.shape[1]};
            if (gl_st_add(wr, t.name, GL_ST_F32, t.ndim, shape, w + t.off, &err))
                return die(err.msg);
        }
        if (gl_st_writer_save(wr, out, &err)) return die(err.msg);
        gl_st_writer_free(wr);
    }
    gl_tf_work_free_f32(wk);
    gl_st_close(f);
    free(w);
    free(g);
    free(m1);
    free(m2);
    return 0;
}
