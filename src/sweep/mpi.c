/* groklab sweep over MPI (built when configure finds MPI).
 *
 * Rank 0 owns the store: it defines the grid, requeues runs left in flight,
 * and hands out runs one at a time to whichever rank asks; its own worker
 * threads train runs too. Every other rank asks for a run, trains it, sends
 * the result back (which is also its next request), and stops when told.
 * Results depend only on each run's config, so the store equals that of a
 * single-process sweep. With --device cuda every rank (one per GPU) trains
 * populations (gpu_worker_loop). If a rank dies, mpirun ends the job; the runs that
 * were in flight are requeued by the next `groklab sweep --resume`. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groklab/files.h"
#include "groklab/runtime.h"
#include "groklab/sweep.h"
#include "groklab/train.h"

/* ASK and RESULT are answered with WORK (a run id) or STOP (the rank is done).
 * GPU ranks fill a population with ASK_MORE (answered with WORK or NONE, and
 * the rank is not done) and send its results as RESULT_NOREPLY; their next
 * ASK comes after those, so rank 0 has every result before it stops. */
enum {
    TAG_ASK = 1, TAG_RESULT = 2, TAG_WORK = 3, TAG_STOP = 4,
    TAG_ASK_MORE = 5, TAG_NONE = 6, TAG_RESULT_NOREPLY = 7
};

/* A result on the wire: this header, then n_rows x GL_METRICS_NCOLS doubles,
 * then (keep_weights) N doubles of IPR and 3 N p floats of U, V, W. */
typedef struct wire {
    long id, steps, diverged_at, n_rows;
    int status, N, p, has_ipr, has_w, has_story;
    double wall_seconds;
    gl_story_stats story;
    char message[512];
} wire;

int gl_sweep_mpi_built(void) { return 1; }

static char *pack(const gl_run_result *r, long id, int *len) {
    wire w;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.steps = r->steps;
    w.diverged_at = r->diverged_at;
    w.n_rows = r->n_rows;
    w.status = r->status;
    w.N = r->N;
    w.p = r->p;
    w.has_ipr = r->ipr != NULL;
    w.has_w = r->U != NULL;
    w.wall_seconds = r->wall_seconds;
    w.has_story = r->has_story;
    w.story = r->story;
    snprintf(w.message, sizeof w.message, "%s", r->message);
    size_t n = sizeof w + sizeof(double) * (size_t)r->n_rows * GL_METRICS_NCOLS +
               (w.has_ipr ? sizeof(double) * (size_t)r->N : 0) + (w.has_w ? sizeof(float) * 3 * (size_t)r->N * r->p : 0);
    char *buf = malloc(n), *q = buf;
    if (!buf) return NULL;
    memcpy(q, &w, sizeof w);
    q += sizeof w;
    for (long i = 0; i < r->n_rows; i++) {
        double v[GL_METRICS_NCOLS];
        gl_metrics_to_array(&r->rows[i], v);
        memcpy(q, v, sizeof v);
        q += sizeof v;
    }
    if (w.has_ipr) {
        memcpy(q, r->ipr, sizeof(double) * (size_t)r->N);
        q += sizeof(double) * (size_t)r->N;
    }
    if (w.has_w) {
        size_t np = (size_t)r->N * r->p * sizeof(float);
        memcpy(q, r->U, np);
        memcpy(q + np, r->V, np);
        memcpy(q + 2 * np, r->W, np);
    }
    *len = (int)n;
    return buf;
}

/* Unpacks into r (rows allocated into *rows); returns the id or -1. */
static long unpack(const char *buf, int len, gl_run_result *r, gl_metrics **rows) {
    wire w;
    if ((size_t)len < sizeof w) return -1;
    memcpy(&w, buf, sizeof w);
    memset(r, 0, sizeof *r);
    r->status = (gl_run_status)w.status;
    snprintf(r->message, sizeof r->message, "%s", w.message);
    r->steps = w.steps;
    r->diverged_at = w.diverged_at;
    r->wall_seconds = w.wall_seconds;
    r->has_story = w.has_story;
    r->story = w.story;
    r->n_rows = w.n_rows;
    r->N = w.N;
    r->p = w.p;
    const char *q = buf + sizeof w;
    *rows = calloc((size_t)(w.n_rows > 0 ? w.n_rows : 1), sizeof **rows);
    if (!*rows) return -1;
    for (long i = 0; i < w.n_rows; i++) {
        double v[GL_METRICS_NCOLS];
        memcpy(v, q, sizeof v);
        q += sizeof v;
        gl_metrics_from_array(&(*rows)[i], v);
    }
    r->rows = *rows;
    if (w.has_ipr) {
        r->ipr = (const double *)q;
        q += sizeof(double) * (size_t)w.N;
    }
    if (w.has_w) {
        size_t np = (size_t)w.N * w.p;
        r->U = (const float *)q;
        r->V = r->U + np;
        r->W = r->V + np;
    }
    return w.id;
}

typedef struct coord {
    gl_store *s;
    int shard_i, shard_n, size, stopped;
    long received;
    int failed;
    gl_error err;
} coord;

/* Answers every message waiting (block: wait for one first). */
static void serve(coord *c, int block) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (block) {
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            flag = 1;
            block = 0;
        } else {
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        }
        if (!flag) return;
        int len;
        MPI_Get_count(&st, MPI_BYTE, &len);
        char *buf = malloc((size_t)(len > 0 ? len : 1));
        MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_RESULT || st.MPI_TAG == TAG_RESULT_NOREPLY) {
            gl_run_result r;
            gl_metrics *rows = NULL;
            gl_config cfg;
            gl_error e;
            long id = unpack(buf, len, &r, &rows);
            if (id < 0 || gl_store_point(c->s, id, &cfg, &e) != 0 || gl_store_finish(c->s, id, &cfg, &r, &e) != 0) {
                if (!c->failed) c->failed = 1, c->err = e;
            } else {
                c->received++;
            }
            free(rows);
        }
        free(buf);
        if (st.MPI_TAG == TAG_RESULT_NOREPLY) continue;
        /* every other message asks for the next run */
        long id = 0;
        gl_error e;
        char worker[64];
        snprintf(worker, sizeof worker, "rank%d", st.MPI_SOURCE);
        int got = c->failed ? 0 : gl_store_claim(c->s, c->shard_i, c->shard_n, worker, &id, &e);
        if (got < 0 && !c->failed) c->failed = 1, c->err = e;
        if (got > 0) {
            MPI_Send(&id, 1, MPI_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        } else if (st.MPI_TAG == TAG_ASK_MORE) {
            MPI_Send(&id, 1, MPI_LONG, st.MPI_SOURCE, TAG_NONE, MPI_COMM_WORLD);
        } else {
            MPI_Send(&id, 1, MPI_LONG, st.MPI_SOURCE, TAG_STOP, MPI_COMM_WORLD);
            c->stopped++;
        }
    }
}

static void on_tick(void *ctx, gl_store *s) {
    (void)s;
    serve(ctx, 0);
}

/* A remote rank: asks, trains, answers with the result, until told to stop.
 * Configs come from the store's copy on rank 0 by id: the rank reads them
 * from the store file (read-only), which every rank can see on one machine
 * or a shared file system. */
static int gpu_worker_loop(gl_store *s, int keep, long share, gl_error *err);

/* share: with a GPU, the most runs in one population (an even share of the
 * pending runs, so that every rank gets some) */
static int worker_loop(const char *db, int threads, int keep, long share, gl_error *err) {
    gl_store *s;
    int rc0 = gl_store_open(&s, db, 0, err);
    if (rc0 != 0) return rc0;
    (void)threads;
    gl_grid grid;
    if (gl_store_grid(s, &grid, err) != 0) {
        gl_store_close(s);
        return -1;
    }
    int packs = gl_backend_packs(grid.base.device);
    gl_grid_free(&grid);
    if (packs) {
        int rc = gpu_worker_loop(s, keep, share, err);
        gl_store_close(s);
        return rc;
    }
    char *msg = NULL;
    int len = 0;
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_ASK, MPI_COMM_WORLD);
    for (;;) {
        long id;
        MPI_Status st;
        MPI_Recv(&id, 1, MPI_LONG, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        if (st.MPI_TAG == TAG_STOP) break;
        gl_config c;
        char dir[4096];
        gl_trainer *t = NULL;
        gl_run_result r;
        double *ipr = NULL;
        float *wb = NULL;
        int rc = gl_store_point(s, id, &c, err);
        if (rc == 0) {
            gl_sweep_run_dir(s, id, &c, dir, sizeof dir);
            rc = gl_sweep_train_one(&c, keep, dir, &t, &r, &ipr, &wb, err);
        }
        if (rc != 0) {
            /* its point cannot be read, it was interrupted, or its results
             * cannot be computed: the run is not finished, and rank 0
             * requeues it on the next --resume */
            memset(&r, 0, sizeof r);
            r.status = GL_RUN_FAILED;
            r.diverged_at = -1;
            snprintf(r.message, sizeof r.message, "%s", err->msg);
        }
        free(msg);
        msg = pack(&r, id, &len);
        MPI_Send(msg, msg ? len : 0, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        gl_trainer_free(t);
        free(ipr);
        free(wb);
    }
    free(msg);
    gl_store_close(s);
    return 0;
}

static void send_result(const gl_run_result *r, long id, int tag) {
    int len = 0;
    char *msg = pack(r, id, &len);
    MPI_Send(msg, msg ? len : 0, MPI_BYTE, 0, tag, MPI_COMM_WORLD);
    free(msg);
}

static void send_failed(long id, const char *why) {
    gl_run_result r;
    memset(&r, 0, sizeof r);
    r.status = GL_RUN_FAILED;
    r.diverged_at = -1;
    snprintf(r.message, sizeof r.message, "%s", why);
    send_result(&r, id, TAG_RESULT_NOREPLY);
}

/* A remote rank whose backend packs populations (a GPU): fills a population
 * of runs its plan accepts, trains it, sends the results, again. */
static int gpu_worker_loop(gl_store *s, int keep, long share, gl_error *err) {
    long *ids = NULL, held = -1;
    gl_config *cfg = NULL;
    gl_trainer **tr = NULL;
    int cap = 0, rc = 0;
    MPI_Status st;
    for (;;) {
        long id = held;
        if (id < 0) { /* the next run, or stop */
            MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_ASK, MPI_COMM_WORLD);
            MPI_Recv(&id, 1, MPI_LONG, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            if (st.MPI_TAG == TAG_STOP) break;
        }
        held = -1;
        gl_config c0;
        gl_error e;
        gl_plan pl;
        if (gl_store_point(s, id, &c0, &e) != 0 || gl_plan_begin(&pl, &c0, (int)(share > 0 ? share : 0), &e) != 0) {
            send_failed(id, e.msg);
            continue;
        }
        if (pl.fit > cap) {
            long *ni = realloc(ids, sizeof *ids * (size_t)pl.fit);
            gl_config *nc = ni ? realloc(cfg, sizeof *cfg * (size_t)pl.fit) : NULL;
            gl_trainer **nt = nc ? realloc(tr, sizeof *tr * (size_t)pl.fit) : NULL;
            if (ni) ids = ni;
            if (nc) cfg = nc;
            if (nt) tr = nt;
            if (!nt) {
                send_failed(id, "out of memory");
                rc = gl_fail_nomem(err, "for a population");
                break;
            }
            cap = pl.fit;
        }
        int n = 0;
        ids[n] = id, cfg[n++] = c0;
        while (n < pl.fit) {
            MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_ASK_MORE, MPI_COMM_WORLD);
            MPI_Recv(&id, 1, MPI_LONG, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            if (st.MPI_TAG == TAG_NONE) break;
            gl_config c;
            if (gl_store_point(s, id, &c, &e) != 0) {
                send_failed(id, e.msg);
                continue;
            }
            if (!gl_plan_accepts(&pl, &c)) { /* starts the next population */
                held = id;
                break;
            }
            ids[n] = id, cfg[n++] = c;
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (gl_trainer_create(&tr[m], &cfg[i], &e) != 0) send_failed(ids[i], e.msg);
            else ids[m] = ids[i], cfg[m] = cfg[i], m++;
        }
        int ok = m == 0 || gl_population_advance(tr, m, 0, &e) == 0;
        for (int i = 0; i < m; i++) {
            gl_run_result r;
            double *ipr = NULL;
            float *wb = NULL;
            if (ok) {
                if (gl_sweep_result(tr[i], &cfg[i], keep, &r, &ipr, &wb, &e) == 0)
                    send_result(&r, ids[i], TAG_RESULT_NOREPLY);
                else
                    send_failed(ids[i], e.msg);
            } else {
                send_failed(ids[i], e.msg);
            }
            gl_trainer_free(tr[i]);
            free(ipr);
            free(wb);
        }
    }
    free(ids);
    free(cfg);
    free(tr);
    return rc;
}

int gl_sweep_run_mpi(const char *dir, const gl_grid *g, const gl_sweep_opts *o, gl_sweep_report *rep,
                     gl_error *err) {
    int provided, rank, size;
    memset(rep, 0, sizeof *rep);
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    rep->ranks = size;
    rep->rank = rank;
    char *db = rep->store;
    snprintf(db, sizeof rep->store, "%s/sweep.db", dir);
    int rc = 0;
    if (rank == 0) {
        /* set the store up before any rank opens it */
        gl_store *s = NULL;
        /* rounds are scheduled between the ranks' runs: not over MPI (yet);
         * completing a refined sweep into its full grid is an ordinary sweep */
        const char *one = "a refined sweep (--refine) runs in one process: run groklab sweep without mpirun, "
                          "with --threads T";
        if (o->refine || o->refine_seeds) rc = gl_fail(err, "%s", one);
        if (rc == 0 && g) rc = gl_mkdirs(dir, err);
        if (rc == 0) rc = gl_store_open(&s, db, g != NULL, err);
        long completed;
        if (rc == 0 && o->complete) rc = gl_store_complete(s, &completed, err);
        if (rc == 0 && gl_store_refining(s, NULL, NULL)) rc = gl_fail(err, "%s", one);
        if (rc == 0 && g) rc = gl_store_define(s, g, o->extend, &rep->added, err);
        if (rc == 0) rc = gl_store_requeue(s, &rep->requeued, err);
        int go = rc == 0;
        MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (go) {
            long st[5];
            gl_error e;
            gl_store_counts(s, 0, 1, st, NULL, &e);
            for (int i = 0; i < 5; i++) rep->total += st[i];
            rep->pending = st[GL_RUN_PENDING];
            long share = (st[GL_RUN_PENDING] + size - 1) / size;
            MPI_Bcast(&share, 1, MPI_LONG, 0, MPI_COMM_WORLD);
            if (o->on_start) o->on_start(o->ctx, rep);
            coord c = {.s = s, .shard_i = 0, .shard_n = 1, .size = size};
            gl_sweep_opts wo = *o;
            wo.threads = o->threads > 0 ? o->threads : 1;
            wo.shard_i = 0;
            wo.shard_n = 1;
            wo.max_population = (int)(share > 0 ? share : 1);
            wo.on_tick = on_tick;
            wo.ctx = &c;
            wo.on_done = NULL;
            double t0 = gl_now();
            if (gl_sweep_work(s, &wo, &e) != 0 && !c.failed) c.failed = 1, c.err = e;
            while (c.stopped < size - 1) serve(&c, 1); /* until every rank has been told to stop */
            if (c.failed) {
                if (err) *err = c.err;
                rc = c.err.code ? c.err.code : GL_E_INTERNAL;
            }
            gl_store_counts(s, 0, 1, rep->status, rep->phase, &e);
            rep->seconds = gl_now() - t0;
            rep->from_ranks = c.received;
            long done = rep->status[GL_RUN_DONE] + rep->status[GL_RUN_DIVERGED] + rep->status[GL_RUN_FAILED];
            rep->trained = done - (rep->total - rep->pending);
        }
        gl_store_close(s);
    } else {
        int go = 0;
        MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
        long share = 0;
        if (go) MPI_Bcast(&share, 1, MPI_LONG, 0, MPI_COMM_WORLD);
        if (!go) rc = gl_fail(err, "%s", ""); /* rank 0 says why */
        else if ((rc = worker_loop(db, o->threads, o->keep_weights, share, err)) != 0) {
            char msg[GL_ERRLEN];
            snprintf(msg, sizeof msg, "%s", err->msg);
            gl_failc(err, rc, "rank %d: %s", rank, msg);
        }
    }
    MPI_Finalize();
    return rc;
}
