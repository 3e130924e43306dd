/* groklab: the precision-dependent numerics of ops.h, written once for a
 * real type. Included by ops.h only, with R (float | double), S (f32 | f64)
 * and RBITS (the unsigned integer of R's size) defined; every name below
 * ends in _f32 or _f64. Arithmetic written in R is R's; "double" marks what
 * runs in double whatever R is. */

#include "model/template.h"

/* ---------------------------------------------------------------------------
 * Activations. act is a gl_act (GL_ACT_AUTO is resolved before any layer
 * runs). Called with a constant act inside a loop, the switch folds away. */

/* gl_gelu_f32, gl_gelu_f64: GELU(x) = x Phi(x), the exact (erf) form of
 * torch.nn.GELU(): the erf in double, the rest in R */
GL_HD R FN(gl_gelu)(R x) { return (R)0.5 * x * ((R)1 + (R)erf((double)x * GL_SQRT1_2)); }

/* gl_act_f32, gl_act_f64: phi(x) */
GL_HD R FN(gl_act)(R x, int act) {
    switch (act) {
    case GL_ACT_QUADRATIC: return x * x;
    case GL_ACT_RELU: return x > 0 ? x : (R)0;
    case GL_ACT_GELU: return FN(gl_gelu)(x);
    default: return x; /* identity */
    }
}

/* gl_act_back_f32, gl_act_back_f64: g phi'(x), the gradient at the
 * pre-activation x from g = dL/dphi(x) */
GL_HD R FN(gl_act_back)(R g, R x, int act) {
    switch (act) {
    case GL_ACT_QUADRATIC: return g * (R)2 * x;
    case GL_ACT_RELU: return x > 0 ? g : (R)0;
    case GL_ACT_GELU: return g * (R)gl_gelu_grad((double)x);
    default: return g; /* identity */
    }
}

/* ---------------------------------------------------------------------------
 * Dropout of one element (the mask: ops.h) */

/* gl_drop_f32, gl_drop_f64: keep ? x * scale : +0 for keep in {0, 1}, as a
 * bit mask: gcc vectorizes it, where it does not vectorize the select of a
 * real by a byte. scale = (R)gl_dropout_scale(prob). */
GL_HD R FN(gl_drop)(R x, uint8_t keep, R scale) {
    R y = x * scale;
    RBITS bits;
    memcpy(&bits, &y, sizeof bits);
    bits &= (RBITS)0 - (RBITS)keep;
    memcpy(&y, &bits, sizeof y);
    return y;
}

/* ---------------------------------------------------------------------------
 * Norms. The statistics are computed in double; the backward reads them
 * rounded to R (as stored for it). */

/* gl_xhat_f32, gl_xhat_f64: (a - mean) * rstd, the difference in R */
GL_HD double FN(gl_xhat)(R a, R mean, double rstd) { return (a - mean) * rstd; }

/* gl_bn_sd_f32, gl_bn_sd_f64: sqrt(run_var + eps) of a column */
GL_HD double FN(gl_bn_sd)(R run_var, double eps) { return sqrt((double)run_var + eps); }

/* gl_bn_eval_sd_f32, gl_bn_eval_sd_f64: BatchNorm in evaluation mode from
 * the column's sd = gl_bn_sd: (a - mean) / sd * gamma + beta */
GL_HD R FN(gl_bn_eval_sd)(R a, R run_mean, double sd, R gamma, R beta) {
    return (R)((a - run_mean) / sd * gamma + beta);
}

/* gl_bn_eval_f32, gl_bn_eval_f64: BatchNorm in evaluation mode with the
 * running statistics: (a - mean) / sqrt(var + eps) * gamma + beta */
GL_HD R FN(gl_bn_eval)(R a, R run_mean, R run_var, double eps, R gamma, R beta) {
    return FN(gl_bn_eval_sd)(a, run_mean, FN(gl_bn_sd)(run_var, eps), gamma, beta);
}

/* gl_bn_back_f32, gl_bn_back_f64: BatchNorm's dL/da of one element over a
 * batch of B, from dz and the batch's sums sg of dz and sgx of dz * xhat */
GL_HD R FN(gl_bn_back)(R dz, R gamma, R a, R mean, double rstd, int B, double sg, double sgx) {
    return (R)gl_norm_back((double)gamma * rstd, (double)B, (double)dz, sg,
                           FN(gl_xhat)(a, mean, rstd), sgx);
}

/* gl_bn_back_c_f32, gl_bn_back_c_f64: the same with c = gamma * rstd / B
 * of the column computed once (gl_norm_back_c) */
GL_HD R FN(gl_bn_back_c)(R dz, double c, R a, R mean, double rstd, int B, double sg, double sgx) {
    return (R)gl_norm_back_c(c, (double)B, (double)dz, sg, FN(gl_xhat)(a, mean, rstd), sgx);
}

/* gl_bn_running_f32, gl_bn_running_f64: torch.nn.BatchNorm1d's running
 * statistics after a training batch of B with statistics mean, var (biased):
 * r = (1 - momentum) r + momentum * batch statistic, the variance unbiased
 * (times B / (B - 1)) */
GL_HD void FN(gl_bn_running)(R *run_mean, R *run_var, R mean, R var, int B, double momentum) {
    R mom = (R)momentum, keep = (R)(1.0 - momentum);
    double unb = B > 1 ? (double)B / (B - 1) : 1.0;
    *run_mean = keep * *run_mean + mom * mean;
    *run_var = keep * *run_var + mom * (R)(var * unb);
}

/* gl_ln_stats_f32, gl_ln_stats_f64: LayerNorm's mean and 1/std of a row
 * a (N), sums in order in double */
GL_HD void FN(gl_ln_stats)(double *mean, double *rstd, const R *a, long N, double eps) {
    double s = 0, q = 0;
    for (long k = 0; k < N; k++) s += a[k];
    s /= N;
    for (long k = 0; k < N; k++) q += (a[k] - s) * (a[k] - s);
    *mean = s;
    *rstd = gl_rstd(q / N, eps);
}

/* gl_ln_row_f32, gl_ln_row_f64: z = LayerNorm(a) of one row, applied with
 * the unrounded statistics; mean, rstd: those rounded to R, for the
 * backward. z, a, gamma, beta: (N) */
GL_HD void FN(gl_ln_row)(R *GL_RESTRICT z, R *mean, R *rstd, const R *GL_RESTRICT a,
                         const R *GL_RESTRICT gamma, const R *GL_RESTRICT beta, long N,
                         double eps) {
    double s, r;
    FN(gl_ln_stats)(&s, &r, a, N, eps);
    *mean = (R)s;
    *rstd = (R)r;
    for (long k = 0; k < N; k++) z[k] = (R)gl_norm_apply(a[k], s, r, gamma[k], beta[k]);
}

/* gl_ln_dgamma_f32, gl_ln_dgamma_f64: one element's share of dgamma,
 * dz * xhat, all in R (dbeta's is dz) */
GL_HD R FN(gl_ln_dgamma)(R dz, R a, R mean, R rstd) { return dz * ((a - mean) * rstd); }

/* gl_ln_param_row_f32, gl_ln_param_row_f64: dgamma, dbeta (N) += one row's
 * shares; dz, a: (N) */
GL_HD void FN(gl_ln_param_row)(R *GL_RESTRICT dgamma, R *GL_RESTRICT dbeta,
                               const R *GL_RESTRICT dz, const R *GL_RESTRICT a, R mean, R rstd,
                               long N) {
    for (long k = 0; k < N; k++) {
        dgamma[k] += FN(gl_ln_dgamma)(dz[k], a[k], mean, rstd);
        dbeta[k] += dz[k];
    }
}

/* gl_ln_back_sums_f32, gl_ln_back_sums_f64: the row's sums (double, in
 * order) of g = dz * gamma and of g * (a - mean) * rstd. dz, a, gamma: (N) */
GL_HD void FN(gl_ln_back_sums)(double *sg, double *sgx, const R *dz, const R *a, R mean,
                               double rstd, const R *gamma, long N) {
    double s = 0, sx = 0;
    for (long k = 0; k < N; k++) {
        double g = (double)dz[k] * gamma[k];
        s += g;
        sx += g * (a[k] - mean) * rstd;
    }
    *sg = s;
    *sgx = sx;
}

/* gl_ln_back_c_f32, gl_ln_back_c_f64: LayerNorm's dL/da of one element of a
 * row of N, from its sums (gl_ln_back_sums_*) and c = rstd / N of the row */
GL_HD R FN(gl_ln_back_c)(R dz, R gamma, R a, R mean, double rstd, double c, long N, double sg,
                         double sgx) {
    return (R)gl_norm_back_c(c, (double)N, (double)dz * gamma, sg, FN(gl_xhat)(a, mean, rstd),
                             sgx);
}

/* gl_ln_back_f32, gl_ln_back_f64: the same, c computed here */
GL_HD R FN(gl_ln_back)(R dz, R gamma, R a, R mean, double rstd, long N, double sg, double sgx) {
    return FN(gl_ln_back_c)(dz, gamma, a, mean, rstd, rstd / (double)N, N, sg, sgx);
}

/* gl_ln_back_row_f32, gl_ln_back_row_f64: da = dL/da of one row from dz =
 * dL/dz (da may be dz). da, dz, a, gamma: (N) */
GL_HD void FN(gl_ln_back_row)(R *da, const R *dz, const R *a, R mean, R rstd, const R *gamma,
                              long N) {
    double sg, sgx, r = rstd;
    FN(gl_ln_back_sums)(&sg, &sgx, dz, a, mean, r, gamma, N);
    for (long k = 0; k < N; k++) da[k] = FN(gl_ln_back)(dz[k], gamma[k], a[k], mean, r, N, sg, sgx);
}

/* ---------------------------------------------------------------------------
 * Losses of one row o (p) with label y, and dout = dL/do of the batch's mean
 * loss (dout may be o; NULL: the loss only). */

/* gl_mse_diff_f32, gl_mse_diff_f64: o - onehot, hit = (j == y) */
GL_HD R FN(gl_mse_diff)(R o, int hit) { return o - (hit ? (R)1 : (R)0); }

/* gl_mse_row_f32, gl_mse_row_f64: s plus the squares (o - onehot(y))^2
 * added in order (double: one running sum over the rows of a chunk); dout =
 * g * (o - onehot(y)), g = (R)gl_mse_scale(B, p) */
GL_HD double FN(gl_mse_row)(double s, R *dout, const R *o, int y, int p, R g) {
    for (int j = 0; j < p; j++) {
        R d = FN(gl_mse_diff)(o[j], j == y);
        s += (double)d * d;
        if (dout) dout[j] = g * d;
    }
    return s;
}

/* gl_mse_row8_f32, gl_mse_row8_f64: the row's sum and gradient in place (dout
 * = o), its squares summed in 8 fixed partial sums (so that the loop
 * vectorizes) and those pairwise: the fused pass's. The sum is grouped
 * otherwise than gl_mse_row_*'s, so its last bits differ; the gradient is the
 * same. */
GL_HD double FN(gl_mse_row8)(R *GL_RESTRICT o, int y, int p, R g) {
    o[y] = FN(gl_mse_diff)(o[y], 1); /* the other entries are o - 0 = o */
    double acc[8] = {0};
    int j = 0;
    for (; j + 8 <= p; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double)o[j + l] * o[j + l];
    for (; j < p; j++) acc[j % 8] += (double)o[j] * o[j];
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (j = 0; j < p; j++) o[j] *= g;
    return s;
}

/* gl_ce_row_f32, gl_ce_row_f64: -log softmax(o)[y] = mx + log(zs) - o[y],
 * zs = sum of exp(o - mx) over j in order, mx = max o (double); dout over a
 * batch of B rows (gl_ce_grad). e: (p) scratch that keeps exp(o - mx) for
 * the gradient, or NULL to compute it again (the same value). */
GL_HD double FN(gl_ce_row)(R *dout, const R *o, int y, int p, int B, double *e) {
    double mx = o[0];
    for (int j = 1; j < p; j++)
        if (o[j] > mx) mx = o[j];
    double zs = 0;
    if (e) {
        for (int j = 0; j < p; j++) {
            e[j] = exp((double)o[j] - mx);
            zs += e[j];
        }
    } else {
        for (int j = 0; j < p; j++) zs += exp((double)o[j] - mx);
    }
    double loss = mx + log(zs) - o[y];
    if (dout) {
        /* every entry as if j != y (a loop that vectorizes), then y's; read
         * before dout overwrites o */
        double ey = e ? e[y] : exp((double)o[y] - mx);
        if (e)
            for (int j = 0; j < p; j++) dout[j] = (R)gl_ce_grad(e[j], zs, 0, B);
        else
            for (int j = 0; j < p; j++) dout[j] = (R)gl_ce_grad(exp((double)o[j] - mx), zs, 0, B);
        dout[y] = (R)gl_ce_grad(ey, zs, 1, B);
    }
    return loss;
}

/* ---------------------------------------------------------------------------
 * Optimizers */

/* gl_sgd_elem_f32, gl_sgd_elem_f64: SGD on one parameter p with its
 * momentum buffer m1, after gradient g, with the step's constants k
 * (gl_optim_consts) rounded to R */
GL_HD void FN(gl_sgd_elem)(R *p, R *m1, R g, gl_optim_k k) {
    if (k.wd != 0) g = g + (R)k.wd * *p;
    if (k.momentum != 0) {
        *m1 = k.first ? g : (R)k.momentum * *m1 + g;
        g = *m1;
    }
    *p = *p - (R)k.lr * g;
}

/* gl_adam_elem_f32, gl_adam_elem_f64: AdamW (k.optim GL_OPT_ADAMW: the
 * decoupled decay) or Adam (the L2 term in the gradient) on one parameter p
 * with its moments m1, m2 */
GL_HD void FN(gl_adam_elem)(R *p, R *m1, R *m2, R g, gl_optim_k k) {
    if (k.optim == GL_OPT_ADAMW) {
        if (k.wd != 0) *p = *p * (R)k.decay;
    } else if (k.wd != 0) {
        g = g + (R)k.wd * *p;
    }
    *m1 = *m1 * (R)k.beta1 + g * (R)(1.0 - k.beta1);
    *m2 = *m2 * (R)k.beta2 + (R)(1.0 - k.beta2) * g * g;
    R denom = (R)sqrt((double)*m2) / (R)k.bc2_sqrt + (R)k.eps;
    *p = *p - (R)k.step_size * (*m1 / denom);
}

/* gl_optim_elem_f32, gl_optim_elem_f64: either, by k.optim (m2: Adam's
 * only). A loop over many parameters calls the one it needs: gcc
 * vectorizes SGD's loop only without the other in it. */
GL_HD void FN(gl_optim_elem)(R *p, R *m1, R *m2, R g, gl_optim_k k) {
    if (k.optim == GL_OPT_SGD)
        FN(gl_sgd_elem)(p, m1, g, k);
    else
        FN(gl_adam_elem)(p, m1, m2, g, k);
}

/* ---------------------------------------------------------------------------
 * Lanes */

/* gl_lanes_sum_f32, gl_lanes_sum_f64: g (len) = the sum over lanes l <
 * used of the partials part + l * stride, in lane order. The chunked passes
 * call it on blocks of GL_RED_BLOCK elements, one block per thread. */
GL_HD void FN(gl_lanes_sum)(R *GL_RESTRICT g, const R *GL_RESTRICT part, size_t stride, int used,
                            size_t len) {
    for (size_t i = 0; i < len; i++) g[i] = part[i];
    for (int l = 1; l < used; l++) {
        const R *GL_RESTRICT q = part + (size_t)l * stride;
        for (size_t i = 0; i < len; i++) g[i] += q[i];
    }
}

#undef RBITS
#include "model/template_end.h"
