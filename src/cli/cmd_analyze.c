/* groklab ipr, spectrum, prune, plot: looking inside a trained run.
 *
 * Each command reads a run directory, writes its tables as CSV into it and
 * its figures as PNG and SVG (with the gnuplot script beside them). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "groklab/analysis.h"
#include "groklab/io.h"

/* ---- shared ---- */

int cli_open_run(const char *dir, gl_config *c, gl_error *err) {
    struct stat st;
    if (stat(dir, &st) != 0) return gl_fail(err, "%s: no such run directory (%s)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gl_fail(err, "%s is not a directory (expected a run directory written by groklab train)", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (stat(path, &st) != 0)
        return gl_fail(err, "%s is not a groklab run directory (no config.json; runs come from groklab train or groklab analytic)", dir);
    gl_config_default(c);
    if (gl_run_read_config(path, c, err) != 0) return -1;
    gl_error e;
    if (gl_config_validate(c, &e) != 0) return gl_fail(err, "%s: %s", path, e.msg);
    return 0;
}

int cli_file_exists(const char *dir, const char *name) {
    char path[5000];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* "--name value" options: returns the value or NULL with an error printed. */
static const char *opt_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_double(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi)) {
        cli_error("%s: '%s' is not a number in [%g, %g]", flag, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        cli_error("%s: '%s' is not an integer in [%ld, %ld]", flag, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_word(const char *flag, const char *v, const char *const *words, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, words[i])) {
            *out = i;
            return 0;
        }
    char allowed[256] = "";
    for (int i = 0; i < n; i++) snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", words[i]);
    cli_error("%s: '%s' is not allowed (allowed: %s)", flag, v, allowed);
    return -1;
}

static const char *const conv_words[] = {"rfft", "full"};
static const char *const basis_words[] = {"auto", "additive", "dlog"};

static void csv_num(cli_buf *b, double v) {
    if (isfinite(v)) cli_buf_printf(b, ",%.9g", v);
    else cli_buf_printf(b, ",nan");
}

/* ---- ipr ---- */


typedef struct run_view {
    gl_config c;
    gl_model model, init;
    int has_init;
    gl_neurons nr, nr0; /* final and initial weights */
} run_view;

static void run_view_free(run_view *v) {
    gl_model_free(&v->model);
    gl_model_free(&v->init);
    gl_neurons_free(&v->nr);
    gl_neurons_free(&v->nr0);
}

static int run_view_load(run_view *v, const char *dir, const ipr_opts *o, gl_error *err) {
    memset(v, 0, sizeof *v);
    if (cli_open_run(dir, &v->c, err) != 0) return -1;
    if (v->c.arch != GL_ARCH_MLP)
        return gl_fail(err, "%s is a %s run: per-neuron spectra, pruning and the figures of `groklab plot` are built for --model mlp (groklab ipr works for every model)",
                       dir, gl_arch_name(v->c.arch));
    if (!cli_file_exists(dir, "model.safetensors"))
        return gl_fail(err, "%s has no weights (model.safetensors is missing: did the run finish? groklab train --resume %s)", dir, dir);
    if (gl_run_load_model(dir, "model", &v->c, &v->model, err) != 0) return -1;
    if (cli_file_exists(dir, "init.safetensors")) {
        if (gl_run_load_model(dir, "init", &v->c, &v->init, err) != 0) return -1;
        v->has_init = 1;
    }
    gl_basis basis = o->basis == GL_BASIS_AUTO ? gl_config_basis(&v->c) : o->basis;
    if (gl_neurons_compute(&v->nr, &v->c, &v->model.L, v->model.params, basis, o->conv, o->r, err) != 0) return -1;
    if (v->has_init &&
        gl_neurons_compute(&v->nr0, &v->c, &v->init.L, v->init.params, basis, o->conv, o->r, err) != 0)
        return -1;
    return 0;
}

static int write_ipr(const char *dir, const run_view *v, const ipr_opts *o, double *threshold,
                     int *n_low, gl_error *err) {
    const gl_neurons *nr = &v->nr;
    int N = nr->N;
    double th = o->split >= 0 ? o->split : gl_otsu_threshold(nr->ipr, N, 0, 1);
    int low = 0;
    for (int k = 0; k < N; k++) low += nr->ipr[k] < th;
    *threshold = th;
    *n_low = low;
    cli_buf b = {0};
    cli_buf_printf(&b, "neuron,ipr,ipr_u,ipr_v,ipr_w,freq,freq_u,share_u,freq_v,share_v,freq_w,share_w,"
                       "norm_u,norm_v,norm_w,gain,ipr_init\n");
    for (int k = 0; k < N; k++) {
        cli_buf_printf(&b, "%d", k);
        csv_num(&b, nr->ipr[k]);
        for (int q = 0; q < GL_NVEC; q++) csv_num(&b, nr->vec_ipr[q][k]);
        cli_buf_printf(&b, ",%d", gl_neurons_frequency(nr, k));
        for (int q = 0; q < GL_NVEC; q++) {
            cli_buf_printf(&b, ",%d", nr->dominant[q][k]);
            csv_num(&b, nr->share[q][k]);
        }
        for (int q = 0; q < GL_NVEC; q++) csv_num(&b, nr->norm[q][k]);
        csv_num(&b, nr->gain ? nr->gain[k] : NAN);
        csv_num(&b, v->has_init ? v->nr0.ipr[k] : NAN);
        cli_buf_printf(&b, "\n");
    }
    if (cli_buf_save(&b, dir, "ipr.csv", err) != 0) {
        cli_buf_free(&b);
        return -1;
    }
    cli_buf_free(&b);
    /* summary */
    double pr = NAN, sp = NAN;
    if (nr->gain) {
        pr = gl_pearson(nr->ipr, nr->gain, N);
        sp = gl_spearman(nr->ipr, nr->gain, N);
    }
    cli_buf_printf(&b, "{\n  \"convention\": \"%s\",\n  \"basis\": \"%s\",\n", conv_words[nr->conv], gl_basis_name(nr->basis));
    if (nr->basis == GL_BASIS_DLOG) cli_buf_printf(&b, "  \"primitive_root\": %d,\n", gl_primitive_root(v->c.p));
    cli_buf_printf(&b, "  \"transform_length\": %d,\n  \"r\": %.17g,\n  \"neurons\": %d,\n", nr->n, nr->r, N);
    cli_buf_printf(&b, "  \"mean_ipr\": %.9g,\n", nr->mean_ipr);
    if (v->has_init) cli_buf_printf(&b, "  \"mean_ipr_init\": %.9g,\n", v->nr0.mean_ipr);
    else cli_buf_printf(&b, "  \"mean_ipr_init\": null,\n");
    cli_buf_printf(&b, "  \"threshold\": %.9g,\n  \"threshold_method\": \"%s\",\n  \"n_low\": %d,\n  \"n_high\": %d,\n",
                   th, o->split >= 0 ? "--split" : "otsu", low, N - low);
    if (nr->gain)
        cli_buf_printf(&b, "  \"ipr_gain_pearson\": %.9g,\n  \"ipr_gain_spearman\": %.9g,\n", pr, sp);
    cli_buf_printf(&b, "  \"step\": %ld\n}\n", v->model.step);
    int rc = cli_buf_save(&b, dir, "ipr_summary.json", err);
    cli_buf_free(&b);
    if (rc == 0 && !o->quiet) {
        printf("IPR of %d neurons (%s, %s basis%s, r = %g): mean %.4f", N, conv_words[nr->conv],
               gl_basis_name(nr->basis), nr->basis == GL_BASIS_DLOG ? ", residue 0 left out" : "", nr->r,
               nr->mean_ipr);
        if (v->has_init) printf(" (at initialization %.4f)", v->nr0.mean_ipr);
        printf("\n  low mode (IPR < %.3f, %s): %d neurons; high mode: %d neurons\n", th,
               o->split >= 0 ? "--split" : "Otsu threshold", low, N - low);
        if (nr->gain) printf("  IPR vs |gamma|: Pearson %.3f, Spearman %.3f\n", pr, sp);
    }
    return rc;
}

static int plot_ipr(const char *dir, const run_view *v, double th, gl_error *err) {
    cli_buf s = {0};
    double bw = 0.02;
    cli_buf_printf(&s, "# ipr.csv columns: 2 ipr, 16 gain, 17 ipr_init\n");
    cli_buf_printf(&s, "bw = %g\nbin(x) = bw * floor(x / bw) + bw / 2\n", bw);
    cli_buf_printf(&s, "set xrange [0:1]\nset xlabel 'IPR_k (%s, %s basis)'\nset ylabel 'neurons'\n",
                   conv_words[v->nr.conv], gl_basis_name(v->nr.basis));
    cli_buf_printf(&s, "set style fill transparent solid 0.55 noborder\nset grid\nset key top center\n");
    cli_buf_printf(&s, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 3 lc rgb '#555555'\n", th, th);
    cli_buf_printf(&s, "set title 'IPR of %d neurons, mean %.3f (step %ld)'\n", v->nr.N, v->nr.mean_ipr, v->model.step);
    cli_buf_printf(&s, "plot 'ipr.csv' skip 1 using (bin($2)):(1.0) smooth frequency with boxes lc rgb '#1f77b4' title 'after training'");
    if (v->has_init)
        cli_buf_printf(&s, ", \\\n     '' skip 1 using (bin($17)):(1.0) smooth frequency with boxes lc rgb '#999999' title 'initialization'");
    cli_buf_printf(&s, "\n");
    int rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, "ipr_hist", 640, 420, s.data, err);
    cli_buf_free(&s);
    if (rc || !v->nr.gain) return rc;
    cli_buf_printf(&s, "set xlabel '|gamma_k| (norm gain)'\nset ylabel 'IPR_k'\nset grid\nset key off\n");
    cli_buf_printf(&s, "set title 'IPR against norm gain (Pearson %.3f, Spearman %.3f)'\n",
                   gl_pearson(v->nr.ipr, v->nr.gain, v->nr.N), gl_spearman(v->nr.ipr, v->nr.gain, v->nr.N));
    cli_buf_printf(&s, "plot 'ipr.csv' skip 1 using 16:2 with points pt 7 ps 0.5 lc rgb '#1f77b4'\n");
    rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, "ipr_gain", 560, 440, s.data, err);
    cli_buf_free(&s);
    return rc;
}

void cli_ipr_opts_default(ipr_opts *o) {
    o->conv = GL_IPR_RFFT;
    o->basis = GL_BASIS_AUTO;
    o->r = 2.0;
    o->split = -1;
    o->plot = 1;
    o->quiet = 0;
}

/* Parses the options shared by ipr, spectrum and plot; returns 1 if argv[*i]
 * was one of them, 0 if not, -1 on a bad value. */
static int parse_ipr_opt(int argc, char **argv, int *i, ipr_opts *o) {
    const char *a = argv[*i], *v;
    int w;
    if (!strcmp(a, "--no-plot")) return o->plot = 0, 1;
    if (!strcmp(a, "--quiet")) return o->quiet = 1, 1;
    if (!strcmp(a, "--convention")) {
        if (!(v = opt_value(argc, argv, i)) || parse_word(a, v, conv_words, 2, &w)) return -1;
        o->conv = (gl_ipr_conv)w;
        return 1;
    }
    if (!strcmp(a, "--basis")) {
        if (!(v = opt_value(argc, argv, i)) || parse_word(a, v, basis_words, 3, &w)) return -1;
        o->basis = (gl_basis)w;
        return 1;
    }
    if (!strcmp(a, "--r")) return (v = opt_value(argc, argv, i)) && !parse_double(a, v, 1e-3, 100, &o->r) ? 1 : -1;
    if (!strcmp(a, "--split")) return (v = opt_value(argc, argv, i)) && !parse_double(a, v, 0, 1, &o->split) ? 1 : -1;
    return 0;
}

static int run_ipr(const char *dir, const ipr_opts *o) {
    run_view v;
    gl_error err;
    gl_config c;
    if (cli_open_run(dir, &c, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    if (c.arch != GL_ARCH_MLP) return cli_ipr_units(dir, &c, o);
    int rc = EXIT_OK;
    double th;
    int low;
    if (run_view_load(&v, dir, o, &err) != 0) rc = EXIT_USAGE;
    else if (write_ipr(dir, &v, o, &th, &low, &err) != 0 || (o->plot && plot_ipr(dir, &v, th, &err) != 0))
        rc = EXIT_FAIL;
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    else if (!o->quiet) printf("  wrote %s/ipr.csv, ipr_summary.json%s\n", dir, o->plot ? ", ipr_hist.png" : "");
    run_view_free(&v);
    return rc;
}

static void ipr_help(FILE *f) {
    fprintf(f,
            "usage: groklab ipr RUN [--convention rfft|full] [--r 2] [--basis auto|additive|dlog]\n"
            "                       [--split X] [--no-plot] [--quiet]\n\n"
            "Per-neuron inverse participation ratio of the run's final weights (and of its\n"
            "initial weights when init.safetensors is there): IPR of row k of U, row k of V,\n"
            "column k of W and their mean, each vector's dominant frequency and its share of\n"
            "the power, the vectors' norms, and |gamma_k| for models with a norm layer.\n\n"
            "  --convention  rfft (default): one-sided real FFT, floor(n/2)+1 bins, a cosine\n"
            "                has IPR 1; full: the complex DFT, a cosine has IPR 1/2\n"
            "  --r           the order r of sum a^2r / (sum a^2)^r (default 2)\n"
            "  --basis       auto (default): dlog for mul and div, additive otherwise; dlog\n"
            "                reorders the nonzero residues by the discrete log to a primitive\n"
            "                root of p (residue 0 left out), where multiplicative features are\n"
            "                periodic\n"
            "  --split       IPR threshold between the low and high modes (default: Otsu)\n\n"
            "Writes RUN/ipr.csv (one row per neuron), RUN/ipr_summary.json and the histogram\n"
            "RUN/ipr_hist.png (initial weights overlaid); with a norm layer also\n"
            "RUN/ipr_gain.png (IPR against |gamma|, Figure 5 right).\n");
}

int cmd_ipr(int argc, char **argv) {
    ipr_opts o;
    cli_ipr_opts_default(&o);
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            ipr_help(stdout);
            return EXIT_OK;
        }
        int r = parse_ipr_opt(argc, argv, &i, &o);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        if (argv[i][0] == '-' || dir) {
            cli_error("ipr: unexpected '%s' (usage: groklab ipr RUN [--convention rfft|full] [--r R] [--basis auto|additive|dlog] [--split X] [--no-plot] [--quiet])", argv[i]);
            return EXIT_USAGE;
        }
        dir = argv[i];
    }
    if (!dir) {
        cli_error("ipr: which run? (usage: groklab ipr RUN [options]; groklab ipr --help)");
        return EXIT_USAGE;
    }
    return run_ipr(dir, &o);
}

/* ---- spectrum ---- */

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

static int write_spectrum(const char *dir, const run_view *v, int neuron, int plot, int quiet,
                          gl_error *err) {
    const gl_neurons *nr = &v->nr;
    int N = nr->N, nb = nr->bins, rc;
    sort_item *it = malloc(sizeof *it * (size_t)N);
    if (!it) return gl_fail(err, "out of memory");
    for (int k = 0; k < N; k++) it[k] = (sort_item){gl_neurons_frequency(nr, k), k, nr->ipr[k]};
    qsort(it, (size_t)N, sizeof *it, sort_cmp);
    /* spectrum.csv: every neuron's power per frequency, rank = row of the heat map */
    cli_buf b = {0};
    cli_buf_printf(&b, "neuron,rank,freq,power_u,power_v,power_w,amp_u,amp_v,amp_w\n");
    for (int r = 0; r < N; r++) {
        int k = it[r].k;
        double mx[GL_NVEC] = {0};
        for (int q = 0; q < GL_NVEC; q++)
            for (int j = 0; j < nb; j++) mx[q] = fmax(mx[q], nr->power[q][(size_t)k * nb + j]);
        for (int j = 0; j < nb; j++) {
            cli_buf_printf(&b, "%d,%d,%d", k, r, j);
            for (int q = 0; q < GL_NVEC; q++) csv_num(&b, nr->power[q][(size_t)k * nb + j]);
            for (int q = 0; q < GL_NVEC; q++)
                csv_num(&b, mx[q] > 0 ? sqrt(nr->power[q][(size_t)k * nb + j] / mx[q]) : 0.0);
            cli_buf_printf(&b, "\n");
        }
    }
    free(it);
    rc = cli_buf_save(&b, dir, "spectrum.csv", err);
    cli_buf_free(&b);
    if (rc) return -1;
    /* the chosen neuron: weights in basis order, before and after, and its spectrum */
    gl_ipr_plan *P;
    if (gl_ipr_plan_create(&P, v->c.p, 1, nr->basis, err) != 0) return -1;
    int n = gl_ipr_plan_length(P);
    cli_buf_printf(&b, "position,residue,u_init,u,v_init,v,w_init,w\n");
    for (int j = 0; j < n; j++) {
        int res = gl_ipr_plan_index(P, j);
        cli_buf_printf(&b, "%d,%d", j, res);
        for (int q = 0; q < GL_NVEC; q++) {
            csv_num(&b, v->has_init ? weight_at(&v->init, q, res, neuron) : NAN);
            csv_num(&b, weight_at(&v->model, q, res, neuron));
        }
        cli_buf_printf(&b, "\n");
    }
    gl_ipr_plan_free(P);
    char name[64];
    snprintf(name, sizeof name, "neuron_%d.csv", neuron);
    rc = cli_buf_save(&b, dir, name, err);
    cli_buf_free(&b);
    if (rc) return -1;
    cli_buf_printf(&b, "freq,power_u_init,power_u,power_v_init,power_v,power_w_init,power_w\n");
    for (int j = 0; j < nb; j++) {
        cli_buf_printf(&b, "%d", j);
        for (int q = 0; q < GL_NVEC; q++) {
            csv_num(&b, v->has_init ? v->nr0.power[q][(size_t)neuron * nb + j] : NAN);
            csv_num(&b, nr->power[q][(size_t)neuron * nb + j]);
        }
        cli_buf_printf(&b, "\n");
    }
    snprintf(name, sizeof name, "neuron_%d_spectrum.csv", neuron);
    rc = cli_buf_save(&b, dir, name, err);
    cli_buf_free(&b);
    if (rc) return -1;
    if (!quiet) {
        int f = gl_neurons_frequency(nr, neuron);
        printf("neuron %d: IPR %.4f (U %.3f, V %.3f, W %.3f), dominant frequency %d (%s basis), power share U %.2f V %.2f W %.2f\n",
               neuron, nr->ipr[neuron], nr->vec_ipr[0][neuron], nr->vec_ipr[1][neuron], nr->vec_ipr[2][neuron], f,
               gl_basis_name(nr->basis), nr->share[0][neuron], nr->share[1][neuron], nr->share[2][neuron]);
    }
    if (!plot) return 0;
    /* heat map of |DFT| over all neurons sorted by dominant frequency */
    cli_buf s = {0};
    cli_buf_printf(&s, "# spectrum.csv columns: 2 rank, 3 freq, 7-9 |DFT| of U, V, W scaled to the neuron's peak\n");
    cli_buf_printf(&s, "set multiplot layout 1,3 title 'Fourier spectra of %d neurons, sorted by dominant frequency (%s basis)'\n",
                   N, gl_basis_name(nr->basis));
    cli_buf_printf(&s, "set palette defined (0 'white', 0.3 '#9ecae1', 1 '#08306b')\nset cbrange [0:1]\n");
    cli_buf_printf(&s, "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\nset xlabel 'frequency'\nset ylabel 'neuron (sorted)'\n", nb - 1, N - 1);
    const char *vn[3] = {"U (rows)", "V (rows)", "W (columns)"};
    for (int q = 0; q < 3; q++)
        cli_buf_printf(&s, "set title '%s'\nplot 'spectrum.csv' skip 1 using 3:2:%d with image notitle\n", vn[q], 7 + q);
    cli_buf_printf(&s, "unset multiplot\n");
    rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, "spectrum", 1200, 480, s.data, err);
    cli_buf_free(&s);
    if (rc) return -1;
    /* one neuron before and after (Figure 2b), and its power spectrum */
    cli_buf_printf(&s, "set multiplot layout 1,4 title 'neuron %d: IPR %.3f, dominant frequency %d'\nset grid\nset key bottom right font ',8'\n",
                   neuron, nr->ipr[neuron], gl_neurons_frequency(nr, neuron));
    cli_buf_printf(&s, "set xlabel '%s'\n", nr->basis == GL_BASIS_DLOG ? "position j (residue g^j)" : "residue");
    for (int q = 0; q < 3; q++) {
        cli_buf_printf(&s, "set title '%s'\nplot 'neuron_%d.csv' skip 1 using 1:%d with linespoints pt 7 ps 0.3 lc rgb '#1f77b4' title 'after'",
                       vn[q], neuron, 4 + 2 * q);
        if (v->has_init) cli_buf_printf(&s, ", '' skip 1 using 1:%d with lines dt 2 lc rgb '#999999' title 'init'", 3 + 2 * q);
        cli_buf_printf(&s, "\n");
    }
    cli_buf_printf(&s, "set title 'power |x~_j|^2'\nset xlabel 'frequency'\nset style fill solid 0.6\n");
    cli_buf_printf(&s, "set boxwidth 0.3\nset key top left\n");
    cli_buf_printf(&s, "plot 'neuron_%d_spectrum.csv' skip 1 using ($1-0.3):3 with boxes lc rgb '#1f77b4' title 'U', '' skip 1 using 1:5 with boxes lc rgb '#d62728' title 'V', '' skip 1 using ($1+0.3):7 with boxes lc rgb '#2ca02c' title 'W'\n", neuron);
    cli_buf_printf(&s, "unset multiplot\n");
    snprintf(name, sizeof name, "neuron_%d", neuron);
    rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, name, 1500, 400, s.data, err);
    cli_buf_free(&s);
    return rc;
}

static int best_neuron(const gl_neurons *nr) {
    int k = 0;
    for (int j = 1; j < nr->N; j++)
        if (nr->ipr[j] > nr->ipr[k]) k = j;
    return k;
}

static void spectrum_help(FILE *f) {
    fprintf(f,
            "usage: groklab spectrum RUN [--neuron K] [--basis auto|additive|dlog] [--no-plot] [--quiet]\n\n"
            "Fourier power spectra of every neuron (RUN/spectrum.csv), the heat map of |DFT|\n"
            "over all neurons sorted by dominant frequency (RUN/spectrum.png), and one\n"
            "neuron's weights before and after training with its spectrum (Figure 2b:\n"
            "RUN/neuron_K.csv, neuron_K_spectrum.csv, neuron_K.png). The default neuron is\n"
            "the one with the highest IPR.\n");
}

int cmd_spectrum(int argc, char **argv) {
    ipr_opts o;
    cli_ipr_opts_default(&o);
    const char *dir = NULL;
    long neuron = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            spectrum_help(stdout);
            return EXIT_OK;
        }
        int r = parse_ipr_opt(argc, argv, &i, &o);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        if (!strcmp(argv[i], "--neuron")) {
            const char *v = opt_value(argc, argv, &i);
            if (!v || parse_int("--neuron", v, 0, 1L << 30, &neuron)) return EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' || dir) {
            cli_error("spectrum: unexpected '%s' (usage: groklab spectrum RUN [--neuron K] [--basis auto|additive|dlog] [--no-plot] [--quiet])", argv[i]);
            return EXIT_USAGE;
        }
        dir = argv[i];
    }
    if (!dir) {
        cli_error("spectrum: which run? (usage: groklab spectrum RUN [options]; groklab spectrum --help)");
        return EXIT_USAGE;
    }
    run_view v;
    gl_error err;
    int rc = EXIT_OK;
    if (run_view_load(&v, dir, &o, &err) != 0) {
        cli_error("%s", err.msg);
        rc = EXIT_USAGE;
    } else if (neuron >= v.nr.N) {
        cli_error("--neuron: %ld is out of range (allowed: 0 to %d, the width of the run)", neuron, v.nr.N - 1);
        rc = EXIT_USAGE;
    } else if (write_spectrum(dir, &v, neuron < 0 ? best_neuron(&v.nr) : (int)neuron, o.plot, o.quiet, &err) != 0) {
        cli_error("%s", err.msg);
        rc = EXIT_FAIL;
    }
    run_view_free(&v);
    return rc;
}

/* ---- prune ---- */

static const char *const order_words[] = {"low", "high", "random"};

int cli_prune_run(const char *dir, const cli_prune_opts *po, cli_prune_result *res, gl_error *err) {
    gl_config c;
    memset(res, 0, sizeof *res);
    if (cli_open_run(dir, &c, err) != 0) return EXIT_USAGE;
    if (c.arch != GL_ARCH_MLP)
        return gl_fail(err, "%s is a %s run: pruning is built for --model mlp (neurons of the two-layer MLP)",
                       dir, gl_arch_name(c.arch)), EXIT_USAGE;
    if (!cli_file_exists(dir, "model.safetensors"))
        return gl_fail(err, "%s has no weights (model.safetensors is missing)", dir), EXIT_USAGE;
    gl_model m;
    gl_dataset d;
    if (gl_run_load_model(dir, "model", &c, &m, err) != 0) return EXIT_USAGE;
    if (gl_run_load_data(dir, &c, &d, err) != 0) {
        gl_model_free(&m);
        return EXIT_USAGE;
    }
    gl_neurons nr;
    int rc = EXIT_OK, N = m.L.N;
    gl_prune *pr = NULL;
    int *order = malloc(sizeof(int) * (size_t)N);
    double *acc = calloc((size_t)(N + 1) * GL_PRUNE_NCOLS * 2, sizeof(double)); /* sums, squares */
    gl_prune_row *rows = malloc(sizeof(gl_prune_row) * (size_t)(N + 1));
    cli_buf b = {0};
    if (gl_neurons_compute(&nr, &c, &m.L, m.params, GL_BASIS_AUTO, c.ipr, 2.0, err) != 0) {
        free(rows);
        free(order);
        free(acc);
        gl_model_free(&m);
        gl_dataset_free(&d);
        return EXIT_FAIL;
    }
    double t0 = cli_now();
    if (!order || !acc || !rows) rc = (gl_fail(err, "out of memory"), EXIT_FAIL);
    else if (gl_prune_create(&pr, &c, &m.L, m.params, m.run_mean, m.run_var, &d, po->on_all, err) != 0)
        rc = EXIT_FAIL;
    cli_buf_printf(&b, "order,pruned,fraction,seeds");
    for (int j = 0; j < GL_PRUNE_NCOLS; j++) cli_buf_printf(&b, ",%s", gl_prune_columns[j]);
    for (int j = 0; j < GL_PRUNE_NCOLS; j++) cli_buf_printf(&b, ",%s_std", gl_prune_columns[j]);
    cli_buf_printf(&b, "\n");
    res->prunable = res->prefix = -1;
    for (int oi = 0; oi < 3 && rc == EXIT_OK; oi++) {
        if (!(po->orders & (1 << oi))) continue;
        int draws = oi == 2 ? po->seeds : 1;
        memset(acc, 0, sizeof(double) * (size_t)(N + 1) * GL_PRUNE_NCOLS * 2);
        for (int s = 0; s < draws; s++) {
            if (oi == 2) gl_order_random(order, N, po->seed, (uint32_t)s);
            else gl_order_by(order, nr.ipr, N, oi == 1);
            if (gl_prune_curve(pr, order, N, rows, po->threads) != 0) {
                rc = (gl_fail(err, "out of memory while pruning"), EXIT_FAIL);
                break;
            }
            for (int n = 0; n <= N; n++) {
                double v[GL_PRUNE_NCOLS];
                gl_prune_row_to_array(&rows[n], v);
                double *a = acc + (size_t)n * GL_PRUNE_NCOLS * 2;
                for (int j = 0; j < GL_PRUNE_NCOLS; j++) a[j] += v[j], a[GL_PRUNE_NCOLS + j] += v[j] * v[j];
            }
        }
        for (int n = 0; n <= N; n++) {
            double *a = acc + (size_t)n * GL_PRUNE_NCOLS * 2, mean[GL_PRUNE_NCOLS];
            cli_buf_printf(&b, "%s,%d,%.6g,%d", order_words[oi], n, (double)n / N, draws);
            for (int j = 0; j < GL_PRUNE_NCOLS; j++) {
                mean[j] = a[j] / draws;
                csv_num(&b, mean[j]);
            }
            for (int j = 0; j < GL_PRUNE_NCOLS; j++) {
                double var = draws > 1 ? (a[GL_PRUNE_NCOLS + j] - draws * mean[j] * mean[j]) / (draws - 1) : 0;
                csv_num(&b, sqrt(var > 0 ? var : 0));
            }
            cli_buf_printf(&b, "\n");
            for (int i = 0; i <= 10; i++) /* the fractions the report prints */
                if (n == (int)lround(i * N / 10.0)) {
                    res->curve[oi][i].pruned = n;
                    memcpy(res->curve[oi][i].v, mean, sizeof mean);
                }
            if (oi == 0 && res->prefix == n - 1 && mean[1] >= po->threshold) res->prefix = n;
            if (oi == 0 && mean[1] >= po->threshold) res->prunable = n;
        }
        res->has[oi] = 1;
    }
    res->N = N;
    res->noise = c.noise;
    res->seconds = cli_now() - t0;
    if (rc == EXIT_OK && cli_buf_save(&b, dir, "prune.csv", err) != 0) rc = EXIT_FAIL;
    cli_buf_free(&b);
    if (rc == EXIT_OK && res->has[0]) {
        cli_buf_printf(&b, "{\n  \"threshold\": %.9g,\n  \"prunable\": %d,\n  \"prunable_fraction\": %.9g,\n"
                           "  \"prunable_prefix\": %d,\n  \"width\": %d,\n  \"on\": \"%s\",\n  \"seconds\": %.6f\n}\n",
                       po->threshold, res->prunable, (double)res->prunable / N, res->prefix, N,
                       po->on_all ? "all" : "train", res->seconds);
        if (cli_buf_save(&b, dir, "prune_summary.json", err) != 0) rc = EXIT_FAIL;
        cli_buf_free(&b);
    }
    gl_prune_free(pr);
    gl_neurons_free(&nr);
    free(rows);
    free(order);
    free(acc);
    gl_model_free(&m);
    gl_dataset_free(&d);
    return rc;
}

void cli_prune_print(const char *dir, const cli_prune_result *r, const cli_prune_opts *po) {
    printf("pruning %s: %d neurons, every count evaluated in %.2fs\n", dir, r->N, r->seconds);
    printf("%-7s %7s %8s %8s %10s %10s %8s %9s\n", "order", "pruned", "train", "test", "corrupted", "corr.true",
           "clean", "all.true");
    for (int oi = 0; oi < 3; oi++) {
        if (!r->has[oi]) continue;
        for (int i = 0; i <= 10; i++) {
            const cli_prune_point *pt = &r->curve[oi][i];
            printf("%-7s %6.0f%% %8.4f %8.4f %10.4f %10.4f %8.4f %9.4f\n", oi == 2 && po->seeds > 1 ? "random*" : order_words[oi],
                   100.0 * pt->pruned / r->N, pt->v[0], pt->v[1], pt->v[2], pt->v[3], pt->v[4], pt->v[5]);
        }
    }
    if (r->has[2] && po->seeds > 1) printf("* mean over %d random orders (spread in prune.csv, *_std columns)\n", po->seeds);
    if (r->has[0] && r->prunable < 0)
        printf("test accuracy is below %.0f%% before any pruning\n", 100 * po->threshold);
    else if (r->has[0])
        printf("lowest IPR first: test accuracy >= %.0f%% with %d of %d neurons pruned (%.1f%%), and at every count up to %d\n",
               100 * po->threshold, r->prunable, r->N, 100.0 * r->prunable / r->N, r->prefix);
}

int cli_plot_prune(const char *dir, const char *name, int n, const char *const *runs,
                   const char *const *labels, const double *noise, int long_form, gl_error *err) {
    cli_buf s = {0};
    int present[3] = {0}, panels = 0, which[3];
    char path[4096], *text = NULL;
    snprintf(path, sizeof path, "%s/%s/prune.csv", dir, runs[0]);
    gl_error e;
    if (gl_read_file(path, &text, NULL, &e) != 0) return gl_fail(err, "%s", e.msg);
    for (int oi = 0; oi < 3; oi++) {
        char key[32];
        snprintf(key, sizeof key, "\n%s,", order_words[oi]);
        present[oi] = strstr(text, key) != NULL;
        if (present[oi]) which[panels++] = oi;
    }
    free(text);
    if (!panels) return gl_fail(err, "%s has no pruning rows", path);
    cli_buf_printf(&s, "# prune.csv columns: 1 order, 2 pruned, 3 fraction, 5 train_acc, 6 test_acc, 7 corrupted_acc,\n"
                       "# 8 corrupted_true_acc, 9 clean_acc, 10 all_true_acc; 13.. the *_std columns (random order)\n");
    cli_buf_printf(&s, "sel(o, c) = strcol(1) eq o ? column(c) : NaN\n");
    cli_buf_printf(&s, "set multiplot layout %d,%d title 'cumulative pruning of neurons, no retraining'\n", n, panels);
    cli_buf_printf(&s, "set yrange [0:1.02]\nset grid\nset key bottom left font ',8'\nset ylabel 'accuracy'\n");
    cli_buf_printf(&s, "set xlabel '%s'\n", long_form ? "neurons pruned" : "fraction of neurons pruned");
    const char *titles[3] = {"lowest IPR first", "highest IPR first", "random order (mean +- sd)"};
    int x = long_form ? 2 : 3;
    for (int r = 0; r < n; r++)
        for (int pi = 0; pi < panels; pi++) {
            int oi = which[pi];
            const char *o = order_words[oi];
            cli_buf_printf(&s, "set title '%s%s%s'\n", labels[r], labels[r][0] ? ": " : "", titles[oi]);
            cli_buf_printf(&s, "plot ");
            if (oi == 2)
                cli_buf_printf(&s, "'%s/prune.csv' skip 1 using %d:(sel('%s',6)-sel('%s',14)):(sel('%s',6)+sel('%s',14)) with filledcurves fs transparent solid 0.2 lc rgb '#d62728' notitle, \\\n     ",
                               runs[r], x, o, o, o, o);
            cli_buf_printf(&s,
                           "'%s/prune.csv' skip 1 using %d:(sel('%s',5)) with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                           "     '' skip 1 using %d:(sel('%s',6)) with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                           "     '' skip 1 using %d:(sel('%s',7)) with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                           "     '' skip 1 using %d:(sel('%s',9)) with lines lw 2 dt 2 lc rgb '#9467bd' title 'clean train'",
                           runs[r], x, o, x, o, x, o, x, o);
            if (long_form)
                cli_buf_printf(&s, ", \\\n     '' skip 1 using %d:(sel('%s',8)) with lines lw 1 lc rgb '#8c564b' title 'corrupted (true)', \\\n"
                                   "     '' skip 1 using %d:(sel('%s',10)) with lines lw 1 dt 3 lc rgb '#333333' title 'all pairs (true)'",
                               x, o, x, o);
            cli_buf_printf(&s, ", \\\n     %g with lines dt 4 lc rgb '#555555' title '1 - xi'\n", 1 - noise[r]);
        }
    cli_buf_printf(&s, "unset multiplot\n");
    int rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, name, 420 * panels + 40, 360 * n + 40, s.data, err);
    cli_buf_free(&s);
    return rc;
}

static void prune_help(FILE *f) {
    fprintf(f,
            "usage: groklab prune RUN [--order low|high|random|all] [--seeds 20] [--seed S]\n"
            "                         [--on all|train] [--threshold 0.9] [--threads T] [--no-plot] [--quiet]\n\n"
            "Cumulative pruning on a copy of the trained weights, no retraining: pruning\n"
            "neuron k zeroes row k of U and V and column k of W (with BatchNorm the neuron's\n"
            "shift reaches the output only through that column, so the output no longer\n"
            "depends on it; with LayerNorm the pruned neuron's activation is 0 and still\n"
            "counts in the per-example mean and variance). Orders: lowest IPR first, highest\n"
            "IPR first, and random orders (mean and spread over --seeds draws); several\n"
            "orders as a comma list, or all (the default).\n\n"
            "  --on all     evaluate on every pair of the task (train, test, all-pairs columns);\n"
            "     train     the training set only (test columns are nan), faster for large p\n"
            "  --threshold  test accuracy to keep when counting how many neurons can go: the\n"
            "               largest count, lowest IPR first, with test accuracy >= threshold\n\n"
            "Writes RUN/prune.csv (order, pruned, fraction, seeds, train_acc, test_acc,\n"
            "corrupted_acc, corrupted_true_acc, clean_acc, all_true_acc, train_loss, test_loss,\n"
            "then each with _std), RUN/prune_summary.json, and the figures RUN/prune.png\n"
            "(Figure 6) and RUN/prune_long.png (Figure 17's form, all curves over counts).\n");
}

int cli_parse_orders(const char *v, int *mask) {
    *mask = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int w;
        if (!strcmp(tok, "all")) {
            *mask = 7;
            continue;
        }
        if (parse_word("--order", tok, (const char *const[]){"low", "high", "random", "all"}, 4, &w)) return -1;
        *mask |= 1 << w;
    }
    if (!*mask) {
        cli_error("--order: empty (allowed: low, high, random, all, or a comma list)");
        return -1;
    }
    return 0;
}

int cmd_prune(int argc, char **argv) {
    cli_prune_opts po = {.orders = 7, .seeds = 20, .seed = 0, .on_all = 1, .threshold = 0.9, .threads = 0};
    int plot = 1, quiet = 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            prune_help(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--no-plot")) plot = 0;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--order")) {
            if (!(v = opt_value(argc, argv, &i)) || cli_parse_orders(v, &po.orders)) return EXIT_USAGE;
        } else if (!strcmp(a, "--seeds")) {
            if (!(v = opt_value(argc, argv, &i)) || parse_int(a, v, 1, 100000, &l)) return EXIT_USAGE;
            po.seeds = (int)l;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = opt_value(argc, argv, &i)) || parse_int(a, v, 0, 1L << 62, &l)) return EXIT_USAGE;
            po.seed = (uint64_t)l;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = opt_value(argc, argv, &i)) || parse_int(a, v, 0, 4096, &l)) return EXIT_USAGE;
            po.threads = (int)l;
        } else if (!strcmp(a, "--on")) {
            int w;
            if (!(v = opt_value(argc, argv, &i)) || parse_word(a, v, (const char *const[]){"train", "all"}, 2, &w)) return EXIT_USAGE;
            po.on_all = w;
        } else if (!strcmp(a, "--threshold")) {
            if (!(v = opt_value(argc, argv, &i)) || parse_double(a, v, 0, 1, &po.threshold)) return EXIT_USAGE;
        } else if (a[0] == '-' || dir) {
            cli_error("prune: unexpected '%s' (usage: groklab prune RUN [--order low|high|random|all] [--seeds N] [--seed S] [--on all|train] [--threshold X] [--no-plot] [--quiet])", a);
            return EXIT_USAGE;
        } else dir = a;
    }
    if (!dir) {
        cli_error("prune: which run? (usage: groklab prune RUN [options]; groklab prune --help)");
        return EXIT_USAGE;
    }
    cli_prune_result r;
    gl_error err;
    int rc = cli_prune_run(dir, &po, &r, &err);
    if (rc != EXIT_OK) {
        cli_error("%s", err.msg);
        return rc;
    }
    if (!quiet) cli_prune_print(dir, &r, &po);
    if (plot) {
        const char *runs[1] = {"."}, *labels[1] = {""};
        double noise[1] = {r.noise};
        if (cli_plot_prune(dir, "prune", 1, runs, labels, noise, 0, &err) != 0 ||
            cli_plot_prune(dir, "prune_long", 1, runs, labels, noise, 1, &err) != 0) {
            cli_error("%s", err.msg);
            return EXIT_FAIL;
        }
        if (!quiet) printf("wrote %s/prune.csv, prune_summary.json, prune.png, prune_long.png\n", dir);
    }
    return EXIT_OK;
}

/* ---- plot: every figure that applies ---- */

int cli_plot_run_curves(const char *dir, const char *name, int logx, gl_error *err) {
    cli_buf s = {0};
    const char *x = logx ? "($1 > 0 ? $1 : NaN)" : "1";
    if (logx) cli_buf_printf(&s, "set logscale x\n");
    cli_buf_printf(&s, "# metrics.csv columns: 1 step, 4 train_acc, 5 test_acc, 6 corrupted_acc, 8 clean_acc, 12 mean_ipr\n");
    cli_buf_printf(&s, "set grid\nset xlabel 'step'\nset ylabel 'accuracy'\nset yrange [0:1.02]\n");
    cli_buf_printf(&s, "set y2label 'mean IPR'\nset y2tics\nset ytics nomirror\nset key bottom right font ',9'\n");
    cli_buf_printf(&s, "plot 'metrics.csv' skip 1 using %s:4 with lines lw 2 lc rgb '#1f77b4' title 'train', \\\n"
                       "     '' skip 1 using %s:5 with lines lw 2 lc rgb '#d62728' title 'test', \\\n"
                       "     '' skip 1 using %s:6 with lines lw 2 lc rgb '#2ca02c' title 'corrupted (given)', \\\n"
                       "     '' skip 1 using %s:12 axes x1y2 with lines lw 2 dt 2 lc rgb '#000000' title 'mean IPR (right)'\n",
                   x, x, x, x);
    int rc = s.failed ? gl_fail(err, "out of memory") : cli_gnuplot(dir, name, 720, 440, s.data, err);
    cli_buf_free(&s);
    return rc;
}

static void plot_help(FILE *f) {
    fprintf(f,
            "usage: groklab plot RUN [--neuron K] [--convention rfft|full] [--basis auto|additive|dlog] [--quiet]\n\n"
            "Every figure that applies to the run: training curves with the mean IPR on a\n"
            "second axis (curves.png, Figure 2a), the IPR histogram with the initial one\n"
            "(ipr_hist.png, Figure 4), the spectra heat map (spectrum.png), one neuron before\n"
            "and after (neuron_K.png, Figure 2b), IPR against the norm gain for models with a\n"
            "norm layer (ipr_gain.png, Figure 5), and the pruning curves when prune.csv is\n"
            "there (prune.png, prune_long.png; run groklab prune RUN first).\n");
}

int cmd_plot(int argc, char **argv) {
    ipr_opts o;
    cli_ipr_opts_default(&o);
    const char *dir = NULL;
    long neuron = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            plot_help(stdout);
            return EXIT_OK;
        }
        int r = parse_ipr_opt(argc, argv, &i, &o);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        if (!strcmp(argv[i], "--neuron")) {
            const char *v = opt_value(argc, argv, &i);
            if (!v || parse_int("--neuron", v, 0, 1L << 30, &neuron)) return EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' || dir) {
            cli_error("plot: unexpected '%s' (usage: groklab plot RUN [--neuron K] [--convention rfft|full] [--basis auto|additive|dlog] [--quiet])", argv[i]);
            return EXIT_USAGE;
        }
        dir = argv[i];
    }
    if (!dir) {
        cli_error("plot: which run? (usage: groklab plot RUN [options]; groklab plot --help)");
        return EXIT_USAGE;
    }
    gl_error err;
    int rc = cli_analyze_run(dir, &o, (int)neuron, &err);
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    return rc;
}

int cli_analyze_run(const char *dir, const ipr_opts *opts, int neuron, gl_error *err) {
    ipr_opts o = *opts;
    o.plot = 1;
    run_view v;
    if (run_view_load(&v, dir, &o, err) != 0) {
        run_view_free(&v);
        return EXIT_USAGE;
    }
    if (neuron >= v.nr.N) {
        gl_fail(err, "--neuron: %d is out of range (allowed: 0 to %d)", neuron, v.nr.N - 1);
        run_view_free(&v);
        return EXIT_USAGE;
    }
    double th;
    int low, rc = 0;
    if (cli_file_exists(dir, "metrics.csv")) rc = cli_plot_run_curves(dir, "curves", v.c.log_points > 0, err);
    if (!rc) rc = write_ipr(dir, &v, &o, &th, &low, err);
    if (!rc) rc = plot_ipr(dir, &v, th, err);
    if (!rc) rc = write_spectrum(dir, &v, neuron < 0 ? best_neuron(&v.nr) : neuron, 1, o.quiet, err);
    if (!rc && cli_file_exists(dir, "prune.csv")) {
        const char *runs[1] = {"."}, *labels[1] = {""};
        double noise[1] = {v.c.noise};
        rc = cli_plot_prune(dir, "prune", 1, runs, labels, noise, 0, err);
        if (!rc) rc = cli_plot_prune(dir, "prune_long", 1, runs, labels, noise, 1, err);
    }
    int has_gain = v.nr.gain != NULL;
    run_view_free(&v);
    if (rc) return EXIT_FAIL;
    if (!o.quiet) printf("figures in %s: curves, ipr_hist, spectrum, neuron_K%s%s (.png, .svg, .gp)\n", dir,
                         has_gain ? ", ipr_gain" : "", cli_file_exists(dir, "prune.csv") ? ", prune, prune_long" : "");
    return EXIT_OK;
}
