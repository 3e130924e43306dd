/* groklab: adaptive refinement of a phase-diagram sweep (groklab/sweep.h,
 * groklab sweep --refine).
 *
 * The scheduler is a pure function of a panel's map of point states
 * (gl_refine_next); the store keeps nothing else. Every target point of the
 * grid has a row from the start: status 'unscheduled' until a round makes it
 * pending, with the round's number in the row's round column. A round is
 * scheduled when no run is pending or running, so the workers (threads,
 * populations) train each round as they would any sweep, and a killed
 * refined sweep resumes where it stopped: its finished runs and pending
 * rows are in the store, and the next round is computed from them again.
 *
 * Why inference is safe: take the finest level t at which an untrained point
 * P lies in a block whose corners are finished. Had that block's finished
 * points disagreed, the next round would have trained the level-(t+1)
 * lattice inside it, and P would lie in a finer block with finished
 * corners. So once no round schedules anything, those blocks agree, and
 * gl_refine_infer checks that they do rather than assuming it. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store_impl.h"

int gl_refine_stride(int n) {
    int s = 1;
    while (n > 1 && (n - 1) / (2 * s) >= 4) s *= 2;
    return s;
}

/* the number of levels: until both strides are 1 */
static int n_levels(int sx0, int sy0) {
    int t = 0;
    while ((sx0 >> t) > 1 || (sy0 >> t) > 1) t++;
    return t;
}

static int stride_at(int s0, int t) { return s0 >> t > 1 ? s0 >> t : 1; }
static int on_lattice(int i, int n, int s) { return i % s == 0 || i == n - 1; }
/* the lattice value after a (on the lattice, a < n - 1) */
static int lattice_next(int a, int n, int s) { return (a / s + 1) * s < n - 1 ? (a / s + 1) * s : n - 1; }
static int known(int v) { return v >= 0 || v == GL_REFINE_NOPHASE; }

/* The phase the finished points of block [a,b] x [c,d] share: >= 0, or -1 when
 * they disagree (or one has no phase); -2 when none is finished. */
static int block_phase(int ny, const int *st, int a, int b, int c, int d) {
    int ph = -2;
    for (int i = a; i <= b; i++)
        for (int j = c; j <= d; j++) {
            int v = st[i * ny + j];
            if (v == GL_REFINE_NOPHASE) return -1;
            if (v < 0) continue;
            if (ph == -2) ph = v;
            else if (v != ph) return -1;
        }
    return ph;
}

static int corners_known(int ny, const int *st, int a, int b, int c, int d) {
    return known(st[a * ny + c]) && known(st[a * ny + d]) && known(st[b * ny + c]) && known(st[b * ny + d]);
}

long gl_refine_next(int nx, int ny, const int *st, unsigned char *next) {
    int sx0 = gl_refine_stride(nx), sy0 = gl_refine_stride(ny), T = n_levels(sx0, sy0);
    memset(next, 0, (size_t)nx * (size_t)ny);
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) next[i * ny + j] = on_lattice(i, nx, sx0) && on_lattice(j, ny, sy0);
    for (int t = 0; t < T; t++) {
        int sx = stride_at(sx0, t), sy = stride_at(sy0, t), fx = stride_at(sx0, t + 1), fy = stride_at(sy0, t + 1);
        /* blocks between consecutive lattice values; an axis of one value is one degenerate interval */
        for (int a = 0; a == 0 || a < nx - 1;) {
            int b = nx > 1 ? lattice_next(a, nx, sx) : 0;
            for (int c = 0; c == 0 || c < ny - 1;) {
                int d = ny > 1 ? lattice_next(c, ny, sy) : 0;
                if (corners_known(ny, st, a, b, c, d) && block_phase(ny, st, a, b, c, d) == -1)
                    for (int i = a; i <= b; i++)
                        for (int j = c; j <= d; j++)
                            if (on_lattice(i, nx, fx) && on_lattice(j, ny, fy)) next[i * ny + j] = 1;
                if (ny <= 1) break;
                c = d;
            }
            if (nx <= 1) break;
            a = b;
        }
    }
    long n = 0;
    for (long k = 0; k < (long)nx * ny; k++) {
        next[k] = next[k] && st[k] == GL_REFINE_UNTRAINED;
        n += next[k];
    }
    return n;
}

/* The intervals [lo[k], hi[k]] of the stride-s lattice of an axis of n values
 * that hold value i: two when i is an inner lattice value, else one. */
static int intervals_at(int i, int n, int s, int lo[2], int hi[2]) {
    if (n <= 1) {
        lo[0] = hi[0] = 0;
        return 1;
    }
    if (!on_lattice(i, n, s)) {
        lo[0] = i - i % s;
        hi[0] = lattice_next(lo[0], n, s);
        return 1;
    }
    int k = 0;
    if (i > 0) lo[k] = i % s ? i - i % s : i - s, hi[k++] = i;
    if (i < n - 1) lo[k] = i, hi[k++] = lattice_next(i, n, s);
    return k;
}

long gl_refine_infer(int nx, int ny, const int *st, int *phase) {
    int sx0 = gl_refine_stride(nx), sy0 = gl_refine_stride(ny), T = n_levels(sx0, sy0);
    long inferred = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) {
            int v = st[i * ny + j];
            phase[i * ny + j] = v;
            if (v != GL_REFINE_UNTRAINED) continue;
            for (int t = T; t >= 0; t--) {
                int xl[2], xh[2], yl[2], yh[2];
                int nxi = intervals_at(i, nx, stride_at(sx0, t), xl, xh);
                int nyi = intervals_at(j, ny, stride_at(sy0, t), yl, yh);
                int found = 0, ph = -2;
                for (int u = 0; u < nxi; u++)
                    for (int w = 0; w < nyi; w++) {
                        if (!corners_known(ny, st, xl[u], xh[u], yl[w], yh[w])) continue;
                        int b = block_phase(ny, st, xl[u], xh[u], yl[w], yh[w]);
                        found = 1;
                        ph = ph == -2 || ph == b ? b : -1;
                    }
                if (!found) continue;
                if (ph >= 0) phase[i * ny + j] = ph, inferred++;
                break; /* disagreeing blocks: nothing is inferred, never a coarser guess */
            }
        }
    return inferred;
}

/* ---- the store's side ---- */

int gl_store_refining(gl_store *s, char *x, char *y) {
    char *v = NULL, *done = NULL;
    gl_error e;
    if (gl_store_key(s, "refine", &v, &e) != 0 || !v) return 0;
    int on = gl_store_key(s, "refine_complete", &done, &e) == 0 && !done;
    cJSON *o = cJSON_Parse(v);
    const cJSON *jx = cJSON_GetObjectItem(o, "x"), *jy = cJSON_GetObjectItem(o, "y");
    if (x) snprintf(x, 40, "%s", cJSON_IsString(jx) ? jx->valuestring : "");
    if (y) snprintf(y, 40, "%s", cJSON_IsString(jy) ? jy->valuestring : "");
    cJSON_Delete(o);
    free(v);
    free(done);
    return on;
}

int gl_store_refine_start(gl_store *s, const gl_grid *g, const char *x, const char *y, gl_error *err) {
    char kx[40], ky[40], ox[40], oy[40], *def = NULL, *had = NULL;
    snprintf(kx, sizeof kx, "%s", x);
    snprintf(ky, sizeof ky, "%s", y);
    for (char *c = kx; *c; c++) *c = *c == '-' ? '_' : *c;
    for (char *c = ky; *c; c++) *c = *c == '-' ? '_' : *c;
    if (!strcmp(kx, ky)) return gl_fail(err, "--refine: x and y are both '%s'; refinement needs two axes", kx);
    for (int k = 0; g && k < 2; k++)
        if (gl_grid_axis(g, k ? ky : kx) < 0)
            return gl_fail(err, "--refine: %s is not an axis of the sweep (give it as a list or a range)", k ? ky : kx);
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int rc = gl_store_key(s, "definition", &def, err);
    if (!rc) rc = gl_store_key(s, "refine", &had, err);
    if (!rc && had) {
        gl_store_refining(s, ox, oy);
        if (strcmp(ox, kx) || strcmp(oy, ky))
            rc = gl_fail(err, "%s is refined over %s x %s, not %s x %s", gl_store_path(s), ox, oy, kx, ky);
    } else if (!rc && def) {
        rc = gl_fail(err, "%s holds a full sweep; --refine starts a new one (another --out)", gl_store_path(s));
    } else if (!rc) {
        char sql[200];
        snprintf(sql, sizeof sql, "INSERT INTO sweep VALUES('refine', '{\"x\":\"%s\",\"y\":\"%s\"}')", kx, ky);
        rc = gl_store_exec(s, sql, err);
    }
    free(def);
    free(had);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

/* A refined store's target points: every point of its grid without the
 * replicate axis, by panel (the other axes), x and y, with the state of
 * each (its seeds' majority phase) and the rows that hold it. */
typedef struct refine_map {
    int nx, ny;
    long n_panels, n_points; /* n_points = n_panels * nx * ny */
    int *state;              /* (n_points) */
    int *round;              /* (n_panels): the last round scheduled in each, -1 none */
    long n_rows;
    long *row_id, *row_point; /* (n_rows) */
    unsigned char *row_unscheduled;
} refine_map;

static void map_free(refine_map *m) {
    free(m->state);
    free(m->round);
    free(m->row_id);
    free(m->row_point);
    free(m->row_unscheduled);
    memset(m, 0, sizeof *m);
}

typedef struct keyed {
    char *json;
    long point;
} keyed;
static int cmp_keyed(const void *a, const void *b) { return strcmp(((const keyed *)a)->json, ((const keyed *)b)->json); }

/* The target point of each grid index: panel * nx * ny + ix * ny + iy. */
static long point_of(const gl_grid *g, long idx, int ax, int ay, int nx, int ny) {
    int coord[GL_MAX_AXES];
    gl_grid_coords(g, idx, coord);
    long panel = 0;
    for (int a = 0; a < g->n_axes; a++)
        if (a != ax && a != ay && strcmp(g->axes[a].name, "replicate")) panel = panel * g->axes[a].n + coord[a];
    return (panel * nx + coord[ax]) * ny + coord[ay];
}

static int build_map(gl_store *s, const char *x, const char *y, refine_map *m, gl_error *err) {
    memset(m, 0, sizeof *m);
    gl_grid g;
    int rc = gl_store_grid(s, &g, err);
    if (rc) return rc;
    int ax = gl_grid_axis(&g, x), ay = gl_grid_axis(&g, y);
    if (ax < 0 || ay < 0) {
        gl_grid_free(&g);
        return gl_fail(err, "--refine: %s is not an axis of the sweep (give it as a list or a range)", ax < 0 ? x : y);
    }
    m->nx = g.axes[ax].n, m->ny = g.axes[ay].n;
    m->n_panels = 1;
    for (int a = 0; a < g.n_axes; a++)
        if (a != ax && a != ay && strcmp(g.axes[a].name, "replicate")) m->n_panels *= g.axes[a].n;
    m->n_points = m->n_panels * m->nx * m->ny;
    long size = gl_grid_size(&g);
    keyed *keys = calloc((size_t)size, sizeof *keys);
    long (*counts)[9] = calloc((size_t)m->n_points, sizeof *counts); /* phases 0-5, no phase, waiting, unscheduled */
    m->state = malloc(sizeof(int) * (size_t)m->n_points);
    m->round = malloc(sizeof(int) * (size_t)m->n_panels);
    if (!keys || !counts || !m->state || !m->round) rc = gl_fail_nomem(err, "for the refinement");
    for (long i = 0; i < size && !rc; i++) {
        gl_config c;
        if ((rc = gl_grid_point(&g, i, &c, err)) != 0) break;
        keys[i].point = point_of(&g, i, ax, ay, m->nx, m->ny);
        if (!(keys[i].json = gl_config_to_json_compact(&c))) rc = gl_fail_nomem(err, "for the refinement");
    }
    if (!rc) qsort(keys, (size_t)size, sizeof *keys, cmp_keyed);
    for (long p = 0; p < m->n_panels && !rc; p++) m->round[p] = -1;
    sqlite3_stmt *q = NULL;
    if (!rc && sqlite3_prepare_v2(gl_store_db(s), "SELECT id, point, status, phase, round FROM runs ORDER BY id", -1,
                                  &q, NULL) != SQLITE_OK)
        rc = gl_store_db_fail(s, err, "reading the runs");
    long cap = 0;
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        keyed k = {(char *)sqlite3_column_text(q, 1), 0};
        const keyed *hit = k.json ? bsearch(&k, keys, (size_t)size, sizeof *keys, cmp_keyed) : NULL;
        if (!hit) continue; /* a point of an earlier definition that this grid lacks */
        long pt = hit->point, panel = pt / ((long)m->nx * m->ny);
        const char *st = (const char *)sqlite3_column_text(q, 2), *ph = (const char *)sqlite3_column_text(q, 3);
        int slot = 6;
        if (!strcmp(st, "unscheduled")) slot = 8;
        else if (!strcmp(st, "pending") || !strcmp(st, "running")) slot = 7;
        else
            for (int i = 0; ph && i < 6; i++)
                if (!strcmp(ph, gl_phase_name(i))) slot = i;
        counts[pt][slot]++;
        if (sqlite3_column_type(q, 4) != SQLITE_NULL && sqlite3_column_int(q, 4) > m->round[panel])
            m->round[panel] = sqlite3_column_int(q, 4);
        if (m->n_rows == cap) {
            cap = cap ? 2 * cap : 1024;
            long *a = realloc(m->row_id, sizeof(long) * (size_t)cap), *b = a ? realloc(m->row_point, sizeof(long) * (size_t)cap) : NULL;
            unsigned char *u = b ? realloc(m->row_unscheduled, (size_t)cap) : NULL;
            if (a) m->row_id = a;
            if (b) m->row_point = b;
            if (u) m->row_unscheduled = u;
            if (!u) {
                rc = gl_fail_nomem(err, "for the refinement");
                break;
            }
        }
        m->row_id[m->n_rows] = sqlite3_column_int64(q, 0);
        m->row_point[m->n_rows] = pt;
        m->row_unscheduled[m->n_rows++] = slot == 8;
    }
    sqlite3_finalize(q);
    /* a point's state: untrained while a seed is unscheduled, waiting while one
     * trains, then its seeds' majority phase (ties: the lower index) */
    for (long p = 0; p < m->n_points && !rc; p++) {
        const long *n = counts[p];
        int best = 0;
        for (int i = 1; i < 6; i++)
            if (n[i] > n[best]) best = i;
        m->state[p] = n[8] ? GL_REFINE_UNTRAINED : n[7] ? GL_REFINE_WAITING : n[best] ? best : GL_REFINE_NOPHASE;
    }
    for (long i = 0; keys && i < size; i++) free(keys[i].json);
    free(keys);
    free(counts);
    gl_grid_free(&g);
    if (rc) map_free(m);
    return rc;
}

int gl_store_refine(gl_store *s, long *scheduled, gl_error *err) {
    char x[40], y[40];
    *scheduled = 0;
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    refine_map m;
    int rc = gl_store_refining(s, x, y) ? build_map(s, x, y, &m, err) : 1;
    if (rc == 1) return gl_store_exec(s, "COMMIT", err); /* not a refined sweep: nothing to schedule */
    long per = (long)m.nx * m.ny;
    unsigned char *next = rc ? NULL : malloc((size_t)m.n_points);
    if (!rc && !next) rc = gl_fail_nomem(err, "for the refinement");
    for (long p = 0; p < m.n_panels && !rc; p++) gl_refine_next(m.nx, m.ny, m.state + p * per, next + p * per);
    sqlite3_stmt *q = NULL;
    if (!rc && sqlite3_prepare_v2(gl_store_db(s), "UPDATE runs SET status = 'pending', round = ?2 WHERE id = ?1 AND "
                                                  "status = 'unscheduled'", -1, &q, NULL) != SQLITE_OK)
        rc = gl_store_db_fail(s, err, "scheduling a round");
    for (long r = 0; r < m.n_rows && !rc; r++) {
        long pt = m.row_point[r];
        if (!m.row_unscheduled[r] || !next[pt]) continue;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, m.row_id[r]);
        sqlite3_bind_int(q, 2, m.round[pt / per] + 1);
        if (sqlite3_step(q) != SQLITE_DONE) rc = gl_store_db_fail(s, err, "scheduling a round");
        else *scheduled += sqlite3_changes(gl_store_db(s));
    }
    sqlite3_finalize(q);
    free(next);
    map_free(&m);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        *scheduled = 0;
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

int gl_store_complete(gl_store *s, long *added, gl_error *err) {
    *added = 0;
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int rc = gl_store_exec(s, "UPDATE runs SET status = 'pending' WHERE status = 'unscheduled'", err);
    if (!rc) *added = sqlite3_changes(gl_store_db(s));
    char *had = NULL;
    if (!rc) rc = gl_store_key(s, "refine", &had, err);
    if (!rc && had) rc = gl_store_exec(s, "INSERT OR REPLACE INTO sweep VALUES('refine_complete', "
                                          "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", err);
    free(had);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

int gl_store_inferred(gl_store *s, long **ids, int **phase, long *n, gl_error *err) {
    char x[40], y[40];
    *ids = NULL, *phase = NULL, *n = 0;
    if (!gl_store_refining(s, x, y)) return 0;
    refine_map m;
    int rc = build_map(s, x, y, &m, err);
    if (rc) return rc;
    long per = (long)m.nx * m.ny;
    int *inf = malloc(sizeof(int) * (size_t)m.n_points);
    unsigned char *seen = calloc((size_t)m.n_points, 1);
    *ids = malloc(sizeof(long) * (size_t)(m.n_points + 1));
    *phase = malloc(sizeof(int) * (size_t)(m.n_points + 1));
    if (!inf || !seen || !*ids || !*phase) rc = gl_fail_nomem(err, "for the inferred cells");
    for (long p = 0; p < m.n_panels && !rc; p++) gl_refine_infer(m.nx, m.ny, m.state + p * per, inf + p * per);
    /* one row per inferred point (its first seed's) */
    for (long r = 0; r < m.n_rows && !rc; r++) {
        long pt = m.row_point[r];
        if (seen[pt] || m.state[pt] != GL_REFINE_UNTRAINED || inf[pt] < 0) continue;
        seen[pt] = 1;
        (*ids)[*n] = m.row_id[r];
        (*phase)[(*n)++] = inf[pt];
    }
    free(inf);
    free(seen);
    map_free(&m);
    if (rc) {
        free(*ids), free(*phase);
        *ids = NULL, *phase = NULL, *n = 0;
    }
    return rc;
}
