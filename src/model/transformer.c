/* groklab: the Transformer's parts that do not depend on the precision:
 * the spec's defaults, the layout, the dropout masks, the tensor table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/model.h"
#include "groklab/transformer.h"
#include "model/ops.h"
#include "model/transformer_parts.h"

/* Defaults of the chunking: TF_ROWS examples per chunk keep a slot's
 * activations (about 3k floats per example at d 128, one block) within a
 * 1 MiB L2; TF_LANES partial gradients (see transformer.h). */
enum { TF_ROWS = 64, TF_LANES = 4 };

void gl_tf_pick_shape(int *rows, int *lanes) {
    if (*rows <= 0) *rows = TF_ROWS;
    if (*lanes <= 0) *lanes = TF_LANES;
}

void *gl_tf_alloc64(size_t bytes) { return aligned_alloc(64, gl_round_up(bytes ? bytes : 64, 64)); }

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
    o += (size_t)GL_TF_T * d;
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

long gl_tf_mask_block(const gl_tf_layout *L, int l) {
    long d = L->spec.d, H = L->spec.n_head;
    return GL_TF_T * d + (long)l * (H * GL_TF_T * GL_TF_T + 2 * GL_TF_T * d);
}

long gl_tf_mask_len(const gl_tf_layout *L) { return gl_tf_mask_block(L, L->spec.n_layer); }

/* keep[e] for e in [e0, e1) of the example's E elements */
static void mask_range(uint8_t *keep, long E, long e0, long e1, double prob, uint64_t id,
                       uint64_t seed, long step) {
    gl_dropout_range(keep + e0, GL_STREAM_TF_DROPOUT, id, (uint64_t)E, (uint64_t)e0,
                     (uint64_t)e1, prob, seed, step);
}

void gl_tf_dropout_row(uint8_t *keep, const gl_tf_layout *L, uint64_t id, uint64_t seed,
                       long step) {
    const gl_tf_spec *sp = &L->spec;
    long E = gl_tf_mask_len(L), td = (long)GL_TF_T * sp->d;
    long att = (long)sp->n_head * GL_TF_T * GL_TF_T;
    mask_range(keep, E, 0, td, sp->drop_emb, id, seed, step);
    for (int l = 0; l < sp->n_layer; l++) {
        long o = gl_tf_mask_block(L, l);
        mask_range(keep, E, o, o + att, sp->drop_attn, id, seed, step);
        mask_range(keep, E, o + att, o + att + 2 * td, sp->drop_resid, id, seed, step);
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
        set_tensor(t, "transformer.wpe.weight", L->off_pos, GL_TF_T, d, GL_TF_INIT_NORMAL, 17);
        return;
    }
    i -= 2;
    if (i < nb) {
        int l = i / pb, k = i % pb;
        gl_tf_block o = gl_tf_block_at(L, l);
        uint32_t id = 32 + 4 * (uint32_t)l;
        if (!sp->layernorm) k = (int[]){2, 3, 6, 7}[k]; /* skip the LayerNorm entries */
        /* a block's tensors in state_dict order, with their init stream id
         * (0 for the LayerNorm tensors, which draw nothing) */
        const struct {
            const char *part;
            size_t off;
            int rows, cols;
            gl_tf_init init;
            uint32_t id;
        } e[8] = {
            {"ln_1.weight", o.ln1_w, d, 0, GL_TF_INIT_ONE, 0},
            {"ln_1.bias", o.ln1_b, d, 0, GL_TF_INIT_ZERO, 0},
            {"attn.c_attn.weight", o.qkv, 3 * d, d, GL_TF_INIT_LINEAR, id},
            {"attn.c_proj.weight", o.proj, d, d, GL_TF_INIT_LINEAR, id + 1},
            {"ln_2.weight", o.ln2_w, d, 0, GL_TF_INIT_ONE, 0},
            {"ln_2.bias", o.ln2_b, d, 0, GL_TF_INIT_ZERO, 0},
            {"mlp.c_fc.weight", o.fc, F, d, GL_TF_INIT_LINEAR, id + 2},
            {"mlp.c_proj.weight", o.fcproj, d, F, GL_TF_INIT_LINEAR, id + 3},
        };
        snprintf(name, sizeof name, "transformer.h.%d.%s", l, e[k].part);
        set_tensor(t, name, e[k].off, e[k].rows, e[k].cols, e[k].init, e[k].id);
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
