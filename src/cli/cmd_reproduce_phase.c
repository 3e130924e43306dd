/* groklab reproduce fig3a|fig3b|fig3c|fig3d and the appendix variants: the
 * paper's phase diagrams as sweeps (PAPER.md sections 4 and 6). Each is a
 * grid of alpha x xi per panel; `--scale small` is a 5 x 5 grid at p 59 that
 * finishes in minutes on 2 cores, `--scale paper` the paper's 17 x 19 grid at
 * p 97. Running the same command again resumes the sweep. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "groklab/sweep.h"

typedef struct phase_fig {
    const char *name, *title;
    const char *knobs;  /* "knob=value;..." for every run */
    const char *facet;  /* the panel axis: knob name */
    const char *values; /* its spec (for variant: label:knob=v;...|...) */
} phase_fig;

/* Minibatch runs keep the epochs of 2000 full steps at b = 256 and scale the
 * learning rate as 0.01 sqrt(b / 256) (PAPER.md section 4). */
#define BATCHES                                                                  \
    "b8:batch=8;lr=0.0017677669529663688;steps=64000;log_points=120|"           \
    "b32:batch=32;lr=0.0035355339059327377;steps=16000;log_points=120|"         \
    "b64:batch=64;lr=0.005;steps=8000;log_points=120|"                           \
    "b256:batch=256;lr=0.01;steps=2000;log_points=120"

static const phase_fig figs[] = {
    {"fig3a", "weight decay", "", "wd", "0,5,15,20"},
    {"fig3b", "dropout", "", "dropout", "0,0.3,0.6,0.9"},
    {"fig3c", "BatchNorm, batch size", "norm=batchnorm", "variant", BATCHES},
    {"fig3d", "minibatch size, no norm", "", "variant",
     "b8:batch=8;lr=0.0017677669529663688;steps=64000;log_points=120|"
     "b256:batch=256;lr=0.01;steps=2000;log_points=120|full:batch=0;lr=0.01;steps=2000"},
    {"fig3a-relu", "ReLU, weight decay", "act=relu", "wd", "0,5,15,20"},
    {"fig3a-ce", "cross-entropy, weight decay", "loss=ce", "wd", "0,5,15,20"},
    {"fig3a-width5000", "width 5000, weight decay", "width=5000", "wd", "0,5,15,20"},
    {"fig3a-mul", "multiplication, weight decay", "task=mul", "wd", "0,5,15,20"},
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
        fprintf(f, "  %-16s alpha x xi, panels: %s%s%s\n", figs[i].name, figs[i].title, figs[i].knobs[0] ? "; " : "",
                figs[i].knobs);
    fprintf(f, "  --scale small   5 x 5 grid (alpha 0.1..0.9, xi 0..0.8) at p 59: minutes on 2 cores (default)\n"
               "  --scale paper   17 x 19 grid (alpha 0.1..0.9, xi 0..0.9) at p 97: 1,292 runs for four panels\n"
               "  --seeds K       K seeds per point (default 1); cells where seeds disagree are marked\n"
               "  --threads T     workers (default all cores); --out DIR (default sweeps/FIGURE-SCALE)\n");
}

int cli_reproduce_phase(int argc, char **argv) {
    const phase_fig *pf = NULL;
    for (int i = 0; i < NPF; i++)
        if (!strcmp(argv[1], figs[i].name)) pf = &figs[i];
    if (!pf) return EXIT_USAGE;
    const char *scale = "small", *out = NULL, *seeds = NULL;
    int threads = 0, quiet = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--scale")) {
            if (strcmp(v, "small") && strcmp(v, "paper")) {
                cli_error("--scale: '%s' is not allowed (allowed: small, paper)", v);
                return EXIT_USAGE;
            }
            scale = v;
        } else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--seeds")) seeds = v;
        else if (!strcmp(a, "--threads")) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 0 || t > 4096) {
                cli_error("--threads: '%s' is not an integer in [0, 4096]", v);
                return EXIT_USAGE;
            }
            threads = (int)t;
        } else {
            cli_error("unknown option '%s' for %s (allowed: --scale, --seeds, --threads, --out, --quiet)", a, pf->name);
            return EXIT_USAGE;
        }
    }
    int small = !strcmp(scale, "small");
    char dir[512];
    snprintf(dir, sizeof dir, "sweeps/%s-%s", pf->name, scale);
    if (!out) out = dir;
    gl_config base;
    gl_config_default(&base);
    base.checkpoint_every = 0;
    base.log_every = 50;
    if (small) base.p = 59;
    gl_grid g;
    gl_grid_init(&g, &base);
    gl_error err;
    int rc = EXIT_OK;
    char knobs[256];
    snprintf(knobs, sizeof knobs, "%s", pf->knobs);
    char *save = NULL;
    for (char *tok = strtok_r(knobs, ";", &save); tok && rc == EXIT_OK; tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        if (gl_grid_add(&g, tok, eq + 1, &err) != 0) rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && gl_grid_add(&g, pf->facet, pf->values, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_grid_add(&g, "frac", small ? "0.1:0.9:5" : "0.1:0.9:17", &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_grid_add(&g, "noise", small ? "0:0.8:5" : "0:0.9:19", &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && seeds && gl_grid_add(&g, "replicate", seeds, &err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_grid_validate(&g, &err) != 0) rc = EXIT_USAGE;
    if (rc != EXIT_OK) {
        cli_error("%s", err.msg);
        gl_grid_free(&g);
        return rc;
    }
    if (!quiet)
        printf("%s (%s scale): %ld runs, p %d, panels by %s; store %s/sweep.db\n", pf->name, scale, gl_grid_size(&g),
               g.base.p, pf->title, out);
    double t0 = cli_now();
    rc = cli_sweep_run(out, &g, 1, 0, threads, 0, 0, 1, quiet, &err);
    gl_grid_free(&g);
    if (rc != EXIT_OK) {
        cli_error("%s", err.msg);
        return rc;
    }
    char title[256];
    snprintf(title, sizeof title, "%s: %s (%s scale, p %d)", pf->name, pf->title, scale, small ? 59 : 97);
    rc = cli_phase_diagram(out, "frac", "noise", pf->facet, title, quiet, &err);
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    else if (!quiet) printf("%s done in %.1fs (this process)\n", pf->name, cli_now() - t0);
    return rc;
}
