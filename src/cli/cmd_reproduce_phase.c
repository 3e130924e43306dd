/* groklab reproduce fig3a|fig3b|fig3c|fig3d|fig7a|fig7b and the appendix
 * variants: the paper's phase diagrams as sweeps (docs/paper.md sections 3, 4
 * and 6). Each is a grid of alpha x xi per panel; `--scale small` is a reduced
 * grid that finishes in minutes on 2 cores (5 x 5 at p 59 for the two-layer
 * MLP), `--scale paper` the paper's 17 x 19 grid at p 97. The Figure 7
 * targets also train one run per panel at alpha 0.8, xi 0.2 into its own run
 * directory and draw its input-layer IPR histogram at initialization and
 * after training. Running the same command again resumes the sweep. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct phase_fig {
    const char *name, *title;
    const char *knobs;  /* "knob=value;..." for every run */
    const char *facet;  /* the panel axis: knob name */
    const char *values; /* its spec (for variant: label:knob=v;...|...) */
    /* --scale small (NULL / 0: the two-layer MLP's 5 x 5 grid at p 59) */
    int small_p;
    const char *small_frac, *small_noise;
    int ipr; /* also the IPR histogram runs at alpha 0.8, xi 0.2 */
    int grokfast; /* panels in pairs without and with GrokFast: the table of steps to 90% test */
} phase_fig;

/* Figure 7 (docs/paper.md sections 3 and 4): lr 0.001, MSE. The small scale is a
 * 3 x 3 grid that contains the histogram point (alpha 0.8, xi 0.2), at a
 * modulus where it finishes in about 20 minutes on 2 cores: p 43 for the
 * Transformer, p 31 for the deep MLP (5000 steps of N^2 products). */
#define FIG7A "model=transformer;lr=0.001;steps=3000"
#define FIG7B "model=deep-mlp;depth=3;width=500;lr=0.001;steps=5000"
#define FIG7A_SMALL 43, "0.3,0.55,0.8", "0,0.2,0.4", 1, 0
#define FIG7B_SMALL 31, "0.3,0.55,0.8", "0,0.2,0.4", 1, 0
#define FIG7B_WD "1,10"
#define MLP_SMALL 0, NULL, NULL, 0, 0

/* Minibatch runs keep the epochs of 2000 full steps at b = 256 and scale the
 * learning rate as 0.01 sqrt(b / 256) (docs/paper.md section 4). */
#define BATCHES                                                                  \
    "b8:batch=8;lr=0.0017677669529663688;steps=64000;log_points=120|"           \
    "b32:batch=32;lr=0.0035355339059327377;steps=16000;log_points=120|"         \
    "b64:batch=64;lr=0.005;steps=8000;log_points=120|"                           \
    "b256:batch=256;lr=0.01;steps=2000;log_points=120"

/* Figure 3(a)'s weight decays, each without and with GrokFast (docs/training.md) */
#define GF(v) "wd" v ":wd=" v "|wd" v "+grokfast:wd=" v ";grokfast=ema"
#define GROKFAST_PANELS GF("0") "|" GF("5") "|" GF("15") "|" GF("20")

static const phase_fig figs[] = {
    {"fig3a", "weight decay", "", "wd", "0,5,15,20", MLP_SMALL},
    {"fig3b", "dropout", "", "dropout", "0,0.3,0.6,0.9", MLP_SMALL},
    {"fig3c", "BatchNorm, batch size", "norm=batchnorm", "variant", BATCHES, MLP_SMALL},
    {"fig3d", "minibatch size, no norm", "", "variant",
     "b8:batch=8;lr=0.0017677669529663688;steps=64000;log_points=120|"
     "b256:batch=256;lr=0.01;steps=2000;log_points=120|full:batch=0;lr=0.01;steps=2000", MLP_SMALL},
    {"fig3a-relu", "ReLU, weight decay", "act=relu", "wd", "0,5,15,20", MLP_SMALL},
    {"fig3a-ce", "cross-entropy, weight decay", "loss=ce", "wd", "0,5,15,20", MLP_SMALL},
    {"fig3a-width5000", "width 5000, weight decay", "width=5000", "wd", "0,5,15,20", MLP_SMALL},
    {"fig3a-mul", "multiplication, weight decay", "task=mul", "wd", "0,5,15,20", MLP_SMALL},
    {"fig3a-grokfast", "weight decay, AdamW without and with the GrokFast EMA filter (alpha 0.98, lambda 2)", "",
     "variant", GROKFAST_PANELS, 0, NULL, NULL, 0, 1},
    {"fig7a", "Transformer, weight decay", FIG7A, "wd", "10,50", FIG7A_SMALL},
    {"fig7a-heads8", "Transformer, 8 heads, weight decay", FIG7A ";heads=8", "wd", "10,50", FIG7A_SMALL},
    {"fig7a-tie", "Transformer, tied embedding, weight decay", FIG7A ";tie=1", "wd", "10,50", FIG7A_SMALL},
    {"fig7a-layernorm", "Transformer, LayerNorm, weight decay", FIG7A ";norm=layernorm", "wd", "10,50", FIG7A_SMALL},
    {"fig7b", "3-layer ReLU MLP, weight decay", FIG7B, "wd", FIG7B_WD, FIG7B_SMALL},
    {"fig7b-lazy", "3-layer ReLU MLP, lazy init, weight decay", FIG7B ";param=lazy", "wd", FIG7B_WD, FIG7B_SMALL},
    {"fig7b-batchnorm", "3-layer ReLU MLP, BatchNorm, weight decay", FIG7B ";norm=batchnorm", "wd", FIG7B_WD, FIG7B_SMALL},
};
#define NPF (int)(sizeof figs / sizeof figs[0])

int cli_is_phase_figure(const char *name) {
    for (int i = 0; i < NPF; i++)
        if (!strcmp(name, figs[i].name)) return 1;
    return 0;
}

void cli_phase_figures_help(FILE *f) {
    fprintf(f, "phase diagrams (sweeps; run the same command again to resume; groklab sweep --help):\n");
    for (int i = 0; i < NPF; i++)
        fprintf(f, "  %-16s alpha x xi, panels: %s (%s %s)%s%s\n", figs[i].name, figs[i].title,
                figs[i].facet, strcmp(figs[i].facet, "variant") ? figs[i].values : "as titled",
                figs[i].knobs[0] ? "; " : "", figs[i].knobs);
    fprintf(f, "  --scale small   5 x 5 grid (alpha 0.1..0.9, xi 0..0.8) at p 59: minutes on 2 cores (default);\n"
               "                  fig7*: 3 x 3 (alpha 0.3, 0.55, 0.8; xi 0, 0.2, 0.4), fig7a at p 43, fig7b at p 31\n"
               "  --scale paper   17 x 19 grid (alpha 0.1..0.9, xi 0..0.9) at p 97: 1,292 runs for four panels\n"
               "  fig7*           also one run per panel at alpha 0.8, xi 0.2 (DIR/ipr-wdV, a run\n"
               "                  directory) and its input-layer IPR histograms (DIR/ipr_hist.png)\n"
               "  --seeds K       K seeds per point (default 1); cells where seeds disagree are marked,\n"
               "                  uncertain ones drawn pale with a thick outline (groklab phase --help)\n"
               "  --rule R        paper (Table 2, default) or subset (by the corrupted examples' answers)\n"
               "  --panels LIST   other values of the panel knob (e.g. fig7a --panels 1,3,10)\n"
               "  --threads T     workers (default all cores); --out DIR (default sweeps/FIGURE-SCALE)\n"
               "  --refine        train a coarse lattice and then only between neighbours whose\n"
               "                  phases differ (groklab sweep --refine); inferred cells are shaded\n"
               "                  lighter; --complete later trains the rest of the grid\n"
               "  --refine-seeds K  with --seeds S (2 <= S < K): seeds S..K-1 only where the S\n"
               "                  seeds leave a cell uncertain (groklab sweep --refine-seeds)\n"
               "  --device cuda   train on the GPU, the grid packed into populations (the\n"
               "                  two-layer MLP figures, fig3*)\n");
}

/* Figure 7's histograms: per panel value v, one run at alpha 0.8, xi 0.2 in
 * out/ipr-FACETv (kept when it already finished), its input-layer IPR
 * (groklab ipr), and out/ipr_hist.png with one panel per value. */
static int ipr_runs(const phase_fig *pf, const char *panel_values, const gl_config *base,
                    const char *out, int threads, int quiet) {
    char values[256], *save = NULL, dirs[8][600], labels[8][64];
    int n = 0;
    gl_error err;
    snprintf(values, sizeof values, "%s", panel_values);
    for (char *v = strtok_r(values, ",", &save); v && n < 8; v = strtok_r(NULL, ",", &save), n++) {
        gl_config c = *base;
        c.frac = 0.8;
        c.noise = 0.2;
        c.checkpoint_every = 0;
        if (gl_config_set(&c, pf->facet, v, &err) != 0) return cli_fail(&err);
        snprintf(dirs[n], sizeof dirs[n], "%s/ipr-%s%s", out, pf->facet, v);
        snprintf(labels[n], sizeof labels[n], "%s %s", pf->facet, v);
        if (gl_run_has(dirs[n], "summary.json") && gl_run_has(dirs[n], "model.safetensors")) continue;
        gl_trainer *t;
        if (gl_trainer_create(&t, &c, &err) != 0) return cli_fail(&err);
        if (!quiet) printf("IPR run %s: alpha 0.8, xi 0.2, %s %s\n", dirs[n], pf->facet, v);
        int rc = gl_run_prepare(dirs[n], 1, &err);
        if (rc == 0) rc = cli_train_run(dirs[n], t, 0, threads, quiet, &err);
        gl_trainer_free(t);
        if (rc) return cli_fail(&err);
    }
    gl_ipr_opts io;
    gl_ipr_opts_default(&io);
    const char *rel[8], *lab[8];
    for (int i = 0; i < n; i++) {
        int rc = cli_ipr_run(dirs[i], &io, 1, 1);
        if (rc != EXIT_OK) return rc;
        rel[i] = dirs[i] + strlen(out) + 1;
        lab[i] = labels[i];
        char path[5000], *js = NULL;
        snprintf(path, sizeof path, "%s/ipr_summary.json", dirs[i]);
        if (!quiet && gl_read_file(path, &js, NULL, &err) == 0) {
            cJSON *o = cJSON_Parse(js);
            const cJSON *a = cJSON_GetObjectItem(o, "mean_ipr"), *b = cJSON_GetObjectItem(o, "mean_ipr_init");
            printf("  %-10s input-layer mean IPR %.4f after training, %.4f at initialization (%s)\n", labels[i],
                   cJSON_IsNumber(a) ? a->valuedouble : NAN, cJSON_IsNumber(b) ? b->valuedouble : NAN, dirs[i]);
            cJSON_Delete(o);
        }
        free(js);
    }
    char title[160];
    snprintf(title, sizeof title, "%s: input-layer IPR at alpha 0.8, xi 0.2", pf->name);
    if (gl_figure_units_hists(out, "ipr_hist", title, n, rel, lab, &err) != 0) return cli_fail(&err);
    if (!quiet) printf("wrote %s/ipr_hist.png\n", out);
    return EXIT_OK;
}

/* Median of x[0..n) (sorted in place); NaN for none. */
static double median(double *x, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
            double tmp = x[j];
            x[j] = x[j - 1];
            x[j - 1] = tmp;
        }
    return n == 0 ? NAN : n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* fig3a-grokfast: the steps to 90% test accuracy at alpha 0.5, xi 0 of each
 * weight decay without and with GrokFast (the median over seeds that got
 * there), printed side by side and written to out/grokfast.csv. */
static int grokfast_table(const gl_grid *g, const char *out, int quiet) {
    enum { MAXWD = 16, MAXSEED = 64 };
    double wds[MAXWD], steps[MAXWD][2][MAXSEED];
    int nwd = 0, runs[MAXWD][2] = {{0}}, got[MAXWD][2] = {{0}};
    char db[4200];
    snprintf(db, sizeof db, "%s/sweep.db", out);
    gl_store *s;
    gl_error err;
    if (gl_store_open(&s, db, 0, &err) != 0) return cli_fail(&err);
    for (long i = 0; i < gl_grid_size(g); i++) {
        gl_config c;
        double v;
        if (gl_grid_point(g, i, &c, &err) != 0 || fabs(c.frac - 0.5) > 1e-9 || c.noise != 0) continue;
        int k = 0, f = c.grokfast != GL_GROKFAST_OFF;
        while (k < nwd && wds[k] != c.wd) k++;
        if (k == nwd && nwd < MAXWD) wds[nwd++] = c.wd;
        if (k == MAXWD || runs[k][f] == MAXSEED) continue;
        if (gl_store_result(s, i + 1, "test_acc_90", &v, &err) != 0) {
            gl_store_close(s);
            return cli_fail(&err);
        }
        runs[k][f]++;
        if (!isnan(v)) steps[k][f][got[k][f]++] = v;
    }
    gl_store_close(s);
    gl_text t = {0};
    gl_text_printf(&t, "wd,adamw_steps,grokfast_steps,speedup,adamw_reached,grokfast_reached,seeds\n");
    if (!quiet)
        printf("steps to 90%% test accuracy at alpha 0.5, xi 0 (median over the seeds that got there, in %ld steps; "
               "logged every %ld):\n  %-6s %12s %12s %8s\n", g->base.steps, g->base.log_every, "wd", "AdamW",
               "GrokFast", "speedup");
    for (int k = 0; k < nwd; k++) {
        double a = median(steps[k][0], got[k][0]), b = median(steps[k][1], got[k][1]);
        gl_text_printf(&t, "%g,%.0f,%.0f,%.4g,%d,%d,%d\n", wds[k], a, b, a / b, got[k][0], got[k][1], runs[k][0]);
        if (quiet) continue;
        char sa[32], sb[32], sr[32];
        snprintf(sa, sizeof sa, isnan(a) ? "never" : "%.0f", a);
        snprintf(sb, sizeof sb, isnan(b) ? "never" : "%.0f", b);
        snprintf(sr, sizeof sr, isnan(a / b) ? "-" : "%.2fx", a / b);
        printf("  %-6g %12s %12s %8s", wds[k], sa, sb, sr);
        if (runs[k][0] > 1) printf("   (%d/%d and %d/%d seeds)", got[k][0], runs[k][0], got[k][1], runs[k][1]);
        printf("\n");
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/grokfast.csv", out);
    int rc = gl_text_write(&t, path, &err);
    gl_text_free(&t);
    if (rc != 0) return cli_fail(&err);
    if (!quiet) printf("wrote %s\n", path);
    return EXIT_OK;
}

int cli_reproduce_phase(int argc, char **argv) {
    const phase_fig *pf = NULL;
    for (int i = 0; i < NPF; i++)
        if (!strcmp(argv[1], figs[i].name)) pf = &figs[i];
    if (!pf) return EXIT_USAGE;
    const char *out = NULL, *seeds = NULL, *panels = NULL, *device = NULL;
    int threads = 0, quiet = 0, scale_w = 0, rule = GL_RULE_PAPER;
    cli_refine rf = {.x = "frac", .y = "noise"};
    const cli_opt opts[] = {
        OPT_W("--scale", &scale_w, "small|paper"), OPT_W("--rule", &rule, CLI_RULES), OPT_S("--out", &out),
        OPT_S("--seeds", &seeds),
        OPT_S("--panels", &panels), OPT_S("--device", &device), OPT_N("--threads", OPT_INT, &threads, 0, 4096),
        OPT_F("--quiet", &quiet), OPT_F("--refine", &rf.on), OPT_F("--complete", &rf.complete),
        OPT_N("--refine-seeds", OPT_INT, &rf.seeds, 2, 100000), OPT_END,
    };
    cli_args a = {.cmd = pf->name, .opts = opts, .help = cli_phase_figures_help,
                  .usage = "groklab reproduce FIGURE [--scale small|paper] [--seeds K] [--rule paper|subset] "
                           "[--panels LIST] [--threads T] [--device cpu|cuda] [--refine | --complete] [--refine-seeds K] [--out DIR] "
                           "[--quiet]"};
    int rc = cli_parse(argc - 1, argv + 1, &a);
    if (rc >= 0) return rc;
    const char *scale = scale_w ? "paper" : "small";
    int small = !strcmp(scale, "small");
    char dir[512];
    snprintf(dir, sizeof dir, "sweeps/%s-%s", pf->name, scale);
    if (!out) out = dir;
    gl_config base;
    gl_config_default(&base);
    base.checkpoint_every = 0;
    base.log_every = 50;
    if (small) base.p = pf->small_p ? pf->small_p : 59;
    gl_error err;
    if (device && gl_config_set(&base, "device", device, &err) != 0) return cli_fail(&err);
    gl_grid g;
    gl_grid_init(&g, &base);
    rc = EXIT_OK;
    char knobs[256];
    snprintf(knobs, sizeof knobs, "%s", pf->knobs);
    char *save = NULL;
    for (char *tok = strtok_r(knobs, ";", &save); tok && rc == EXIT_OK; tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        if (gl_grid_add(&g, tok, eq + 1, &err) != 0) rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && gl_grid_add(&g, pf->facet, panels ? panels : pf->values, &err) != 0) rc = EXIT_USAGE;
    const char *fr = small ? (pf->small_frac ? pf->small_frac : "0.1:0.9:5") : "0.1:0.9:17";
    const char *no = small ? (pf->small_noise ? pf->small_noise : "0:0.8:5") : "0:0.9:19";
    if (rc == EXIT_OK && gl_grid_add(&g, "frac", fr, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_grid_add(&g, "noise", no, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && seeds && gl_grid_add(&g, "replicate", seeds, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_grid_validate(&g, &err) != 0) rc = EXIT_USAGE;
    if (rc != EXIT_OK) {
        gl_grid_free(&g);
        return cli_fail(&err);
    }
    if (!quiet)
        printf("%s (%s scale): %ld runs, p %d, panels by %s; store %s/sweep.db\n", pf->name, scale, gl_grid_size(&g),
               g.base.p, pf->title, out);
    double t0 = cli_now();
    gl_config knobs_base = g.base;
    rc = cli_sweep(out, &g, 0, threads, 0, 0, 1, quiet, &rf);
    char title[256];
    snprintf(title, sizeof title, "%s: %s (%s scale, p %d)", pf->name, pf->title, scale, knobs_base.p);
    if (rc == EXIT_OK) rc = cli_phase_diagram(out, "frac", "noise", pf->facet, (gl_phase_rule)rule, title, quiet);
    if (rc == EXIT_OK && pf->grokfast) rc = grokfast_table(&g, out, quiet);
    gl_grid_free(&g);
    if (rc == EXIT_OK && pf->ipr) rc = ipr_runs(pf, panels ? panels : pf->values, &knobs_base, out, threads, quiet);
    if (rc == EXIT_OK && !quiet) printf("%s done in %.1fs (this process)\n", pf->name, cli_now() - t0);
    return rc;
}
