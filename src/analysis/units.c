/* groklab: the IPR of any family's input and output layers (groklab/
 * analysis.h): every unit of each, for the final and the initial weights,
 * their correlation with the adjacent norm gains, and the tables `groklab
 * ipr` writes for the deep MLP and the Transformer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/analysis.h"
#include "groklab/text.h"

void gl_units_free(gl_units *u) {
    for (int l = 0; l < 2; l++) {
        free(u->ipr[l]);
        free(u->ipr0[l]);
        free(u->g[l]);
    }
    memset(u, 0, sizeof *u);
}

int gl_units_compute(gl_units *u, const gl_model *m, const gl_model *m0, gl_basis basis, const gl_ipr_opts *o,
                     gl_error *err) {
    memset(u, 0, sizeof *u);
    const gl_net *net = &m->net;
    int K = u->K = net->n_units;
    gl_ipr_plan *plan;
    int rc = gl_ipr_plan_create(&plan, m->cfg.p, K, basis, err);
    if (rc != 0) return rc;
    u->has_init = m0 != NULL;
    u->basis = basis;
    for (int l = 0; l < 2 && !rc; l++) {
        u->ipr[l] = malloc(sizeof(double) * (size_t)K);
        u->ipr0[l] = malloc(sizeof(double) * (size_t)K);
        const float *g = gl_net_gains(net, m->params, l);
        if (g) u->g[l] = malloc(sizeof(double) * (size_t)K);
        if (!u->ipr[l] || !u->ipr0[l] || (g && !u->g[l])) {
            rc = gl_fail_nomem(err, "for the IPR of the units");
            break;
        }
        u->mean[l] = gl_ipr_layer(plan, u->ipr[l], net, m->params, l, o->conv, o->r);
        u->mean0[l] = NAN;
        for (int k = 0; k < K; k++) u->ipr0[l][k] = NAN;
        if (m0) u->mean0[l] = gl_ipr_layer(plan, u->ipr0[l], &m0->net, m0->params, l, o->conv, o->r);
        for (int k = 0; g && k < K; k++) u->g[l][k] = fabs((double)g[k]);
        u->pearson[l] = u->g[l] ? gl_pearson(u->ipr[l], u->g[l], K) : NAN;
        u->spearman[l] = u->g[l] ? gl_spearman(u->ipr[l], u->g[l], K) : NAN;
    }
    gl_ipr_plan_free(plan);
    if (rc == 0) {
        u->threshold = o->split >= 0 ? o->split : gl_otsu_threshold(u->ipr[0], K, 0, 1);
        for (int k = 0; k < K; k++) u->n_low += u->ipr[0][k] < u->threshold;
    } else {
        gl_units_free(u);
    }
    return rc;
}

const char *gl_units_layer_text(const gl_net *net, int l) {
    if (net->arch == GL_ARCH_TRANSFORMER)
        return l == 0 ? "column j of the token embedding (p, n_embd): token axis"
                      : net->tf.spec.tie ? "column j of the head (p, n_embd), tied to the token embedding"
                                         : "column j of the head (p, n_embd): output-class axis";
    return l == 0 ? "row k of U and of V (N, p), averaged: residue axis"
                  : "column k of the output layer W (p, N): output-class axis";
}

static void json_num(gl_text *b, const char *key, double v) {
    if (isfinite(v)) gl_text_printf(b, "  \"%s\": %.9g,\n", key, v);
    else gl_text_printf(b, "  \"%s\": null,\n", key);
}

int gl_units_write(const char *dir, const gl_model *m, const gl_units *u, const gl_ipr_opts *o, gl_error *err) {
    gl_text b = {0};
    gl_text_printf(&b, "unit,ipr_in,ipr_out,ipr_in_init,ipr_out_init,gain_in,gain_out\n");
    for (int k = 0; k < u->K; k++) {
        gl_text_printf(&b, "%d", k);
        gl_text_csv(&b, u->ipr[0][k]);
        gl_text_csv(&b, u->ipr[1][k]);
        gl_text_csv(&b, u->ipr0[0][k]);
        gl_text_csv(&b, u->ipr0[1][k]);
        gl_text_csv(&b, u->g[0] ? u->g[0][k] : NAN);
        gl_text_csv(&b, u->g[1] ? u->g[1][k] : NAN);
        gl_text_printf(&b, "\n");
    }
    int rc = gl_text_save(&b, dir, "ipr.csv", err);
    gl_text_free(&b);
    if (rc != 0) return rc;
    const gl_net *net = &m->net;
    gl_text_printf(&b, "{\n  \"model\": \"%s\",\n  \"convention\": \"%s\",\n  \"basis\": \"%s\",\n",
                   gl_arch_name(net->arch), gl_ipr_conv_name(o->conv), gl_basis_name(u->basis));
    gl_text_printf(&b, "  \"input_layer\": \"%s\",\n  \"output_layer\": \"%s\",\n", gl_units_layer_text(net, 0),
                   gl_units_layer_text(net, 1));
    gl_text_printf(&b, "  \"r\": %.17g,\n  \"units\": %d,\n", o->r, u->K);
    json_num(&b, "mean_ipr", u->mean[0]);
    json_num(&b, "mean_ipr_out", u->mean[1]);
    json_num(&b, "mean_ipr_init", u->mean0[0]);
    json_num(&b, "mean_ipr_out_init", u->mean0[1]);
    gl_text_printf(&b, "  \"threshold\": %.9g,\n  \"threshold_method\": \"%s\",\n  \"n_low\": %d,\n  \"n_high\": %d,\n",
                   u->threshold, o->split >= 0 ? "--split" : "otsu", u->n_low, u->K - u->n_low);
    for (int l = 0; l < 2; l++) {
        json_num(&b, l ? "ipr_out_gain_pearson" : "ipr_in_gain_pearson", u->pearson[l]);
        json_num(&b, l ? "ipr_out_gain_spearman" : "ipr_in_gain_spearman", u->spearman[l]);
    }
    gl_text_printf(&b, "  \"step\": %ld\n}\n", m->step);
    rc = gl_text_save(&b, dir, "ipr_summary.json", err);
    gl_text_free(&b);
    return rc;
}
