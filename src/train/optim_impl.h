/* groklab: optimizer update, written once for a real type (see optim.h). */
void FN(const gl_config *c, R *restrict p, const R *restrict g, R *restrict m1, R *restrict m2,
        size_t n, long t) {
    const R lr = (R)c->lr, wd = (R)c->wd;
    if (c->optim == GL_OPT_SGD) {
        const R mom = (R)c->momentum;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            R d = g[i];
            if (c->wd != 0) d = d + wd * p[i];
            if (c->momentum != 0) {
                m1[i] = t == 1 ? d : mom * m1[i] + d;
                d = m1[i];
            }
            p[i] = p[i] - lr * d;
        }
        return;
    }
    const R b1 = (R)c->beta1, b2 = (R)c->beta2, eps = (R)c->eps;
    const R one_b1 = (R)(1.0 - c->beta1), one_b2 = (R)(1.0 - c->beta2);
    const R decay = (R)(1.0 - c->lr * c->wd);
    const R step_size = (R)(c->lr / (1.0 - pow(c->beta1, (double)t)));
    const R bc2_sqrt = (R)sqrt(1.0 - pow(c->beta2, (double)t));
    const int decoupled = c->optim == GL_OPT_ADAMW;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        R gi = g[i];
        if (decoupled) {
            if (c->wd != 0) p[i] = p[i] * decay;
        } else if (c->wd != 0) {
            gi = gi + wd * p[i];
        }
        m1[i] = m1[i] * b1 + gi * one_b1;
        m2[i] = m2[i] * b2 + one_b2 * gi * gi;
        R denom = (R)sqrt(m2[i]) / bc2_sqrt + eps;
        p[i] = p[i] - step_size * (m1[i] / denom);
    }
}
