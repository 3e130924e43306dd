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
 * The rule walks the lattices from the coarsest: each point of the level-
 * (t+1) lattice that the level-t lattice lacks lies between two points of
 * it along one axis (an edge's midpoint) or between four edge midpoints (a
 * block's centre). Its value is its own phase once trained; else the phase
 * of those neighbours when their values agree, and it is trained when they
 * disagree. An inferred point is therefore never between disagreeing
 * neighbours at any level, and gl_refine_infer reads the same values. */
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
/* the lattice values around i (off the stride-s lattice): lo < i < hi */
static int below(int i, int s) { return i - i % s; }
static int above(int i, int n, int s) { return (i / s + 1) * s < n - 1 ? (i / s + 1) * s : n - 1; }

#define NO_VALUE (-10) /* not trained and not inferable (yet) */

/* The value of one point from its neighbours' values: their one phase, or
 * NO_VALUE with *train set when they disagree (two phases, or one failed),
 * or NO_VALUE when one has no value yet. */
static int from_neighbours(const int *val, const int *nb, int k, int *train) {
    int ph = -2;
    *train = 0;
    for (int u = 0; u < k; u++)
        if (val[nb[u]] == NO_VALUE) return NO_VALUE;
    for (int u = 0; u < k; u++) {
        int v = val[nb[u]];
        if (v == GL_REFINE_NOPHASE || (ph != -2 && v != ph)) {
            *train = 1;
            return NO_VALUE;
        }
        ph = v;
    }
    return ph;
}

/* Every point's value (val, (nx, ny)): a finished point's state; an
 * untrained point's phase where its neighbours at its level agree; else
 * NO_VALUE. need marks the untrained points to train now: the coarse
 * lattice's and those between disagreeing neighbours. Returns how many. */
static long panel_values(int nx, int ny, const int *st, int *val, unsigned char *need) {
    int sx0 = gl_refine_stride(nx), sy0 = gl_refine_stride(ny), T = n_levels(sx0, sy0);
    long n = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) {
            int k = i * ny + j, v = st[k], coarse = on_lattice(i, nx, sx0) && on_lattice(j, ny, sy0);
            val[k] = v >= 0 || v == GL_REFINE_NOPHASE ? v : NO_VALUE;
            need[k] = coarse && v == GL_REFINE_UNTRAINED;
            n += need[k];
        }
    for (int t = 0; t < T; t++) {
        int sx = stride_at(sx0, t), sy = stride_at(sy0, t), fx = stride_at(sx0, t + 1), fy = stride_at(sy0, t + 1);
        for (int centres = 0; centres < 2; centres++) /* a centre's neighbours are its level's edge midpoints */
            for (int i = 0; i < nx; i++)
                for (int j = 0; j < ny; j++) {
                    int xin = on_lattice(i, nx, sx), yin = on_lattice(j, ny, sy), k = i * ny + j, nb[4], m = 0;
                    if (!on_lattice(i, nx, fx) || !on_lattice(j, ny, fy) || (xin && yin)) continue;
                    if (centres != (!xin && !yin) || st[k] != GL_REFINE_UNTRAINED) continue;
                    if (!xin) nb[m++] = below(i, sx) * ny + j, nb[m++] = above(i, nx, sx) * ny + j;
                    if (!yin) nb[m++] = i * ny + below(j, sy), nb[m++] = i * ny + above(j, ny, sy);
                    int train;
                    val[k] = from_neighbours(val, nb, m, &train);
                    need[k] = (unsigned char)train;
                    n += train;
                }
    }
    return n;
}

long gl_refine_next(int nx, int ny, const int *st, unsigned char *next) {
    int *val = malloc(sizeof(int) * (size_t)nx * (size_t)ny);
    if (!val) return -1;
    long n = panel_values(nx, ny, st, val, next);
    free(val);
    return n;
}

long gl_refine_infer(int nx, int ny, const int *st, int *phase) {
    unsigned char *need = malloc((size_t)nx * (size_t)ny);
    if (!need) return -1;
    panel_values(nx, ny, st, phase, need);
    long inferred = 0;
    for (long k = 0; k < (long)nx * ny; k++) {
        if (st[k] != GL_REFINE_UNTRAINED) phase[k] = st[k];
        else if (phase[k] >= 0) inferred++;
        else phase[k] = GL_REFINE_UNTRAINED;
    }
    free(need);
    return inferred;
}

/* ---- the store's side ---- */

/* A refined store's mode, its 'refine' key: the knobs x and y of the
 * spatial refinement ("spatial" 0: seeds only), "seeds" S when extra seeds
 * train where S leave a point uncertain (0: none), and whether
 * gl_store_complete has made the store its full grid. */
typedef struct refine_mode {
    char x[40], y[40];
    int spatial, seeds, complete;
} refine_mode;

/* 1 with *m for a refined store; 0 for any other */
static int read_mode(gl_store *s, refine_mode *m) {
    char *v = NULL, *done = NULL;
    gl_error e;
    memset(m, 0, sizeof *m);
    if (gl_store_key(s, "refine", &v, &e) != 0 || !v) return 0;
    m->complete = gl_store_key(s, "refine_complete", &done, &e) != 0 || done;
    cJSON *o = cJSON_Parse(v);
    const cJSON *jx = cJSON_GetObjectItem(o, "x"), *jy = cJSON_GetObjectItem(o, "y");
    const cJSON *jp = cJSON_GetObjectItem(o, "spatial"), *js = cJSON_GetObjectItem(o, "seeds");
    snprintf(m->x, sizeof m->x, "%s", cJSON_IsString(jx) ? jx->valuestring : "");
    snprintf(m->y, sizeof m->y, "%s", cJSON_IsString(jy) ? jy->valuestring : "");
    m->spatial = cJSON_IsNumber(jp) ? jp->valueint != 0 : 1;
    m->seeds = cJSON_IsNumber(js) ? js->valueint : 0;
    cJSON_Delete(o);
    free(v);
    free(done);
    return 1;
}

/* the mode's description in messages */
static void mode_text(const refine_mode *m, char *t, size_t n) {
    int k = m->spatial ? snprintf(t, n, "refined over %s x %s", m->x, m->y) : snprintf(t, n, "refined in seeds only");
    if (m->seeds) snprintf(t + k, n - (size_t)k, ", with seeds beyond %d where uncertain", m->seeds);
}

int gl_store_refining(gl_store *s, char *x, char *y) {
    refine_mode m;
    if (!read_mode(s, &m)) return 0;
    if (x) snprintf(x, 40, "%s", m.x);
    if (y) snprintf(y, 40, "%s", m.y);
    return !m.complete || m.seeds > 0;
}

int gl_store_refine_start(gl_store *s, const gl_grid *g, const char *x, const char *y, int seeds, gl_error *err) {
    refine_mode want = {.spatial = x != NULL, .seeds = seeds}, had;
    char *def = NULL;
    if (x) {
        snprintf(want.x, sizeof want.x, "%s", x);
        snprintf(want.y, sizeof want.y, "%s", y);
        for (char *c = want.x; *c; c++) *c = *c == '-' ? '_' : *c;
        for (char *c = want.y; *c; c++) *c = *c == '-' ? '_' : *c;
        if (!strcmp(want.x, want.y))
            return gl_fail(err, "--refine: x and y are both '%s'; refinement needs two axes", want.x);
        for (int k = 0; g && k < 2; k++)
            if (gl_grid_axis(g, k ? want.y : want.x) < 0)
                return gl_fail(err, "--refine: %s is not an axis of the sweep (give it as a list or a range)",
                               k ? want.y : want.x);
    }
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int rc = gl_store_key(s, "definition", &def, err);
    if (!rc && read_mode(s, &had)) {
        if (had.spatial != want.spatial || had.seeds != want.seeds || strcmp(had.x, want.x) || strcmp(had.y, want.y)) {
            char a[120], b[120];
            mode_text(&had, a, sizeof a), mode_text(&want, b, sizeof b);
            rc = gl_fail(err, "%s is %s, not %s", gl_store_path(s), a, b);
        }
    } else if (!rc && def) {
        rc = gl_fail(err, "%s holds a full sweep; --refine and --refine-seeds start a new one (another --out)",
                     gl_store_path(s));
    } else if (!rc) {
        char sql[240], extra[40] = "";
        if (seeds) snprintf(extra, sizeof extra, ",\"seeds\":%d", seeds);
        snprintf(sql, sizeof sql, "INSERT INTO sweep VALUES('refine', '{\"x\":\"%s\",\"y\":\"%s\"%s%s}')", want.x,
                 want.y, want.spatial ? "" : ",\"spatial\":0", extra);
        rc = gl_store_exec(s, sql, err);
    }
    free(def);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

/* A refined store's target points: every point of its grid without the
 * replicate axis, by panel (the other axes), x and y (a seeds-only store: one
 * point per panel), with the state of each (its seeds' majority phase),
 * whether that majority is uncertain, and the rows that hold it. */
typedef struct refine_map {
    int nx, ny;
    long n_panels, n_points; /* n_points = n_panels * nx * ny */
    int *state;              /* (n_points) */
    unsigned char *uncertain; /* (n_points): finished, and gl_phase_uncertain */
    int *round;              /* (n_panels): the last round scheduled in each, -1 none */
    long n_rows;
    long *row_id, *row_point; /* (n_rows) */
    unsigned char *row_kind;  /* ROW_* */
} refine_map;

enum { ROW_SCHEDULED, ROW_UNSCHEDULED, ROW_EXTRA }; /* ROW_EXTRA: an unscheduled extra seed */

static void map_free(refine_map *m) {
    free(m->state);
    free(m->uncertain);
    free(m->round);
    free(m->row_id);
    free(m->row_point);
    free(m->row_kind);
    memset(m, 0, sizeof *m);
}

typedef struct keyed {
    char *json;
    long point;
} keyed;
static int cmp_keyed(const void *a, const void *b) { return strcmp(((const keyed *)a)->json, ((const keyed *)b)->json); }

/* The target point of each grid index: panel * nx * ny + ix * ny + iy (axes
 * ax, ay; -1: none). */
static long point_of(const gl_grid *g, long idx, int ax, int ay, int nx, int ny) {
    int coord[GL_MAX_AXES];
    gl_grid_coords(g, idx, coord);
    long panel = 0;
    for (int a = 0; a < g->n_axes; a++)
        if (a != ax && a != ay && strcmp(g->axes[a].name, "replicate")) panel = panel * g->axes[a].n + coord[a];
    return (panel * nx + (ax >= 0 ? coord[ax] : 0)) * ny + (ay >= 0 ? coord[ay] : 0);
}

static int build_map(gl_store *s, const refine_mode *md, refine_map *m, gl_error *err) {
    memset(m, 0, sizeof *m);
    gl_grid g;
    int rc = gl_store_grid(s, &g, err);
    if (rc) return rc;
    int ax = md->spatial ? gl_grid_axis(&g, md->x) : -1, ay = md->spatial ? gl_grid_axis(&g, md->y) : -1;
    if (md->spatial && (ax < 0 || ay < 0)) {
        gl_grid_free(&g);
        return gl_fail(err, "--refine: %s is not an axis of the sweep (give it as a list or a range)",
                       ax < 0 ? md->x : md->y);
    }
    m->nx = ax >= 0 ? g.axes[ax].n : 1, m->ny = ay >= 0 ? g.axes[ay].n : 1;
    m->n_panels = 1;
    for (int a = 0; a < g.n_axes; a++)
        if (a != ax && a != ay && strcmp(g.axes[a].name, "replicate")) m->n_panels *= g.axes[a].n;
    m->n_points = m->n_panels * m->nx * m->ny;
    long size = gl_grid_size(&g);
    keyed *keys = calloc((size_t)size, sizeof *keys);
    /* phases 0-5, no phase, waiting, unscheduled, unscheduled extra seeds */
    long (*counts)[10] = calloc((size_t)m->n_points, sizeof *counts);
    m->state = malloc(sizeof(int) * (size_t)m->n_points);
    m->uncertain = malloc((size_t)m->n_points);
    m->round = malloc(sizeof(int) * (size_t)m->n_panels);
    if (!keys || !counts || !m->state || !m->uncertain || !m->round) rc = gl_fail_nomem(err, "for the refinement");
    for (long i = 0; i < size && !rc; i++) {
        gl_config c;
        if ((rc = gl_grid_point(&g, i, &c, err)) != 0) break;
        keys[i].point = point_of(&g, i, ax, ay, m->nx, m->ny);
        if (!(keys[i].json = gl_config_to_json_compact(&c))) rc = gl_fail_nomem(err, "for the refinement");
    }
    if (!rc) qsort(keys, (size_t)size, sizeof *keys, cmp_keyed);
    for (long p = 0; p < m->n_panels && !rc; p++) m->round[p] = -1;
    sqlite3_stmt *q = NULL;
    if (!rc && sqlite3_prepare_v2(gl_store_db(s), "SELECT id, point, status, phase, round, replicate FROM runs ORDER BY id",
                                  -1, &q, NULL) != SQLITE_OK)
        rc = gl_store_db_fail(s, err, "reading the runs");
    long cap = 0;
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        keyed k = {(char *)sqlite3_column_text(q, 1), 0};
        const keyed *hit = k.json ? bsearch(&k, keys, (size_t)size, sizeof *keys, cmp_keyed) : NULL;
        if (!hit) continue; /* a point of an earlier definition that this grid lacks */
        long pt = hit->point, panel = pt / ((long)m->nx * m->ny);
        const char *st = (const char *)sqlite3_column_text(q, 2), *ph = (const char *)sqlite3_column_text(q, 3);
        int extra = md->seeds > 0 && sqlite3_column_type(q, 5) != SQLITE_NULL && sqlite3_column_int(q, 5) >= md->seeds;
        int slot = 6;
        if (!strcmp(st, "unscheduled")) slot = extra ? 9 : 8;
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
            unsigned char *u = b ? realloc(m->row_kind, (size_t)cap) : NULL;
            if (a) m->row_id = a;
            if (b) m->row_point = b;
            if (u) m->row_kind = u;
            if (!u) {
                rc = gl_fail_nomem(err, "for the refinement");
                break;
            }
        }
        m->row_id[m->n_rows] = sqlite3_column_int64(q, 0);
        m->row_point[m->n_rows] = pt;
        m->row_kind[m->n_rows++] = slot == 9 ? ROW_EXTRA : slot == 8 ? ROW_UNSCHEDULED : ROW_SCHEDULED;
    }
    sqlite3_finalize(q);
    /* a point's state: untrained while a seed is unscheduled (an extra seed
     * does not count), waiting while one trains, then its finished seeds'
     * majority phase (ties: the lower index) */
    for (long p = 0; p < m->n_points && !rc; p++) {
        const long *n = counts[p];
        int best = 0;
        long runs = 0;
        for (int i = 0; i < 6; i++) {
            runs += n[i];
            if (n[i] > n[best]) best = i;
        }
        m->state[p] = n[8] ? GL_REFINE_UNTRAINED : n[7] ? GL_REFINE_WAITING : n[best] ? best : GL_REFINE_NOPHASE;
        m->uncertain[p] = m->state[p] >= 0 && gl_phase_uncertain(n[best], runs);
    }
    for (long i = 0; keys && i < size; i++) free(keys[i].json);
    free(keys);
    free(counts);
    gl_grid_free(&g);
    if (rc) map_free(m);
    return rc;
}

int gl_store_refine(gl_store *s, long *scheduled, gl_error *err) {
    refine_mode md;
    *scheduled = 0;
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    refine_map m;
    int rc = read_mode(s, &md) && (!md.complete || md.seeds) ? build_map(s, &md, &m, err) : 1;
    if (rc == 1) return gl_store_exec(s, "COMMIT", err); /* not refining: nothing to schedule */
    long per = (long)m.nx * m.ny;
    unsigned char *next = rc ? NULL : malloc((size_t)m.n_points);
    if (!rc && !next) rc = gl_fail_nomem(err, "for the refinement");
    /* the spatial rule while it refines; else (seeds only, or completed) every untrained point */
    for (long p = 0; p < m.n_panels && !rc; p++)
        if (md.spatial && !md.complete) {
            if (gl_refine_next(m.nx, m.ny, m.state + p * per, next + p * per) < 0)
                rc = gl_fail_nomem(err, "for the refinement");
        } else {
            for (long k = p * per; k < (p + 1) * per; k++) next[k] = m.state[k] == GL_REFINE_UNTRAINED;
        }
    sqlite3_stmt *q = NULL;
    if (!rc && sqlite3_prepare_v2(gl_store_db(s), "UPDATE runs SET status = 'pending', round = ?2 WHERE id = ?1 AND "
                                                  "status = 'unscheduled'", -1, &q, NULL) != SQLITE_OK)
        rc = gl_store_db_fail(s, err, "scheduling a round");
    for (long r = 0; r < m.n_rows && !rc; r++) {
        long pt = m.row_point[r];
        /* a point's extra seeds all train once its seeds leave it uncertain */
        if (!(m.row_kind[r] == ROW_UNSCHEDULED && next[pt]) && !(m.row_kind[r] == ROW_EXTRA && m.uncertain[pt]))
            continue;
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
    refine_mode md;
    char sql[160];
    *added = 0;
    if (gl_store_exec(s, "BEGIN IMMEDIATE", err) != 0) return -1;
    int had = read_mode(s, &md);
    /* the grid's own seeds; extra seeds stay where the rounds put them */
    snprintf(sql, sizeof sql, "UPDATE runs SET status = 'pending' WHERE status = 'unscheduled' AND "
                              "(replicate IS NULL OR replicate < %d)", had && md.seeds ? md.seeds : 1 << 30);
    int rc = gl_store_exec(s, sql, err);
    if (!rc) *added = sqlite3_changes(gl_store_db(s));
    if (!rc && had) rc = gl_store_exec(s, "INSERT OR REPLACE INTO sweep VALUES('refine_complete', "
                                          "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", err);
    if (rc) {
        gl_store_exec(s, "ROLLBACK", &(gl_error){0});
        return rc;
    }
    return gl_store_exec(s, "COMMIT", err);
}

int gl_store_inferred(gl_store *s, long **ids, int **phase, long *n, gl_error *err) {
    refine_mode md;
    *ids = NULL, *phase = NULL, *n = 0;
    if (!read_mode(s, &md) || !md.spatial || md.complete) return 0;
    refine_map m;
    int rc = build_map(s, &md, &m, err);
    if (rc) return rc;
    long per = (long)m.nx * m.ny;
    int *inf = malloc(sizeof(int) * (size_t)m.n_points);
    unsigned char *seen = calloc((size_t)m.n_points, 1);
    *ids = malloc(sizeof(long) * (size_t)(m.n_points + 1));
    *phase = malloc(sizeof(int) * (size_t)(m.n_points + 1));
    if (!inf || !seen || !*ids || !*phase) rc = gl_fail_nomem(err, "for the inferred cells");
    for (long p = 0; p < m.n_panels && !rc; p++)
        if (gl_refine_infer(m.nx, m.ny, m.state + p * per, inf + p * per) < 0) rc = gl_fail_nomem(err, "for the inferred cells");
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
