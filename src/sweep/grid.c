/* groklab: sweep grids (see groklab/sweep.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_json.h"
#include "groklab/sweep.h"
#include "groklab/train.h"

void gl_grid_init(gl_grid *g, const gl_config *base) {
    memset(g, 0, sizeof *g);
    g->base = *base;
}

void gl_grid_free(gl_grid *g) {
    for (int a = 0; a < g->n_axes; a++) {
        free(g->axes[a].values);
        free(g->axes[a].labels);
    }
    g->n_axes = 0;
}

/* Applies one axis value to c. */
static int apply(gl_config *c, const char *name, const char *value, gl_error *err) {
    if (!strcmp(name, "replicate")) {
        char *end;
        unsigned long long v = strtoull(value, &end, 10);
        if (*end || end == value) return gl_fail(err, "replicate: '%s' is not a non-negative integer", value);
        c->seed = c->split_seed = c->noise_seed = v;
        return 0;
    }
    if (!strcmp(name, "variant")) { /* knob=value;knob=value */
        char buf[GL_AXIS_VALUE_LEN];
        snprintf(buf, sizeof buf, "%s", value);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq) return gl_fail(err, "variant: '%s' is not knob=value", tok);
            *eq = 0;
            if (gl_config_set(c, tok, eq + 1, err) != 0) return -1;
        }
        return 0;
    }
    return gl_config_set(c, name, value, err);
}

static int push_value(gl_axis *ax, const char *v, const char *label, gl_error *err) {
    if (strlen(v) >= GL_AXIS_VALUE_LEN) return gl_fail(err, "%s: value '%s' is too long", ax->name, v);
    void *nv = realloc(ax->values, sizeof *ax->values * (size_t)(ax->n + 1));
    if (!nv) return gl_fail_nomem(err, "");
    ax->values = nv;
    void *nl = realloc(ax->labels, sizeof *ax->labels * (size_t)(ax->n + 1));
    if (!nl) return gl_fail_nomem(err, "");
    ax->labels = nl;
    snprintf(ax->values[ax->n], GL_AXIS_VALUE_LEN, "%s", v);
    snprintf(ax->labels[ax->n], sizeof ax->labels[0], "%s", label ? label : v);
    ax->n++;
    return 0;
}

int gl_grid_axis(const gl_grid *g, const char *name) {
    char key[40];
    snprintf(key, sizeof key, "%s", name);
    for (char *q = key; *q; q++)
        if (*q == '-') *q = '_';
    for (int a = 0; a < g->n_axes; a++)
        if (!strcmp(g->axes[a].name, key)) return a;
    return -1;
}

int gl_grid_grow_replicates(gl_grid *g, int k, gl_error *err) {
    int a = gl_grid_axis(g, "replicate");
    if (a < 0) return gl_fail(err, "the grid has no replicate axis (--seeds)");
    for (int i = g->axes[a].n; i < k; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        if (push_value(&g->axes[a], v, NULL, err) != 0) return -1;
    }
    return 0;
}

int gl_grid_add(gl_grid *g, const char *name, const char *spec, gl_error *err) {
    char key[40];
    if (strlen(name) >= sizeof key) return gl_fail(err, "--%s: unknown knob", name);
    snprintf(key, sizeof key, "%s", name);
    for (char *q = key; *q; q++)
        if (*q == '-') *q = '_';
    int special = !strcmp(key, "replicate") || !strcmp(key, "variant");
    if (!special && !gl_config_has(key)) return gl_fail(err, "--%s: unknown knob (see groklab train --help)", name);
    if (gl_grid_axis(g, key) >= 0) return gl_fail(err, "--%s is given twice", name);
    int is_list = strchr(spec, ',') != NULL, is_range = !is_list && strchr(spec, ':') != NULL;
    if (!special && !is_list && !is_range) return gl_config_set(&g->base, key, spec, err); /* not an axis */
    if (g->n_axes == GL_MAX_AXES) return gl_fail(err, "at most %d axes", GL_MAX_AXES);
    gl_axis ax;
    memset(&ax, 0, sizeof ax);
    snprintf(ax.name, sizeof ax.name, "%s", key);
    int rc = 0;
    char buf[4096];
    if (!strcmp(key, "replicate")) {
        char *end;
        long k = strtol(spec, &end, 10);
        if (*end || k < 1 || k > 100000)
            return gl_fail(err, "--seeds: '%s' is not a count in 1..100000", spec);
        for (long i = 0; i < k && !rc; i++) {
            snprintf(buf, sizeof buf, "%ld", i);
            rc = push_value(&ax, buf, NULL, err);
        }
    } else if (!strcmp(key, "variant")) {
        if (strlen(spec) >= sizeof buf) return gl_fail(err, "variant: spec too long");
        snprintf(buf, sizeof buf, "%s", spec);
        char *save = NULL;
        for (char *tok = strtok_r(buf, "|", &save); tok && !rc; tok = strtok_r(NULL, "|", &save)) {
            char *colon = strchr(tok, ':'), *label = NULL;
            if (colon && (!strchr(tok, '=') || colon < strchr(tok, '='))) {
                *colon = 0;
                label = tok;
                tok = colon + 1;
            }
            rc = push_value(&ax, tok, label, err);
        }
    } else if (is_list) {
        if (strlen(spec) >= sizeof buf) return gl_fail(err, "--%s: list too long", name);
        snprintf(buf, sizeof buf, "%s", spec);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save))
            rc = push_value(&ax, tok, NULL, err);
    } else {
        double lo, hi;
        long n;
        char tail[16] = "";
        int used = -1, k = sscanf(spec, "%lf:%lf:%ld%n:%15s", &lo, &hi, &n, &used, tail);
        int logr = k == 4 && !strcmp(tail, "log");
        /* the count is an integer and nothing but ":log" may follow it */
        int whole = used > 0 && (spec[used] == 0 || (logr && !strcmp(spec + used, ":log")));
        if (k < 3 || !whole || (k == 4 && !logr) || n < 1 || n > 100000 || !isfinite(lo) || !isfinite(hi) ||
            (logr && (lo <= 0 || hi <= 0)))
            return gl_fail(err, "--%s: '%s' is not a range lo:hi:count or lo:hi:count:log (positive ends)", name, spec);
        for (long i = 0; i < n && !rc; i++) {
            double t = n == 1 ? 0.0 : (double)i / (double)(n - 1);
            double v = logr ? exp(log(lo) + t * (log(hi) - log(lo))) : lo + t * (hi - lo);
            if (i == n - 1 && n > 1) v = hi;
            /* a range through 0 holds 0 exactly, not a rounding residue of lo + t (hi - lo) */
            if (!logr && fabs(v) < 1e-12 * fmax(fabs(lo), fabs(hi))) v = 0;
            /* 12 significant digits: 0.1 + 0.05 * 3 prints as 0.25, not 0.25000000000000006 */
            snprintf(buf, sizeof buf, "%.12g", v);
            rc = push_value(&ax, buf, NULL, err);
        }
    }
    /* every value must be a valid setting of the knob */
    for (int i = 0; i < ax.n && !rc; i++) {
        gl_config tmp = g->base;
        gl_error e;
        if (apply(&tmp, key, ax.values[i], &e) != 0)
            rc = !strncmp(e.msg, "--", 2) ? gl_failc(err, e.code, "%s", e.msg) : gl_fail(err, "--%s: %s", name, e.msg);
    }
    if (rc) {
        free(ax.values);
        free(ax.labels);
        return -1;
    }
    g->axes[g->n_axes++] = ax;
    return 0;
}

long gl_grid_size(const gl_grid *g) {
    long n = 1;
    for (int a = 0; a < g->n_axes; a++) n *= g->axes[a].n;
    return n;
}

void gl_grid_coords(const gl_grid *g, long idx, int *coord) {
    for (int a = g->n_axes - 1; a >= 0; a--) {
        coord[a] = (int)(idx % g->axes[a].n);
        idx /= g->axes[a].n;
    }
}

int gl_grid_point(const gl_grid *g, long idx, gl_config *c, gl_error *err) {
    int coord[GL_MAX_AXES];
    gl_grid_coords(g, idx, coord);
    *c = g->base;
    for (int a = 0; a < g->n_axes; a++)
        if (apply(c, g->axes[a].name, g->axes[a].values[coord[a]], err) != 0) return -1;
    return gl_config_validate(c, err);
}

int gl_grid_validate(const gl_grid *g, gl_error *err) {
    long n = gl_grid_size(g);
    for (long i = 0; i < n; i++) {
        gl_config c;
        gl_error e;
        int rc = gl_grid_point(g, i, &c, &e);
        if (rc == 0) rc = gl_backend_check(&c, &e);
        if (rc != 0) {
            int coord[GL_MAX_AXES];
            gl_grid_coords(g, i, coord);
            char where[512] = "";
            for (int a = 0; a < g->n_axes; a++)
                snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s=%s", a ? ", " : "",
                         g->axes[a].name, g->axes[a].labels[coord[a]]);
            return gl_failc(err, e.code, "grid point %ld (%s): %s", i + 1, where, e.msg);
        }
    }
    return 0;
}

char *gl_grid_to_json(const gl_grid *g) {
    cJSON *o = cJSON_CreateObject();
    char *base = gl_config_to_json_compact(&g->base); /* numbers exactly, as raw text */
    cJSON_AddRawToObject(o, "base", base ? base : "{}");
    free(base);
    cJSON *axes = cJSON_AddArrayToObject(o, "axes");
    for (int a = 0; a < g->n_axes; a++) {
        cJSON *ax = cJSON_CreateObject();
        cJSON_AddStringToObject(ax, "name", g->axes[a].name);
        cJSON *v = cJSON_AddArrayToObject(ax, "values"), *l = cJSON_AddArrayToObject(ax, "labels");
        for (int i = 0; i < g->axes[a].n; i++) {
            cJSON_AddItemToArray(v, cJSON_CreateString(g->axes[a].values[i]));
            cJSON_AddItemToArray(l, cJSON_CreateString(g->axes[a].labels[i]));
        }
        cJSON_AddItemToArray(axes, ax);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int gl_grid_from_json(gl_grid *g, const char *json, gl_error *err) {
    cJSON *o = cJSON_Parse(json);
    cJSON *b = o ? cJSON_GetObjectItemCaseSensitive(o, "base") : NULL;
    cJSON *axes = o ? cJSON_GetObjectItemCaseSensitive(o, "axes") : NULL;
    if (!cJSON_IsObject(b) || !cJSON_IsArray(axes)) {
        cJSON_Delete(o);
        return gl_fail(err, "the sweep definition is malformed");
    }
    gl_config base;
    gl_config_default(&base);
    int rc = gl_config_from_cjson(&base, b, err);
    gl_grid_init(g, &base);
    cJSON *ax;
    cJSON_ArrayForEach(ax, axes) {
        if (rc) break;
        cJSON *name = cJSON_GetObjectItemCaseSensitive(ax, "name");
        cJSON *vals = cJSON_GetObjectItemCaseSensitive(ax, "values");
        cJSON *labs = cJSON_GetObjectItemCaseSensitive(ax, "labels");
        if (!cJSON_IsString(name) || !cJSON_IsArray(vals) || g->n_axes == GL_MAX_AXES) {
            rc = gl_fail(err, "the sweep definition has a malformed axis");
            break;
        }
        gl_axis *a = &g->axes[g->n_axes++];
        memset(a, 0, sizeof *a);
        snprintf(a->name, sizeof a->name, "%s", name->valuestring);
        for (int i = 0; i < cJSON_GetArraySize(vals) && !rc; i++) {
            cJSON *v = cJSON_GetArrayItem(vals, i), *l = cJSON_GetArrayItem(labs, i);
            if (!cJSON_IsString(v)) rc = gl_fail(err, "the sweep definition has a malformed value");
            else rc = push_value(a, v->valuestring, cJSON_IsString(l) ? l->valuestring : NULL, err);
        }
    }
    cJSON_Delete(o);
    if (rc) gl_grid_free(g);
    return rc;
}
