/* groklab: the sweep store's merge of shard stores and its CSV export
 * (groklab/sweep.h). */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store_impl.h"

int gl_store_merge(gl_store *s, const char *src_path, long *copied, gl_error *err) {
    *copied = 0;
    gl_store *src;
    if (gl_store_open(&src, src_path, 0, err) != 0) return -1;
    gl_grid a, b;
    int rc = gl_store_grid(s, &a, err);
    if (!rc && gl_store_grid(src, &b, err) != 0) {
        gl_grid_free(&a);
        rc = -1;
    } else if (!rc) {
        char *ja = gl_grid_to_json(&a), *jb = gl_grid_to_json(&b);
        if (!ja || !jb || strcmp(ja, jb) != 0)
            rc = gl_fail(err, "%s holds a different sweep than %s; only shards of one sweep can be merged", src_path, s->path);
        free(ja);
        free(jb);
        gl_grid_free(&a);
        gl_grid_free(&b);
    }
    gl_store_close(src);
    if (rc) return -1;
    char *q = sqlite3_mprintf("ATTACH DATABASE %Q AS src", src_path);
    rc = gl_store_exec(s, q, err);
    sqlite3_free(q);
    if (rc) return -1;
    /* finished runs of src replace unfinished ones here, matched by id and point */
    char sql[8192];
    size_t n = 0;
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          "BEGIN IMMEDIATE;"
                          "CREATE TEMP TABLE moving AS SELECT s.id FROM src.runs s JOIN main.runs m ON s.id = m.id"
                          " AND s.point = m.point WHERE s.status IN ('done', 'diverged', 'failed')"
                          " AND m.status NOT IN ('done', 'diverged', 'failed');"
                          "UPDATE main.runs SET (status, attempts, worker, message");
    for (int i = 0; i < gl_store_n_result; i++) {
        char col[40];
        sscanf(gl_store_result_cols[i], "%39s", col);
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", col);
    }
    n += (size_t)snprintf(sql + n, sizeof sql - n, ") = (SELECT status, attempts, worker, message");
    for (int i = 0; i < gl_store_n_result; i++) {
        char col[40];
        sscanf(gl_store_result_cols[i], "%39s", col);
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", s.%s", col);
    }
    snprintf(sql + n, sizeof sql - n,
             " FROM src.runs s WHERE s.id = main.runs.id) WHERE id IN (SELECT id FROM moving);"
             "DELETE FROM main.metrics WHERE run_id IN (SELECT id FROM moving);"
             "INSERT INTO main.metrics SELECT * FROM src.metrics WHERE run_id IN (SELECT id FROM moving);"
             "DELETE FROM main.neurons WHERE run_id IN (SELECT id FROM moving);"
             "INSERT INTO main.neurons SELECT * FROM src.neurons WHERE run_id IN (SELECT id FROM moving);"
             "DELETE FROM main.weights WHERE run_id IN (SELECT id FROM moving);"
             "INSERT INTO main.weights SELECT * FROM src.weights WHERE run_id IN (SELECT id FROM moving);");
    rc = gl_store_exec(s, sql, err);
    if (!rc) {
        sqlite3_stmt *c = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM moving", -1, &c, NULL) == SQLITE_OK && sqlite3_step(c) == SQLITE_ROW)
            *copied = sqlite3_column_int64(c, 0);
        sqlite3_finalize(c);
        rc = gl_store_exec(s, "DROP TABLE moving; COMMIT;", err);
    } else {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
    }
    gl_store_exec(s, "DETACH DATABASE src", &(gl_error){0});
    return rc;
}

int gl_store_export_csv(gl_store *s, const char *table, const char *path, long *rows, gl_error *err) {
    const char *sql = !strcmp(table, "runs")      ? "SELECT * FROM runs ORDER BY id"
                      : !strcmp(table, "metrics") ? "SELECT * FROM metrics ORDER BY run_id, step"
                                                  : NULL;
    if (!sql) return gl_fail(err, "export: '%s' is not a table of the store (allowed: runs, metrics)", table);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) return gl_store_db_fail(s, err, "exporting");
    gl_text b = {0};
    int nc = sqlite3_column_count(q);
    for (int c = 0; c < nc; c++) gl_text_printf(&b, "%s%s", c ? "," : "", sqlite3_column_name(q, c));
    gl_text_printf(&b, "\n");
    *rows = 0;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            int t = sqlite3_column_type(q, c);
            if (c) gl_text_printf(&b, ",");
            if (t == SQLITE_NULL) continue;
            if (t == SQLITE_INTEGER) gl_text_printf(&b, "%lld", (long long)sqlite3_column_int64(q, c));
            else if (t == SQLITE_FLOAT) gl_text_printf(&b, "%.17g", sqlite3_column_double(q, c));
            else {
                const char *v = (const char *)sqlite3_column_text(q, c);
                if (!strpbrk(v, ",\"\n")) {
                    gl_text_printf(&b, "%s", v);
                    continue;
                }
                gl_text_printf(&b, "\"");
                for (const char *p = v; *p; p++) gl_text_printf(&b, *p == '"' ? "\"\"" : "%c", *p);
                gl_text_printf(&b, "\"");
            }
        }
        gl_text_printf(&b, "\n");
        (*rows)++;
    }
    int rc = step != SQLITE_DONE ? gl_store_db_fail(s, err, "exporting") : gl_text_write(&b, path, err);
    sqlite3_finalize(q);
    gl_text_free(&b);
    return rc;
}

int gl_store_result(gl_store *s, long id, const char *column, double *v, gl_error *err) {
    *v = NAN;
    int known = 0;
    for (int i = 0; i < gl_store_n_result && !known; i++) {
        char col[40], type[16];
        if (sscanf(gl_store_result_cols[i], "%39s %15s", col, type) == 2 && !strcmp(col, column))
            known = strcmp(type, "TEXT") != 0;
    }
    if (!known) return gl_fail(err, "'%s' is not a numeric result column of a sweep store", column);
    char *sql = sqlite3_mprintf("SELECT %s FROM runs WHERE id = %ld AND status IN ('done', 'diverged')", column, id);
    sqlite3_stmt *q = NULL;
    int rc = sql && sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK ? 0 : gl_store_db_fail(s, err, "reading a result");
    sqlite3_free(sql);
    int step = rc ? SQLITE_ERROR : sqlite3_step(q);
    if (!rc && step == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) *v = sqlite3_column_double(q, 0);
    else if (!rc && step != SQLITE_ROW && step != SQLITE_DONE) rc = gl_store_db_fail(s, err, "reading a result");
    sqlite3_finalize(q);
    return rc;
}
