/* groklab: a run directory's analysis tables in one call each, for front
 * ends that want the files without the CLI's report and figures (the
 * Python package). */
#include "groklab/analysis.h"

int gl_ipr_run(const char *dir, const gl_ipr_opts *o, gl_error *err) {
    gl_config c;
    char out[4200];
    int rc = gl_run_open(dir, &c, err);
    if (rc == 0) rc = gl_run_out_dir(dir, out, sizeof out, err);
    if (rc != 0) return rc;
    if (c.arch != GL_ARCH_MLP) {
        gl_model m, m0;
        int has_init;
        if ((rc = gl_run_load_weights(dir, &c, &m, &m0, &has_init, err)) != 0) return rc;
        gl_units u;
        rc = gl_units_compute(&u, &m, has_init ? &m0 : NULL, o->basis == GL_BASIS_AUTO ? gl_config_basis(&c) : o->basis,
                              o, err);
        if (rc == 0) rc = gl_units_write(out, &m, &u, o, err);
        if (rc == 0) gl_units_free(&u);
        gl_model_free(&m);
        gl_model_free(&m0);
        return rc;
    }
    gl_run_view v;
    gl_ipr_report rep;
    if ((rc = gl_run_view_load(&v, dir, o, err)) != 0) return rc;
    rc = gl_ipr_write(out, &v, o, &rep, err);
    gl_run_view_free(&v);
    return rc;
}

int gl_spectrum_run(const char *dir, const gl_ipr_opts *o, int neuron, int *chosen, gl_error *err) {
    gl_run_view v;
    char out[4200];
    int rc = gl_run_out_dir(dir, out, sizeof out, err);
    if (rc == 0) rc = gl_run_view_load(&v, dir, o, err);
    if (rc != 0) return rc;
    int k = neuron < 0 ? gl_best_neuron(&v.nr) : neuron;
    rc = gl_spectrum_write(out, &v, k, err); /* checks k */
    if (rc == 0 && chosen) *chosen = k;
    gl_run_view_free(&v);
    return rc;
}
