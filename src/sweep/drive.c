/* groklab: a sweep from start to end in one process (gl_sweep_run) and the
 * merge of shard stores (gl_sweep_merge): the lock that keeps one process
 * per store, the store's set-up, the workers, and a refined sweep's rounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groklab/files.h"
#include "groklab/runtime.h"
#include "groklab/sweep.h"
#include "sweep/store_impl.h"

/* One process per store: an advisory lock on STORE.lock (*fd, or -1). */
static int lock_store(const char *db, int *fd, gl_error *err) {
    char path[4300];
    snprintf(path, sizeof path, "%s.lock", db);
    *fd = open(path, O_RDWR | O_CREAT, 0644);
    if (*fd < 0) return gl_failc(err, GL_E_IO, "cannot create %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return gl_fail(err, "%s is in use by another groklab process (one process per store; use --shard or MPI "
                            "to share a sweep)", db);
    }
    return 0;
}

static long count_unscheduled(gl_store *s) {
    sqlite3_stmt *q = NULL;
    long n = 0;
    if (sqlite3_prepare_v2(gl_store_db(s), "SELECT count(*) FROM runs WHERE status = 'unscheduled'", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* --refine-seeds k: *out is g with k replicates, of which g's own *base are
 * the seeds every point trains */
static int grow_seeds(const gl_grid *g, int k, gl_grid *out, int *base, gl_error *err) {
    int r = gl_grid_axis(g, "replicate");
    *base = r >= 0 ? g->axes[r].n : 1;
    if (*base < 2 || k <= *base)
        return gl_fail(err, "--refine-seeds K needs --seeds S with 2 <= S < K (here S %d, K %d; one seed is never "
                            "uncertain)", *base, k);
    char *json = gl_grid_to_json(g);
    if (!json) return gl_fail_nomem(err, "");
    int rc = gl_grid_from_json(out, json, err);
    free(json);
    if (rc == 0 && (rc = gl_grid_grow_replicates(out, k, err)) != 0) gl_grid_free(out);
    return rc;
}

int gl_sweep_run(const char *dir, const gl_grid *g, const gl_sweep_opts *o, gl_sweep_report *rep,
                 gl_error *err) {
    memset(rep, 0, sizeof *rep);
    rep->ranks = 1;
    char *db = rep->store;
    if (o->shard_n > 1) snprintf(db, sizeof rep->store, "%s/shard-%d-of-%d.db", dir, o->shard_i, o->shard_n);
    else snprintf(db, sizeof rep->store, "%s/sweep.db", dir);
    struct stat st;
    if (!g && stat(db, &st) != 0) return gl_fail(err, "--resume: %s has no sweep store (%s)", dir, db);
    gl_grid grown, *gg = (gl_grid *)g;
    int base_seeds = 0, rc = g && o->refine_seeds ? grow_seeds(g, o->refine_seeds, &grown, &base_seeds, err) : 0;
    if (rc != 0) return rc;
    if (base_seeds) gg = &grown;
    int lockfd = -1;
    rc = g ? gl_mkdirs(dir, err) : 0;
    if (rc == 0) rc = lock_store(db, &lockfd, err);
    if (rc != 0) {
        if (gg != g) gl_grid_free(gg);
        return rc;
    }
    gl_store *s;
    if ((rc = gl_store_open(&s, db, g != NULL, err)) != 0) {
        close(lockfd);
        if (gg != g) gl_grid_free(gg);
        return rc;
    }
    if ((o->refine || o->refine_seeds) && o->shard_n > 1)
        rc = gl_fail(err, "--refine schedules rounds from the whole grid; it cannot be sharded (run it in one "
                          "process, with --threads)");
    /* a new refined sweep is marked before its points go in, so that they go in unscheduled */
    if (rc == 0 && (o->refine || o->refine_seeds) && g)
        rc = gl_store_refine_start(s, gg, o->refine ? o->refine_x : NULL, o->refine ? o->refine_y : NULL, base_seeds,
                                   err);
    if (rc == 0 && g) rc = gl_store_define(s, gg, o->extend, &rep->added, err);
    if (gg != g) gl_grid_free(gg);
    long completed = 0;
    if (rc == 0 && o->complete) rc = gl_store_complete(s, &completed, err);
    if (rc == 0) rc = gl_store_requeue(s, &rep->requeued, err);
    long counts[5];
    if (rc == 0) rc = gl_store_counts(s, o->shard_i, o->shard_n, counts, NULL, err);
    /* a refined sweep with nothing in flight: its next round first */
    int refining = rc == 0 && gl_store_refining(s, NULL, NULL);
    if (refining && counts[GL_RUN_PENDING] == 0) {
        long n = 0;
        rc = gl_store_refine(s, &n, err);
        rep->rounds += n > 0;
        if (rc == 0) rc = gl_store_counts(s, o->shard_i, o->shard_n, counts, NULL, err);
    }
    if (rc == 0) {
        for (int i = 0; i < 5; i++) rep->total += counts[i];
        rep->pending = counts[GL_RUN_PENDING];
        if (o->on_start) o->on_start(o->ctx, rep);
        /* the report's callbacks count this process's runs */
        double t0 = gl_now();
        long n = 1;
        /* a refined sweep: round after round, until a round schedules nothing */
        while (rc == 0 && n > 0) {
            rc = gl_sweep_work(s, o, err);
            n = 0;
            if (rc == 0 && refining) rc = gl_store_refine(s, &n, err);
            rep->rounds += n > 0;
        }
        rep->seconds = gl_now() - t0;
        gl_error e2;
        if (gl_store_counts(s, o->shard_i, o->shard_n, rep->status, rep->phase, rc ? &e2 : err) != 0 && rc == 0)
            rc = err ? err->code : GL_E_CORRUPT;
        long done = rep->status[GL_RUN_DONE] + rep->status[GL_RUN_DIVERGED] + rep->status[GL_RUN_FAILED];
        rep->trained = done - (rep->total - rep->pending);
        if (refining) rep->untrained = count_unscheduled(s);
    }
    gl_store_close(s);
    close(lockfd);
    return rc;
}

int gl_sweep_merge(const char *dir, const char *const *src, int n, long *copied, gl_error *err) {
    char db[4200];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    /* the target takes the grid of the first shard */
    gl_store *first, *s = NULL;
    gl_grid g;
    int rc = gl_store_open(&first, src[0], 0, err);
    if (rc != 0) return rc;
    rc = gl_store_grid(first, &g, err);
    gl_store_close(first);
    if (rc != 0) return rc;
    int lockfd = -1;
    long added;
    rc = lock_store(db, &lockfd, err);
    if (rc == 0) rc = gl_store_open(&s, db, 1, err);
    if (rc == 0) rc = gl_store_define(s, &g, 0, &added, err);
    gl_grid_free(&g);
    for (int i = 0; i < n && rc == 0; i++) rc = gl_store_merge(s, src[i], &copied[i], err);
    gl_store_close(s);
    if (lockfd >= 0) close(lockfd);
    return rc;
}
