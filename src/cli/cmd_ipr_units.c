/* groklab ipr for the deep MLP and the Transformer: the IPR of every unit of
 * the input (embedding) layer and of the output layer, each over its
 * length-p axis (arch.h, gl_net_ipr_units), for the final and the initial
 * weights, and their correlation with the adjacent norm gains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/analysis.h"
#include "groklab/io.h"

typedef struct units {
    int K, has_init;
    double *ipr[2], *ipr0[2]; /* layer 0 input, 1 output; final and initial */
    double *g[2];             /* |gain| next to each layer, NULL without a norm */
    double mean[2], mean0[2];
} units;

static void units_free(units *u) {
    for (int l = 0; l < 2; l++) {
        free(u->ipr[l]);
        free(u->ipr0[l]);
        free(u->g[l]);
    }
}

static int units_compute(units *u, const gl_model *m, const gl_model *m0, gl_basis basis,
                         const ipr_opts *o, gl_error *err) {
    memset(u, 0, sizeof *u);
    const gl_net *net = &m->net;
    int K = u->K = net->n_units;
    gl_ipr_plan *plan;
    if (gl_ipr_plan_create(&plan, m->cfg.p, K, basis, err) != 0) return -1;
    int rc = 0;
    u->has_init = m0 != NULL;
    for (int l = 0; l < 2 && !rc; l++) {
        u->ipr[l] = malloc(sizeof(double) * (size_t)K);
        u->ipr0[l] = malloc(sizeof(double) * (size_t)K);
        const float *g = gl_net_gains(net, m->params, l);
        if (g) u->g[l] = malloc(sizeof(double) * (size_t)K);
        if (!u->ipr[l] || !u->ipr0[l] || (g && !u->g[l])) {
            rc = gl_fail(err, "out of memory");
            break;
        }
        u->mean[l] = gl_ipr_layer(plan, u->ipr[l], net, m->params, l, o->conv, o->r);
        u->mean0[l] = NAN;
        for (int k = 0; k < K; k++) u->ipr0[l][k] = NAN;
        if (m0) u->mean0[l] = gl_ipr_layer(plan, u->ipr0[l], &m0->net, m0->params, l, o->conv, o->r);
        for (int k = 0; g && k < K; k++) u->g[l][k] = fabs((double)g[k]);
    }
    gl_ipr_plan_free(plan);
    return rc;
}

static void num(cli_buf *b, const char *sep, double v) {
    if (isfinite(v)) cli_buf_printf(b, "%s%.9g", sep, v);
    else cli_buf_printf(b, "%snan", sep);
}

static void json_num(cli_buf *b, const char *key, double v) {
    if (isfinite(v)) cli_buf_printf(b, "  \"%s\": %.9g,\n", key, v);
    else cli_buf_printf(b, "  \"%s\": null,\n", key);
}

/* What each layer's vectors are, for the summary and the figures. */
static const char *layer_text(const gl_net *net, int l) {
    if (net->arch == GL_ARCH_TRANSFORMER)
        return l == 0 ? "column j of the token embedding (p, n_embd): token axis"
                      : net->tf.spec.tie ? "column j of the head (p, n_embd), tied to the token embedding"
                                         : "column j of the head (p, n_embd): output-class axis";
    return l == 0 ? "row k of U and of V (N, p), averaged: residue axis"
                  : "column k of the output layer W (p, N): output-class axis";
}

static int write_units(const char *dir, const gl_model *m, const units *u, gl_basis basis,
                       const ipr_opts *o, double th, int low, gl_error *err) {
    cli_buf b = {0};
    cli_buf_printf(&b, "unit,ipr_in,ipr_out,ipr_in_init,ipr_out_init,gain_in,gain_out\n");
    for (int k = 0; k < u->K; k++) {
        cli_buf_printf(&b, "%d", k);
        num(&b, ",", u->ipr[0][k]);
        num(&b, ",", u->ipr[1][k]);
        num(&b, ",", u->ipr0[0][k]);
        num(&b, ",", u->ipr0[1][k]);
        num(&b, ",", u->g[0] ? u->g[0][k] : NAN);
        num(&b, ",", u->g[1] ? u->g[1][k] : NAN);
        cli_buf_printf(&b, "\n");
    }
    if (cli_buf_save(&b, dir, "ipr.csv", err) != 0) {
        cli_buf_free(&b);
        return -1;
    }
    cli_buf_free(&b);
    const gl_net *net = &m->net;
    cli_buf_printf(&b, "{\n  \"model\": \"%s\",\n  \"convention\": \"%s\",\n  \"basis\": \"%s\",\n",
                   gl_arch_name(net->arch), o->conv == GL_IPR_RFFT ? "rfft" : "full",
                   gl_basis_name(basis));
    cli_buf_printf(&b, "  \"input_layer\": \"%s\",\n  \"output_layer\": \"%s\",\n", layer_text(net, 0),
                   layer_text(net, 1));
    cli_buf_printf(&b, "  \"r\": %.17g,\n  \"units\": %d,\n", o->r, u->K);
    json_num(&b, "mean_ipr", u->mean[0]);
    json_num(&b, "mean_ipr_out", u->mean[1]);
    json_num(&b, "mean_ipr_init", u->mean0[0]);
    json_num(&b, "mean_ipr_out_init", u->mean0[1]);
    cli_buf_printf(&b, "  \"threshold\": %.9g,\n  \"threshold_method\": \"%s\",\n  \"n_low\": %d,\n  \"n_high\": %d,\n",
                   th, o->split >= 0 ? "--split" : "otsu", low, u->K - low);
    for (int l = 0; l < 2; l++) {
        double pr = u->g[l] ? gl_pearson(u->ipr[l], u->g[l], u->K) : NAN;
        double sp = u->g[l] ? gl_spearman(u->ipr[l], u->g[l], u->K) : NAN;
        json_num(&b, l ? "ipr_out_gain_pearson" : "ipr_in_gain_pearson", pr);
        json_num(&b, l ? "ipr_out_gain_spearman" : "ipr_in_gain_spearman", sp);
    }
    cli_buf_printf(&b, "  \"step\": %ld\n}\n", m->step);
    int rc = cli_buf_save(&b, dir, "ipr_summary.json", err);
    cli_buf_free(&b);
    return rc;
}

static int plot_units(const char *dir, const gl_model *m, const units *u, double th, gl_error *err) {
    static const char *const name[2] = {"ipr_hist", "ipr_hist_out"};
    static const char *const what[2] = {"input layer", "output layer"};
    int rc = 0;
    for (int l = 0; l < 2 && !rc; l++) {
        cli_buf s = {0};
        cli_buf_printf(&s, "# ipr.csv columns: 2 ipr_in, 3 ipr_out, 4 ipr_in_init, 5 ipr_out_init\n");
        cli_buf_printf(&s, "bw = 0.02\nbin(x) = bw * floor(x / bw) + bw / 2\n");
        cli_buf_printf(&s, "set xrange [0:1]\nset xlabel 'IPR (%s)'\nset ylabel 'units'\n",
                       layer_text(&m->net, l));
        cli_buf_printf(&s, "set style fill transparent solid 0.55 noborder\nset grid\nset key top center\n");
        if (l == 0)
            cli_buf_printf(&s, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 3 lc rgb '#555555'\n", th, th);
        cli_buf_printf(&s, "set title '%s %s: IPR of %d units, mean %.3f (step %ld)'\n",
                       gl_arch_name(m->net.arch), what[l], u->K, u->mean[l], m->step);
        cli_buf_printf(&s, "plot 'ipr.csv' skip 1 using (bin($%d)):(1.0) smooth frequency with boxes lc rgb '#1f77b4' title 'after training'",
                       2 + l);
        if (u->has_init)
            cli_buf_printf(&s, ", \\\n     '' skip 1 using (bin($%d)):(1.0) smooth frequency with boxes lc rgb '#999999' title 'initialization'",
                           4 + l);
        cli_buf_printf(&s, "\n");
        rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, name[l], 640, 420, s.data, err);
        cli_buf_free(&s);
    }
    if (rc || !u->g[0]) return rc;
    cli_buf s = {0};
    cli_buf_printf(&s, "set multiplot layout 1,2\nset grid\nset key off\nset ylabel 'IPR'\n");
    for (int l = 0; l < 2; l++) {
        cli_buf_printf(&s, "set xlabel '|gain| next to the %s'\n", what[l]);
        cli_buf_printf(&s, "set title '%s (Pearson %.3f, Spearman %.3f)'\n", what[l],
                       gl_pearson(u->ipr[l], u->g[l], u->K), gl_spearman(u->ipr[l], u->g[l], u->K));
        cli_buf_printf(&s, "plot 'ipr.csv' skip 1 using %d:%d with points pt 7 ps 0.5 lc rgb '#1f77b4'\n",
                       6 + l, 2 + l);
    }
    cli_buf_printf(&s, "unset multiplot\n");
    rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, "ipr_gain", 900, 420, s.data, err);
    cli_buf_free(&s);
    return rc;
}

int cli_ipr_units(const char *dir, const gl_config *c, const ipr_opts *o) {
    gl_error err;
    gl_model m, m0;
    memset(&m0, 0, sizeof m0);
    if (!cli_file_exists(dir, "model.safetensors")) {
        cli_error("%s has no weights (model.safetensors is missing: did the run finish? groklab train --resume %s)", dir, dir);
        return EXIT_USAGE;
    }
    if (gl_run_load_model(dir, "model", c, &m, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    int has_init = cli_file_exists(dir, "init.safetensors");
    if (has_init && gl_run_load_model(dir, "init", c, &m0, &err) != 0) {
        cli_error("%s", err.msg);
        gl_model_free(&m);
        return EXIT_USAGE;
    }
    gl_basis basis = o->basis == GL_BASIS_AUTO ? gl_config_basis(c) : o->basis;
    units u;
    int rc = EXIT_OK;
    if (units_compute(&u, &m, has_init ? &m0 : NULL, basis, o, &err) != 0) {
        rc = EXIT_USAGE;
    } else {
        double th = o->split >= 0 ? o->split : gl_otsu_threshold(u.ipr[0], u.K, 0, 1);
        int low = 0;
        for (int k = 0; k < u.K; k++) low += u.ipr[0][k] < th;
        if (write_units(dir, &m, &u, basis, o, th, low, &err) != 0 ||
            (o->plot && plot_units(dir, &m, &u, th, &err) != 0))
            rc = EXIT_FAIL;
        if (rc == EXIT_OK && !o->quiet) {
            printf("IPR of the %s (%s, %s basis, r = %g):\n", gl_arch_name(c->arch),
                   o->conv == GL_IPR_RFFT ? "rfft" : "full", gl_basis_name(basis), o->r);
            for (int l = 0; l < 2; l++) {
                printf("  %s layer, %d units (%s): mean %.4f", l ? "output" : "input", u.K,
                       layer_text(&m.net, l), u.mean[l]);
                if (has_init) printf(" (at initialization %.4f)", u.mean0[l]);
                if (u.g[l])
                    printf("; vs |gain|: Pearson %.3f, Spearman %.3f", gl_pearson(u.ipr[l], u.g[l], u.K),
                           gl_spearman(u.ipr[l], u.g[l], u.K));
                printf("\n");
            }
            printf("  input layer: low mode (IPR < %.3f, %s): %d units; high mode: %d units\n", th,
                   o->split >= 0 ? "--split" : "Otsu threshold", low, u.K - low);
            printf("  wrote %s/ipr.csv, ipr_summary.json%s\n", dir,
                   o->plot ? ", ipr_hist.png, ipr_hist_out.png" : "");
        }
    }
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    units_free(&u);
    gl_model_free(&m);
    gl_model_free(&m0);
    return rc;
}
