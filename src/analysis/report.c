/* groklab: a two-layer MLP run taken apart into the tables `groklab ipr`
 * and `groklab spectrum` write into its directory (groklab/analysis.h):
 * ipr.csv and ipr_summary.json; spectrum.csv, neuron_K.csv and
 * neuron_K_spectrum.csv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/analysis.h"
#include "groklab/text.h"

static const char *const conv_words[] = {"rfft", "full"};

const char *gl_ipr_conv_name(gl_ipr_conv c) { return c == GL_IPR_FULL ? conv_words[1] : conv_words[0]; }

void gl_ipr_opts_default(gl_ipr_opts *o) {
    o->conv = GL_IPR_RFFT;
    o->basis = GL_BASIS_AUTO;
    o->r = 2.0;
    o->split = -1;
}

void gl_run_view_free(gl_run_view *v) {
    gl_model_free(&v->model);
    gl_model_free(&v->init);
    gl_neurons_free(&v->nr);
    gl_neurons_free(&v->nr0);
}

int gl_run_view_load(gl_run_view *v, const char *dir, const gl_ipr_opts *o, gl_error *err) {
    memset(v, 0, sizeof *v);
    int rc = gl_run_open(dir, &v->c, err);
    if (rc != 0) return rc;
    if (v->c.arch != GL_ARCH_MLP)
        return gl_fail(err, "%s is a %s run: per-neuron spectra, pruning and the figures of `groklab plot` are built for --model mlp (groklab ipr works for every model)",
                       dir, gl_arch_name(v->c.arch));
    if ((rc = gl_run_load_weights(dir, &v->c, &v->model, &v->init, &v->has_init, err)) != 0) return rc;
    gl_basis basis = o->basis == GL_BASIS_AUTO ? gl_config_basis(&v->c) : o->basis;
    if ((rc = gl_neurons_compute(&v->nr, &v->c, &v->model.L, v->model.params, basis, o->conv, o->r, err)) != 0)
        return rc;
    if (v->has_init &&
        (rc = gl_neurons_compute(&v->nr0, &v->c, &v->init.L, v->init.params, basis, o->conv, o->r, err)) != 0)
        return rc;
    return 0;
}

int gl_ipr_write(const char *dir, const gl_run_view *v, const gl_ipr_opts *o, gl_ipr_report *rep, gl_error *err) {
    const gl_neurons *nr = &v->nr;
    int N = nr->N;
    memset(rep, 0, sizeof *rep);
    double th = o->split >= 0 ? o->split : gl_otsu_threshold(nr->ipr, N, 0, 1);
    int low = 0;
    for (int k = 0; k < N; k++) low += nr->ipr[k] < th;
    rep->threshold = th;
    rep->n_low = low;
    rep->pearson = rep->spearman = NAN;
    gl_text b = {0};
    gl_text_printf(&b, "neuron,ipr,ipr_u,ipr_v,ipr_w,freq,freq_u,share_u,freq_v,share_v,freq_w,share_w,"
                       "norm_u,norm_v,norm_w,gain,ipr_init\n");
    for (int k = 0; k < N; k++) {
        gl_text_printf(&b, "%d", k);
        gl_text_csv(&b, nr->ipr[k]);
        for (int q = 0; q < GL_NVEC; q++) gl_text_csv(&b, nr->vec_ipr[q][k]);
        gl_text_printf(&b, ",%d", gl_neurons_frequency(nr, k));
        for (int q = 0; q < GL_NVEC; q++) {
            gl_text_printf(&b, ",%d", nr->dominant[q][k]);
            gl_text_csv(&b, nr->share[q][k]);
        }
        for (int q = 0; q < GL_NVEC; q++) gl_text_csv(&b, nr->norm[q][k]);
        gl_text_csv(&b, nr->gain ? nr->gain[k] : NAN);
        gl_text_csv(&b, v->has_init ? v->nr0.ipr[k] : NAN);
        gl_text_printf(&b, "\n");
    }
    int rc = gl_text_save(&b, dir, "ipr.csv", err);
    gl_text_free(&b);
    if (rc != 0) return rc;
    if (nr->gain) {
        rep->pearson = gl_pearson(nr->ipr, nr->gain, N);
        rep->spearman = gl_spearman(nr->ipr, nr->gain, N);
    }
    gl_text_printf(&b, "{\n  \"convention\": \"%s\",\n  \"basis\": \"%s\",\n", gl_ipr_conv_name(nr->conv),
                   gl_basis_name(nr->basis));
    if (nr->basis == GL_BASIS_DLOG) gl_text_printf(&b, "  \"primitive_root\": %d,\n", gl_primitive_root(v->c.p));
    gl_text_printf(&b, "  \"transform_length\": %d,\n  \"r\": %.17g,\n  \"neurons\": %d,\n", nr->n, nr->r, N);
    gl_text_printf(&b, "  \"mean_ipr\": %.9g,\n", nr->mean_ipr);
    if (v->has_init) gl_text_printf(&b, "  \"mean_ipr_init\": %.9g,\n", v->nr0.mean_ipr);
    else gl_text_printf(&b, "  \"mean_ipr_init\": null,\n");
    gl_text_printf(&b, "  \"threshold\": %.9g,\n  \"threshold_method\": \"%s\",\n  \"n_low\": %d,\n  \"n_high\": %d,\n",
                   th, o->split >= 0 ? "--split" : "otsu", low, N - low);
    if (nr->gain)
        gl_text_printf(&b, "  \"ipr_gain_pearson\": %.9g,\n  \"ipr_gain_spearman\": %.9g,\n", rep->pearson, rep->spearman);
    gl_text_printf(&b, "  \"step\": %ld\n}\n", v->model.step);
    rc = gl_text_save(&b, dir, "ipr_summary.json", err);
    gl_text_free(&b);
    return rc;
}

int gl_best_neuron(const gl_neurons *nr) {
    int k = 0;
    for (int j = 1; j < nr->N; j++)
        if (nr->ipr[j] > nr->ipr[k]) k = j;
    return k;
}

typedef struct {
    int freq, k;
    double ipr;
} sort_item;
static int sort_cmp(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    if (x->freq != y->freq) return x->freq - y->freq;
    if (x->ipr != y->ipr) return x->ipr < y->ipr ? 1 : -1;
    return x->k - y->k;
}

/* One neuron's weights along the basis order, at init and now. */
static double weight_at(const gl_model *m, int vec, int residue, int k) {
    const gl_layout *L = &m->L;
    size_t off = vec == GL_VEC_U ? L->off_u : vec == GL_VEC_V ? L->off_v : L->off_w;
    return m->params[off + (size_t)residue * L->N + k];
}

int gl_spectrum_write(const char *dir, const gl_run_view *v, int neuron, gl_error *err) {
    const gl_neurons *nr = &v->nr;
    int N = nr->N, nb = nr->bins, rc;
    if (neuron < 0 || neuron >= N)
        return gl_fail(err, "--neuron: %d is out of range (allowed: 0 to %d, the width of the run)", neuron, N - 1);
    sort_item *it = malloc(sizeof *it * (size_t)N);
    if (!it) return gl_fail_nomem(err, "for the spectra");
    for (int k = 0; k < N; k++) it[k] = (sort_item){gl_neurons_frequency(nr, k), k, nr->ipr[k]};
    qsort(it, (size_t)N, sizeof *it, sort_cmp);
    /* spectrum.csv: every neuron's power per frequency, rank = row of the heat map */
    gl_text b = {0};
    gl_text_printf(&b, "neuron,rank,freq,power_u,power_v,power_w,amp_u,amp_v,amp_w\n");
    for (int r = 0; r < N; r++) {
        int k = it[r].k;
        double mx[GL_NVEC] = {0};
        for (int q = 0; q < GL_NVEC; q++)
            for (int j = 0; j < nb; j++) mx[q] = fmax(mx[q], nr->power[q][(size_t)k * nb + j]);
        for (int j = 0; j < nb; j++) {
            gl_text_printf(&b, "%d,%d,%d", k, r, j);
            for (int q = 0; q < GL_NVEC; q++) gl_text_csv(&b, nr->power[q][(size_t)k * nb + j]);
            for (int q = 0; q < GL_NVEC; q++)
                gl_text_csv(&b, mx[q] > 0 ? sqrt(nr->power[q][(size_t)k * nb + j] / mx[q]) : 0.0);
            gl_text_printf(&b, "\n");
        }
    }
    free(it);
    rc = gl_text_save(&b, dir, "spectrum.csv", err);
    gl_text_free(&b);
    if (rc) return rc;
    /* the chosen neuron: weights in basis order, before and after, and its spectrum */
    gl_ipr_plan *P;
    if ((rc = gl_ipr_plan_create(&P, v->c.p, 1, nr->basis, err)) != 0) return rc;
    int n = gl_ipr_plan_length(P);
    gl_text_printf(&b, "position,residue,u_init,u,v_init,v,w_init,w\n");
    for (int j = 0; j < n; j++) {
        int res = gl_ipr_plan_index(P, j);
        gl_text_printf(&b, "%d,%d", j, res);
        for (int q = 0; q < GL_NVEC; q++) {
            gl_text_csv(&b, v->has_init ? weight_at(&v->init, q, res, neuron) : NAN);
            gl_text_csv(&b, weight_at(&v->model, q, res, neuron));
        }
        gl_text_printf(&b, "\n");
    }
    gl_ipr_plan_free(P);
    char name[64];
    snprintf(name, sizeof name, "neuron_%d.csv", neuron);
    rc = gl_text_save(&b, dir, name, err);
    gl_text_free(&b);
    if (rc) return rc;
    gl_text_printf(&b, "freq,power_u_init,power_u,power_v_init,power_v,power_w_init,power_w\n");
    for (int j = 0; j < nb; j++) {
        gl_text_printf(&b, "%d", j);
        for (int q = 0; q < GL_NVEC; q++) {
            gl_text_csv(&b, v->has_init ? v->nr0.power[q][(size_t)neuron * nb + j] : NAN);
            gl_text_csv(&b, nr->power[q][(size_t)neuron * nb + j]);
        }
        gl_text_printf(&b, "\n");
    }
    snprintf(name, sizeof name, "neuron_%d_spectrum.csv", neuron);
    rc = gl_text_save(&b, dir, name, err);
    gl_text_free(&b);
    return rc;
}
