/* The Transformer (groklab/transformer.h):
 *  - logits against a plain reference forward written here from the formulas
 *    (every position computed, no chunks, no BLAS), in double;
 *  - gradients of every tensor against central finite differences, in double
 *    (every element of tensors up to 256 elements, 256 random ones of larger),
 *    for the options the paper uses (s = 1 and 0, ReLU and GELU, tying,
 *    LayerNorm, mu != 1, 4 and 8 heads, 1 and 2 blocks, MSE and CE, dropout
 *    with the masks of one step, batches cut into several chunks);
 *  - float against double; bit-identical results for 1 and 2 threads;
 *  - initialization statistics and tensor ids; dropout mask rates. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/rng.h"
#include "groklab/transformer.h"

enum { P = 7, D = 16, B = 5 };

static int32_t m_[64], n_[64], y_[64], id_[64];

static void make_data(int nb, int p) {
    for (int b = 0; b < nb; b++) {
        m_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 0, (uint32_t)p);
        n_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 1, (uint32_t)p);
        y_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 2, (uint32_t)p);
        id_[b] = 100 + 3 * b;
    }
    m_[1] = m_[0]; /* a repeated token exercises the scatter-add */
    n_[2] = m_[0]; /* and the same token at both positions */
}

static gl_tf_spec small_spec(void) {
    gl_tf_spec s;
    gl_tf_spec_default(&s, P);
    s.d = D;
    return s;
}

/* Parameters for the checks: the model's own initialization, with LayerNorm
 * gains and shifts moved off 1 and 0 so that their gradients mean something. */
static double *init_params(const gl_tf_layout *L) {
    double *w = malloc(L->n_params * sizeof(double));
    gl_tf_init_f64(w, L, 5);
    for (int i = 0; i < gl_tf_tensor_count(L); i++) {
        gl_tf_tensor t;
        gl_tf_tensor_at(L, i, &t);
        if (t.init == GL_TF_INIT_ONE || t.init == GL_TF_INIT_ZERO)
            for (int k = 0; k < t.shape[0]; k++) w[t.off + k] += 0.3 * gl_normal(9, 9, k, (uint32_t)i);
    }
    return w;
}

/* ---------------------------------------------------------------------------
 * The reference forward: one example at a time, all T positions in every
 * block, straight from the formulas in transformer.h. */

static void ref_layernorm(double *z, const double *x, const double *w, const double *b, int d,
                          double eps) {
    double mean = 0, var = 0;
    for (int k = 0; k < d; k++) mean += x[k];
    mean /= d;
    for (int k = 0; k < d; k++) var += (x[k] - mean) * (x[k] - mean);
    var /= d;
    for (int k = 0; k < d; k++) z[k] = (x[k] - mean) / sqrt(var + eps) * w[k] + b[k];
}

/* y (rows) = W (rows, cols) x */
static void ref_matvec(double *y, const double *W, const double *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += W[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

static void ref_logits(double *out, const gl_tf_layout *L, const double *W, int m, int n) {
    const gl_tf_spec *sp = &L->spec;
    int d = sp->d, H = sp->n_head, dh = d / H, F = L->d_ff, ln = sp->layernorm;
    double x[2][512], a[2][512], q[2][512], k[2][512], v[2][512], y[2][512], h[2048], tmp[512];
    int tok[2] = {m, n};
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < d; c++)
            x[t][c] = W[L->off_tok + (size_t)tok[t] * d + c] + W[L->off_pos + (size_t)t * d + c];
    for (int l = 0; l < sp->n_layer; l++) {
        gl_tf_block o = gl_tf_block_at(L, l);
        for (int t = 0; t < 2; t++) {
            if (ln) ref_layernorm(a[t], x[t], W + o.ln1_w, W + o.ln1_b, d, sp->ln_eps);
            else memcpy(a[t], x[t], sizeof(double) * d);
            ref_matvec(q[t], W + o.qkv, a[t], d, d);
            ref_matvec(k[t], W + o.qkv + (size_t)d * d, a[t], d, d);
            ref_matvec(v[t], W + o.qkv + (size_t)2 * d * d, a[t], d, d);
        }
        double scale = 1.0 / pow(dh, (1.0 + sp->s) / 2.0);
        for (int t = 0; t < 2; t++)
            for (int hh = 0; hh < H; hh++) {
                double sc[2], z = 0;
                for (int u = 0; u < 2; u++) {
                    sc[u] = 0;
                    for (int c = 0; c < dh; c++) sc[u] += q[t][hh * dh + c] * k[u][hh * dh + c];
                    sc[u] *= scale;
                }
                double mx = fmax(sc[0], sc[1]);
                for (int u = 0; u < 2; u++) z += exp(sc[u] - mx);
                for (int c = 0; c < dh; c++) {
                    double s = 0;
                    for (int u = 0; u < 2; u++) s += exp(sc[u] - mx) / z * v[u][hh * dh + c];
                    y[t][hh * dh + c] = s;
                }
            }
        for (int t = 0; t < 2; t++) {
            ref_matvec(tmp, W + o.proj, y[t], d, d);
            for (int c = 0; c < d; c++) x[t][c] = sp->mu * x[t][c] + tmp[c];
            if (ln) ref_layernorm(a[t], x[t], W + o.ln2_w, W + o.ln2_b, d, sp->ln_eps);
            else memcpy(a[t], x[t], sizeof(double) * d);
            ref_matvec(h, W + o.fc, a[t], F, d);
            for (int c = 0; c < F; c++)
                h[c] = sp->act == GL_ACT_GELU ? 0.5 * h[c] * (1 + erf(h[c] / sqrt(2.0)))
                                              : fmax(h[c], 0.0);
            ref_matvec(tmp, W + o.fcproj, h, d, F);
            for (int c = 0; c < d; c++) x[t][c] = sp->mu * x[t][c] + tmp[c];
        }
    }
    if (ln) ref_layernorm(a[1], x[1], W + L->off_lnf_w, W + L->off_lnf_b, d, sp->ln_eps);
    else memcpy(a[1], x[1], sizeof(double) * d);
    ref_matvec(out, W + L->off_head, a[1], sp->p, d);
    for (int j = 0; j < sp->p; j++) out[j] *= pow(d, -(1.0 + sp->s) / 2.0);
}

static void check_reference(const gl_tf_spec *sp, const char *name) {
    gl_tf_layout L;
    gl_error err;
    if (gl_tf_layout_init(&L, sp, &err)) {
        CHECK(0, "layout %s: %s", name, err.msg);
        return;
    }
    double *w = init_params(&L), out[B * P], ref[P];
    gl_tf_work_f64 *wk;
    gl_tf_work_new_f64(&wk, &L, B, 2, 2, NULL); /* rows 2: the batch in three chunks */
    gl_tf_logits_f64(wk, out, w, m_, n_, B);
    double worst = 0, scale = 0;
    for (int b = 0; b < B; b++) {
        ref_logits(ref, &L, w, m_[b], n_[b]);
        for (int j = 0; j < sp->p; j++) {
            worst = check_worse(worst, fabs(out[b * sp->p + j] - ref[j]));
            scale = fmax(scale, fabs(ref[j]));
        }
    }
    CHECK(worst <= 1e-12 * fmax(scale, 1e-300) && scale > 0,
          "logits = reference forward, %-44s max err %.2e of max |logit| %.2e", name, worst,
          scale);
    gl_tf_work_free_f64(wk);
    free(w);
}

/* ---------------------------------------------------------------------------
 * Gradient checks. */

typedef struct gcase {
    const char *name;
    gl_tf_spec spec;
    gl_loss loss;
    int rows, lanes; /* chunking of the batch (0: defaults, the batch in one chunk) */
} gcase;

static double loss_of(gl_tf_work_f64 *wk, double *grad, const double *w, gl_loss loss) {
    gl_batch bt = {m_, n_, y_, id_, B};
    double l = NAN;
    gl_error err;
    if (gl_tf_loss_grad_f64(wk, &l, grad, w, loss, 11, 3, &bt, &err)) printf("# %s\n", err.msg);
    return l;
}

/* The groups of tensors a check reports on, by state_dict name. */
static const char *group_of(const char *tensor) {
    if (strstr(tensor, "wte") || strstr(tensor, "wpe")) return "embeddings";
    if (strstr(tensor, "attn")) return "attention";
    if (strstr(tensor, "mlp")) return "mlp";
    if (strstr(tensor, "ln_")) return "layernorm";
    return "head";
}

static void check_gradient(const gcase *gc) {
    gl_tf_layout L;
    gl_error err;
    if (gl_tf_layout_init(&L, &gc->spec, &err)) {
        CHECK(0, "layout %s: %s", gc->name, err.msg);
        return;
    }
    gl_tf_work_f64 *wk;
    if (gl_tf_work_new_f64(&wk, &L, B, gc->rows, gc->lanes, &err)) {
        CHECK(0, "work %s: %s", gc->name, err.msg);
        return;
    }
    double *w = init_params(&L), *g = malloc(L.n_params * sizeof(double));
    double *scratch = malloc(L.n_params * sizeof(double));
    loss_of(wk, g, w, gc->loss);

    const char *groups[] = {"embeddings", "attention", "mlp", "layernorm", "head"};
    double worst[5] = {0}, scale[5] = {0};
    int seen[5] = {0};
    const double h = 1e-6;
    enum { SAMPLE = 256 };
    int nt = omp_get_max_threads();
    omp_set_num_threads(1); /* thousands of tiny passes: threads would only wait */
    for (int i = 0; i < gl_tf_tensor_count(&L); i++) {
        gl_tf_tensor t;
        gl_tf_tensor_at(&L, i, &t);
        int gi = 0;
        while (strcmp(groups[gi], group_of(t.name))) gi++;
        seen[gi] = 1;
        size_t len = (size_t)t.shape[0] * t.shape[1];
        /* every element of small tensors; SAMPLE elements drawn at random
         * (with repeats) from the larger ones */
        size_t count = len <= SAMPLE ? len : SAMPLE;
        for (size_t j = 0; j < count; j++) {
            size_t e = len <= SAMPLE ? j : gl_uniform_int(2, 2, j, (uint32_t)i, (uint32_t)len);
            double *x = w + t.off + e, x0 = *x;
            *x = x0 + h;
            double lp = loss_of(wk, scratch, w, gc->loss);
            *x = x0 - h;
            double lm = loss_of(wk, scratch, w, gc->loss);
            *x = x0;
            double fd = (lp - lm) / (2 * h);
            worst[gi] = check_worse(worst[gi], fabs(fd - g[t.off + e]));
            scale[gi] = fmax(scale[gi], fabs(fd));
        }
    }
    omp_set_num_threads(nt);
    for (int gi = 0; gi < 5; gi++) {
        if (!seen[gi]) continue;
        double rel = worst[gi] / (scale[gi] > 0 ? scale[gi] : 1);
        CHECK(rel < 1e-6 && scale[gi] > 0, "gradient %-46s %-10s rel err %.2e (max |grad| %.2e)",
              gc->name, groups[gi], rel, scale[gi]);
    }
    gl_tf_work_free_f64(wk);
    free(w);
    free(g);
    free(scratch);
}

/* ---------------------------------------------------------------------------
 * Float against double, and the thread count. */

static void check_float_double(const gl_tf_spec *sp, gl_loss loss, const char *name) {
    enum { NB = 64 };
    gl_tf_layout L;
    gl_tf_layout_init(&L, sp, NULL);
    double *w = malloc(L.n_params * sizeof(double)), *g = malloc(L.n_params * sizeof(double));
    float *wf = malloc(L.n_params * sizeof(float)), *gf = malloc(L.n_params * sizeof(float));
    float *gf1 = malloc(L.n_params * sizeof(float));
    gl_tf_init_f64(w, &L, 3);
    for (size_t i = 0; i < L.n_params; i++) wf[i] = (float)w[i];
    gl_tf_work_f64 *w64;
    gl_tf_work_f32 *w32;
    gl_tf_work_new_f64(&w64, &L, NB, 0, 0, NULL);
    gl_tf_work_new_f32(&w32, &L, NB, 8, 4, NULL); /* 8 chunks over 4 lanes */
    gl_batch bt = {m_, n_, y_, id_, NB};
    double l64, l32, l32b;
    gl_tf_loss_grad_f64(w64, &l64, g, w, loss, 1, 0, &bt, NULL);
    gl_tf_loss_grad_f32(w32, &l32, gf, wf, loss, 1, 0, &bt, NULL);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < L.n_params; i++) {
        worst = check_worse(worst, fabs(gf[i] - g[i]));
        scale = fmax(scale, fabs(g[i]));
    }
    CHECK(fabs(l32 - l64) <= 1e-5 * fabs(l64) && worst <= 1e-4 * scale,
          "float = double, %-30s loss %.8g vs %.8g, gradient max err %.2e of %.2e", name, l32,
          l64, worst, scale);

    /* the same float step on one thread */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    gl_tf_loss_grad_f32(w32, &l32b, gf1, wf, loss, 1, 0, &bt, NULL);
    omp_set_num_threads(nt);
    CHECK(l32b == l32 && !memcmp(gf, gf1, L.n_params * sizeof(float)),
          "float step bit-identical on 1 and %d threads, %s", nt, name);

    /* evaluation logits = the training pass's (no dropout here): the loss from them */
    float *lg = malloc(sizeof(float) * NB * (size_t)sp->p);
    gl_tf_logits_f32(w32, lg, wf, m_, n_, NB);
    double le = loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, lg, y_, NB, sp->p)
                                    : gl_ce_loss_f32(NULL, lg, y_, NB, sp->p);
    CHECK_REL(le, l32, 1e-6, "loss of the evaluation logits = the training loss");
    free(lg);
    gl_tf_work_free_f64(w64);
    gl_tf_work_free_f32(w32);
    free(w);
    free(g);
    free(wf);
    free(gf);
    free(gf1);
}

/* ---------------------------------------------------------------------------
 * Initialization and masks. */

static void check_init(void) {
    gl_tf_spec sp;
    gl_tf_spec_default(&sp, 97);
    sp.layernorm = 1;
    gl_tf_layout L, Lt;
    gl_tf_layout_init(&L, &sp, NULL);
    float *w = malloc(L.n_params * sizeof(float));
    gl_tf_init_f32(w, &L, 1);
    int ok = 1;
    size_t covered = 0;
    for (int i = 0; i < gl_tf_tensor_count(&L); i++) {
        gl_tf_tensor t;
        gl_tf_tensor_at(&L, i, &t);
        size_t len = (size_t)t.shape[0] * t.shape[1];
        covered += len;
        double s = 0, q = 0;
        for (size_t e = 0; e < len; e++) {
            s += w[t.off + e];
            q += (double)w[t.off + e] * w[t.off + e];
        }
        double mean = s / len, sd = sqrt(q / len - mean * mean);
        double want = t.init == GL_TF_INIT_NORMAL ? 1.0
                      : t.init == GL_TF_INIT_LINEAR ? 1.0 / sqrt(t.shape[1]) : 0.0;
        double cst = t.init == GL_TF_INIT_ONE ? 1.0 : 0.0;
        int good = t.init == GL_TF_INIT_ONE || t.init == GL_TF_INIT_ZERO
                       ? mean == cst && sd == 0
                       : fabs(sd / want - 1) < 6.0 / sqrt((double)len) + 0.01 &&
                             fabs(mean) < 6.0 * want / sqrt((double)len);
        if (!good) ok = 0;
        printf("# init %-36s (%d, %d) mean %+.4f std %.4f (want %.4f)\n", t.name, t.shape[0],
               t.shape[1], mean, sd, t.init <= GL_TF_INIT_LINEAR ? want : cst);
    }
    CHECK(ok, "init: every tensor has the mean and std of its scheme");
    CHECK(covered == L.n_params, "tensor table covers all %zu parameters (%zu)", L.n_params,
          covered);

    /* tensor ids do not depend on the options: qkv of block 0 equal with and without
     * LayerNorm and tying; element a of tensor id b is gl_normal(seed, INIT, a, b) * std */
    sp.layernorm = 0;
    sp.tie = 1;
    gl_tf_layout_init(&Lt, &sp, NULL);
    float *wt = malloc(Lt.n_params * sizeof(float));
    gl_tf_init_f32(wt, &Lt, 1);
    gl_tf_block o = gl_tf_block_at(&L, 0), ot = gl_tf_block_at(&Lt, 0);
    CHECK(!memcmp(w + o.qkv, wt + ot.qkv, sizeof(float) * 3 * 128 * 128) &&
              !memcmp(w + o.fcproj, wt + ot.fcproj, sizeof(float) * 128 * 512),
          "init: block weights independent of LayerNorm and tying");
    CHECK(Lt.off_head == Lt.off_tok && gl_tf_tensor_count(&Lt) == 6 &&
              Lt.n_params == L.n_params - 97 * 128 - 6 * 128,
          "tied layout: head is tok_emb, no ln tensors (%zu params)", Lt.n_params);
    CHECK(w[o.fc + 5] == (float)(gl_normal(1, GL_STREAM_INIT, 5, 34) / sqrt(128.0)) &&
              w[L.off_pos + 3] == (float)gl_normal(1, GL_STREAM_INIT, 3, 17),
          "init: element a of tensor id b is gl_normal(seed, INIT, a, b) * std");
    free(w);
    free(wt);

    gl_error err;
    sp.n_head = 5;
    CHECK(gl_tf_layout_init(&Lt, &sp, &err) == -1, "layout refuses n_head 5 with n_embd 128: %s",
          err.msg);
    sp.n_head = 4;
    sp.drop_attn = 1.0;
    CHECK(gl_tf_layout_init(&Lt, &sp, &err) == -1, "layout refuses dropout 1: %s", err.msg);
}

static void check_masks(void) {
    gl_tf_spec sp;
    gl_tf_spec_default(&sp, 97);
    sp.n_layer = 2;
    sp.drop_emb = 0.1;
    sp.drop_attn = 0.0;
    sp.drop_resid = 0.5;
    gl_tf_layout L;
    gl_tf_layout_init(&L, &sp, NULL);
    long E = gl_tf_mask_len(&L), td = 2 * 128, att = 4 * 4;
    CHECK(E == td + 2 * (att + 2 * td), "mask length %ld per example", E);
    uint8_t *k = malloc((size_t)E), *k2 = malloc((size_t)E);
    long kept[3] = {0}, tot[3] = {0}, differ = 0;
    for (int ex = 0; ex < 400; ex++) {
        gl_tf_dropout_row(k, &L, (uint64_t)ex, 7, 12);
        gl_tf_dropout_row(k2, &L, (uint64_t)ex, 7, 13);
        for (long e = 0; e < E; e++) {
            int kind = e < td ? 0 : ((e - td) % (att + 2 * td) < att ? 1 : 2);
            kept[kind] += k[e];
            tot[kind]++;
            differ += k[e] != k2[e];
        }
    }
    CHECK(fabs((double)kept[0] / tot[0] - 0.9) < 0.01 && kept[1] == tot[1] &&
              fabs((double)kept[2] / tot[2] - 0.5) < 0.01 && differ > 0,
          "masks keep %.4f (emb, p 0.1), %.4f (attn, p 0), %.4f (resid, p 0.5); steps differ",
          (double)kept[0] / tot[0], (double)kept[1] / tot[1], (double)kept[2] / tot[2]);
    free(k);
    free(k2);
}

int main(void) {
    make_data(64, P);

    /* reference forward */
    gl_tf_spec s = small_spec();
    check_reference(&s, "default (relu, s 1, 4 heads, 1 block)");
    s.s = 0;
    s.mu = 0.8;
    check_reference(&s, "s 0, mu 0.8");
    s = small_spec();
    s.n_layer = 2;
    s.n_head = 8;
    s.act = GL_ACT_GELU;
    s.layernorm = 1;
    s.tie = 1;
    check_reference(&s, "2 blocks, 8 heads, gelu, layernorm, tie");

    /* gradients */
    gcase cases[32];
    int nc = 0;
#define CASE(NAME, LOSS, ...)                                                                      \
    do {                                                                                           \
        gcase c_ = {NAME, small_spec(), LOSS, 0, 0};                                               \
        gl_tf_spec *sp_ = &c_.spec;                                                                \
        (void)sp_;                                                                                 \
        __VA_ARGS__;                                                                               \
        cases[nc++] = c_;                                                                          \
    } while (0)
    CASE("default (relu, s 1, 4 heads, 1 block), mse", GL_LOSS_MSE, );
    CASE("default, ce", GL_LOSS_CE, );
    CASE("s 0, mse", GL_LOSS_MSE, sp_->s = 0);
    CASE("s 0, ce", GL_LOSS_CE, sp_->s = 0);
    CASE("gelu, mse", GL_LOSS_MSE, sp_->act = GL_ACT_GELU);
    CASE("gelu, ce", GL_LOSS_CE, sp_->act = GL_ACT_GELU);
    CASE("tie, mse", GL_LOSS_MSE, sp_->tie = 1);
    CASE("tie, ce", GL_LOSS_CE, sp_->tie = 1);
    CASE("layernorm, mse", GL_LOSS_MSE, sp_->layernorm = 1);
    CASE("layernorm, ce", GL_LOSS_CE, sp_->layernorm = 1);
    CASE("mu 0.7, mse", GL_LOSS_MSE, sp_->mu = 0.7);
    CASE("8 heads, ce", GL_LOSS_CE, sp_->n_head = 8);
    CASE("2 blocks, mse", GL_LOSS_MSE, sp_->n_layer = 2);
    CASE("2 blocks, ce", GL_LOSS_CE, sp_->n_layer = 2);
    CASE("2 blocks, 8 heads, gelu, layernorm, tie, mu 1.2, ce", GL_LOSS_CE, sp_->n_layer = 2;
         sp_->n_head = 8; sp_->act = GL_ACT_GELU; sp_->layernorm = 1; sp_->tie = 1; sp_->mu = 1.2);
    CASE("dropout (0.1, 0.2, 0.3) of one step, 2 blocks, mse", GL_LOSS_MSE, sp_->n_layer = 2;
         sp_->drop_emb = 0.1; sp_->drop_attn = 0.2; sp_->drop_resid = 0.3);
    CASE("dropout, layernorm, tie, ce", GL_LOSS_CE, sp_->drop_emb = 0.2; sp_->drop_attn = 0.3;
         sp_->drop_resid = 0.2; sp_->layernorm = 1; sp_->tie = 1);
    CASE("3 chunks over 2 lanes, 2 blocks, mse", GL_LOSS_MSE, sp_->n_layer = 2; c_.rows = 2;
         c_.lanes = 2);
#undef CASE
    for (int i = 0; i < nc; i++) check_gradient(&cases[i]);

    /* float against double, threads */
    gl_tf_spec f;
    gl_tf_spec_default(&f, 23);
    f.d = 64;
    make_data(64, 23);
    check_float_double(&f, GL_LOSS_MSE, "p 23, d 64, mse");
    f.layernorm = 1;
    f.n_layer = 2;
    f.tie = 1;
    check_float_double(&f, GL_LOSS_CE, "layernorm, 2 blocks, tie, ce");

    check_init();
    check_masks();
    return CHECK_DONE();
}
