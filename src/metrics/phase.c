/* groklab: phases (docs/paper.md section 6, Table 2) and milestones. */
#include <math.h>
#include <stdlib.h>

#include "groklab/metrics.h"

const char *const gl_metrics_columns[GL_METRICS_NCOLS] = {
    "step",      "train_loss",         "test_loss", "train_acc", "test_acc", "corrupted_acc",
    "corrupted_true_acc", "clean_acc", "norm_u",    "norm_v",    "norm_w",   "mean_ipr",
    "ipr_u",     "ipr_v",              "ipr_w",     "grad_norm", "gamma_mean", "gamma_std"};

void gl_metrics_to_array(const gl_metrics *m, double o[GL_METRICS_NCOLS]) {
    double v[GL_METRICS_NCOLS] = {(double)m->step, m->train_loss, m->test_loss, m->train_acc,
                                  m->test_acc, m->corrupted_acc, m->corrupted_true_acc,
                                  m->clean_acc, m->norm_u, m->norm_v, m->norm_w, m->mean_ipr,
                                  m->ipr_u, m->ipr_v, m->ipr_w, m->grad_norm, m->gamma_mean,
                                  m->gamma_std};
    for (int i = 0; i < GL_METRICS_NCOLS; i++) o[i] = v[i];
}

void gl_metrics_from_array(gl_metrics *m, const double v[GL_METRICS_NCOLS]) {
    m->step = (long)v[0];
    m->train_loss = v[1];
    m->test_loss = v[2];
    m->train_acc = v[3];
    m->test_acc = v[4];
    m->corrupted_acc = v[5];
    m->corrupted_true_acc = v[6];
    m->clean_acc = v[7];
    m->norm_u = v[8];
    m->norm_v = v[9];
    m->norm_w = v[10];
    m->mean_ipr = v[11];
    m->ipr_u = v[12];
    m->ipr_v = v[13];
    m->ipr_w = v[14];
    m->grad_norm = v[15];
    m->gamma_mean = v[16];
    m->gamma_std = v[17];
}

const char *gl_phase_name(gl_phase ph) {
    switch (ph) {
    case GL_PHASE_COEXISTENCE: return "coexistence";
    case GL_PHASE_PARTIAL_INVERSION: return "partial_inversion";
    case GL_PHASE_FULL_INVERSION: return "full_inversion";
    case GL_PHASE_MEMORIZATION: return "memorization";
    case GL_PHASE_FORGETTING: return "forgetting";
    case GL_PHASE_CONFUSION: return "confusion";
    }
    return "unknown";
}

gl_phase gl_phase_classify(double train_acc, double test_acc, double noise, int reached_test90) {
    /* thresholds in percent, as Table 2 states them */
    double train = 100.0 * train_acc, test = 100.0 * test_acc;
    if (test >= 90.0) {
        if (train >= 90.0) return GL_PHASE_COEXISTENCE;
        if (train >= 100.0 * (1.05 - noise)) return GL_PHASE_PARTIAL_INVERSION;
        return GL_PHASE_FULL_INVERSION;
    }
    if (train >= 90.0) return GL_PHASE_MEMORIZATION;
    return reached_test90 ? GL_PHASE_FORGETTING : GL_PHASE_CONFUSION;
}

gl_phase gl_phase_classify_subset(double train_acc, double test_acc, double corrupted_acc,
                                  double corrupted_true_acc, double noise, int reached_test90) {
    if (isnan(corrupted_acc) || isnan(corrupted_true_acc))
        return gl_phase_classify(train_acc, test_acc, noise, reached_test90);
    /* thresholds in percent, as gl_phase_classify's */
    double train = 100.0 * train_acc, test = 100.0 * test_acc;
    double given = 100.0 * corrupted_acc, truth = 100.0 * corrupted_true_acc;
    if (test >= 90.0) {
        if (given >= 90.0) return GL_PHASE_COEXISTENCE;
        if (truth >= 90.0) return GL_PHASE_FULL_INVERSION;
        return GL_PHASE_PARTIAL_INVERSION;
    }
    if (train >= 90.0 && given >= 90.0) return GL_PHASE_MEMORIZATION;
    return reached_test90 ? GL_PHASE_FORGETTING : GL_PHASE_CONFUSION;
}

const char *gl_phase_rule_name(gl_phase_rule rule) { return rule == GL_RULE_SUBSET ? "subset" : "paper"; }

const char *gl_phase_rule_reason(gl_phase paper, gl_phase subset) {
    if (paper == subset) return "";
    switch (paper) {
    case GL_PHASE_COEXISTENCE:
        if (subset == GL_PHASE_FULL_INVERSION) return "train >= 90% but corrupted_true >= 90%";
        if (subset == GL_PHASE_PARTIAL_INVERSION) return "train >= 90% but corrupted and corrupted_true < 90%";
        break;
    case GL_PHASE_PARTIAL_INVERSION:
        if (subset == GL_PHASE_COEXISTENCE) return "train < 90% but corrupted >= 90%";
        if (subset == GL_PHASE_FULL_INVERSION) return "train >= 100(1.05 - xi) but corrupted_true >= 90%";
        break;
    case GL_PHASE_FULL_INVERSION:
        if (subset == GL_PHASE_COEXISTENCE) return "train < 100(1.05 - xi) but corrupted >= 90%";
        if (subset == GL_PHASE_PARTIAL_INVERSION) return "train < 100(1.05 - xi) but corrupted_true < 90%";
        break;
    case GL_PHASE_MEMORIZATION:
        if (subset == GL_PHASE_FORGETTING || subset == GL_PHASE_CONFUSION) return "train >= 90% but corrupted < 90%";
        break;
    default: break;
    }
    return "the seeds split differently under the two rules";
}

void gl_wilson(long k, long n, double z, double *lo, double *hi) {
    if (n <= 0) {
        *lo = 0.0, *hi = 1.0;
        return;
    }
    double dn = (double)n, dk = (double)k, z2 = z * z;
    double centre = (dk + 0.5 * z2) / (dn + z2);
    double half = z * sqrt(dk * (dn - dk) / dn + 0.25 * z2) / (dn + z2);
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

int gl_phase_uncertain(long k, long n) {
    double lo, hi;
    gl_wilson(k, n, 1.96, &lo, &hi);
    return k < n && lo < 0.5;
}

void gl_milestones_compute(gl_milestones *ms, const gl_metrics *rows, long n) {
    ms->train90 = ms->test90 = ms->unlearn = -1;
    int was_memorized = 0;
    for (long i = 0; i < n; i++) {
        const gl_metrics *r = &rows[i];
        if (ms->train90 < 0 && r->train_acc >= 0.9) ms->train90 = r->step;
        if (ms->test90 < 0 && r->test_acc >= 0.9) ms->test90 = r->step;
        if (!isnan(r->corrupted_acc)) {
            if (r->corrupted_acc > 0.5) was_memorized = 1;
            if (ms->unlearn < 0 && was_memorized && r->corrupted_acc < 0.1) ms->unlearn = r->step;
        }
    }
}

gl_phase gl_phase_of_run(const gl_metrics *rows, long n, double noise, int diverged,
                         gl_milestones *ms, const gl_metrics **last) {
    gl_milestones tmp;
    if (!ms) ms = &tmp;
    gl_milestones_compute(ms, rows, n);
    long li = diverged ? n - 2 : n - 1;
    const gl_metrics *r = li >= 0 ? &rows[li] : NULL;
    if (last) *last = r;
    if (!r) return GL_PHASE_CONFUSION;
    return gl_phase_classify(r->train_acc, r->test_acc, noise, ms->test90 >= 0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of the sorted x[0..n) by linear interpolation. */
static double quantile(const double *x, long n, double q) {
    double pos = q * (double)(n - 1);
    long i = (long)floor(pos);
    return i + 1 < n ? x[i] + (pos - (double)i) * (x[i + 1] - x[i]) : x[n - 1];
}

/* The steps >= 0 of v[0..n) into x, sorted; their median and IQR. */
static long spread(const int64_t *v, long n, double *x, double *median, double *iqr) {
    long k = 0;
    for (long i = 0; i < n; i++)
        if (v[i] >= 0) x[k++] = (double)v[i];
    qsort(x, (size_t)k, sizeof *x, cmp_double);
    *median = k ? quantile(x, k, 0.5) : NAN;
    *iqr = k ? quantile(x, k, 0.75) - quantile(x, k, 0.25) : NAN;
    return k;
}

void gl_story_stats_compute(gl_story_stats *st, const int64_t *first_given, const int64_t *unlearned, long n_corrupt,
                            double *scratch) {
    st->n_memorized = spread(first_given, n_corrupt, scratch, &st->mem_median, &st->mem_iqr);
    st->n_unlearned = spread(unlearned, n_corrupt, scratch, &st->unl_median, &st->unl_iqr);
}
