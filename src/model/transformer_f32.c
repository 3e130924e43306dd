/* groklab: the Transformer in single precision (training and evaluation),
 * and what does not depend on the precision: the layout, the tensor table,
 * the dropout masks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "groklab/rng.h"
#include "groklab/model.h"
#include "groklab/transformer.h"

#define R float
#define S f32
#define GEMM cblas_sgemm
#include "transformer_impl.h"

void gl_tf_spec_default(gl_tf_spec *s, int p) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->d = 128;
    s->n_layer = 1;
    s->n_head = 4;
    s->mlp_factor = 4;
    s->act = GL_ACT_RELU;
    s->layernorm = 0;
    s->tie = 0;
    s->mu = 1.0;
    s->s = 1.0;
    s->ln_eps = 1e-5;
}

static int prob_ok(double x) { return x >= 0 && x < 1; }

int gl_tf_layout_init(gl_tf_layout *L, const gl_tf_spec *sp, gl_error *err) {
    memset(L, 0, sizeof *L);
    if (sp->p < 2) return gl_fail(err, "transformer: p = %d must be at least 2", sp->p);
    if (sp->d < 1) return gl_fail(err, "transformer: n_embd = %d must be positive", sp->d);
    if (sp->n_layer < 1 || sp->n_layer > 64)
        return gl_fail(err, "transformer: n_layer = %d must be in [1, 64]", sp->n_layer);
    if (sp->n_head < 1 || sp->d % sp->n_head != 0)
        return gl_fail(err, "transformer: n_head = %d must divide n_embd = %d", sp->n_head, sp->d);
    if (sp->mlp_factor < 1)
        return gl_fail(err, "transformer: mlp factor = %d must be positive", sp->mlp_factor);
    if ((long)sp->d * sp->mlp_factor > (1L << 20) || (long)sp->p * sp->d > (1L << 28))
        return gl_fail(err, "transformer: n_embd %d with mlp factor %d and p %d is too large",
                       sp->d, sp->mlp_factor, sp->p);
    if ((int)sp->act < GL_ACT_QUADRATIC || (int)sp->act > GL_ACT_IDENTITY)
        return gl_fail(err, "transformer: unknown activation %d", (int)sp->act);
    if (!prob_ok(sp->drop_emb) || !prob_ok(sp->drop_attn) || !prob_ok(sp->drop_resid))
        return gl_fail(err, "transformer: dropout probabilities (%g, %g, %g) must be in [0, 1)",
                       sp->drop_emb, sp->drop_attn, sp->drop_resid);
    if (!(sp->ln_eps > 0) || !isfinite(sp->ln_eps))
        return gl_fail(err, "transformer: LayerNorm eps = %g must be positive", sp->ln_eps);
    if (!isfinite(sp->mu) || !isfinite(sp->s))
        return gl_fail(err, "transformer: mu = %g and s = %g must be finite", sp->mu, sp->s);

    size_t d = (size_t)sp->d, F = d * (size_t)sp->mlp_factor, ln = sp->layernorm ? d : 0;
    L->spec = *sp;
    L->spec.layernorm = sp->layernorm != 0;
    L->spec.tie = sp->tie != 0;
    L->d_head = sp->d / sp->n_head;
    L->d_ff = (int)F;
    L->attn_scale = pow((double)L->d_head, -(1.0 + sp->s) / 2.0);
    L->out_scale = pow((double)sp->d, -(1.0 + sp->s) / 2.0);
    size_t o = 0;
    L->off_tok = o;
    o += (size_t)sp->p * d;
    L->off_pos = o;
    o += (size_t)T * d;
    size_t b0 = o;
    gl_tf_block *b = &L->block0;
    b->ln1_w = o;
    o += ln;
    b->ln1_b = o;
    o += ln;
    b->qkv = o;
    o += 3 * d * d;
    b->proj = o;
    o += d * d;
    b->ln2_w = o;
    o += ln;
    b->ln2_b = o;
    o += ln;
    b->fc = o;
    o += F * d;
    b->fcproj = o;
    o += d * F;
    L->block_size = o - b0;
    o = b0 + L->block_size * (size_t)sp->n_layer;
    L->off_lnf_w = o;
    o += ln;
    L->off_lnf_b = o;
    o += ln;
    if (L->spec.tie) {
        L->off_head = L->off_tok;
    } else {
        L->off_head = o;
        o += (size_t)sp->p * d;
    }
    L->n_params = o;
    return 0;
}

long gl_tf_mask_len(const gl_tf_layout *L) { return tf_mask_block(L, L->spec.n_layer); }

/* keep[e] for e in [e0, e1): 1 if u >= prob, drawing only the counters of
 * that range (all kept when prob is 0). */
static void mask_range(uint8_t *keep, long e0, long e1, double prob, uint64_t ctr0,
                       uint64_t seed, long step) {
    enum { RUN = 64 };
    if (prob <= 0) {
        memset(keep + e0, 1, (size_t)(e1 - e0));
        return;
    }
    float thr = (float)prob;
    uint32_t r[4 * RUN];
    long g1 = (e1 - 1) / 4;
    for (long g0 = e0 / 4; g0 <= g1; g0 += RUN) {
        int ng = (int)(g1 - g0 + 1 < RUN ? g1 - g0 + 1 : RUN);
        gl_philox_run(seed, GL_STREAM_TF_DROPOUT, ctr0 + (uint64_t)g0, (uint32_t)step, ng, r);
        for (int j = 0; j < 4 * ng; j++) {
            long e = 4 * g0 + j;
            if (e >= e0 && e < e1) keep[e] = gl_u01(r[j]) >= thr;
        }
    }
}

void gl_tf_dropout_row(uint8_t *keep, const gl_tf_layout *L, uint64_t id, uint64_t seed,
                       long step) {
    const gl_tf_spec *sp = &L->spec;
    long E = gl_tf_mask_len(L), td = (long)T * sp->d, att = (long)sp->n_head * T * T;
    uint64_t ctr0 = id * (uint64_t)((E + 3) / 4);
    mask_range(keep, 0, td, sp->drop_emb, ctr0, seed, step);
    for (int l = 0; l < sp->n_layer; l++) {
        long o = tf_mask_block(L, l);
        mask_range(keep, o, o + att, sp->drop_attn, ctr0, seed, step);
        mask_range(keep, o + att, o + att + 2 * td, sp->drop_resid, ctr0, seed, step);
    }
}

/* Tensors per block: qkv, proj, fc, fcproj, and with LayerNorm ln_1 and ln_2. */
static int per_block(const gl_tf_layout *L) { return L->spec.layernorm ? 8 : 4; }

int gl_tf_tensor_count(const gl_tf_layout *L) {
    return 2 + L->spec.n_layer * per_block(L) + (L->spec.layernorm ? 2 : 0) + (L->spec.tie ? 0 : 1);
}

static void set_tensor(gl_tf_tensor *t, const char *name, size_t off, int rows, int cols,
                       gl_tf_init init, uint32_t id) {
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = off;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols > 0 ? cols : 1;
    t->init = init;
    t->id = id;
}

void gl_tf_tensor_at(const gl_tf_layout *L, int i, gl_tf_tensor *t) {
    const gl_tf_spec *sp = &L->spec;
    int d = sp->d, F = L->d_ff, pb = per_block(L), nb = sp->n_layer * pb;
    char name[64];
    memset(t, 0, sizeof *t);
    if (i == 0) {
        set_tensor(t, "transformer.wte.weight", L->off_tok, sp->p, d, GL_TF_INIT_NORMAL, 16);
        return;
    }
    if (i == 1) {
        set_tensor(t, "transformer.wpe.weight", L->off_pos, T, d, GL_TF_INIT_NORMAL, 17);
        return;
    }
    i -= 2;
    if (i < nb) {
        int l = i / pb, k = i % pb;
        gl_tf_block o = gl_tf_block_at(L, l);
        uint32_t id = 32 + 4 * (uint32_t)l;
        if (!sp->layernorm) k = (int[]){2, 3, 6, 7}[k]; /* skip the LayerNorm entries */
        switch (k) {
        case 0:
            snprintf(name, sizeof name, "transformer.h.%d.ln_1.weight", l);
            set_tensor(t, name, o.ln1_w, d, 0, GL_TF_INIT_ONE, 0);
            break;
        case 1:
            snprintf(name, sizeof name, "transformer.h.%d.ln_1.bias", l);
            set_tensor(t, name, o.ln1_b, d, 0, GL_TF_INIT_ZERO, 0);
            break;
        case 2:
            snprintf(name, sizeof name, "transformer.h.%d.attn.c_attn.weight", l);
            set_tensor(t, name, o.qkv, 3 * d, d, GL_TF_INIT_LINEAR, id);
            break;
        case 3:
            snprintf(name, sizeof name, "transformer.h.%d.attn.c_proj.weight", l);
            set_tensor(t, name, o.proj, d, d, GL_TF_INIT_LINEAR, id + 1);
            break;
        case 4:
            snprintf(name, sizeof name, "transformer.h.%d.ln_2.weight", l);
            set_tensor(t, name, o.ln2_w, d, 0, GL_TF_INIT_ONE, 0);
            break;
        case 5:
            snprintf(name, sizeof name, "transformer.h.%d.ln_2.bias", l);
            set_tensor(t, name, o.ln2_b, d, 0, GL_TF_INIT_ZERO, 0);
            break;
        case 6:
            snprintf(name, sizeof name, "transformer.h.%d.mlp.c_fc.weight", l);
            set_tensor(t, name, o.fc, F, d, GL_TF_INIT_LINEAR, id + 2);
            break;
        default:
            snprintf(name, sizeof name, "transformer.h.%d.mlp.c_proj.weight", l);
            set_tensor(t, name, o.fcproj, d, F, GL_TF_INIT_LINEAR, id + 3);
            break;
        }
        return;
    }
    i -= nb;
    if (sp->layernorm && i < 2) {
        if (i == 0)
            set_tensor(t, "transformer.ln_f.weight", L->off_lnf_w, d, 0, GL_TF_INIT_ONE, 0);
        else
            set_tensor(t, "transformer.ln_f.bias", L->off_lnf_b, d, 0, GL_TF_INIT_ZERO, 0);
        return;
    }
    set_tensor(t, "lm_head.weight", L->off_head, sp->p, d, GL_TF_INIT_LINEAR, 18);
}

double gl_tf_work_bytes(const gl_tf_layout *L, int max_B, int rows, int lanes) {
    if (rows <= 0) rows = TF_ROWS;
    if (lanes <= 0) lanes = TF_LANES;
    double slot = (double)tf_carve_f32(NULL, NULL, NULL, L, rows);
    double keep = (L->spec.drop_emb > 0 || L->spec.drop_attn > 0 || L->spec.drop_resid > 0)
                      ? (double)rows * (double)gl_tf_mask_len(L)
                      : 0.0;
    return (double)lanes * (4.0 * slot + 4.0 * (double)tf_part_stride_f32(L) + keep) +
           8.0 * (double)tf_max_chunks(max_B, rows, lanes);
}
