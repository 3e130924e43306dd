/* groklab phase: the phase diagram of a sweep (docs/paper.md section 6). */
#include <stdio.h>

#include "cli.h"

static void phase_help(FILE *f) {
    fprintf(f, "usage: groklab phase DIR [--x frac] [--y noise] [--facet KNOB] [--quiet]\n\n"
               "Classifies every finished run of DIR/sweep.db (docs/paper.md section 6) and draws\n"
               "the phase diagram: one panel per facet value (default: the first other axis),\n"
               "a colour per phase, the majority phase of each cell over seeds, a cross where\n"
               "seeds disagree. Writes DIR/phase.csv (one row per cell, with the count of each\n"
               "phase) and DIR/phase.png/.svg/.gp, and prints the grid. In a refined sweep\n"
               "(groklab sweep --refine) the cells never trained show the phase inferred from\n"
               "their trained neighbours (phase.csv column inferred 1; lighter on the figure).\n");
}

/* The grid as text, a panel per facet: rows y from high to low. */
static void print_grid(const char *dir, const gl_phase_grid *pg) {
    const char *facet = pg->facet[0] ? pg->facet : NULL;
    printf("phase diagram of %s: %ld runs in %d cells (%d panels%s%s), %ld cells where seeds disagree\n", dir, pg->runs,
           pg->n_cells, pg->n_facets, facet ? " by " : "", facet ? facet : "", pg->disagree);
    static const char *const abbr[6] = {"C", "PI", "FI", "M", "F", "X"};
    for (int f = 0; f < pg->n_facets; f++) {
        printf("\n%s%s%s   rows: %s from high to low; columns: %s from low to high\n", facet ? facet : "",
               facet ? " = " : "", facet ? pg->facets[f] : "all runs", pg->y, pg->x);
        printf("%8s", "");
        for (int i = 0; i < pg->nx; i++) printf(" %5.3g", pg->xs[i]);
        printf("\n");
        for (int j = pg->ny - 1; j >= 0; j--) {
            printf("%8.3g", pg->ys[j]);
            for (int i = 0; i < pg->nx; i++) {
                const gl_phase_cell *c = gl_phase_grid_at(pg, f, pg->xs[i], pg->ys[j]);
                if (!c) printf("     .");
                else printf(" %4s%s", abbr[c->phase], !c->agree ? "*" : c->inferred ? "~" : " ");
            }
            printf("\n");
        }
    }
    printf("\nC coexistence, PI partial inversion, FI full inversion, M memorization, F forgetting, X confusion;\n"
           "* seeds disagree (the majority is shown); ~ inferred, not trained (a refined sweep)\n");
}

int cli_phase_diagram(const char *dir, const char *x, const char *y, const char *facet, const char *title,
                      int quiet) {
    char db[4096], csv[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    snprintf(csv, sizeof csv, "%s/phase.csv", dir);
    gl_store *s;
    gl_error err;
    if (gl_store_open(&s, db, 0, &err) != 0) return cli_fail(&err);
    gl_phase_grid pg;
    int rc = gl_phase_cells(s, x, y, facet, &pg, &err);
    gl_store_close(s);
    if (rc != 0) return cli_fail(&err);
    rc = gl_phase_grid_write(&pg, csv, &err);
    if (rc == 0 && !quiet) print_grid(dir, &pg);
    if (rc == 0) rc = gl_figure_phase(dir, &pg, title, &err);
    if (rc == 0 && !quiet) printf("wrote %s/phase.csv and phase.png (script phase.gp)\n", dir);
    gl_phase_grid_free(&pg);
    return rc ? cli_fail(&err) : EXIT_OK;
}

int cmd_phase(int argc, char **argv) {
    const char *dir = NULL, *x = "frac", *y = "noise", *facet = NULL;
    int quiet = 0;
    const cli_opt opts[] = {
        OPT_S("--x", &x), OPT_S("--y", &y), OPT_S("--facet", &facet), OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "phase", .opts = opts, .pos = &dir, .max_pos = 1, .help = phase_help,
                  .usage = "groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!dir) {
        cli_error("phase: which sweep? (usage: groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB])");
        return EXIT_USAGE;
    }
    return cli_phase_diagram(dir, x, y, facet, NULL, quiet);
}
