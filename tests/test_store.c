/* The sweep store (gl_store_*, groklab/sweep.h) in a temporary directory,
 * read back with SQLite directly: one pending row per grid point whose
 * `point` JSON is that point's config, its knobs as columns; defining the same
 * grid again adds nothing, a different one is refused without --extend and
 * leaves every row as it was, extending adds only the new points; claims in
 * id order per shard ((id - 1) % n == i), running with one more attempt;
 * requeue; gl_store_finish of hand-made results (done, diverged, failed)
 * writes the runs row (phase and milestones recomputed here with
 * gl_phase_of_run and gl_milestones_compute, final metrics from the row the
 * phase is read from) and the metrics rows column by column, and finishing
 * again replaces them; counts against SQL; files that are not stores are
 * refused and keep their bytes; merging two shard stores. */
#define _GNU_SOURCE /* nftw */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "groklab/sweep.h"


static char dir[256];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int first_difference(const gl_config *a, const gl_config *b) {
    char x[256], y[256];
    for (int i = 0; i < gl_config_nfields(); i++) {
        gl_config_field_text(a, i, x, sizeof x);
        gl_config_field_text(b, i, y, sizeof y);
        if (strcmp(x, y)) return i;
    }
    return -1;
}

/* ---- SQL helpers (the test's own reading of the file) ---- */

static sqlite3 *ro_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("  cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* One integer (or -1 on error / NULL). */
static long long sql_int(sqlite3 *db, const char *sql) {
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
static const char *sql_text(sqlite3 *db, const char *sql, char *buf, size_t cap) {
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
static char *sql_dump(sqlite3 *db, const char *sql) {
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

static char *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- fixtures ---- */

static void base_config(gl_config *c) {
    gl_config_default(c);
    static const char *sets[][2] = {{"p", "11"},     {"width", "8"},     {"noise", "0.2"},
                                    {"frac", "0.6"}, {"steps", "20"},    {"log_every", "5"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) gl_config_set(c, sets[i][0], sets[i][1], NULL);
}

static void grid_of(gl_grid *g, const char *lr, const char *wd) {
    gl_config b;
    base_config(&b);
    gl_grid_init(g, &b);
    gl_error e;
    if (gl_grid_add(g, "lr", lr, &e) || gl_grid_add(g, "wd", wd, &e)) printf("  grid: %s\n", e.msg);
}

static gl_metrics row(long step, double tr, double te, double cor, double base) {
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

static void values_of(const gl_metrics *m, double v[12]) {
    double t[12] = {(double)m->step, m->train_loss, m->test_loss, m->train_acc, m->test_acc, m->corrupted_acc,
                    m->corrupted_true_acc, m->clean_acc, m->norm_u, m->norm_v, m->norm_w, m->mean_ipr};
    memcpy(v, t, sizeof t);
}

/* A column equals v exactly, NULL for a non-finite v. */
static int col_equals(sqlite3_stmt *q, int c, double v) {
    if (!isfinite(v)) return sqlite3_column_type(q, c) == SQLITE_NULL;
    return sqlite3_column_type(q, c) != SQLITE_NULL && sqlite3_column_double(q, c) == v;
}

/* The metrics rows of run id equal rows[0..n) in every column. */
static void check_metrics_rows(sqlite3 *db, long id, const gl_metrics *rows, long n, const char *what) {
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
static void check_run_row(sqlite3 *db, long id, const gl_config *c, const gl_run_result *r, const char *what) {
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

static int finish(gl_store *s, long id, const gl_config *c, const gl_run_result *r) {
    gl_error e = {{0}, 0};
    int rc = gl_store_finish(s, id, c, r, &e);
    if (rc) printf("  finish %ld: %s\n", id, e.msg);
    return rc;
}

/* ---- the store ---- */

static void test_define_claim_finish(void) {
    char db_path[512], sql[512], buf[4096];
    path_in(db_path, sizeof db_path, "sweep.db");
    gl_store *s = NULL;
    gl_error e = {{0}, 0};
    CHECK(gl_store_open(&s, db_path, 0, &e) == -1 && !exists(db_path), "opening a missing store without create is refused, "
          "nothing created: %s", e.msg);
    int rc = gl_store_open(&s, db_path, 1, &e);
    CHECK(rc == 0 && s, "a new store is created (%s)", rc ? e.msg : "");
    if (rc) return;
    gl_grid g;
    grid_of(&g, "0.01,0.02", "0:1:3");
    long added = -1;
    rc = gl_store_define(s, &g, 0, &added, &e);
    CHECK(rc == 0 && added == 6, "defining a 2 x 3 grid adds 6 runs (added %ld) %s", added, rc ? e.msg : "");

    sqlite3 *db = ro_open(db_path);
    if (!db) return;
    CHECK(!strcmp(sql_text(db, "SELECT value FROM sweep WHERE key = 'format'", buf, sizeof buf), "groklab-sweep-1"),
          "sweep.format is groklab-sweep-1 (%s)", buf);
    char *def = gl_grid_to_json(&g);
    CHECK(!strcmp(sql_text(db, "SELECT value FROM sweep WHERE key = 'definition'", buf, sizeof buf), def),
          "sweep.definition is the grid's JSON");
    free(def);
    CHECK(strlen(sql_text(db, "SELECT value FROM sweep WHERE key = 'created'", buf, sizeof buf)) == 20,
          "sweep.created is a time (%s)", buf);
    CHECK(sql_int(db, "SELECT count(*) FROM runs") == 6 && sql_int(db, "SELECT min(id) FROM runs") == 1 &&
              sql_int(db, "SELECT max(id) FROM runs") == 6,
          "runs has ids 1..6");
    CHECK(sql_int(db, "SELECT count(*) FROM runs WHERE status = 'pending' AND attempts = 0 AND worker IS NULL"
                      " AND replicate IS NULL AND variant IS NULL AND phase IS NULL") == 6,
          "every run is pending, never attempted, no worker, no replicate or variant, no results");
    /* point JSON and knob columns of each row against gl_grid_point */
    int bad_point = 0, bad_col = 0;
    for (long id = 1; id <= 6; id++) {
        gl_config want, got;
        gl_grid_point(&g, id - 1, &want, &e);
        snprintf(sql, sizeof sql, "SELECT point FROM runs WHERE id = %ld", id);
        gl_config_default(&got);
        if (gl_config_from_json(&got, sql_text(db, sql, buf, sizeof buf), &e) != 0 || first_difference(&want, &got) >= 0)
            bad_point++;
        for (int i = 0; i < gl_config_nfields(); i++) {
            char t[256];
            gl_config_field_text(&want, i, t, sizeof t);
            snprintf(sql, sizeof sql, "SELECT \"%s\" FROM runs WHERE id = %ld", gl_config_field_name(i), id);
            sql_text(db, sql, buf, sizeof buf);
            int same = gl_config_field_numeric(i) ? strtod(buf, NULL) == strtod(t, NULL) : !strcmp(buf, t);
            if (!same) {
                if (bad_col < 3) printf("  run %ld column %s: %s vs %s\n", id, gl_config_field_name(i), buf, t);
                bad_col++;
            }
        }
    }
    CHECK(bad_point == 0, "each row's point JSON parses back to gl_grid_point's config (%d differ)", bad_point);
    CHECK(bad_col == 0, "each row has every knob as a column with the point's value (%d differ)", bad_col);

    /* the same grid again: nothing added, nothing changed */
    char *all0 = sql_dump(db, "SELECT * FROM runs ORDER BY id"), *sw0 = sql_dump(db, "SELECT * FROM sweep ORDER BY key");
    rc = gl_store_define(s, &g, 0, &added, &e);
    char *all1 = sql_dump(db, "SELECT * FROM runs ORDER BY id"), *sw1 = sql_dump(db, "SELECT * FROM sweep ORDER BY key");
    CHECK(rc == 0 && added == 0 && !strcmp(all0, all1) && !strcmp(sw0, sw1),
          "defining the same grid again adds 0 and changes nothing (added %ld)", added);
    free(all1), free(sw1);
    /* a different grid is refused without extend */
    gl_grid g2;
    grid_of(&g2, "0.01,0.02", "0:1:4");
    rc = gl_store_define(s, &g2, 0, &added, &e);
    all1 = sql_dump(db, "SELECT * FROM runs ORDER BY id"), sw1 = sql_dump(db, "SELECT * FROM sweep ORDER BY key");
    CHECK(rc == -1 && strstr(e.msg, "--extend") && added == 0 && !strcmp(all0, all1) && !strcmp(sw0, sw1),
          "a different grid is refused without extend, every row and the definition unchanged: %s", e.msg);
    free(all0), free(all1), free(sw0), free(sw1);
    gl_grid_free(&g2);
    /* extend: only the new points, after the old ones */
    all0 = sql_dump(db, "SELECT * FROM runs ORDER BY id");
    grid_of(&g2, "0.01,0.02,0.03", "0:1:3");
    rc = gl_store_define(s, &g2, 1, &added, &e);
    all1 = sql_dump(db, "SELECT * FROM runs WHERE id <= 6 ORDER BY id");
    CHECK(rc == 0 && added == 3 && sql_int(db, "SELECT count(*) FROM runs") == 9 && !strcmp(all0, all1),
          "extending with lr 0.03 adds its 3 points (added %ld), the 6 old rows unchanged %s", added, rc ? e.msg : "");
    free(all0), free(all1);
    int bad_new = 0;
    for (long id = 7; id <= 9; id++) {
        gl_config want, got;
        gl_grid_point(&g2, id - 1, &want, &e);
        snprintf(sql, sizeof sql, "SELECT point FROM runs WHERE id = %ld AND status = 'pending'", id);
        gl_config_default(&got);
        if (gl_config_from_json(&got, sql_text(db, sql, buf, sizeof buf), &e) != 0 || first_difference(&want, &got) >= 0 ||
            got.lr != 0.03)
            bad_new++;
    }
    CHECK(bad_new == 0, "runs 7..9 are the new points (lr 0.03), pending (%d differ)", bad_new);
    def = gl_grid_to_json(&g2);
    CHECK(!strcmp(sql_text(db, "SELECT value FROM sweep WHERE key = 'definition'", buf, sizeof buf), def),
          "the definition is now the extended grid");
    free(def);
    gl_grid stored;
    rc = gl_store_grid(s, &stored, &e);
    char *js = rc == 0 ? gl_grid_to_json(&stored) : NULL, *jg = gl_grid_to_json(&g2);
    CHECK(js && !strcmp(js, jg) && gl_grid_size(&stored) == 9, "gl_store_grid returns the extended grid");
    free(js), free(jg);
    if (rc == 0) gl_grid_free(&stored);

    /* claims: shard 1 of 2 gets ids 2, 4, 6, 8 in order */
    long ids[8], id = 0;
    int n = 0, r1;
    while ((r1 = gl_store_claim(s, 1, 2, "w1", &id, &e)) == 1 && n < 8) ids[n++] = id;
    CHECK(r1 == 0 && n == 4 && ids[0] == 2 && ids[1] == 4 && ids[2] == 6 && ids[3] == 8,
          "shard 1 of 2 claims 2, 4, 6, 8 in order, then none (%d claims: %ld %ld %ld %ld)", n, ids[0], ids[1], ids[2],
          ids[3]);
    CHECK(sql_int(db, "SELECT count(*) FROM runs WHERE status = 'running' AND attempts = 1 AND worker = 'w1'"
                      " AND (id - 1) % 2 = 1") == 4 &&
              sql_int(db, "SELECT count(*) FROM runs WHERE status = 'pending' AND attempts = 0 AND (id - 1) % 2 = 0") == 5,
          "the claimed runs are running with attempts 1 and worker w1; the others pending");
    r1 = gl_store_claim(s, 0, 2, "w0", &id, &e);
    CHECK(r1 == 1 && id == 1, "shard 0 of 2 claims id 1 first (got %ld)", id);
    r1 = gl_store_claim(s, 2, 3, "w2", &id, &e);
    CHECK(r1 == 1 && id == 3, "shard 2 of 3 claims id 3 first ((3 - 1) %% 3 == 2; got %ld)", id);
    long st[5], ph[6];
    rc = gl_store_counts(s, 0, 1, st, ph, &e);
    CHECK(rc == 0 && st[GL_RUN_PENDING] == sql_int(db, "SELECT count(*) FROM runs WHERE status = 'pending'") &&
              st[GL_RUN_RUNNING] == 6 && st[GL_RUN_PENDING] == 3 && st[GL_RUN_DONE] == 0,
          "counts: 3 pending, 6 running (got %ld, %ld)", st[GL_RUN_PENDING], st[GL_RUN_RUNNING]);
    rc = gl_store_counts(s, 1, 2, st, NULL, &e);
    CHECK(rc == 0 && st[GL_RUN_RUNNING] == 4 && st[GL_RUN_PENDING] == 0, "counts of shard 1 of 2: 4 running, 0 pending");
    long requeued = -1;
    rc = gl_store_requeue(s, &requeued, &e);
    CHECK(rc == 0 && requeued == 6 &&
              sql_int(db, "SELECT count(*) FROM runs WHERE status = 'pending' AND worker IS NULL") == 9 &&
              sql_int(db, "SELECT sum(attempts) FROM runs") == 6,
          "requeue puts the 6 running runs back to pending, no worker, attempts kept (requeued %ld)", requeued);
    r1 = gl_store_claim(s, 0, 1, "w0", &id, &e);
    snprintf(sql, sizeof sql, "SELECT attempts FROM runs WHERE id = %ld", id);
    CHECK(r1 == 1 && id == 1 && sql_int(db, sql) == 2, "id 1 claimed again has attempts 2");
    gl_config pc, want;
    rc = gl_store_point(s, 5, &pc, &e);
    gl_grid_point(&g2, 4, &want, &e);
    CHECK(rc == 0 && first_difference(&pc, &want) < 0, "gl_store_point(5) is grid point 5's config");
    CHECK(gl_store_point(s, 99, &pc, &e) == -1 && strstr(e.msg, "99"), "gl_store_point(99) is refused: %s", e.msg);

    /* finishing: a done run */
    gl_config c1;
    gl_store_point(s, 1, &c1, &e);
    gl_metrics rows[4] = {row(0, 0.10, 0.05, 0.00, 1.5), row(5, 0.60, 0.30, 0.60, 0.75), row(10, 0.95, 0.80, 0.30, 0.25),
                          row(20, 0.97, 0.93, 0.05, 0.125)};
    rows[0].mean_ipr = NAN; /* a non-finite value is NULL in SQL */
    gl_run_result r;
    memset(&r, 0, sizeof r);
    r.status = GL_RUN_DONE;
    r.rows = rows;
    r.n_rows = 4;
    r.steps = 20;
    r.diverged_at = -1;
    r.wall_seconds = 1.25;
    rc = finish(s, 1, &c1, &r);
    CHECK(rc == 0, "gl_store_finish of a done run");
    check_run_row(db, 1, &c1, &r, "done");
    check_metrics_rows(db, 1, rows, 4, "done");
    gl_milestones ms;
    gl_milestones_compute(&ms, rows, 4);
    CHECK(ms.train90 == 10 && ms.test90 == 20 && ms.unlearn == 20, "(the made-up rows have milestones 10, 20, 20)");
    /* finishing again replaces the series, and can add neurons and weights */
    gl_metrics rows2[3] = {row(0, 0.2, 0.1, 0.2, 2.0), row(10, 0.5, 0.95, 0.7, 1.0), row(20, 0.7, 0.96, 0.02, 0.5)};
    double ipr[2] = {0.25, 0.75};
    float U[2 * 3] = {1, 2, 3, 4, 5, 6}, V[2 * 3] = {-1, -2, -3, -4, -5, -6}, W[3 * 2] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
    r.rows = rows2;
    r.n_rows = 3;
    r.wall_seconds = 2.5;
    r.N = 2, r.p = 3, r.ipr = ipr, r.U = U, r.V = V, r.W = W;
    rc = finish(s, 1, &c1, &r);
    CHECK(rc == 0 && sql_int(db, "SELECT count(*) FROM metrics WHERE run_id = 1") == 3,
          "finishing run 1 again leaves 3 metrics rows, not 4 + 3");
    check_run_row(db, 1, &c1, &r, "done again");
    check_metrics_rows(db, 1, rows2, 3, "done again");
    CHECK(sql_int(db, "SELECT count(*) FROM neurons WHERE run_id = 1") == 2 &&
              sql_int(db, "SELECT count(*) FROM neurons WHERE run_id = 1 AND neuron = 0 AND ipr = 0.25") == 1 &&
              sql_int(db, "SELECT count(*) FROM neurons WHERE run_id = 1 AND neuron = 1 AND ipr = 0.75") == 1,
          "the neurons table has the 2 IPRs");
    {
        sqlite3_stmt *q = NULL;
        int ok = 0;
        if (sqlite3_prepare_v2(db, "SELECT name, rows, cols, data FROM weights WHERE run_id = 1 ORDER BY name", -1, &q,
                               NULL) == SQLITE_OK) {
            const char *nm[3] = {"U", "V", "W"};
            const float *dat[3] = {U, V, W};
            int rr[3] = {2, 2, 3}, cc[3] = {3, 3, 2};
            for (int w = 0; w < 3 && sqlite3_step(q) == SQLITE_ROW; w++)
                ok += !strcmp((const char *)sqlite3_column_text(q, 0), nm[w]) && sqlite3_column_int(q, 1) == rr[w] &&
                      sqlite3_column_int(q, 2) == cc[w] && sqlite3_column_bytes(q, 3) == 6 * (int)sizeof(float) &&
                      !memcmp(sqlite3_column_blob(q, 3), dat[w], 6 * sizeof(float));
        }
        sqlite3_finalize(q);
        CHECK(ok == 3, "the weights table has U, V (2, 3) and W (3, 2) as float32 bytes (%d of 3)", ok);
    }
    /* a diverged run: the phase and final metrics come from the row before */
    gl_config c2;
    gl_store_point(s, 2, &c2, &e);
    gl_metrics rows3[4] = {row(0, 0.1, 0.1, 0.0, 1.0), row(5, 0.92, 0.2, 0.9, 0.5), row(10, 0.93, 0.25, 0.95, 0.3),
                           row(15, 0.0, 0.0, 0.0, 0.0)};
    rows3[3].train_loss = NAN, rows3[3].test_loss = INFINITY, rows3[3].norm_u = -INFINITY;
    gl_run_result rd;
    memset(&rd, 0, sizeof rd);
    rd.status = GL_RUN_DIVERGED;
    rd.rows = rows3;
    rd.n_rows = 4;
    rd.steps = 15;
    rd.diverged_at = 15;
    rd.wall_seconds = 0.5;
    rc = finish(s, 2, &c2, &rd);
    CHECK(rc == 0, "gl_store_finish of a diverged run");
    check_run_row(db, 2, &c2, &rd, "diverged");
    check_metrics_rows(db, 2, rows3, 4, "diverged");
    CHECK(sql_int(db, "SELECT count(*) FROM runs WHERE id = 2 AND phase = 'memorization'") == 1,
          "(the diverged run's phase is memorization: train 0.93, test 0.25 one row before)");
    /* a failed run: its message, no phase, no series */
    gl_config c4;
    gl_store_point(s, 4, &c4, &e);
    gl_run_result rf;
    memset(&rf, 0, sizeof rf);
    rf.status = GL_RUN_FAILED;
    snprintf(rf.message, sizeof rf.message, "trainer: needs 12.5 GB, the machine has 8 GB (test's message)");
    rf.diverged_at = -1;
    rc = finish(s, 4, &c4, &rf);
    CHECK(rc == 0, "gl_store_finish of a failed run");
    check_run_row(db, 4, &c4, &rf, "failed");
    CHECK(sql_int(db, "SELECT count(*) FROM metrics WHERE run_id = 4") == 0, "a failed run has no metrics rows");

    /* a run id the store does not have */
    {
        gl_error e9 = {{0}, 0};
        rc = gl_store_finish(s, 99, &c1, &r, &e9);
        long long orphans = sql_int(db, "SELECT count(*) FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)");
        CHECK(rc == -1 && orphans == 0,
                  "gl_store_finish of run 99, which the store does not have, is refused (rc %d; %lld metrics rows written "
                  "for no run)",
                  rc, orphans);
        char del[] = "DELETE FROM metrics WHERE run_id = 99; DELETE FROM neurons WHERE run_id = 99;"
                     " DELETE FROM weights WHERE run_id = 99;";
        sqlite3 *rw = NULL;
        sqlite3_open_v2(db_path, &rw, SQLITE_OPEN_READWRITE, NULL); /* leave the rest of the test as it was */
        sqlite3_busy_timeout(rw, 10000);
        sqlite3_exec(rw, del, NULL, NULL, NULL);
        sqlite3_close(rw);
    }

    /* counts against SQL */
    rc = gl_store_counts(s, 0, 1, st, ph, &e);
    int bad = 0;
    static const char *const sn[] = {"pending", "running", "done", "diverged", "failed"};
    for (int k = 0; k < 5; k++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE status = '%s'", sn[k]);
        bad += st[k] != sql_int(db, sql);
    }
    for (int k = 0; k < 6; k++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE phase = '%s'", gl_phase_name(k));
        bad += ph[k] != sql_int(db, sql);
    }
    CHECK(rc == 0 && bad == 0 && st[GL_RUN_DONE] == 1 && st[GL_RUN_DIVERGED] == 1 && st[GL_RUN_FAILED] == 1 &&
              st[GL_RUN_PENDING] == 6 && ph[GL_PHASE_MEMORIZATION] == 1,
          "counts by status and phase equal SQL's (done 1, diverged 1, failed 1, pending 6; %d differ)", bad);
    rc = gl_store_counts(s, 1, 2, st, ph, &e);
    CHECK(rc == 0 && st[GL_RUN_DIVERGED] == 1 && st[GL_RUN_FAILED] == 1 && st[GL_RUN_DONE] == 0 && st[GL_RUN_PENDING] == 2,
          "counts of shard 1 of 2 (ids 2, 4, 6, 8): diverged 1, failed 1, pending 2");

    sqlite3_close(db);
    gl_store_close(s);
    gl_grid_free(&g);
    gl_grid_free(&g2);
}

/* ---- files that are not stores ---- */

static void refused_file(const char *name, int create, const char *want) {
    char p[512], side[600];
    path_in(p, sizeof p, name);
    size_t n0 = 0, n1 = 0;
    char *b0 = read_bytes(p, &n0);
    gl_store *s = NULL;
    gl_error e = {{0}, 0};
    int rc = gl_store_open(&s, p, create, &e);
    char *b1 = read_bytes(p, &n1);
    int extra = 0;
    static const char *const sfx[] = {"-wal", "-shm", "-journal"};
    for (int k = 0; k < 3; k++) {
        snprintf(side, sizeof side, "%s%s", p, sfx[k]);
        extra += exists(side);
    }
    CHECK(rc == -1 && strstr(e.msg, p) && strstr(e.msg, want) && b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0) && !extra,
          "%s (create %d) is refused naming it, its %zu bytes unchanged, no side files: %s", name, create, n0, e.msg);
    if (rc == 0) gl_store_close(s);
    free(b0);
    free(b1);
}

static void test_not_a_store(void) {
    char p[512];
    path_in(p, sizeof p, "notes.txt");
    FILE *f = fopen(p, "w");
    fprintf(f, "this is a text file, not a database\n");
    for (int i = 0; i < 200; i++) fprintf(f, "line %d of some notes\n", i);
    fclose(f);
    refused_file("notes.txt", 1, "not a groklab sweep store");
    refused_file("notes.txt", 0, "not a groklab sweep store");

    sqlite3 *db = NULL;
    path_in(p, sizeof p, "other.db");
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE people(name TEXT, age INTEGER); INSERT INTO people VALUES('ada', 36), ('alan', 41);",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    refused_file("other.db", 1, "other tables");
    refused_file("other.db", 0, "not a groklab sweep store");

    path_in(p, sizeof p, "format.db");
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE sweep(key TEXT PRIMARY KEY, value TEXT); INSERT INTO sweep VALUES('format', 'groklab-sweep-0');",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    refused_file("format.db", 1, "groklab-sweep-1");

    path_in(p, sizeof p, "adir");
    mkdir(p, 0755);
    gl_store *s = NULL;
    gl_error e = {{0}, 0};
    CHECK(gl_store_open(&s, p, 1, &e) == -1 && strstr(e.msg, "not a file"), "a directory is refused: %s", e.msg);

    path_in(p, sizeof p, "empty.db");
    f = fopen(p, "w");
    fclose(f);
    int rc = gl_store_open(&s, p, 1, &e);
    CHECK(rc == 0, "an empty file is set up as a new store (%s)", rc ? e.msg : "");
    if (rc == 0) gl_store_close(s);
}

/* ---- merging shards ---- */

static void test_merge(void) {
    char a_path[512], b_path[512], other[512], buf[256], sql[256];
    path_in(a_path, sizeof a_path, "shard-a.db");
    path_in(b_path, sizeof b_path, "shard-b.db");
    path_in(other, sizeof other, "sweep.db");
    gl_config base;
    base_config(&base);
    gl_grid g;
    gl_grid_init(&g, &base);
    gl_error e = {{0}, 0};
    gl_grid_add(&g, "replicate", "2", &e);
    gl_grid_add(&g, "variant", "b8:batch=8|b16:batch=16", &e);
    gl_store *A = NULL, *B = NULL;
    long added = 0;
    int rc = gl_store_open(&A, a_path, 1, &e) || gl_store_define(A, &g, 0, &added, &e) ||
             gl_store_open(&B, b_path, 1, &e) || gl_store_define(B, &g, 0, &added, &e);
    CHECK(rc == 0, "two stores of one 2 x 2 grid (replicate x variant) %s", rc ? e.msg : "");
    if (rc) return;
    sqlite3 *da = ro_open(a_path), *dbb = ro_open(b_path);
    int bad = 0;
    for (long id = 1; id <= 4; id++) {
        snprintf(sql, sizeof sql, "SELECT replicate FROM runs WHERE id = %ld", id);
        bad += sql_int(da, sql) != (id - 1) / 2;
        snprintf(sql, sizeof sql, "SELECT variant FROM runs WHERE id = %ld", id);
        bad += strcmp(sql_text(da, sql, buf, sizeof buf), id % 2 ? "b8" : "b16") != 0;
        snprintf(sql, sizeof sql, "SELECT seed + split_seed + noise_seed FROM runs WHERE id = %ld", id);
        bad += sql_int(da, sql) != 3 * ((id - 1) / 2);
        snprintf(sql, sizeof sql, "SELECT batch FROM runs WHERE id = %ld", id);
        bad += sql_int(da, sql) != (id % 2 ? 8 : 16);
    }
    CHECK(bad == 0, "the replicate and variant columns hold each run's replicate index and label (%d differ)", bad);
    /* shard 0 in A finishes 1 and 3, shard 1 in B finishes 2 and 4 */
    gl_metrics rows[4][3];
    for (int id = 1; id <= 4; id++) {
        for (int k = 0; k < 3; k++) rows[id - 1][k] = row(5 * k, 0.3 * k + 0.01 * id, 0.45 * k, 0.4 * k, 1.0 / (id + k));
        if (id == 4) rows[3][2].train_loss = NAN;
    }
    long id;
    gl_config c;
    for (int shard = 0; shard < 2; shard++) {
        gl_store *S = shard ? B : A;
        while (gl_store_claim(S, shard, 2, shard ? "b" : "a", &id, &e) == 1) {
            gl_store_point(S, id, &c, &e);
            gl_run_result r;
            memset(&r, 0, sizeof r);
            r.status = id == 4 ? GL_RUN_DIVERGED : GL_RUN_DONE;
            r.rows = rows[id - 1];
            r.n_rows = 3;
            r.steps = 10;
            r.diverged_at = id == 4 ? 10 : -1;
            r.wall_seconds = 0.1 * (double)id;
            finish(S, id, &c, &r);
        }
    }
    char *a13 = sql_dump(da, "SELECT * FROM runs WHERE id IN (1, 3) ORDER BY id");
    char *am13 = sql_dump(da, "SELECT * FROM metrics WHERE run_id IN (1, 3) ORDER BY run_id, step");
    char *b24 = sql_dump(dbb, "SELECT * FROM runs WHERE id IN (2, 4) ORDER BY id");
    char *bm24 = sql_dump(dbb, "SELECT * FROM metrics WHERE run_id IN (2, 4) ORDER BY run_id, step");
    long copied = -1;
    rc = gl_store_merge(A, b_path, &copied, &e);
    CHECK(rc == 0 && copied == 2, "merging shard B into A copies its 2 finished runs (copied %ld) %s", copied,
          rc ? e.msg : "");
    char *a24 = sql_dump(da, "SELECT * FROM runs WHERE id IN (2, 4) ORDER BY id");
    char *am24 = sql_dump(da, "SELECT * FROM metrics WHERE run_id IN (2, 4) ORDER BY run_id, step");
    char *a13b = sql_dump(da, "SELECT * FROM runs WHERE id IN (1, 3) ORDER BY id");
    char *am13b = sql_dump(da, "SELECT * FROM metrics WHERE run_id IN (1, 3) ORDER BY run_id, step");
    CHECK(!strcmp(a24, b24) && !strcmp(am24, bm24), "A's runs 2 and 4 and their metrics are B's, every column");
    CHECK(!strcmp(a13, a13b) && !strcmp(am13, am13b), "A's own runs 1 and 3 are unchanged");
    CHECK(sql_int(da, "SELECT count(*) FROM metrics") == 12, "A has the 4 x 3 metrics rows");
    long st[5], ph[6];
    gl_store_counts(A, 0, 1, st, ph, &e);
    CHECK(st[GL_RUN_DONE] == 3 && st[GL_RUN_DIVERGED] == 1 && st[GL_RUN_PENDING] == 0 && st[GL_RUN_RUNNING] == 0,
          "A counts 3 done and 1 diverged");
    free(a13), free(am13), free(b24), free(bm24), free(a24), free(am24), free(a13b), free(am13b);
    rc = gl_store_merge(A, b_path, &copied, &e);
    CHECK(rc == 0 && copied == 0 && sql_int(da, "SELECT count(*) FROM metrics") == 12,
          "merging B again copies nothing (copied %ld)", copied);
    char *before = sql_dump(da, "SELECT * FROM runs ORDER BY id");
    rc = gl_store_merge(A, other, &copied, &e);
    char *after = sql_dump(da, "SELECT * FROM runs ORDER BY id");
    CHECK(rc == -1 && strstr(e.msg, "different sweep") && !strcmp(before, after),
          "merging a store of another grid is refused, A unchanged: %s", e.msg);
    free(before), free(after);
    char missing[512];
    path_in(missing, sizeof missing, "missing.db");
    rc = gl_store_merge(A, missing, &copied, &e);
    CHECK(rc == -1 && strstr(e.msg, "missing.db") && !exists(missing), "merging a missing store is refused: %s", e.msg);
    sqlite3_close(da);
    sqlite3_close(dbb);
    gl_store_close(A);
    gl_store_close(B);
    gl_grid_free(&g);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/gl_test_store_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_define_claim_finish();
    test_not_a_store();
    test_merge();
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    CHECK(!exists(dir), "the temporary directory %s is removed", dir);
    return CHECK_DONE();
}
