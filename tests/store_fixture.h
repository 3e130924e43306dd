/* What the sweep-store tests share: a temporary directory, SQLite read
 * directly, grids, hand-made metric rows and results, and the checks of a
 * runs row and its metrics rows against them. Each function is static inline
 * so that a test that does not use one does not warn. */
#ifndef GROKLAB_TEST_STORE_FIXTURE_H
#define GROKLAB_TEST_STORE_FIXTURE_H

/* The including file defines _GNU_SOURCE (nftw) before any include. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config_diff.h"
#include "read_bytes.h"
#include "groklab/sweep.h"



static char dir[256];

static inline void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* ---- SQL helpers (the test's own reading of the file) ---- */

static inline sqlite3 *ro_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("  cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* One integer (or -1 on error / NULL). */
static inline long long sql_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *q = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
        sqlite3_column_type(q, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(q, 0);
    else if (!q)
        printf("  SQL error in '%s': %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return v;
}

/* One text value into buf ("NULL" for NULL, "ERROR" on error). */
static inline const char *sql_text(sqlite3 *db, const char *sql, char *buf, size_t cap) {
    sqlite3_stmt *q = NULL;
    snprintf(buf, cap, "ERROR");
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 0) == SQLITE_NULL) snprintf(buf, cap, "NULL");
        else snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    } else if (!q) {
        printf("  SQL error in '%s': %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_finalize(q);
    return buf;
}

/* Every row of a query, every column as text, in one string; caller frees. */
static inline char *sql_dump(sqlite3 *db, const char *sql) {
    sqlite3_stmt *q = NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    out[0] = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        printf("  SQL error in '%s': %s\n", sql, sqlite3_errmsg(db));
        snprintf(out, cap, "ERROR");
        return out;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            const char *t = sqlite3_column_type(q, c) == SQLITE_NULL ? "\\N" : (const char *)sqlite3_column_text(q, c);
            size_t need = strlen(t) + 2;
            if (n + need + 1 > cap) {
                cap = 2 * (n + need + 1);
                out = realloc(out, cap);
            }
            n += (size_t)snprintf(out + n, cap - n, "%s%c", t, c + 1 < sqlite3_column_count(q) ? '|' : '\n');
        }
    }
    sqlite3_finalize(q);
    return out;
}

static inline int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- fixtures ---- */

static inline void base_config(gl_config *c) {
    gl_config_default(c);
    static const char *sets[][2] = {{"p", "11"},     {"width", "8"},     {"noise", "0.2"},
                                    {"frac", "0.6"}, {"steps", "20"},    {"log_every", "5"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) gl_config_set(c, sets[i][0], sets[i][1], NULL);
}

static inline void grid_of(gl_grid *g, const char *lr, const char *wd) {
    gl_config b;
    base_config(&b);
    gl_grid_init(g, &b);
    gl_error e;
    if (gl_grid_add(g, "lr", lr, &e) || gl_grid_add(g, "wd", wd, &e)) printf("  grid: %s\n", e.msg);
}

static inline gl_metrics row(long step, double tr, double te, double cor, double base) {
    gl_metrics m;
    m.step = step;
    m.train_loss = base + 0.125;
    m.test_loss = base + 0.375;
    m.train_acc = tr;
    m.test_acc = te;
    m.corrupted_acc = cor;
    m.corrupted_true_acc = 1.0 - cor * 0.5;
    m.clean_acc = tr * 1.01 > 1 ? 1 : tr * 1.01;
    m.norm_u = 3.0 + base;
    m.norm_v = 3.5 + base / 3;
    m.norm_w = 4.0 + base / 7;
    m.mean_ipr = 0.04 + base / 11;
    return m;
}

static const char *const metric_cols = "step, train_loss, test_loss, train_acc, test_acc, corrupted_acc, "
                                       "corrupted_true_acc, clean_acc, norm_u, norm_v, norm_w, mean_ipr";

static inline void values_of(const gl_metrics *m, double v[12]) {
    double t[12] = {(double)m->step, m->train_loss, m->test_loss, m->train_acc, m->test_acc, m->corrupted_acc,
                    m->corrupted_true_acc, m->clean_acc, m->norm_u, m->norm_v, m->norm_w, m->mean_ipr};
    memcpy(v, t, sizeof t);
}

/* A column equals v exactly, NULL for a non-finite v. */
static inline int col_equals(sqlite3_stmt *q, int c, double v) {
    if (!isfinite(v)) return sqlite3_column_type(q, c) == SQLITE_NULL;
    return sqlite3_column_type(q, c) != SQLITE_NULL && sqlite3_column_double(q, c) == v;
}

/* The metrics rows of run id equal rows[0..n) in every column. */
static inline void check_metrics_rows(sqlite3 *db, long id, const gl_metrics *rows, long n, const char *what) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT run_id, %s FROM metrics WHERE run_id = %ld ORDER BY step", metric_cols, id);
    sqlite3_stmt *q = NULL;
    long k = 0, bad = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) printf("  %s\n", sqlite3_errmsg(db));
    while (q && sqlite3_step(q) == SQLITE_ROW) {
        if (k < n) {
            double v[12];
            values_of(&rows[k], v);
            if (sqlite3_column_int64(q, 0) != id || sqlite3_column_int64(q, 1) != rows[k].step) bad++;
            for (int c = 1; c < 12; c++)
                if (!col_equals(q, c + 1, v[c])) {
                    if (bad < 3) printf("  run %ld row %ld column %d: %s vs %.17g\n", id, k, c, sqlite3_column_text(q, c + 1), v[c]);
                    bad++;
                }
        }
        k++;
    }
    sqlite3_finalize(q);
    CHECK(k == n && bad == 0, "%s: run %ld has %ld metrics rows (got %ld), every column as given (%ld differ)", what, id,
          n, k, bad);
}

/* The runs row of id against the result: status, message, phase, final
 * metrics, milestones, steps, divergence, wall time. */
static inline void check_run_row(sqlite3 *db, long id, const gl_config *c, const gl_run_result *r, const char *what) {
    const gl_metrics *last = NULL;
    gl_milestones ms = {-1, -1, -1}, ms2;
    const char *phase = NULL;
    if (r->status != GL_RUN_FAILED && r->n_rows > 0) {
        phase = gl_phase_name(gl_phase_of_run(r->rows, r->n_rows, c->noise, r->diverged_at >= 0, &ms, &last));
        gl_milestones_compute(&ms2, r->rows, r->n_rows);
        if (ms2.train90 != ms.train90 || ms2.test90 != ms.test90 || ms2.unlearn != ms.unlearn) phase = "?";
        const gl_metrics *want_last = &r->rows[r->diverged_at >= 0 ? r->n_rows - 2 : r->n_rows - 1];
        if (last != want_last) phase = "?";
    }
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT status, message, phase, train_acc, test_acc, corrupted_acc, corrupted_true_acc, clean_acc,"
             " train_loss, test_loss, mean_ipr, norm_u, norm_v, norm_w, steps_done, diverged_at, train_acc_90,"
             " test_acc_90, unlearned, wall_seconds, finished_at FROM runs WHERE id = %ld",
             id);
    sqlite3_stmt *q = NULL;
    int ok = sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
    if (!ok) {
        CHECK(0, "%s: run %ld has a row (%s)", what, id, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return;
    }
    const char *st = (const char *)sqlite3_column_text(q, 0);
    const char *msg = (const char *)sqlite3_column_text(q, 1);
    const char *ph = (const char *)sqlite3_column_text(q, 2);
    static const char *const names[] = {"pending", "running", "done", "diverged", "failed"};
    CHECK(st && !strcmp(st, names[r->status]), "%s: run %ld status %s (got %s)", what, id, names[r->status], st);
    CHECK(r->message[0] ? msg && !strcmp(msg, r->message) : msg == NULL, "%s: run %ld message '%s' (got %s)", what, id,
          r->message, msg ? msg : "NULL");
    CHECK(phase ? ph && !strcmp(ph, phase) : ph == NULL, "%s: run %ld phase %s, recomputed (got %s)", what, id,
          phase ? phase : "NULL", ph ? ph : "NULL");
    int bad = 0;
    if (last) {
        double want[11] = {last->train_acc, last->test_acc, last->corrupted_acc, last->corrupted_true_acc,
                           last->clean_acc, last->train_loss, last->test_loss, last->mean_ipr,
                           last->norm_u, last->norm_v, last->norm_w};
        for (int k = 0; k < 11; k++) bad += !col_equals(q, 3 + k, want[k]);
    } else {
        for (int k = 0; k < 11; k++) bad += sqlite3_column_type(q, 3 + k) != SQLITE_NULL;
    }
    CHECK(bad == 0, "%s: run %ld final metrics are those of the %s (%d columns differ)", what, id,
          last ? (r->diverged_at >= 0 ? "row before the non-finite one" : "last row") : "absent row: NULL", bad);
    long want_ms[3] = {ms.train90, ms.test90, ms.unlearn};
    int bad_ms = 0;
    for (int k = 0; k < 3; k++)
        bad_ms += want_ms[k] < 0 ? sqlite3_column_type(q, 16 + k) != SQLITE_NULL
                                 : sqlite3_column_type(q, 16 + k) == SQLITE_NULL || sqlite3_column_int64(q, 16 + k) != want_ms[k];
    CHECK(bad_ms == 0, "%s: run %ld milestones train90 %ld, test90 %ld, unlearned %ld (NULL for -1; %d differ)", what, id,
          ms.train90, ms.test90, ms.unlearn, bad_ms);
    int div_ok = r->diverged_at < 0 ? sqlite3_column_type(q, 15) == SQLITE_NULL
                                    : sqlite3_column_int64(q, 15) == r->diverged_at;
    CHECK(sqlite3_column_int64(q, 14) == r->steps && div_ok && sqlite3_column_double(q, 19) == r->wall_seconds,
          "%s: run %ld steps_done %ld, diverged_at %ld (NULL for -1), wall_seconds %g", what, id, r->steps, r->diverged_at,
          r->wall_seconds);
    const char *fin = (const char *)sqlite3_column_text(q, 20);
    CHECK(fin && strlen(fin) == 20 && fin[4] == '-' && fin[10] == 'T' && fin[19] == 'Z',
          "%s: run %ld finished_at is a UTC time (%s)", what, id, fin ? fin : "NULL");
    sqlite3_finalize(q);
}

static inline int finish(gl_store *s, long id, const gl_config *c, const gl_run_result *r) {
    gl_error e = {{0}, 0};
    int rc = gl_store_finish(s, id, c, r, &e);
    if (rc) printf("  finish %ld: %s\n", id, e.msg);
    return rc;
}


/* Makes the temporary directory; main returns 1 if it cannot. */
static inline int fixture_open(const char *name) {
    snprintf(dir, sizeof dir, "/tmp/gl_%s_XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes it, and checks that it is gone. */
static inline void fixture_close(void) {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    CHECK(!exists(dir), "the temporary directory %s is removed", dir);
}

#endif
