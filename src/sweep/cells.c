/* groklab: the cells of a phase diagram (groklab/sweep.h): every finished
 * run of a store by two knobs, one panel per value of a third, the count of
 * each phase per cell by either rule (the stored Table 2 phase, or the
 * subset rule from the stored accuracies), its majority, how sure it is
 * (Wilson intervals), and the cells where the two rules part; in a refined
 * sweep also the cells inferred for its untrained points. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store_impl.h"


static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* half-gaps to the neighbours of each value in a sorted unique list */
static double half_width(const double *v, int n, double x) {
    int i = 0;
    while (i < n && v[i] != x) i++;
    double l = i > 0 ? x - v[i - 1] : (i + 1 < n ? v[i + 1] - x : 0.1);
    double r = i + 1 < n ? v[i + 1] - x : l;
    return 0.5 * fmin(l, r);
}

/* The column of knob name ('-' or '_'), quoted; GL_E_INPUT if not a knob. */
static int quoted_column(const char *name, char *out, size_t cap, gl_error *err) {
    char key[64];
    snprintf(key, sizeof key, "%s", name);
    for (char *q = key; *q; q++)
        if (*q == '-') *q = '_';
    if (!gl_config_has(key) && strcmp(key, "variant") && strcmp(key, "replicate"))
        return gl_fail(err, "'%s' is not a knob of the runs (see groklab train --help)", name);
    snprintf(out, cap, "\"%s\"", key);
    return 0;
}

void gl_phase_grid_free(gl_phase_grid *pg) {
    free(pg->cells);
    free(pg->facets);
    free(pg->xs);
    free(pg->ys);
    memset(pg, 0, sizeof *pg);
}

/* The facet of a store's grid: the first axis with several values that is
 * neither x, y nor replicate ("" if none). */
static int default_facet(gl_store *s, const char *x, const char *y, char *out, size_t cap, gl_error *err) {
    gl_grid g;
    int rc = gl_store_grid(s, &g, err);
    if (rc != 0) return rc;
    out[0] = 0;
    for (int a = 0; a < g.n_axes && !out[0]; a++)
        if (g.axes[a].n > 1 && strcmp(g.axes[a].name, x) && strcmp(g.axes[a].name, y) &&
            strcmp(g.axes[a].name, "replicate"))
            snprintf(out, cap, "%s", g.axes[a].name);
    gl_grid_free(&g);
    return 0;
}

static int add_value(double *v, int *n, double x) {
    for (int k = 0; k < *n; k++)
        if (v[k] == x) return 0;
    v[(*n)++] = x;
    return 1;
}

/* The index of the cell (fv, x, y), added (empty) if new; -1: out of memory. */
static int cell_at(gl_phase_grid *pg, int *cap, const char *fv, double x, double y) {
    int c = 0;
    while (c < pg->n_cells && !(pg->cells[c].x == x && pg->cells[c].y == y && !strcmp(pg->cells[c].facet, fv))) c++;
    if (c < pg->n_cells) return c;
    if (pg->n_cells == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        gl_phase_cell *nw = realloc(pg->cells, sizeof *pg->cells * (size_t)nc);
        if (!nw) return -1;
        pg->cells = nw;
        *cap = nc;
    }
    gl_phase_cell *cl = &pg->cells[pg->n_cells++];
    memset(cl, 0, sizeof *cl);
    snprintf(cl->facet, sizeof cl->facet, "%s", fv);
    cl->x = x;
    cl->y = y;
    return c;
}

/* A refined sweep's untrained points with an inferred phase, as cells with no
 * runs (inferred 1) where no finished run has a cell; points of one cell
 * inferred differently make it disagree. */
static int add_inferred(gl_store *s, const char *cx, const char *cy, const char *cf, gl_phase_grid *pg, int *cap,
                        gl_error *err) {
    long *ids, n;
    int *phase;
    int rc = gl_store_inferred(s, &ids, &phase, &n, err);
    if (rc != 0 || n == 0) return rc;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT CAST(%s AS TEXT), CAST(%s AS REAL), CAST(%s AS REAL), CAST(noise AS REAL) FROM runs WHERE id = ?1", cf,
             cx, cy);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(gl_store_db(s), sql, -1, &q, NULL) != SQLITE_OK)
        rc = gl_failc(err, GL_E_CORRUPT, "the store's runs cannot be read: %s", sqlite3_errmsg(gl_store_db(s)));
    for (long i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, ids[i]);
        if (sqlite3_step(q) != SQLITE_ROW) continue;
        const char *fv = (const char *)sqlite3_column_text(q, 0);
        int had = pg->n_cells, c = cell_at(pg, cap, fv ? fv : "", sqlite3_column_double(q, 1), sqlite3_column_double(q, 2));
        if (c < 0) {
            rc = gl_fail_nomem(err, "for the phase cells");
            break;
        }
        gl_phase_cell *cl = &pg->cells[c];
        if (c == had) {
            cl->inferred = 1, cl->phase = cl->majority[0] = cl->majority[1] = phase[i], cl->agree = 1;
            cl->train_acc = cl->test_acc = cl->corrupted_acc = cl->corrupted_true_acc = cl->clean_acc = NAN;
            cl->noise = sqlite3_column_double(q, 3);
        }
        else if (cl->inferred && cl->phase != phase[i]) cl->agree = 0;
    }
    sqlite3_finalize(q);
    free(ids);
    free(phase);
    return rc;
}

/* The majority of count (ties: the lower index). */
static int majority(const long count[6]) {
    int m = 0;
    for (int i = 1; i < 6; i++)
        if (count[i] > count[m]) m = i;
    return m;
}

/* the values a cell averages: train_acc, test_acc, corrupted_acc,
 * corrupted_true_acc, clean_acc and noise of runs (columns 5.. of the query) */
#define N_MEAN 6

/* What a cell gathers from its runs before the means are taken. */
typedef struct cell_sums {
    long count[2][6]; /* by rule */
    double sum[N_MEAN];
    long n[N_MEAN];
} cell_sums;

static double column_or_nan(sqlite3_stmt *q, int i) {
    return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

int gl_phase_cells(gl_store *s, const char *x, const char *y, const char *facet, gl_phase_rule rule,
                   gl_phase_grid *pg, gl_error *err) {
    memset(pg, 0, sizeof *pg);
    char fdef[40], cx[80], cy[80], cf[80] = "''";
    int rc = 0;
    if (!facet) {
        if ((rc = default_facet(s, x, y, fdef, sizeof fdef, err)) != 0) return rc;
        facet = fdef;
    }
    if ((rc = quoted_column(x, cx, sizeof cx, err)) || (rc = quoted_column(y, cy, sizeof cy, err)) ||
        (facet[0] && (rc = quoted_column(facet, cf, sizeof cf, err))))
        return rc;
    snprintf(pg->x, sizeof pg->x, "%s", x);
    snprintf(pg->y, sizeof pg->y, "%s", y);
    snprintf(pg->facet, sizeof pg->facet, "%s", facet);
    pg->rule = rule;
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT CAST(%s AS TEXT), CAST(%s AS REAL), CAST(%s AS REAL), phase, test_acc_90 IS NOT NULL, train_acc,"
             " test_acc, corrupted_acc, corrupted_true_acc, clean_acc, CAST(noise AS REAL) FROM runs WHERE status IN"
             " ('done', 'diverged') AND phase IS NOT NULL ORDER BY id",
             cf, cx, cy);
    sqlite3 *h = gl_store_db(s);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK)
        return gl_failc(err, GL_E_CORRUPT, "the store's runs cannot be read: %s", sqlite3_errmsg(h));
    cell_sums *sums = NULL;
    int cap = 0, step;
    while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *fv = (const char *)sqlite3_column_text(q, 0);
        double vx = sqlite3_column_double(q, 1), vy = sqlite3_column_double(q, 2);
        const char *ph = (const char *)sqlite3_column_text(q, 3);
        int pi = -1;
        for (int i = 0; i < 6 && ph; i++)
            if (!strcmp(ph, gl_phase_name(i))) pi = i;
        if (pi < 0) continue;
        if (!fv) fv = "";
        double v[N_MEAN];
        for (int i = 0; i < N_MEAN; i++) v[i] = column_or_nan(q, 5 + i);
        /* a run without final accuracies (no row before it diverged) keeps its stored phase */
        int si = isnan(v[0]) || isnan(v[1]) ? pi
                                            : (int)gl_phase_classify_subset(v[0], v[1], v[2], v[3], v[5],
                                                                            sqlite3_column_int(q, 4));
        int c = 0;
        while (c < pg->n_cells && !(pg->cells[c].x == vx && pg->cells[c].y == vy && !strcmp(pg->cells[c].facet, fv))) c++;
        if (c == pg->n_cells) {
            if (pg->n_cells == cap) {
                cap = cap ? 2 * cap : 256;
                gl_phase_cell *nw = realloc(pg->cells, sizeof *pg->cells * (size_t)cap);
                cell_sums *ns = nw ? realloc(sums, sizeof *sums * (size_t)cap) : NULL;
                if (nw) pg->cells = nw;
                if (ns) sums = ns;
                if (!nw || !ns) {
                    rc = gl_fail_nomem(err, "for the phase cells");
                    break;
                }
            }
            gl_phase_cell *cl = &pg->cells[pg->n_cells];
            memset(cl, 0, sizeof *cl);
            memset(&sums[pg->n_cells], 0, sizeof *sums);
            pg->n_cells++;
            snprintf(cl->facet, sizeof cl->facet, "%s", fv);
            cl->x = vx;
            cl->y = vy;
        }
        cell_sums *cs = &sums[c];
        cs->count[GL_RULE_PAPER][pi]++;
        cs->count[GL_RULE_SUBSET][si]++;
        for (int i = 0; i < N_MEAN; i++)
            if (!isnan(v[i])) cs->sum[i] += v[i], cs->n[i]++;
        pg->cells[c].runs_differ += pi != si;
        pg->cells[c].n++;
        pg->runs++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = gl_failc(err, GL_E_CORRUPT, "the store's runs cannot be read: %s", sqlite3_errmsg(h));
    sqlite3_finalize(q);
    for (int c = 0; rc == 0 && c < pg->n_cells; c++) {
        gl_phase_cell *cl = &pg->cells[c];
        const cell_sums *cs = &sums[c];
        memcpy(cl->count, cs->count[rule], sizeof cl->count);
        for (int r = 0; r < 2; r++) cl->majority[r] = majority(cs->count[r]);
        cl->phase = cl->majority[rule];
        cl->agree = cl->count[cl->phase] == cl->n;
        cl->uncertain = gl_phase_uncertain(cl->count[cl->phase], cl->n);
        double *mean[N_MEAN] = {&cl->train_acc, &cl->test_acc, &cl->corrupted_acc, &cl->corrupted_true_acc,
                                &cl->clean_acc, &cl->noise};
        for (int i = 0; i < N_MEAN; i++) *mean[i] = cs->n[i] ? cs->sum[i] / (double)cs->n[i] : NAN;
    }
    free(sums);
    sums = NULL;
    /* a refined sweep's inferred cells (the refinement reads the stored, Table 2, phases) */
    if (rc == 0) rc = add_inferred(s, cx, cy, cf, pg, &cap, err);
    if (rc == 0 && pg->n_cells == 0) rc = gl_fail(err, "%s has no finished runs yet", gl_store_path(s));
    if (rc == 0) {
        int nc = pg->n_cells;
        pg->facets = malloc(sizeof *pg->facets * (size_t)nc);
        pg->xs = malloc(sizeof(double) * (size_t)nc);
        pg->ys = malloc(sizeof(double) * (size_t)nc);
        if (!pg->facets || !pg->xs || !pg->ys) rc = gl_fail_nomem(err, "for the phase cells");
    }
    if (rc != 0) {
        free(sums);
        gl_phase_grid_free(pg);
        return rc;
    }
    /* facets in order of first appearance; unique sorted x and y */
    for (int c = 0; c < pg->n_cells; c++) {
        const gl_phase_cell *cl = &pg->cells[c];
        int f = 0;
        while (f < pg->n_facets && strcmp(pg->facets[f], cl->facet)) f++;
        if (f == pg->n_facets) snprintf(pg->facets[pg->n_facets++], sizeof pg->facets[0], "%s", cl->facet);
        add_value(pg->xs, &pg->nx, cl->x);
        add_value(pg->ys, &pg->ny, cl->y);
    }
    qsort(pg->xs, (size_t)pg->nx, sizeof *pg->xs, cmp_double);
    qsort(pg->ys, (size_t)pg->ny, sizeof *pg->ys, cmp_double);
    for (int c = 0; c < pg->n_cells; c++) {
        gl_phase_cell *cl = &pg->cells[c];
        pg->disagree += !cl->agree;
        pg->uncertain += cl->uncertain;
        pg->rule_disagree += cl->majority[GL_RULE_PAPER] != cl->majority[GL_RULE_SUBSET];
        cl->dx = half_width(pg->xs, pg->nx, cl->x);
        cl->dy = half_width(pg->ys, pg->ny, cl->y);
    }
    return 0;
}

const gl_phase_cell *gl_phase_grid_at(const gl_phase_grid *pg, int f, double x, double y) {
    for (int c = 0; c < pg->n_cells; c++)
        if (pg->cells[c].x == x && pg->cells[c].y == y && !strcmp(pg->cells[c].facet, pg->facets[f]))
            return &pg->cells[c];
    return NULL;
}

/* Calls fn for the cells of pg, facets in order. */
static void each_cell(const gl_phase_grid *pg, void (*fn)(gl_text *b, const gl_phase_grid *pg, const gl_phase_cell *cl),
                      gl_text *b) {
    for (int f = 0; f < pg->n_facets; f++)
        for (int c = 0; c < pg->n_cells; c++)
            if (!strcmp(pg->cells[c].facet, pg->facets[f])) fn(b, pg, &pg->cells[c]);
}

static void phase_row(gl_text *b, const gl_phase_grid *pg, const gl_phase_cell *cl) {
    gl_text_printf(b, "%s,%.12g,%.12g,%ld,%s,%d,%d,%.6g,%.6g", cl->facet, cl->x, cl->y, cl->n,
                   gl_phase_name(cl->phase), cl->phase, cl->agree, cl->dx, cl->dy);
    for (int i = 0; i < 6; i++) gl_text_printf(b, ",%ld", cl->count[i]);
    for (int i = 0; i < 6; i++) {
        double lo, hi;
        gl_wilson(cl->count[i], cl->n, 1.96, &lo, &hi);
        gl_text_printf(b, ",%.6g,%.6g,%.6g", (double)cl->count[i] / (double)cl->n, lo, hi);
    }
    gl_text_printf(b, ",%d,%s,%d\n", cl->uncertain, gl_phase_rule_name(pg->rule), cl->inferred);
}

int gl_phase_grid_write(const gl_phase_grid *pg, const char *path, gl_error *err) {
    gl_text b = {0};
    gl_text_printf(&b, "facet,%s,%s,runs,phase,phase_index,agree,dx,dy", pg->x, pg->y);
    for (int i = 0; i < 6; i++) gl_text_printf(&b, ",%s", gl_phase_name(i));
    for (int i = 0; i < 6; i++) {
        const char *n = gl_phase_name(i);
        gl_text_printf(&b, ",frac_%s,lo_%s,hi_%s", n, n, n);
    }
    gl_text_printf(&b, ",uncertain,rule,inferred\n");
    each_cell(pg, phase_row, &b);
    int rc = gl_text_write(&b, path, err);
    gl_text_free(&b);
    return rc;
}

static void disagreement_row(gl_text *b, const gl_phase_grid *pg, const gl_phase_cell *cl) {
    (void)pg;
    int p = cl->majority[GL_RULE_PAPER], q = cl->majority[GL_RULE_SUBSET];
    if (p == q) return;
    gl_text_printf(b, "%s,%.12g,%.12g,%ld,%s,%s,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,\"%s\"\n", cl->facet, cl->x, cl->y,
                   cl->n, gl_phase_name(p), gl_phase_name(q), cl->runs_differ, cl->train_acc, cl->test_acc,
                   cl->corrupted_acc, cl->corrupted_true_acc, cl->clean_acc, cl->noise, gl_phase_rule_reason(p, q));
}

int gl_phase_disagreements_write(const gl_phase_grid *pg, const char *path, gl_error *err) {
    gl_text b = {0};
    gl_text_printf(&b, "facet,%s,%s,runs,paper,subset,runs_differ,train_acc,test_acc,corrupted_acc,"
                       "corrupted_true_acc,clean_acc,xi,reason\n", pg->x, pg->y);
    each_cell(pg, disagreement_row, &b);
    int rc = gl_text_write(&b, path, err);
    gl_text_free(&b);
    return rc;
}
