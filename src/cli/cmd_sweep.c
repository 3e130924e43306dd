/* groklab sweep, phase, export, merge: grids of runs in a SQLite store. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "groklab/io.h"
#include "groklab/sweep.h"

static void sweep_help(FILE *f) {
    fprintf(f,
            "usage: groklab sweep --out DIR [--KNOB SPEC ...] [--seeds K] [--threads T]\n"
            "                     [--keep-weights] [--extend] [--shard I/N] [--quiet]\n"
            "       groklab sweep --resume DIR [--threads T] [--shard I/N]\n\n"
            "Trains every point of a grid into DIR/sweep.db (SQLite). Any knob of groklab\n"
            "train is an axis when its SPEC is a list (0,5,15), a range lo:hi:count\n"
            "(inclusive) or a log range lo:hi:count:log; a single value sets the knob for\n"
            "every run. --seeds K adds a replicate axis 0..K-1 (each sets seed, split_seed\n"
            "and noise_seed). The grid is the product of the axes.\n\n"
            "Crash-safe: each finished run is committed in one transaction; after a crash or\n"
            "kill, --resume DIR (or the same command again) requeues the runs that were in\n"
            "flight and never redoes finished ones. A different grid into the same DIR is\n"
            "refused unless --extend (which adds the new points). Runs that diverge or cannot\n"
            "start are recorded (diverged, failed), not retried.\n\n"
            "  --threads T     workers, one run each (default: all cores)\n"
            "  --keep-weights  also store each run's final U, V, W and per-neuron IPR\n"
            "  --shard I/N     only runs with (id - 1) %% N == I, into DIR/shard-I-of-N.db\n"
            "                  (for job arrays; combine with groklab merge DIR)\n"
            "  --quiet         no progress\n");
}

/* ---- progress ---- */

typedef struct sweep_progress {
    int tty, quiet;
    double t0;
    long done0, total;
    int shard_i, shard_n;
    long finished; /* this process */
} sweep_progress;

static void on_done(void *ctx, long id, const gl_config *c, const gl_run_result *r) {
    sweep_progress *pg = ctx;
    pg->finished++;
    if (pg->quiet || pg->tty) return;
    long n = r->n_rows;
    const gl_metrics *last = n ? &r->rows[n - 1] : NULL;
    if (r->status == GL_RUN_DIVERGED && n > 1) last = &r->rows[n - 2];
    gl_phase ph = n ? gl_phase_of_run(r->rows, n, c->noise, r->diverged_at >= 0, NULL, NULL) : GL_PHASE_CONFUSION;
    printf("run %ld %s: frac %g noise %g wd %g dropout %g seed %llu -> %s", id, gl_run_status_name(r->status), c->frac,
           c->noise, c->wd, c->dropout, (unsigned long long)c->seed,
           r->status == GL_RUN_FAILED ? r->message : gl_phase_name(ph));
    if (last && r->status != GL_RUN_FAILED) printf(" (train %.3f, test %.3f)", last->train_acc, last->test_acc);
    printf(", %.1fs\n", r->wall_seconds);
    fflush(stdout);
}

static void on_tick(void *ctx, gl_store *s) {
    sweep_progress *pg = ctx;
    if (pg->quiet || !pg->tty) return;
    long st[5], ph[6];
    gl_error e;
    if (gl_store_counts(s, pg->shard_i, pg->shard_n, st, ph, &e) != 0) return;
    long done = st[GL_RUN_DONE] + st[GL_RUN_DIVERGED] + st[GL_RUN_FAILED];
    double dt = cli_now() - pg->t0, rate = dt > 0 ? pg->finished / dt : 0;
    fprintf(stderr, "\rruns %ld/%ld  %.2f runs/s  ETA %.0fs  failed %ld  | coex %ld  partial %ld  full %ld  mem %ld  forget %ld  conf %ld   ",
            done, pg->total, rate, rate > 0 ? (pg->total - done) / rate : 0.0, st[GL_RUN_FAILED] + st[GL_RUN_DIVERGED],
            ph[0], ph[1], ph[2], ph[3], ph[4], ph[5]);
    fflush(stderr);
}

/* One process per store: an advisory lock on STORE.lock. */
static int lock_store(const char *db, int *fd, gl_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s.lock", db);
    *fd = open(path, O_RDWR | O_CREAT, 0644);
    if (*fd < 0) return gl_fail(err, "cannot create %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        return gl_fail(err, "%s is in use by another groklab process (one process per store; use --shard or MPI to share a sweep)", db);
    }
    return 0;
}

int cli_sweep_run(const char *dir, gl_grid *g, int have_grid, int extend, int threads, int keep, int shard_i,
                  int shard_n, int quiet, gl_error *err) {
    char db[4096];
    if (shard_n > 1) snprintf(db, sizeof db, "%s/shard-%d-of-%d.db", dir, shard_i, shard_n);
    else snprintf(db, sizeof db, "%s/sweep.db", dir);
    struct stat st;
    if (!have_grid && stat(db, &st) != 0)
        return gl_fail(err, "--resume: %s has no sweep store (%s)", dir, db), EXIT_USAGE;
    if (have_grid && gl_mkdirs(dir, err) != 0) return EXIT_USAGE;
    int lockfd;
    if (lock_store(db, &lockfd, err) != 0) return EXIT_USAGE;
    gl_store *s;
    int rc = EXIT_OK;
    if (gl_store_open(&s, db, have_grid, err) != 0) {
        close(lockfd);
        return EXIT_USAGE;
    }
    long added = 0, requeued = 0;
    if (have_grid && gl_store_define(s, g, extend, &added, err) != 0) rc = EXIT_USAGE;
    if (rc == EXIT_OK && gl_store_requeue(s, &requeued, err) != 0) rc = EXIT_FAIL;
    sweep_progress pg = {.tty = isatty(STDERR_FILENO), .quiet = quiet, .t0 = cli_now(), .shard_i = shard_i, .shard_n = shard_n};
    long counts[5];
    if (rc == EXIT_OK && gl_store_counts(s, shard_i, shard_n, counts, NULL, err) != 0) rc = EXIT_FAIL;
    if (rc == EXIT_OK) {
        for (int i = 0; i < 5; i++) pg.total += counts[i];
        long left = counts[GL_RUN_PENDING];
        if (!quiet)
            printf("sweep %s: %ld runs (%ld new, %ld finished, %ld requeued from a previous process, %ld to do)\n", db,
                   pg.total, added, pg.total - left, requeued, left);
        fflush(stdout);
        gl_sweep_opts o = {.threads = threads, .keep_weights = keep, .shard_i = shard_i, .shard_n = shard_n,
                           .on_done = on_done, .on_tick = on_tick, .ctx = &pg};
        double t0 = cli_now();
        if (gl_sweep_work(s, &o, err) != 0) rc = EXIT_FAIL;
        if (pg.tty && !quiet) fputc('\n', stderr);
        long ph[6];
        if (gl_store_counts(s, shard_i, shard_n, counts, ph, err) == 0 && !quiet) {
            double dt = cli_now() - t0;
            printf("trained %ld runs in %.1fs (%.0f runs/hour); store: %ld done, %ld diverged, %ld failed, %ld pending\n",
                   pg.finished, dt, dt > 0 ? 3600.0 * pg.finished / dt : 0.0, counts[GL_RUN_DONE],
                   counts[GL_RUN_DIVERGED], counts[GL_RUN_FAILED], counts[GL_RUN_PENDING] + counts[GL_RUN_RUNNING]);
            printf("phases:");
            for (int i = 0; i < 6; i++) printf(" %s %ld%s", gl_phase_name(i), ph[i], i < 5 ? "," : "\n");
        }
    }
    gl_store_close(s);
    close(lockfd);
    return rc;
}

int cmd_sweep(int argc, char **argv) {
    gl_config base;
    gl_config_default(&base);
    base.checkpoint_every = 0;
    gl_grid g;
    gl_grid_init(&g, &base);
    const char *out = NULL, *resume = NULL;
    int threads = 0, keep = 0, extend = 0, quiet = 0, shard_i = 0, shard_n = 1, n_knobs = 0;
    gl_error err;
    int rc = EXIT_OK;
    for (int i = 1; i < argc && rc == EXIT_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sweep_help(stdout);
            gl_grid_free(&g);
            return EXIT_OK;
        }
        if (!strcmp(a, "--keep-weights")) { keep = 1; continue; }
        if (!strcmp(a, "--extend")) { extend = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (strncmp(a, "--", 2) || i + 1 >= argc) {
            cli_error("sweep: unexpected '%s' (options are --KNOB SPEC, --out DIR, --resume DIR, --seeds K, --threads T, --shard I/N, --keep-weights, --extend)", a);
            rc = EXIT_USAGE;
            break;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--resume")) resume = v;
        else if (!strcmp(a, "--threads")) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 0 || t > 4096) {
                cli_error("--threads: '%s' is not an integer in [0, 4096]", v);
                rc = EXIT_USAGE;
            }
            threads = (int)t;
        } else if (!strcmp(a, "--shard")) {
            char *end;
            long si = strtol(v, &end, 10), sn = *end == '/' ? strtol(end + 1, &end, 10) : -1;
            if (*end || sn < 1 || si < 0 || si >= sn || sn > 100000) {
                cli_error("--shard: '%s' is not I/N with 0 <= I < N", v);
                rc = EXIT_USAGE;
            }
            shard_i = (int)si, shard_n = (int)sn;
        } else if (gl_grid_add(&g, !strcmp(a, "--seeds") ? "replicate" : a + 2, v, &err) != 0) {
            cli_error("%s", err.msg);
            rc = EXIT_USAGE;
        } else {
            n_knobs++;
        }
    }
    if (rc == EXIT_OK && resume && (out || n_knobs)) {
        cli_error("--resume DIR continues the sweep stored in DIR; give no grid and no --out with it");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && !resume && !out) {
        cli_error("sweep: --out DIR is required (or --resume DIR)");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && !resume && gl_grid_validate(&g, &err) != 0) {
        cli_error("%s", err.msg);
        rc = EXIT_USAGE;
    }
#ifdef GL_HAVE_MPI
    if (rc == EXIT_OK && cli_mpi_active() && shard_n == 1) {
        rc = cli_sweep_mpi(resume ? resume : out, &g, !resume, extend, threads, keep, quiet, &err);
        gl_grid_free(&g);
        return rc;
    }
#endif
    if (rc == EXIT_OK) {
        rc = cli_sweep_run(resume ? resume : out, &g, !resume, extend, threads, keep, shard_i, shard_n, quiet, &err);
        if (rc != EXIT_OK) cli_error("%s", err.msg);
    }
    gl_grid_free(&g);
    return rc;
}

/* ---- phase diagrams ---- */

static const char *const phase_colors[6] = {"#2ca02c", "#1f77b4", "#9467bd", "#d62728", "#ff7f0e", "#7f7f7f"};

typedef struct cell {
    char facet[64];
    double x, y;
    long count[6];
    long n;
} cell;

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

int cli_phase_diagram(const char *dir, const char *xname, const char *yname, const char *facet,
                      const char *title, int quiet, gl_error *err) {
    char db[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    gl_store *s;
    if (gl_store_open(&s, db, 0, err) != 0) return EXIT_USAGE;
    gl_grid g;
    if (gl_store_grid(s, &g, err) != 0) {
        gl_store_close(s);
        return EXIT_USAGE;
    }
    /* default facet: the first axis with several values that is not x, y or replicate */
    char fdef[40] = "";
    if (!facet)
        for (int a = 0; a < g.n_axes && !fdef[0]; a++)
            if (g.axes[a].n > 1 && strcmp(g.axes[a].name, xname) && strcmp(g.axes[a].name, yname) &&
                strcmp(g.axes[a].name, "replicate"))
                snprintf(fdef, sizeof fdef, "%s", g.axes[a].name);
    if (!facet && fdef[0]) facet = fdef;
    gl_grid_free(&g);
    gl_store_close(s);
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return gl_fail(err, "%s: cannot open", db), EXIT_USAGE;
    }
    char cx[80], cy[80], cf[80] = "''";
    if (quoted_column(xname, cx, sizeof cx, err) || quoted_column(yname, cy, sizeof cy, err) ||
        (facet && quoted_column(facet, cf, sizeof cf, err))) {
        sqlite3_close(h);
        return EXIT_USAGE;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT CAST(%s AS TEXT), CAST(%s AS REAL), CAST(%s AS REAL), phase FROM runs WHERE status IN ('done', 'diverged')"
             " AND phase IS NOT NULL ORDER BY id",
             cf, cx, cy);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK) {
        gl_fail(err, "%s: %s", db, sqlite3_errmsg(h));
        sqlite3_close(h);
        return EXIT_USAGE;
    }
    cell *cells = NULL;
    int nc = 0, cap = 0;
    long n_runs = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *fv = (const char *)sqlite3_column_text(q, 0);
        double x = sqlite3_column_double(q, 1), y = sqlite3_column_double(q, 2);
        const char *ph = (const char *)sqlite3_column_text(q, 3);
        int pi = -1;
        for (int i = 0; i < 6 && ph; i++)
            if (!strcmp(ph, gl_phase_name(i))) pi = i;
        if (pi < 0) continue;
        int c = 0;
        while (c < nc && !(cells[c].x == x && cells[c].y == y && !strcmp(cells[c].facet, fv ? fv : ""))) c++;
        if (c == nc) {
            if (nc == cap) {
                cap = cap ? 2 * cap : 256;
                cell *nw = realloc(cells, sizeof *cells * (size_t)cap);
                if (!nw) break;
                cells = nw;
            }
            memset(&cells[nc], 0, sizeof *cells);
            snprintf(cells[nc].facet, sizeof cells[nc].facet, "%s", fv ? fv : "");
            cells[nc].x = x;
            cells[nc].y = y;
            nc++;
        }
        cells[c].count[pi]++;
        cells[c].n++;
        n_runs++;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    if (nc == 0) {
        free(cells);
        return gl_fail(err, "%s has no finished runs yet", db), EXIT_USAGE;
    }
    /* facets in order of first appearance; unique sorted x and y */
    char facets[64][64];
    int nf = 0;
    double *xs = malloc(sizeof(double) * (size_t)nc), *ys = malloc(sizeof(double) * (size_t)nc);
    int nx = 0, ny = 0;
    for (int c = 0; c < nc; c++) {
        int f = 0;
        while (f < nf && strcmp(facets[f], cells[c].facet)) f++;
        if (f == nf && nf < 64) snprintf(facets[nf++], sizeof facets[0], "%s", cells[c].facet);
        int k = 0;
        while (k < nx && xs[k] != cells[c].x) k++;
        if (k == nx) xs[nx++] = cells[c].x;
        k = 0;
        while (k < ny && ys[k] != cells[c].y) k++;
        if (k == ny) ys[ny++] = cells[c].y;
    }
    qsort(xs, (size_t)nx, sizeof *xs, cmp_double);
    qsort(ys, (size_t)ny, sizeof *ys, cmp_double);
    cli_buf b = {0};
    cli_buf_printf(&b, "facet,%s,%s,runs,phase,phase_index,agree,dx,dy", xname, yname);
    for (int i = 0; i < 6; i++) cli_buf_printf(&b, ",%s", gl_phase_name(i));
    cli_buf_printf(&b, "\n");
    long disagree = 0;
    for (int f = 0; f < nf; f++)
        for (int c = 0; c < nc; c++) {
            if (strcmp(cells[c].facet, facets[f])) continue;
            int m = 0;
            for (int i = 1; i < 6; i++)
                if (cells[c].count[i] > cells[c].count[m]) m = i;
            int agree = cells[c].count[m] == cells[c].n;
            disagree += !agree;
            cli_buf_printf(&b, "%s,%.12g,%.12g,%ld,%s,%d,%d,%.6g,%.6g", cells[c].facet, cells[c].x, cells[c].y, cells[c].n,
                           gl_phase_name(m), m, agree, half_width(xs, nx, cells[c].x), half_width(ys, ny, cells[c].y));
            for (int i = 0; i < 6; i++) cli_buf_printf(&b, ",%ld", cells[c].count[i]);
            cli_buf_printf(&b, "\n");
        }
    int rc = cli_buf_save(&b, dir, "phase.csv", err) == 0 ? EXIT_OK : EXIT_FAIL;
    cli_buf_free(&b);
    if (rc == EXIT_OK && !quiet) {
        printf("phase diagram of %s: %ld runs in %d cells (%d panels%s%s), %ld cells where seeds disagree\n", dir, n_runs,
               nc, nf, facet ? " by " : "", facet ? facet : "", disagree);
        for (int f = 0; f < nf; f++) {
            printf("\n%s%s%s   rows: %s from high to low; columns: %s from low to high\n", facet ? facet : "", facet ? " = " : "",
                   facet ? facets[f] : "all runs", yname, xname);
            printf("%8s", "");
            for (int i = 0; i < nx; i++) printf(" %5.3g", xs[i]);
            printf("\n");
            for (int j = ny - 1; j >= 0; j--) {
                printf("%8.3g", ys[j]);
                for (int i = 0; i < nx; i++) {
                    int c = 0;
                    while (c < nc && !(cells[c].x == xs[i] && cells[c].y == ys[j] && !strcmp(cells[c].facet, facets[f]))) c++;
                    if (c == nc) {
                        printf("     .");
                        continue;
                    }
                    int m = 0;
                    for (int k = 1; k < 6; k++)
                        if (cells[c].count[k] > cells[c].count[m]) m = k;
                    static const char *const abbr[6] = {"C", "PI", "FI", "M", "F", "X"};
                    printf(" %4s%s", abbr[m], cells[c].count[m] == cells[c].n ? " " : "*");
                }
                printf("\n");
            }
        }
        printf("\nC coexistence, PI partial inversion, FI full inversion, M memorization, F forgetting, X confusion;\n"
               "* seeds disagree (the majority is shown)\n");
    }
    if (rc == EXIT_OK) {
        cli_buf p = {0};
        int cols = nf < 4 ? nf : 4, rows = (nf + cols - 1) / cols;
        cli_buf_printf(&p, "# phase.csv columns: 1 facet, 2 x, 3 y, 6 phase_index, 7 agree, 8 dx, 9 dy\n");
        cli_buf_printf(&p, "set multiplot layout %d,%d title '%s' noenhanced\n", rows, cols, title ? title : "phase diagram");
        cli_buf_printf(&p, "set xlabel '%s' noenhanced\nset ylabel '%s' noenhanced\nset key off\nset bmargin 5\n", xname, yname);
        cli_buf_printf(&p, "set xrange [%g:%g]\nset yrange [%g:%g]\n", xs[0] - half_width(xs, nx, xs[0]),
                       xs[nx - 1] + half_width(xs, nx, xs[nx - 1]), ys[0] - half_width(ys, ny, ys[0]),
                       ys[ny - 1] + half_width(ys, ny, ys[ny - 1]));
        cli_buf_printf(&p, "color(i) = i == 0 ? 0x%s : i == 1 ? 0x%s : i == 2 ? 0x%s : i == 3 ? 0x%s : i == 4 ? 0x%s : 0x%s\n",
                       phase_colors[0] + 1, phase_colors[1] + 1, phase_colors[2] + 1, phase_colors[3] + 1,
                       phase_colors[4] + 1, phase_colors[5] + 1);
        cli_buf_printf(&p, "sel(f, c) = strcol(1) eq f ? column(c) : NaN\n");
        for (int f = 0; f < nf; f++) {
            cli_buf_printf(&p, "set title '%s%s%s' noenhanced\n", facet ? facet : "", facet ? " " : "", facet ? facets[f] : "");
            int lastp = f == nf - 1;
            cli_buf_printf(&p, "set key off\n");
            if (lastp) /* the legend along the figure's foot, in screen coordinates */
                for (int i = 0; i < 7; i++) {
                    double x0 = 0.03 + i * 0.138;
                    if (i < 6)
                        cli_buf_printf(&p, "set object %d rect from screen %.3f,0.015 to screen %.3f,0.045 fc rgb '%s' fs solid noborder\n",
                                       100 + i, x0, x0 + 0.02, phase_colors[i]);
                    else
                        cli_buf_printf(&p, "set label 99 'x' at screen %.3f,0.03 center font ',11'\n", x0 + 0.01);
                    cli_buf_printf(&p, "set label %d '%s' at screen %.3f,0.03 left font ',9' noenhanced\n", 100 + i,
                                   i < 6 ? gl_phase_name(i) : "seeds disagree", x0 + 0.025);
                }
            cli_buf_printf(&p, "plot 'phase.csv' skip 1 using (sel('%s',2)):3:8:9:(color(column(6))) with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \\\n"
                               "     '' skip 1 using (sel('%s',2)):(column(7) > 0.5 ? NaN : column(3)) with points pt 2 ps 0.8 lc rgb 'black' notitle",
                           facets[f], facets[f]);
            cli_buf_printf(&p, "\n");
        }
        cli_buf_printf(&p, "unset multiplot\n");
        if (p.failed || cli_gnuplot(dir, "phase", 360 * cols + 60, 330 * rows + 80, p.data, err) != 0) rc = EXIT_FAIL;
        cli_buf_free(&p);
        if (rc == EXIT_OK && !quiet) printf("wrote %s/phase.csv and phase.png (script phase.gp)\n", dir);
    }
    free(xs);
    free(ys);
    free(cells);
    return rc;
}

int cmd_phase(int argc, char **argv) {
    const char *dir = NULL, *x = "frac", *y = "noise", *facet = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: groklab phase DIR [--x frac] [--y noise] [--facet KNOB] [--quiet]\n\n"
                   "Classifies every finished run of DIR/sweep.db (PAPER.md section 6) and draws the\n"
                   "phase diagram: one panel per facet value (default: the first other axis),\n"
                   "a colour per phase, the majority phase of each cell over seeds, a cross where\n"
                   "seeds disagree. Writes DIR/phase.csv (one row per cell, with the count of each\n"
                   "phase) and DIR/phase.png/.svg/.gp, and prints the grid.\n");
            return EXIT_OK;
        }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strncmp(a, "--", 2) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--x")) x = v;
            else if (!strcmp(a, "--y")) y = v;
            else if (!strcmp(a, "--facet")) facet = v;
            else {
                cli_error("phase: unknown option '%s' (allowed: --x, --y, --facet, --quiet)", a);
                return EXIT_USAGE;
            }
            continue;
        }
        if (a[0] == '-' || dir) {
            cli_error("phase: unexpected '%s' (usage: groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB])", a);
            return EXIT_USAGE;
        }
        dir = a;
    }
    if (!dir) {
        cli_error("phase: which sweep? (usage: groklab phase DIR [--x KNOB] [--y KNOB] [--facet KNOB])");
        return EXIT_USAGE;
    }
    gl_error err;
    int rc = cli_phase_diagram(dir, x, y, facet, NULL, quiet, &err);
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    return rc;
}

/* ---- export and merge ---- */

static int export_query(sqlite3 *h, const char *sql, const char *path, long *rows, gl_error *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK) return gl_fail(err, "%s", sqlite3_errmsg(h));
    cli_buf b = {0};
    int nc = sqlite3_column_count(q);
    for (int c = 0; c < nc; c++) cli_buf_printf(&b, "%s%s", c ? "," : "", sqlite3_column_name(q, c));
    cli_buf_printf(&b, "\n");
    *rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            int t = sqlite3_column_type(q, c);
            if (c) cli_buf_printf(&b, ",");
            if (t == SQLITE_NULL) continue;
            if (t == SQLITE_INTEGER) cli_buf_printf(&b, "%lld", (long long)sqlite3_column_int64(q, c));
            else if (t == SQLITE_FLOAT) cli_buf_printf(&b, "%.17g", sqlite3_column_double(q, c));
            else {
                const char *v = (const char *)sqlite3_column_text(q, c);
                if (strpbrk(v, ",\"\n")) {
                    cli_buf_printf(&b, "\"");
                    for (const char *p = v; *p; p++) cli_buf_printf(&b, *p == '"' ? "\"\"" : "%c", *p);
                    cli_buf_printf(&b, "\"");
                } else {
                    cli_buf_printf(&b, "%s", v);
                }
            }
        }
        cli_buf_printf(&b, "\n");
        (*rows)++;
    }
    sqlite3_finalize(q);
    int rc = b.failed ? gl_fail(err, "out of memory") : gl_write_atomic(path, b.data, b.len, err);
    cli_buf_free(&b);
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *dir = NULL, *csv = NULL, *mcsv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: groklab export DIR --csv runs.csv [--metrics metrics.csv]\n\n"
                   "Writes the runs table of DIR/sweep.db (every knob, status, final metrics,\n"
                   "phase, milestones, timings; one row per run) as CSV, and with --metrics the\n"
                   "logged time series of every run (run_id, step, ...).\n");
            return EXIT_OK;
        }
        if (!strcmp(a, "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(a, "--metrics") && i + 1 < argc) mcsv = argv[++i];
        else if (a[0] == '-' || dir) {
            cli_error("export: unexpected '%s' (usage: groklab export DIR --csv FILE [--metrics FILE])", a);
            return EXIT_USAGE;
        } else dir = a;
    }
    if (!dir || (!csv && !mcsv)) {
        cli_error("export: usage: groklab export DIR --csv FILE [--metrics FILE]");
        return EXIT_USAGE;
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    gl_error err;
    gl_store *s;
    if (gl_store_open(&s, db, 0, &err) != 0) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    gl_store_close(s);
    sqlite3 *h;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    long n = 0;
    int rc = EXIT_OK;
    if (csv && export_query(h, "SELECT * FROM runs ORDER BY id", csv, &n, &err) != 0) rc = EXIT_FAIL;
    else if (csv) printf("wrote %ld runs to %s\n", n, csv);
    if (rc == EXIT_OK && mcsv) {
        if (export_query(h, "SELECT * FROM metrics ORDER BY run_id, step", mcsv, &n, &err) != 0) rc = EXIT_FAIL;
        else printf("wrote %ld metric rows to %s\n", n, mcsv);
    }
    sqlite3_close(h);
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    return rc;
}

int cmd_merge(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: groklab merge DIR [SHARD.db ...]\n\n"
                   "Combines the shard stores of a sweep (default: DIR/shard-*-of-*.db, written by\n"
                   "groklab sweep --shard I/N --out DIR) into DIR/sweep.db: finished runs of each\n"
                   "shard are copied in with their time series.\n");
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *dir = argv[1];
    glob_t gb;
    memset(&gb, 0, sizeof gb);
    char pat[4096];
    int n_src = argc - 2;
    char **src = argv + 2;
    if (n_src == 0) {
        snprintf(pat, sizeof pat, "%s/shard-*-of-*.db", dir);
        if (glob(pat, 0, NULL, &gb) != 0 || gb.gl_pathc == 0) {
            cli_error("merge: no shard stores in %s (expected %s)", dir, pat);
            globfree(&gb);
            return EXIT_USAGE;
        }
        n_src = (int)gb.gl_pathc;
        src = gb.gl_pathv;
    }
    gl_error err;
    char db[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    int rc = EXIT_OK;
    /* the target takes the grid of the first shard */
    gl_store *first, *s = NULL;
    gl_grid g;
    if (gl_store_open(&first, src[0], 0, &err) != 0) rc = EXIT_USAGE;
    else {
        if (gl_store_grid(first, &g, &err) != 0) rc = EXIT_USAGE;
        gl_store_close(first);
    }
    int lockfd = -1;
    if (rc == EXIT_OK && lock_store(db, &lockfd, &err) != 0) rc = EXIT_USAGE;
    long added;
    if (rc == EXIT_OK && (gl_store_open(&s, db, 1, &err) != 0 || gl_store_define(s, &g, 0, &added, &err) != 0))
        rc = EXIT_USAGE;
    if (rc == EXIT_OK || s) gl_grid_free(&g);
    for (int i = 0; i < n_src && rc == EXIT_OK; i++) {
        long copied;
        if (gl_store_merge(s, src[i], &copied, &err) != 0) rc = EXIT_USAGE;
        else printf("merged %ld finished runs from %s\n", copied, src[i]);
    }
    if (rc == EXIT_OK) {
        long st[5];
        if (gl_store_counts(s, 0, 1, st, NULL, &err) == 0)
            printf("%s: %ld done, %ld diverged, %ld failed, %ld not finished\n", db, st[GL_RUN_DONE], st[GL_RUN_DIVERGED],
                   st[GL_RUN_FAILED], st[GL_RUN_PENDING] + st[GL_RUN_RUNNING]);
    }
    gl_store_close(s);
    if (lockfd >= 0) close(lockfd);
    globfree(&gb);
    if (rc != EXIT_OK) cli_error("%s", err.msg);
    return rc;
}
