/* The sweep store's files (groklab/sweep.h): files that are not stores
 * (text, another database, another format version, a directory) are refused,
 * naming the file, and keep their bytes with no side files; an empty file
 * becomes a new store; merging two shard stores, read back with SQLite. */
#define _GNU_SOURCE /* nftw */
#include "store_fixture.h"

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
    path_in(other, sizeof other, "another-grid.db");
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
    gl_grid g2;
    grid_of(&g2, "0.01,0.02", "0:1:3");
    gl_store *O = NULL;
    rc = gl_store_open(&O, other, 1, &e) || gl_store_define(O, &g2, 0, &added, &e);
    CHECK(rc == 0, "a store of another grid (lr x wd) %s", rc ? e.msg : "");
    if (O) gl_store_close(O);
    gl_grid_free(&g2);
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
    if (fixture_open("test_store_files")) return 1;
    test_not_a_store();
    test_merge();
    fixture_close();
    return CHECK_DONE();
}
