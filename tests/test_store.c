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
 * again replaces them; counts against SQL. Files that are not stores and
 * merging are test_store_files.c. */
#define _GNU_SOURCE /* nftw */
#include "store_fixture.h"
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

int main(void) {
    if (fixture_open("test_store")) return 1;
    test_define_claim_finish();
    fixture_close();
    return CHECK_DONE();
}
