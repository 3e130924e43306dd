/* groklab: metrics of a set of examples from a model's outputs (losses and
 * argmax hits on every subset), whichever backend computed the outputs. */
#include <math.h>

#include "groklab/data.h"
#include "groklab/metrics.h"
#include "groklab/model.h"

void gl_eval_add(gl_eval_counts *ec, const float *out, const int32_t *y, const int32_t *y2, long s, int B,
                 long split, int p, gl_loss loss, int32_t *pred) {
    double l = loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, out, y + s, B, p) : gl_ce_loss_f32(NULL, out, y + s, B, p);
    ec->loss_sum += l * (loss == GL_LOSS_MSE ? (double)B * p : (double)B);
    for (int b = 0; b < B; b++) {
        const float *o = out + (size_t)b * p;
        int best = 0;
        for (int j = 1; j < p; j++)
            if (o[j] > o[best]) best = j;
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
