/* groklab phase: the phase diagram of a sweep (docs/paper.md section 6). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void phase_help(FILE *f) {
    fprintf(f, "usage: groklab phase DIR [--x frac] [--y noise] [--facet KNOB] [--rule paper|subset] [--quiet]\n\n"
               "Classifies every finished run of DIR/sweep.db (docs/paper.md section 6) and draws\n"
               "the phase diagram: one panel per facet value (default: the first other axis),\n"
               "a colour per phase, the majority phase of each cell over seeds, a cross where\n"
               "seeds disagree, a pale cell with a thick outline where the majority is\n"
               "uncertain. Writes DIR/phase.csv (one row per cell: the count of each phase,\n"
               "its fraction and 95%% Wilson interval, uncertain, the rule, inferred) and\n"
               "DIR/phase.png/.svg/.gp, prints the grid, and lists the cells where the two\n"
               "rules' majorities differ (also in DIR/rule-disagreements.csv). In a refined\n"
               "sweep (groklab sweep --refine) the cells never trained show the phase inferred\n"
               "from their trained neighbours (inferred 1; hatched on the figure, ~ in the grid).\n\n"
               "  --rule paper    Table 2 on train and test accuracy (default)\n"
               "  --rule subset   the corrupted examples' answers decide between coexistence,\n"
               "                  partial and full inversion, and memorization\n");
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
           "* seeds disagree (the majority is shown); ~ inferred, not trained (a refined sweep); %ld uncertain cells "
           "(phase.csv's uncertain)\n", pg->uncertain);
}

/* The cells where the paper's rule and the subset rule disagree, at most
 * max_rows of them (all are in rule-disagreements.csv). */
static void print_disagreements(const gl_phase_grid *pg, int max_rows) {
    printf("\nthe paper's rule and the subset rule disagree in %ld of %d cells%s\n", pg->rule_disagree, pg->n_cells,
           pg->rule_disagree ? " (means over the cell's runs):" : "");
    if (!pg->rule_disagree) return;
    printf("%-10s %6s %6s %-17s %-17s %5s %6s %6s %6s %6s %6s  %s\n", pg->facet[0] ? pg->facet : "facet", pg->x, pg->y,
           "paper", "subset", "runs", "train", "test", "corr", "c.true", "clean", "reason");
    int shown = 0;
    for (int f = 0; f < pg->n_facets; f++)
        for (int c = 0; c < pg->n_cells; c++) {
            const gl_phase_cell *cl = &pg->cells[c];
            int p = cl->majority[GL_RULE_PAPER], q = cl->majority[GL_RULE_SUBSET];
            if (p == q || strcmp(cl->facet, pg->facets[f]) || shown++ >= max_rows) continue;
            printf("%-10s %6.3g %6.3g %-17s %-17s %2ld/%-2ld %6.3f %6.3f %6.3f %6.3f %6.3f  %s\n", cl->facet, cl->x, cl->y,
                   gl_phase_name(p), gl_phase_name(q), cl->runs_differ, cl->n, cl->train_acc, cl->test_acc,
                   cl->corrupted_acc, cl->corrupted_true_acc, cl->clean_acc, gl_phase_rule_reason(p, q));
        }
    if (shown > max_rows) printf("... and %d more\n", shown - max_rows);
}

int cli_phase_diagram(const char *dir, const char *x, const char *y, const char *facet, gl_phase_rule rule,
                      const char *title, int quiet) {
    char db[4096], csv[4096], dis[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    snprintf(csv, sizeof csv, "%s/phase.csv", dir);
    snprintf(dis, sizeof dis, "%s/rule-disagreements.csv", dir);
    gl_store *s;
    gl_error err;
    if (gl_store_open(&s, db, 0, &err) != 0) return cli_fail(&err);
    gl_phase_grid pg;
    int rc = gl_phase_cells(s, x, y, facet, rule, &pg, &err);
    gl_store_close(s);
    if (rc != 0) return cli_fail(&err);
    rc = gl_phase_grid_write(&pg, csv, &err);
    if (rc == 0) rc = gl_phase_disagreements_write(&pg, dis, &err);
    if (rc == 0 && !quiet) {
        printf("rule: %s\n", gl_phase_rule_name(rule));
        print_grid(dir, &pg);
        print_disagreements(&pg, 30);
    }
    if (rc == 0) rc = gl_figure_phase(dir, &pg, title, &err);
    if (rc == 0 && !quiet) printf("wrote %s/phase.csv, rule-disagreements.csv and phase.png (script phase.gp)\n", dir);
    gl_phase_grid_free(&pg);
    return rc ? cli_fail(&err) : EXIT_OK;
}

int cmd_phase(int argc, char **argv) {
    const char *dir = NULL, *x = "frac", *y = "noise", *facet = NULL;
    int quiet = 0, rule = GL_RULE_PAPER;
    const cli_opt opts[] = {
        OPT_S("--x", &x), OPT_S("--y", &y), OPT_S("--facet", &facet), OPT_W("--rule", &rule, CLI_RULES),
        OPT_F("--quiet", &quiet), OPT_END,
    };
    cli_args a = {.cmd = "phase", .opts = opts, .pos = &dir, .max_pos = 1, .help = phase_help,
                  .usage = "groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB] [--rule paper|subset]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!dir) {
        cli_error("phase: which sweep? (usage: groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB])");
        return EXIT_USAGE;
    }
    return cli_phase_diagram(dir, x, y, facet, (gl_phase_rule)rule, NULL, quiet);
}
