/* groklab: a run's dynamics taken apart (groklab dynamics): at every
 * snapshot (or at the final weights of a run without snapshots, or at one
 * snapshot for RUN@STEP) the progress measures, the key frequencies' power,
 * every neuron's IPR and the neurons' Fourier power; the examples' story
 * in numbers; and for the two-layer MLP, at the last of those weights, the
 * neurons that carry each training example's given label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/analysis.h"
#include "groklab/text.h"

enum { CHUNK = 2048, TOP = 5 };

void gl_dynamics_opts_default(gl_dynamics_opts *o) { o->key_threshold = 0.1; }

/* The evaluation logits of a model read back from its directory. */
typedef struct model_logits {
    gl_net_pass *ps;
    const gl_model *m;
} model_logits;

static int logits_of_model(void *ctx, const int32_t *mm, const int32_t *nn, int B, float *out, gl_error *err) {
    (void)err;
    model_logits *ml = ctx;
    memcpy(out, gl_net_pass_logits(ml->ps, ml->m->params, ml->m->run_mean, ml->m->run_var, mm, nn, B),
           (size_t)B * (size_t)ml->m->cfg.p * sizeof(float));
    return 0;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The units whose IPR and power are tracked: the two-layer MLP's U, V
 * and W; the input layer's groups otherwise. Their offsets into the
 * parameters, the stride of their length-p vectors; returns how many. */
static int unit_groups(const gl_net *net, size_t off[3], int *stride) {
    if (net->arch == GL_ARCH_MLP) {
        const gl_layout *L = &net->mlp;
        *stride = L->N;
        off[0] = L->off_u, off[1] = L->off_v, off[2] = L->off_w;
        return 3;
    }
    int groups;
    *stride = gl_net_ipr_units(net, 0, off, &groups);
    return groups;
}

typedef struct dyn_work {
    gl_ipr_plan *ipr;
    double *unit_ipr, *power, *share; /* (K), (K, bins), (bins) */
    gl_text prog, keyp, nipr, npow;
} dyn_work;

/* One set of weights at step s: a row of every table. */
static int analyze_weights(dyn_work *w, gl_progress_plan *pp, const gl_model *m, long s, long index,
                           gl_progress *pm, gl_error *err) {
    gl_net_pass *ps;
    if (gl_net_pass_new(&ps, &m->net, &m->cfg, 1, CHUNK, err) != 0) return -1;
    model_logits ml = {ps, m};
    int rc = gl_progress_compute(pp, logits_of_model, &ml, pm, err);
    gl_net_pass_free(ps);
    if (rc != 0) return rc;
    pm->step = s;
    int nk, nb;
    const int *keys = gl_progress_plan_keys(pp, &nk);
    gl_progress_row_text(&w->prog, pm, keys);
    const double *kp = gl_progress_plan_power(pp, &nb);
    for (int k = 0; k < nb; k++) {
        gl_text_printf(&w->keyp, "%ld,%ld,%d", index, s, k);
        gl_text_csv(&w->keyp, kp[k]);
        gl_text_printf(&w->keyp, "\n");
    }
    /* every unit's IPR, sorted, and the units' power per frequency */
    const gl_net *net = &m->net;
    int K = net->n_units, bins = gl_ipr_plan_bins(w->ipr), stride;
    gl_ipr_net(w->ipr, w->unit_ipr, net, m->params, m->cfg.ipr);
    qsort(w->unit_ipr, (size_t)K, sizeof(double), cmp_desc);
    for (int k = 0; k < K; k++) {
        gl_text_printf(&w->nipr, "%ld,%ld,%d", index, s, k);
        gl_text_csv(&w->nipr, w->unit_ipr[k]);
        gl_text_printf(&w->nipr, "\n");
    }
    size_t off[3];
    int groups = unit_groups(net, off, &stride);
    double total = 0;
    memset(w->share, 0, sizeof(double) * (size_t)bins);
    for (int g = 0; g < groups; g++) {
        gl_ipr_power(w->ipr, w->power, m->params + off[g], stride, 1);
        for (int k = 0; k < K; k++)
            for (int j = 0; j < bins; j++) w->share[j] += w->power[(size_t)k * bins + j];
    }
    for (int j = 0; j < bins; j++) total += w->share[j];
    for (int j = 0; j < bins; j++) {
        gl_text_printf(&w->npow, "%ld,%ld,%d", index, s, j);
        gl_text_csv(&w->npow, total > 0 ? w->share[j] / total : NAN);
        gl_text_printf(&w->npow, "\n");
    }
    return w->prog.failed || w->keyp.failed || w->nipr.failed || w->npow.failed
               ? gl_fail_nomem(err, "for the dynamics tables")
               : 0;
}

/* examples.csv's first_given and unlearned of the corrupted examples. */
static int read_story(const char *dir, long n_corrupt, int64_t *first, int64_t *unl, gl_error *err) {
    char path[4200], *s;
    snprintf(path, sizeof path, "%s/examples.csv", dir);
    if (gl_read_file(path, &s, NULL, err) != 0) return -1;
    char *line = strchr(s, '\n');
    long k = 0;
    while (line && line[1] && k < n_corrupt) {
        long long idx, fg, lg, un;
        int mm, nn, y, t, cor;
        if (sscanf(line + 1, "%lld,%d,%d,%d,%d,%d,%lld,%lld,%lld", &idx, &mm, &nn, &y, &t, &cor, &fg, &lg, &un) != 9 ||
            idx != k || cor != 1) {
            free(s);
            return gl_failc(err, GL_E_CORRUPT, "%s: row %ld is not corrupted example %ld (index,m,n,label,"
                                               "true_label,corrupted,first_given,last_given,unlearned)", path, k + 1, k);
        }
        first[k] = fg, unl[k] = un;
        k++;
        line = strchr(line + 1, '\n');
    }
    free(s);
    return k == n_corrupt ? 0 : gl_failc(err, GL_E_CORRUPT, "%s: %ld corrupted examples, config.json implies %ld", path, k,
                                         n_corrupt);
}

/* A neuron's term in an output. */
typedef struct term {
    double v;
    int k;
} term;

/* larger terms first, ties by neuron */
static int cmp_term(const void *a, const void *b) {
    const term *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return (x->k > y->k) - (x->k < y->k);
}

/* carriers.csv: for every training example, the neurons with the largest
 * terms in its given label's output, their IPR, and the term-weighted mean
 * IPR of the neurons whose terms are positive. */
static int write_carriers(const char *out, const gl_model *m, const gl_dataset *d, gl_dynamics_report *rep,
                          gl_error *err) {
    const gl_config *c = &m->cfg;
    int N = m->L.N, p = c->p;
    gl_prune *pr = NULL;
    gl_ipr_plan *plan = NULL;
    gl_net_pass *ps = NULL;
    double *ipr = malloc(sizeof(double) * (size_t)N), *con = malloc(sizeof(double) * (size_t)N);
    term *idx = malloc(sizeof(term) * (size_t)N);
    int32_t *ans = malloc(sizeof(int32_t) * ((size_t)d->n_train + 1));
    int rc = ipr && con && idx && ans ? 0 : gl_fail_nomem(err, "for the carriers");
    if (rc == 0) rc = gl_ipr_plan_create(&plan, p, N, gl_config_basis(c), err);
    if (rc == 0) rc = gl_prune_create(&pr, c, &m->L, m->params, m->run_mean, m->run_var, d, 0, err);
    if (rc == 0) rc = gl_net_pass_new(&ps, &m->net, c, 1, CHUNK, err);
    if (rc == 0) rep->mean_ipr = gl_ipr_neurons(plan, ipr, &m->L, m->params, c->ipr);
    for (long s = 0; rc == 0 && s < d->n_train; s += CHUNK) {
        int B = (int)(d->n_train - s < CHUNK ? d->n_train - s : CHUNK);
        const float *o = gl_net_pass_logits(ps, m->params, m->run_mean, m->run_var, d->train_m + s, d->train_n + s, B);
        for (int b = 0; b < B; b++) {
            int best = 0;
            for (int j = 1; j < p; j++)
                if (o[(size_t)b * p + j] > o[(size_t)b * p + best]) best = j;
            ans[s + b] = best;
        }
    }
    gl_text b = {0};
    gl_text_printf(&b, "index,m,n,corrupted,label,true_label,answer,given_output,carrier_ipr");
    for (int t = 0; t < TOP; t++) gl_text_printf(&b, ",neuron%d,term%d,ipr%d", t + 1, t + 1, t + 1);
    gl_text_printf(&b, "\n");
    double sum_mem = 0, sum_clean = 0;
    long n_mem = 0, n_clean = 0;
    for (int32_t i = 0; rc == 0 && i < d->n_train; i++) {
        gl_prune_contrib(pr, i, d->train_y[i], con);
        double pos = 0, wipr = 0, total = 0;
        for (int k = 0; k < N; k++) {
            idx[k] = (term){con[k], k};
            total += con[k];
            if (con[k] > 0) pos += con[k], wipr += con[k] * ipr[k];
        }
        qsort(idx, (size_t)N, sizeof(term), cmp_term);
        double cipr = pos > 0 ? wipr / pos : NAN;
        int corrupted = i < d->n_corrupt, memorized = ans[i] == d->train_y[i];
        if (memorized && isfinite(cipr)) {
            if (corrupted) sum_mem += cipr, n_mem++;
            else sum_clean += cipr, n_clean++;
        }
        gl_text_printf(&b, "%d,%d,%d,%d,%d,%d,%d", i, d->train_m[i], d->train_n[i], corrupted, d->train_y[i],
                       d->train_true[i], ans[i]);
        gl_text_csv(&b, total);
        gl_text_csv(&b, cipr);
        for (int t = 0; t < TOP && t < N; t++) {
            gl_text_printf(&b, ",%d", idx[t].k);
            gl_text_csv(&b, idx[t].v);
            gl_text_csv(&b, ipr[idx[t].k]);
        }
        gl_text_printf(&b, "\n");
    }
    rep->carrier_ipr_memorized = n_mem ? sum_mem / n_mem : NAN;
    rep->carrier_ipr_clean = n_clean ? sum_clean / n_clean : NAN;
    rep->n_memorized_now = n_mem;
    if (rc == 0) rc = gl_text_save(&b, out, "carriers.csv", err);
    gl_text_free(&b);
    gl_net_pass_free(ps);
    gl_prune_free(pr);
    gl_ipr_plan_free(plan);
    free(ipr);
    free(con);
    free(idx);
    free(ans);
    return rc;
}

static int copy_file(const char *from, const char *to, gl_error *err) {
    char *s;
    size_t len;
    if (gl_read_file(from, &s, &len, err) != 0) return -1;
    int rc = gl_write_atomic(to, s, len, err);
    free(s);
    return rc;
}

static int save_tables(const char *out, dyn_work *w, const char *prog_name, gl_error *err) {
    int rc = gl_text_save(&w->prog, out, prog_name, err);
    if (rc == 0) rc = gl_text_save(&w->keyp, out, "key_power.csv", err);
    if (rc == 0) rc = gl_text_save(&w->nipr, out, "neuron_ipr.csv", err);
    if (rc == 0) rc = gl_text_save(&w->npow, out, "neuron_power.csv", err);
    return rc;
}

static void free_work(dyn_work *w) {
    gl_ipr_plan_free(w->ipr);
    free(w->unit_ipr);
    free(w->power);
    free(w->share);
    gl_text_free(&w->prog);
    gl_text_free(&w->keyp);
    gl_text_free(&w->nipr);
    gl_text_free(&w->npow);
}

static int summary_json(const char *out, const gl_dynamics_report *r, const int *keys, gl_error *err) {
    gl_text b = {0};
    gl_text_printf(&b, "{\n  \"step\": %ld,\n  \"snapshots\": %ld,\n  \"key_frequencies\": [", r->step, r->snapshots);
    for (int i = 0; i < r->last.n_key; i++) gl_text_printf(&b, "%s%d", i ? ", " : "", keys[i]);
    gl_text_printf(&b, "],\n  \"key_share\": %.9g,\n", isfinite(r->last.key_share) ? r->last.key_share : 0.0);
    static const char *const ln[GL_PM_NLOGITS] = {"full", "restricted", "excluded"};
    static const char *const sn[GL_PM_NSETS] = {"clean", "corrupted", "corrupted_true", "test"};
    gl_text_printf(&b, "  \"accuracy\": {");
    for (int l = 0; l < GL_PM_NLOGITS; l++) {
        gl_text_printf(&b, "%s\n    \"%s\": {", l ? "," : "", ln[l]);
        for (int s = 0; s < GL_PM_NSETS; s++) {
            double v = r->last.acc[l][s];
            if (isfinite(v)) gl_text_printf(&b, "%s\"%s\": %.9g", s ? ", " : "", sn[s], v);
            else gl_text_printf(&b, "%s\"%s\": null", s ? ", " : "", sn[s]);
        }
        gl_text_printf(&b, "}");
    }
    gl_text_printf(&b, "\n  },\n");
#define NUM(k, v) (isfinite(v) ? gl_text_printf(&b, "  \"%s\": %.9g,\n", k, v) : gl_text_printf(&b, "  \"%s\": null,\n", k))
    gl_text_printf(&b, "  \"memorized\": %ld,\n  \"unlearned\": %ld,\n", r->story.n_memorized, r->story.n_unlearned);
    NUM("memorization_median", r->story.mem_median);
    NUM("memorization_iqr", r->story.mem_iqr);
    NUM("unlearning_median", r->story.unl_median);
    NUM("unlearning_iqr", r->story.unl_iqr);
    NUM("carrier_ipr_memorized", r->carrier_ipr_memorized);
    NUM("carrier_ipr_clean", r->carrier_ipr_clean);
    NUM("mean_ipr", r->mean_ipr);
#undef NUM
    gl_text_printf(&b, "  \"logged_progress\": %s\n}\n", r->logged_progress ? "true" : "false");
    int rc = gl_text_save(&b, out, "dynamics_summary.json", err);
    gl_text_free(&b);
    return rc;
}

int gl_dynamics_run(const char *ref, const char *out, const gl_dynamics_opts *o, gl_dynamics_report *rep,
                    gl_error *err) {
    memset(rep, 0, sizeof *rep);
    rep->carrier_ipr_memorized = rep->carrier_ipr_clean = rep->mean_ipr = NAN;
    rep->story.mem_median = rep->story.mem_iqr = rep->story.unl_median = rep->story.unl_iqr = NAN;
    gl_config c;
    char dir[4096], which[64];
    long at;
    int rc = gl_run_open(ref, &c, err);
    if (rc == 0) rc = gl_run_ref_weights(ref, dir, sizeof dir, which, sizeof which, &at, err);
    if (rc != 0) return rc;
    gl_config_resolve(&c);
    gl_dataset d;
    if ((rc = gl_run_load_data(dir, &c, &d, err)) != 0) return rc;
    long *steps = NULL, n = 0;
    if (at >= 0) { /* one snapshot */
        steps = malloc(sizeof(long));
        if (steps) steps[0] = at, n = 1;
        else rc = gl_fail_nomem(err, "");
    } else {
        rc = gl_run_snapshot_steps(dir, &steps, &n, err);
    }
    gl_progress_plan *pp = NULL;
    dyn_work w;
    memset(&w, 0, sizeof w);
    gl_model m;
    memset(&m, 0, sizeof m);
    if (rc == 0) rc = gl_run_progress_plan(&pp, &c, &d, o->key_threshold, err);
    if (rc == 0) rc = gl_mkdirs(out, err);
    if (rc == 0) {
        gl_net net;
        rc = gl_net_init(&net, &c, err);
        int K = net.n_units;
        if (rc == 0) rc = gl_ipr_plan_create(&w.ipr, c.p, K, gl_config_basis(&c), err);
        int bins = rc == 0 ? gl_ipr_plan_bins(w.ipr) : 0;
        w.unit_ipr = malloc(sizeof(double) * (size_t)K);
        w.power = malloc(sizeof(double) * (size_t)K * (size_t)(bins + 1));
        w.share = malloc(sizeof(double) * (size_t)(bins + 1));
        if (rc == 0 && (!w.unit_ipr || !w.power || !w.share)) rc = gl_fail_nomem(err, "for the dynamics tables");
    }
    gl_progress_header_text(&w.prog);
    gl_text_printf(&w.keyp, "snapshot,step,k,share\n");
    gl_text_printf(&w.nipr, "snapshot,step,rank,ipr\n");
    gl_text_printf(&w.npow, "snapshot,step,k,share\n");
    /* the snapshots in order, or the final weights */
    for (long i = 0; rc == 0 && i < (n ? n : 1); i++) {
        char name[64];
        if (n) gl_run_snapshot_name(name, sizeof name, steps[i]);
        else snprintf(name, sizeof name, "model");
        gl_model_free(&m);
        if (!n && !gl_run_has(dir, "model.safetensors"))
            rc = gl_fail(err, "%s has no weights (no snapshots and no model.safetensors: did the run finish?)", dir);
        if (rc == 0) rc = gl_run_load_model(dir, name, &c, &m, err);
        if (rc == 0) rc = analyze_weights(&w, pp, &m, m.step >= 0 ? m.step : (n ? steps[i] : c.steps), i, &rep->last, err);
        rep->step = rep->last.step;
    }
    rep->snapshots = n;
    int nk;
    const int *keys = pp && rc == 0 ? gl_progress_plan_keys(pp, &nk) : NULL;
    /* progress.csv: the one logged while training when there is one (every logging step), else the snapshots' */
    rep->logged_progress = at < 0 && gl_run_has(dir, "progress.csv");
    if (rc == 0) rc = save_tables(out, &w, rep->logged_progress ? "progress_snapshots.csv" : "progress.csv", err);
    if (rc == 0 && rep->logged_progress) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/progress.csv", dir);
        snprintf(to, sizeof to, "%s/progress.csv", out);
        rc = copy_file(from, to, err);
    }
    gl_metrics *rows = NULL;
    long nr = 0;
    if (rc == 0 && gl_run_has(dir, "metrics.csv") && (rc = gl_run_read_metrics(dir, &rows, &nr, err)) == 0)
        gl_milestones_compute(&rep->ms, rows, nr);
    else
        rep->ms.train90 = rep->ms.test90 = rep->ms.unlearn = -1;
    free(rows);
    if (rc == 0 && gl_run_has(dir, "examples.csv")) {
        long nc = d.n_corrupt;
        int64_t *st = malloc(sizeof(int64_t) * 2 * (size_t)(nc + 1));
        double *scratch = malloc(sizeof(double) * (size_t)(nc + 1));
        rc = st && scratch ? read_story(dir, nc, st, st + nc, err) : gl_fail_nomem(err, "");
        if (rc == 0) gl_story_stats_compute(&rep->story, st, st + nc, nc, scratch), rep->has_story = 1;
        free(st);
        free(scratch);
    }
    if (rc == 0 && c.arch == GL_ARCH_MLP) rc = write_carriers(out, &m, &d, rep, err);
    if (rc == 0) rc = summary_json(out, rep, keys, err);
    gl_model_free(&m);
    free_work(&w);
    gl_progress_plan_free(pp);
    free(steps);
    gl_dataset_free(&d);
    return rc;
}
