/* groklab: metrics of a set of examples from a model's outputs (losses and
 * argmax hits on every subset), whichever backend computed the outputs. */
#include <math.h>

#include "groklab/data.h"
#include "groklab/metrics.h"
#include "groklab/model.h"

/* The first index of the largest of o[0..p) as the loop "best = j where
 * o[j] > o[best]" finds it (NaNs never win; a NaN at 0 stays best), in 16
 * running maxima that vectorize: their largest is the loop's maximum (the
 * select o > m ? o : m is the loop's comparison), and its first index is
 * the loop's best, signed zeros included (-0 == +0) */
int gl_argmax_f32(const float *o, int p) {
    float m0 = o[0], m[16];
    if (m0 != m0) return 0;
    for (int l = 0; l < 16; l++) m[l] = m0;
    int j = 1;
    for (; j + 16 <= p; j += 16)
        for (int l = 0; l < 16; l++) m[l] = o[j + l] > m[l] ? o[j + l] : m[l];
    for (; j < p; j++) m[0] = o[j] > m[0] ? o[j] : m[0];
    float mx = m0;
    for (int l = 0; l < 16; l++) mx = m[l] > mx ? m[l] : mx;
    for (j = 0; j < p; j++)
        if (o[j] == mx) break;
    return j;
}

void gl_eval_add(gl_eval_counts *ec, const float *out, const int32_t *y, const int32_t *y2, long s, int B,
                 long split, int p, gl_loss loss, int32_t *pred) {
    double l = loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, out, y + s, B, p) : gl_ce_loss_f32(NULL, out, y + s, B, p);
    ec->loss_sum += l * (loss == GL_LOSS_MSE ? (double)B * p : (double)B);
    for (int b = 0; b < B; b++) {
        int best = gl_argmax_f32(out + (size_t)b * p, p);
        long i = s + b;
        if (pred) pred[i] = best;
        int hit = best == y[i];
        ec->correct += hit;
        if (i < split) {
            ec->correct_lo += hit;
            if (y2) ec->correct2_lo += best == y2[i];
        } else {
            ec->correct_hi += hit;
        }
    }
}

static double frac_or_nan(long num, long den) { return den > 0 ? (double)num / (double)den : NAN; }

void gl_eval_metrics(gl_metrics *r, const gl_eval_counts *tr, const gl_eval_counts *te, const gl_dataset *d,
                     int p, gl_loss loss) {
    double lden = loss == GL_LOSS_MSE ? (double)p : 1.0;
    r->train_loss = d->n_train ? tr->loss_sum / (lden * d->n_train) : NAN;
    r->test_loss = d->n_test ? te->loss_sum / (lden * d->n_test) : NAN;
    r->train_acc = frac_or_nan(tr->correct, d->n_train);
    r->test_acc = frac_or_nan(te->correct, d->n_test);
    r->corrupted_acc = frac_or_nan(tr->correct_lo, d->n_corrupt);
    r->corrupted_true_acc = frac_or_nan(tr->correct2_lo, d->n_corrupt);
    r->clean_acc = frac_or_nan(tr->correct_hi, d->n_train - d->n_corrupt);
}
