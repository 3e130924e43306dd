/* Out of memory at every allocation in turn. The library's allocations go
 * through this program's malloc, calloc, realloc and aligned_alloc (linked
 * with -Wl,--wrap: the k-th call returns NULL); for each k the operation
 * must either fail with GL_E_NOMEM and leave nothing wrong behind, or
 * succeed with exactly the result of a run without failures:
 *   - pruning (gl_prune_create, gl_prune_curve), whose per-thread buffer once
 *     failed silently and left the sums uninitialized;
 *   - resuming a run (gl_run_resume), whose metrics history was once cut
 *     short by a failed realloc;
 *   - a sweep with --keep-weights (gl_sweep_run), which once stored
 *     uninitialized IPR values when their computation failed: a failed sweep
 *     leaves its run pending with no neuron or weight rows. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "groklab/analysis.h"
#include "groklab/io.h"
#include "groklab/sweep.h"
#include "groklab/train.h"

static long fail_at;  /* the call that fails (0: none) */
static long n_calls;  /* calls since the counter was reset */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
static int failing(void) { return __atomic_add_fetch(&n_calls, 1, __ATOMIC_SEQ_CST) == fail_at; }
void *__wrap_malloc(size_t n) { return failing() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return failing() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return failing() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t align, size_t n) { return failing() ? NULL : __real_aligned_alloc(align, n); }

static void arm(long k) {
    __atomic_store_n(&n_calls, 0, __ATOMIC_SEQ_CST);
    fail_at = k;
}
/* whether the armed call was reached */
static int reached(void) { return __atomic_load_n(&n_calls, __ATOMIC_SEQ_CST) >= fail_at; }

static void small_config(gl_config *c) {
    gl_config_default(c);
    c->p = 13;
    c->width = 24;
    c->frac = 0.6;
    c->noise = 0.2;
    c->steps = 40;
    c->log_every = 1; /* 41 rows: past the first 64? no; see resume below */
    c->checkpoint_every = 0;
    c->threads = 2;
}

/* pruning: every count of the lowest-IPR order */
static int prune_once(const gl_config *c, const gl_model *m, const gl_dataset *d, const int *order,
                      gl_prune_row *rows, gl_error *err) {
    gl_prune *pr;
    int rc = gl_prune_create(&pr, c, &m->L, m->params, m->run_mean, m->run_var, d, 1, err);
    if (rc != 0) return rc;
    rc = gl_prune_curve(pr, order, m->L.N, rows, 2);
    if (rc != 0) gl_failc(err, rc, "pruning failed");
    gl_prune_free(pr);
    return rc;
}

static void check_prune(const char *dir) {
    gl_config c;
    gl_model m;
    gl_dataset d;
    gl_error e;
    if (gl_run_open(dir, &c, &e) || gl_run_load_model(dir, "model", &c, &m, &e) || gl_run_load_data(dir, &c, &d, &e)) {
        CHECK(0, "pruning: load the run: %s", e.msg);
        return;
    }
    int N = m.L.N, order[64];
    for (int k = 0; k < N; k++) order[k] = (k * 7) % N;
    gl_prune_row ref[65], rows[65];
    CHECK(prune_once(&c, &m, &d, order, ref, &e) == 0, "pruning without failures");
    int failed = 0, wrong = 0, other = 0;
    long k;
    for (k = 1;; k++) {
        arm(k);
        memset(rows, 0x5a, sizeof rows);
        int rc = prune_once(&c, &m, &d, order, rows, &e);
        int hit = reached();
        arm(0);
        if (!hit) break;
        if (rc != 0) failed++, other += rc != GL_E_NOMEM || e.code != GL_E_NOMEM;
        else wrong += memcmp(rows, ref, sizeof(gl_prune_row) * (size_t)(N + 1)) != 0;
    }
    CHECK(k > 5 && failed > 0 && wrong == 0 && other == 0,
          "pruning with allocation k = 1..%ld failing: %d fail with GL_E_NOMEM, %d other errors, %d succeed with a "
          "different curve",
          k - 1, failed, other, wrong);
    gl_model_free(&m);
    gl_dataset_free(&d);
}

/* want: the trainer's rows as metrics.csv holds them (a resume without
 * failures reads them back) */
static void check_resume(const char *dir, const gl_config *c) {
    int failed = 0, wrong = 0, other = 0;
    long k, n_want;
    gl_error e;
    gl_trainer *ref;
    if (gl_trainer_create(&ref, c, &e) != 0 || gl_run_resume(dir, ref, &e) != 0) {
        CHECK(0, "resume without failures: %s", e.msg);
        return;
    }
    const gl_metrics *want = gl_trainer_rows(ref, &n_want);
    for (k = 1;; k++) {
        gl_trainer *t;
        if (gl_trainer_create(&t, c, &e) != 0) {
            CHECK(0, "resume: trainer: %s", e.msg);
            return;
        }
        arm(k);
        int rc = gl_run_resume(dir, t, &e);
        int hit = reached();
        arm(0);
        long n;
        const gl_metrics *rows = gl_trainer_rows(t, &n);
        if (rc != 0) failed++, other += e.code != GL_E_NOMEM;
        else wrong += n != n_want || memcmp(rows, want, sizeof *rows * (size_t)n) != 0;
        if ((rc != 0 && e.code != GL_E_NOMEM) || (rc == 0 && (n != n_want || memcmp(rows, want, sizeof *rows * (size_t)n))))
            printf("        k %ld: rc %d (code %d: %s), %ld rows\n", k, rc, e.code, rc ? e.msg : "", n);
        gl_trainer_free(t);
        if (!hit) break;
    }
    CHECK(k > 5 && failed > 0 && wrong == 0 && other == 0,
          "resume with allocation k = 1..%ld failing: %d fail with GL_E_NOMEM, %d other errors, %d succeed with "
          "other than the %ld logged rows",
          k - 1, failed, other, wrong, n_want);
    gl_trainer_free(ref);
}

/* the store's runs by status, and its neuron rows */
static void store_state(const char *db, int *done, int *neurons, double *ipr_sum, int *failed_runs) {
    sqlite3 *h;
    *done = *neurons = *failed_runs = 0;
    *ipr_sum = 0;
    if (access(db, F_OK) != 0 || sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM runs WHERE status = 'done'), (SELECT count(*) FROM "
                              "neurons), (SELECT total(ipr) FROM neurons), (SELECT count(*) FROM runs WHERE status "
                              "IN ('failed', 'diverged'))", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        *done = sqlite3_column_int(q, 0);
        *neurons = sqlite3_column_int(q, 1);
        *ipr_sum = sqlite3_column_double(q, 2);
        *failed_runs = sqlite3_column_int(q, 3);
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
}

static int sweep_once(const char *dir, const gl_config *base, gl_error *err) {
    gl_grid g;
    gl_grid_init(&g, base);
    gl_sweep_opts o = {.threads = 1, .keep_weights = 1, .shard_n = 1};
    gl_sweep_report rep;
    int rc = gl_sweep_run(dir, &g, &o, &rep, err);
    gl_grid_free(&g);
    return rc;
}

static void check_sweep(const char *tmp, const gl_config *base) {
    char dir[600], db[700], cmd[800];
    gl_error e;
    snprintf(dir, sizeof dir, "%s/sweep-ref", tmp);
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    int done, neurons, failed_runs;
    double ref_sum, sum;
    CHECK(sweep_once(dir, base, &e) == 0, "keep-weights sweep without failures: %s", e.code ? e.msg : "ok");
    store_state(db, &done, &neurons, &ref_sum, &failed_runs);
    CHECK(done == 1 && neurons == base->width, "it stores its run and %d neuron rows (%d, %d)", base->width, done, neurons);
    int failed = 0, bad = 0;
    long k;
    for (k = 1;; k++) {
        snprintf(dir, sizeof dir, "%s/sweep-%ld", tmp, k);
        snprintf(db, sizeof db, "%s/sweep.db", dir);
        arm(k);
        int rc = sweep_once(dir, base, &e);
        int hit = reached();
        arm(0);
        store_state(db, &done, &neurons, &sum, &failed_runs);
        if (rc != 0) failed++;
        /* a finished run has all its neurons and their values; an unfinished
         * one none, and running out of memory is not the run's failure */
        int ok = failed_runs == 0 && ((done == 1 && neurons == base->width && sum == ref_sum) || (done == 0 && neurons == 0));
        if (!ok || (rc == 0 && done != 1) || (rc != 0 && e.code != GL_E_NOMEM && e.code != GL_E_IO)) {
            if (!bad)
                printf("        k %ld: rc %d (%s), %d done, %d failed, %d neuron rows\n", k, rc, rc ? e.msg : "", done,
                       failed_runs, neurons);
            bad++;
        }
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) break;
        if (!hit) break;
    }
    CHECK(k > 5 && failed > 0 && bad == 0,
          "keep-weights sweep with allocation k = 1..%ld failing: %d fail, %d leave a wrong store or an unexpected "
          "error",
          k - 1, failed, bad);
}

int main(void) {
    char tmp[] = "/tmp/gl_test_failures_XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    gl_config c;
    small_config(&c);
    c.steps = 70; /* 71 logged rows: reading them back reallocates past 64 */
    char run[600];
    snprintf(run, sizeof run, "%s/run", tmp);
    gl_trainer *t;
    gl_error e;
    int rc = gl_trainer_create(&t, &c, &e);
    if (rc == 0) rc = gl_run_prepare(run, 0, &e);
    if (rc == 0) rc = gl_trainer_advance(t, c.steps, 2, &e);
    if (rc == 0) rc = gl_run_write_config(run, &c, &e);
    if (rc == 0) rc = gl_run_write_data(run, gl_trainer_data(t), &e);
    if (rc == 0) rc = gl_run_save_all(run, t, &e);
    CHECK(rc == 0, "a run to take apart: %s", rc ? e.msg : "ok");
    if (rc != 0) return CHECK_DONE();
    check_resume(run, &c);
    check_prune(run);
    gl_trainer_free(t);
    small_config(&c);
    c.steps = 10;
    check_sweep(tmp, &c);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "temporary files removed");
    return CHECK_DONE();
}
