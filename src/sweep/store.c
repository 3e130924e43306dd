/* groklab: the sweep store, one SQLite database per sweep (WAL mode).
 *
 *   sweep(key, value)      format, definition (the grid as JSON), created
 *   runs(id, ...)          one row per grid point: status, attempts, worker,
 *                          message, every config knob as a column, replicate
 *                          and variant labels, final metrics, phase,
 *                          milestones, timings
 *   metrics(run_id, step, ...)  the logged time series of every run
 *   neurons(run_id, neuron, ipr)            with --keep-weights
 *   weights(run_id, name, rows, cols, data) with --keep-weights (float32)
 *
 * A run's results go in with one transaction, so a killed process leaves a
 * run either finished or not; runs left "running" are requeued on resume. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sweep/store_impl.h"

#define STORE_FORMAT "groklab-sweep-1"



const char *gl_run_status_name(gl_run_status s) {
    static const char *const n[] = {"pending", "running", "done", "diverged", "failed"};
    return s >= 0 && s <= GL_RUN_FAILED ? n[s] : "?";
}

int gl_store_db_fail(gl_store *s, gl_error *err, const char *what) {
    int code = sqlite3_errcode(s->db);
    int kind = code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? GL_E_CORRUPT
               : code == SQLITE_NOMEM                          ? GL_E_NOMEM
                                                               : GL_E_IO;
    return gl_failc(err, kind, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int gl_store_exec(gl_store *s, const char *sql, gl_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = gl_failc(err, GL_E_IO, "%s: %s", s->path, msg ? msg : "SQLite error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* result columns of runs, after the config knobs */
const char *const gl_store_result_cols[] = {
    "phase TEXT", "train_acc REAL", "test_acc REAL", "corrupted_acc REAL", "corrupted_true_acc REAL",
    "clean_acc REAL", "train_loss REAL", "test_loss REAL", "mean_ipr REAL", "norm_u REAL",
    "norm_v REAL", "norm_w REAL", "steps_done INTEGER", "diverged_at INTEGER", "train_acc_90 INTEGER",
    "test_acc_90 INTEGER", "unlearned INTEGER", "wall_seconds REAL", "finished_at TEXT",
    /* the corrupted examples' memorization and unlearning steps (examples.csv of a run) */
    "memorized INTEGER", "mem_median REAL", "mem_iqr REAL", "unlearned_examples INTEGER", "unlearn_median REAL",
    "unlearn_iqr REAL",
    /* a refined sweep (--refine): the round that scheduled the run, 0 the
     * coarse lattice; NULL in a full sweep (docs/design.md, "Refinement") */
    "round INTEGER"};
const int gl_store_n_result = (int)(sizeof gl_store_result_cols / sizeof gl_store_result_cols[0]);

static int create_schema(gl_store *s, gl_error *err) {
    char sql[8192];
    size_t n = 0;
#define A(...) n += (size_t)snprintf(sql + n, sizeof sql - n, __VA_ARGS__)
    A("CREATE TABLE sweep(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE runs(id INTEGER PRIMARY KEY, point TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
      " attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, message TEXT, replicate INTEGER, variant TEXT");
    for (int i = 0; i < gl_config_nfields(); i++)
        A(", \"%s\" %s", gl_config_field_name(i), gl_config_field_numeric(i) ? "NUMERIC" : "TEXT");
    for (int i = 0; i < gl_store_n_result; i++) A(", %s", gl_store_result_cols[i]);
    A(");CREATE INDEX runs_status ON runs(status, id);");
    A("CREATE TABLE metrics(run_id INTEGER NOT NULL");
    for (int c = 0; c < GL_METRICS_NCOLS; c++) A(", %s %s", gl_metrics_columns[c], c == 0 ? "INTEGER NOT NULL" : "REAL");
    A(", PRIMARY KEY(run_id, step)) WITHOUT ROWID;");
    A("CREATE TABLE neurons(run_id INTEGER NOT NULL, neuron INTEGER NOT NULL, ipr REAL,"
      " PRIMARY KEY(run_id, neuron)) WITHOUT ROWID;");
    A("CREATE TABLE weights(run_id INTEGER NOT NULL, name TEXT NOT NULL, rows INTEGER, cols INTEGER,"
      " data BLOB, PRIMARY KEY(run_id, name));");
#undef A
    return gl_store_exec(s, sql, err);
}

/* Adds to table the columns (name and type, "name TYPE") it lacks: a
 * store made by an earlier groklab gets the knobs and results added since
 * (as NULL in its rows), so it stays usable for --resume and --extend. */
static int add_missing_columns(gl_store *s, const char *table, int n, const char *(*col)(int i, char *buf, size_t cap),
                               gl_error *err) {
    for (int i = 0; i < n; i++) {
        char buf[96], name[64], sql[256];
        const char *def = col(i, buf, sizeof buf);
        sscanf(def, "%63s", name);
        if (name[0] == '"') memmove(name, name + 1, strlen(name)), name[strcspn(name, "\"")] = 0;
        sqlite3_stmt *q = NULL;
        snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = ?1", table);
        if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) return gl_store_db_fail(s, err, "reading the schema");
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
        int have = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (have) continue;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", table, def);
        if (gl_store_exec(s, sql, err) != 0) return -1;
    }
    return 0;
}

static const char *knob_col(int i, char *buf, size_t cap) {
    snprintf(buf, cap, "\"%s\" %s", gl_config_field_name(i), gl_config_field_numeric(i) ? "NUMERIC" : "TEXT");
    return buf;
}
static const char *result_col(int i, char *buf, size_t cap) {
    (void)buf, (void)cap;
    return gl_store_result_cols[i];
}
static const char *metrics_col(int i, char *buf, size_t cap) {
    snprintf(buf, cap, "%s REAL", gl_metrics_columns[i]);
    return buf;
}

static int upgrade_schema(gl_store *s, gl_error *err) {
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int rc = add_missing_columns(s, "runs", gl_config_nfields(), knob_col, err);
    if (!rc) rc = add_missing_columns(s, "runs", gl_store_n_result, result_col, err);
    if (!rc) rc = add_missing_columns(s, "metrics", GL_METRICS_NCOLS, metrics_col, err);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

int gl_store_open(gl_store **out, const char *path, int create, gl_error *err) {
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists && !create) return gl_fail(err, "%s: no sweep store here", path);
    if (exists && !S_ISREG(st.st_mode)) return gl_fail(err, "%s is not a file", path);
    gl_store *s = calloc(1, sizeof *s);
    if (!s) return gl_fail_nomem(err, "");
    snprintf(s->path, sizeof s->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        int rc = gl_fail(err, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        gl_store_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 60000);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM sweep WHERE key = 'format'", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        const char *fmt = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
        int ok = fmt && !strcmp(fmt, STORE_FORMAT);
        sqlite3_finalize(q);
        if (!ok) {
            gl_store_close(s);
            return gl_fail(err, "%s is not a groklab sweep store (its format is not %s)", path, STORE_FORMAT);
        }
        if (upgrade_schema(s, err) != 0) {
            gl_store_close(s);
            return -1;
        }
    } else {
        sqlite3_finalize(q);
        /* a brand-new empty file is ours to set up; anything else is foreign */
        sqlite3_stmt *t = NULL;
        int n_tables = -1;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &t, NULL) == SQLITE_OK &&
            sqlite3_step(t) == SQLITE_ROW)
            n_tables = sqlite3_column_int(t, 0);
        sqlite3_finalize(t);
        if (n_tables != 0 || !create) {
            int r = n_tables < 0 ? gl_fail(err, "%s is not a groklab sweep store (%s)", path, sqlite3_errmsg(s->db))
                                 : gl_fail(err, "%s is not a groklab sweep store (it has other tables)", path);
            gl_store_close(s);
            return r;
        }
        if (gl_store_exec(s, "PRAGMA journal_mode=WAL", err) != 0 || gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0 ||
            create_schema(s, err) != 0 ||
            gl_store_exec(s, "INSERT INTO sweep VALUES('format', '" STORE_FORMAT "');", err) != 0 ||
            gl_store_exec(s, "COMMIT", err) != 0) {
            gl_store_close(s);
            return -1;
        }
    }
    if (gl_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;", err) != 0) {
        gl_store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

sqlite3 *gl_store_db(gl_store *s) { return s->db; }
const char *gl_store_path(const gl_store *s) { return s->path; }

void gl_store_close(gl_store *s) {
    if (!s) return;
    sqlite3_close(s->db);
    free(s);
}

/* The point's identity: every knob, compact JSON, without the version. */
static char *point_json(const gl_config *c) { return gl_config_to_json_compact(c); }

static int insert_point(gl_store *s, sqlite3_stmt *ins, const gl_grid *g, long idx, int *added, gl_error *err) {
    gl_config c;
    gl_error e;
    if (gl_grid_point(g, idx, &c, &e) != 0) return gl_failc(err, e.code, "grid point %ld: %s", idx + 1, e.msg);
    char *pj = point_json(&c);
    if (!pj) return gl_fail_nomem(err, "");
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    sqlite3_bind_text(ins, 1, pj, -1, SQLITE_TRANSIENT);
    int coord[GL_MAX_AXES];
    gl_grid_coords(g, idx, coord);
    int ar = gl_grid_axis(g, "replicate"), av = gl_grid_axis(g, "variant");
    if (ar >= 0) sqlite3_bind_int64(ins, 2, atoll(g->axes[ar].values[coord[ar]]));
    if (av >= 0) sqlite3_bind_text(ins, 3, g->axes[av].labels[coord[av]], -1, SQLITE_TRANSIENT);
    for (int i = 0; i < gl_config_nfields(); i++) {
        char buf[128];
        gl_config_field_text(&c, i, buf, sizeof buf);
        sqlite3_bind_text(ins, 4 + i, buf, -1, SQLITE_TRANSIENT);
    }
    free(pj);
    int rc = sqlite3_step(ins);
    if (rc != SQLITE_DONE) return gl_store_db_fail(s, err, "adding a run");
    *added = sqlite3_changes(s->db) > 0;
    return 0;
}

int gl_store_key(gl_store *s, const char *key, char **value, gl_error *err) {
    sqlite3_stmt *q = NULL;
    int rc = 0;
    *value = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM sweep WHERE key = ?1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
        !(*value = strdup((const char *)sqlite3_column_text(q, 0))))
        rc = gl_fail_nomem(err, key);
    sqlite3_finalize(q);
    return rc;
}

/* *def: the grid's JSON the store was defined with (to free), or NULL if it
 * has none yet. 0, or GL_E_NOMEM. */
static int stored_definition(gl_store *s, char **def, gl_error *err) {
    return gl_store_key(s, "definition", def, err);
}

int gl_store_define(gl_store *s, const gl_grid *g, int extend, long *added, gl_error *err) {
    char *def = gl_grid_to_json(g);
    if (!def) return gl_fail_nomem(err, "");
    *added = 0;
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) {
        free(def);
        return -1;
    }
    char *old;
    int rc = stored_definition(s, &old, err);
    if (!rc && old && strcmp(old, def) != 0 && !extend)
        rc = gl_fail(err, "%s holds a different sweep (other axes, values or knobs); use --extend to add "
                          "the new points to it, or another --out", s->path);
    if (!rc && (!old || strcmp(old, def) != 0)) {
        /* insert every point not already there (by its full config) */
        char sql[8192];
        size_t n = 0;
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              "INSERT OR IGNORE INTO runs(point, status, replicate, variant");
        for (int i = 0; i < gl_config_nfields(); i++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", gl_config_field_name(i));
        /* a refined sweep trains a point only when a round schedules it */
        n += (size_t)snprintf(sql + n, sizeof sql - n, ") VALUES(?1, '%s', ?2, ?3",
                              gl_store_refining(s, NULL, NULL) ? "unscheduled" : "pending");
        for (int i = 0; i < gl_config_nfields(); i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", ?%d", 4 + i);
        snprintf(sql + n, sizeof sql - n, ")");
        sqlite3_stmt *ins = NULL;
        if (sqlite3_prepare_v2(s->db, sql, -1, &ins, NULL) != SQLITE_OK) rc = gl_store_db_fail(s, err, "preparing");
        long size = gl_grid_size(g);
        for (long i = 0; i < size && !rc; i++) {
            int a = 0;
            rc = insert_point(s, ins, g, i, &a, err);
            *added += a;
        }
        sqlite3_finalize(ins);
        sqlite3_stmt *up = NULL;
        if (!rc && (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO sweep VALUES('definition', ?1)", -1, &up, NULL) != SQLITE_OK ||
                    sqlite3_bind_text(up, 1, def, -1, SQLITE_TRANSIENT) != SQLITE_OK || sqlite3_step(up) != SQLITE_DONE))
            rc = gl_store_db_fail(s, err, "writing the definition");
        sqlite3_finalize(up);
        if (!rc && !old) {
            char when[64], sql2[128];
            time_t now = time(NULL);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
            snprintf(sql2, sizeof sql2, "INSERT OR REPLACE INTO sweep VALUES('created', '%s')", when);
            rc = gl_store_exec(s, sql2, err);
        }
    }
    free(old);
    free(def);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return -1;
    }
    return gl_store_exec(s, "COMMIT", err);
}

int gl_store_grid(gl_store *s, gl_grid *g, gl_error *err) {
    char *def;
    int rc = stored_definition(s, &def, err);
    if (!rc) rc = def ? gl_grid_from_json(g, def, err) : gl_fail(err, "%s has no sweep definition yet", s->path);
    free(def);
    return rc;
}

int gl_store_requeue(gl_store *s, long *n, gl_error *err) {
    if (gl_store_exec(s, "UPDATE runs SET status = 'pending', worker = NULL WHERE status = 'running'", err) != 0) return -1;
    *n = sqlite3_changes(s->db);
    return 0;
}

int gl_store_claim(gl_store *s, int shard_i, int shard_n, const char *worker, long *id, gl_error *err) {
    sqlite3_stmt *q = NULL;
    const char *sql =
        "UPDATE runs SET status = 'running', attempts = attempts + 1, worker = ?3 WHERE id = "
        "(SELECT id FROM runs WHERE status = 'pending' AND (id - 1) % ?2 = ?1 ORDER BY id LIMIT 1) RETURNING id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) return gl_store_db_fail(s, err, "claiming a run");
    sqlite3_bind_int(q, 1, shard_i);
    sqlite3_bind_int(q, 2, shard_n);
    sqlite3_bind_text(q, 3, worker, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q), found = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        found = 1;
        rc = sqlite3_step(q);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return gl_store_db_fail(s, err, "claiming a run");
    return found;
}

int gl_store_release(gl_store *s, long id, gl_error *err) {
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "UPDATE runs SET status = 'pending', worker = NULL WHERE id = ?1 AND status = 'running'",
                           -1, &q, NULL) != SQLITE_OK)
        return gl_store_db_fail(s, err, "releasing a run");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : gl_store_db_fail(s, err, "releasing a run");
    sqlite3_finalize(q);
    return rc;
}

int gl_store_point(gl_store *s, long id, gl_config *c, gl_error *err) {
    sqlite3_stmt *q = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db, "SELECT point FROM runs WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
        return gl_store_db_fail(s, err, "reading a run");
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) == SQLITE_ROW) {
        gl_config_default(c);
        rc = gl_config_from_json(c, (const char *)sqlite3_column_text(q, 0), err);
    } else {
        rc = gl_fail(err, "%s: no run %ld", s->path, id);
    }
    sqlite3_finalize(q);
    return rc;
}

int gl_store_counts(gl_store *s, int shard_i, int shard_n, long status[5], long phase[6], gl_error *err) {
    memset(status, 0, sizeof(long) * 5);
    if (phase) memset(phase, 0, sizeof(long) * 6);
    sqlite3_stmt *q = NULL;
    const char *sql = "SELECT status, phase, count(*) FROM runs WHERE (id - 1) % ?2 = ?1 GROUP BY status, phase";
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) return gl_store_db_fail(s, err, "counting runs");
    sqlite3_bind_int(q, 1, shard_i);
    sqlite3_bind_int(q, 2, shard_n);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *st = (const char *)sqlite3_column_text(q, 0), *ph = (const char *)sqlite3_column_text(q, 1);
        long n = sqlite3_column_int64(q, 2);
        for (int i = 0; i < 5; i++)
            if (st && !strcmp(st, gl_run_status_name(i))) status[i] += n;
        for (int i = 0; phase && ph && i < 6; i++)
            if (!strcmp(ph, gl_phase_name(i))) phase[i] += n;
    }
    sqlite3_finalize(q);
    return 0;
}

static void bind_num(sqlite3_stmt *q, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(q, i, v);
    else sqlite3_bind_null(q, i);
}
static void bind_step(sqlite3_stmt *q, int i, long v) {
    if (v >= 0) sqlite3_bind_int64(q, i, v);
    else sqlite3_bind_null(q, i);
}

int gl_store_finish(gl_store *s, long id, const gl_config *c, const gl_run_result *r, gl_error *err) {
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int rc = 0;
    sqlite3_stmt *q = NULL;
    const char *sql =
        "UPDATE runs SET status = ?2, message = ?3, phase = ?4, train_acc = ?5, test_acc = ?6, corrupted_acc = ?7,"
        " corrupted_true_acc = ?8, clean_acc = ?9, train_loss = ?10, test_loss = ?11, mean_ipr = ?12,"
        " norm_u = ?13, norm_v = ?14, norm_w = ?15, steps_done = ?16, diverged_at = ?17, train_acc_90 = ?18,"
        " test_acc_90 = ?19, unlearned = ?20, wall_seconds = ?21, finished_at = ?22, memorized = ?23,"
        " mem_median = ?24, mem_iqr = ?25, unlearned_examples = ?26, unlearn_median = ?27, unlearn_iqr = ?28"
        " WHERE id = ?1";
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) rc = gl_store_db_fail(s, err, "recording a run");
    if (!rc) {
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, gl_run_status_name(r->status), -1, SQLITE_STATIC);
        if (r->message[0]) sqlite3_bind_text(q, 3, r->message, -1, SQLITE_TRANSIENT);
        if (r->status != GL_RUN_FAILED && r->n_rows > 0) {
            gl_milestones ms;
            const gl_metrics *last;
            gl_phase ph = gl_phase_of_run(r->rows, r->n_rows, c->noise, r->diverged_at >= 0, &ms, &last);
            sqlite3_bind_text(q, 4, gl_phase_name(ph), -1, SQLITE_STATIC);
            if (last) {
                bind_num(q, 5, last->train_acc);
                bind_num(q, 6, last->test_acc);
                bind_num(q, 7, last->corrupted_acc);
                bind_num(q, 8, last->corrupted_true_acc);
                bind_num(q, 9, last->clean_acc);
                bind_num(q, 10, last->train_loss);
                bind_num(q, 11, last->test_loss);
                bind_num(q, 12, last->mean_ipr);
                bind_num(q, 13, last->norm_u);
                bind_num(q, 14, last->norm_v);
                bind_num(q, 15, last->norm_w);
            }
            bind_step(q, 18, ms.train90);
            bind_step(q, 19, ms.test90);
            bind_step(q, 20, ms.unlearn);
        }
        if (r->has_story) {
            sqlite3_bind_int64(q, 23, r->story.n_memorized);
            bind_num(q, 24, r->story.mem_median);
            bind_num(q, 25, r->story.mem_iqr);
            sqlite3_bind_int64(q, 26, r->story.n_unlearned);
            bind_num(q, 27, r->story.unl_median);
            bind_num(q, 28, r->story.unl_iqr);
        }
        sqlite3_bind_int64(q, 16, r->steps);
        bind_step(q, 17, r->diverged_at);
        sqlite3_bind_double(q, 21, r->wall_seconds);
        char when[64];
        time_t now = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        sqlite3_bind_text(q, 22, when, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE) rc = gl_store_db_fail(s, err, "recording a run");
        else if (sqlite3_changes(s->db) != 1) rc = gl_failc(err, GL_E_INTERNAL, "%s: no run %ld to record", s->path, id);
    }
    sqlite3_finalize(q);
    /* the time series (replacing any left by an interrupted attempt) */
    char del[160];
    snprintf(del, sizeof del, "DELETE FROM metrics WHERE run_id = %ld; DELETE FROM neurons WHERE run_id = %ld;"
                              " DELETE FROM weights WHERE run_id = %ld;", id, id, id);
    if (!rc) rc = gl_store_exec(s, del, err);
    if (!rc && r->n_rows > 0) {
        char sqlm[1024];
        size_t n = (size_t)snprintf(sqlm, sizeof sqlm, "INSERT INTO metrics VALUES(?1");
        for (int k = 0; k < GL_METRICS_NCOLS; k++) n += (size_t)snprintf(sqlm + n, sizeof sqlm - n, ", ?%d", k + 2);
        snprintf(sqlm + n, sizeof sqlm - n, ")");
        if (sqlite3_prepare_v2(s->db, sqlm, -1, &q, NULL) != SQLITE_OK) rc = gl_store_db_fail(s, err, "recording metrics");
        for (long i = 0; i < r->n_rows && !rc; i++) {
            double v[GL_METRICS_NCOLS];
            gl_metrics_to_array(&r->rows[i], v);
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, id);
            sqlite3_bind_int64(q, 2, r->rows[i].step);
            for (int k = 1; k < GL_METRICS_NCOLS; k++) bind_num(q, k + 2, v[k]);
            if (sqlite3_step(q) != SQLITE_DONE) rc = gl_store_db_fail(s, err, "recording metrics");
        }
        sqlite3_finalize(q);
    }
    if (!rc && r->ipr) {
        if (sqlite3_prepare_v2(s->db, "INSERT INTO neurons VALUES(?1, ?2, ?3)", -1, &q, NULL) != SQLITE_OK)
            rc = gl_store_db_fail(s, err, "recording neurons");
        for (int k = 0; k < r->N && !rc; k++) {
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, id);
            sqlite3_bind_int(q, 2, k);
            bind_num(q, 3, r->ipr[k]);
            if (sqlite3_step(q) != SQLITE_DONE) rc = gl_store_db_fail(s, err, "recording neurons");
        }
        sqlite3_finalize(q);
    }
    if (!rc && r->U) {
        const char *names[3] = {"U", "V", "W"};
        const float *data[3] = {r->U, r->V, r->W};
        int rows[3] = {r->N, r->N, r->p}, cols[3] = {r->p, r->p, r->N};
        if (sqlite3_prepare_v2(s->db, "INSERT INTO weights VALUES(?1, ?2, ?3, ?4, ?5)", -1, &q, NULL) != SQLITE_OK)
            rc = gl_store_db_fail(s, err, "recording weights");
        for (int w = 0; w < 3 && !rc; w++) {
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, id);
            sqlite3_bind_text(q, 2, names[w], -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 3, rows[w]);
            sqlite3_bind_int(q, 4, cols[w]);
            sqlite3_bind_blob(q, 5, data[w], (int)(sizeof(float) * (size_t)rows[w] * cols[w]), SQLITE_STATIC);
            if (sqlite3_step(q) != SQLITE_DONE) rc = gl_store_db_fail(s, err, "recording weights");
        }
        sqlite3_finalize(q);
    }
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return -1;
    }
    return gl_store_exec(s, "COMMIT", err);
}

