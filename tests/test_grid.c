/* Sweep grids (groklab/sweep.h) against what the header and docs/commands.md say,
 * recomputed here: lists; ranges lo:hi:count, inclusive and evenly spaced,
 * printed with %.12g; log ranges lo:hi:count:log; a single value sets the
 * base and adds no axis; replicate sets seed, split_seed and noise_seed;
 * variants with labels; the size is the product of the axes; point i has the
 * coordinates of i in the mixed radix of the axes (first axis slowest) and
 * the config one gets by hand with gl_config_set; the JSON round trip gives
 * the same points; every bad spec is refused with a message and leaves the
 * grid as it was; gl_grid_validate names the first invalid point. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config_diff.h"
#include "groklab/sweep.h"


static int add(gl_grid *g, const char *name, const char *spec) {
    gl_error e = {{0}, 0};
    int rc = gl_grid_add(g, name, spec, &e);
    if (rc) printf("  gl_grid_add %s '%s': %s\n", name, spec, e.msg);
    return rc;
}

/* The values of axis `name` as numbers, or -1 if there is no such axis. */
static int axis_values(const gl_grid *g, const char *name, double *v, int cap) {
    int a = gl_grid_axis(g, name);
    if (a < 0) return -1;
    for (int i = 0; i < g->axes[a].n && i < cap; i++) v[i] = strtod(g->axes[a].values[i], NULL);
    return g->axes[a].n;
}

/* ---- axes ---- */

static void test_ranges(void) {
    gl_config base;
    gl_config_default(&base);
    gl_grid g;
    gl_grid_init(&g, &base);
    double v[64];

    /* a list keeps its words as they are */
    CHECK(add(&g, "lr", "0.001,0.01,0.1") == 0 && g.n_axes == 1, "a list is an axis");
    int a = gl_grid_axis(&g, "lr");
    CHECK(a == 0 && g.axes[a].n == 3 && !strcmp(g.axes[a].values[0], "0.001") && !strcmp(g.axes[a].values[1], "0.01") &&
              !strcmp(g.axes[a].values[2], "0.1"),
          "list lr 0.001,0.01,0.1 has those three values in order");
    CHECK(!strcmp(g.axes[a].labels[1], "0.01"), "a list value is its own label");

    /* ranges: lo + (hi - lo) i / (count - 1), i = 0 .. count-1 */
    static const struct {
        const char *knob, *spec;
        double lo, hi;
        int n;
    } ranges[] = {
        {"wd", "0:1:5", 0, 1, 5},          {"noise", "0.1:0.25:4", 0.1, 0.25, 4},
        {"frac", "0.3:0.9:7", 0.3, 0.9, 7}, {"mu", "-2:3:11", -2, 3, 11},
        {"steps", "100:400:4", 100, 400, 4}, {"scale_s", "0.7:-0.2:10", 0.7, -0.2, 10},
        {"bn_momentum", "0.05:0.95:2", 0.05, 0.95, 2},
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        int rc = add(&g, ranges[k].knob, ranges[k].spec);
        int n = axis_values(&g, ranges[k].knob, v, 64);
        double worst = 0;
        int text_ok = 1;
        for (int i = 0; i < n && i < ranges[k].n; i++) {
            double want = ranges[k].lo + (ranges[k].hi - ranges[k].lo) * i / (ranges[k].n - 1);
            if (fabs(want) < 1e-12 * fmax(fabs(ranges[k].lo), fabs(ranges[k].hi))) want = 0; /* the range's 0 is 0 */
            double err = fabs(v[i] - want) / fmax(1.0, fabs(want));
            if (err > worst) worst = err;
            char t[64];
            snprintf(t, sizeof t, "%.12g", want);
            if (strcmp(t, g.axes[gl_grid_axis(&g, ranges[k].knob)].values[i])) text_ok = 0;
        }
        int crosses = ranges[k].lo * ranges[k].hi < 0;
        CHECK(rc == 0 && n == ranges[k].n && worst < 1e-12 && (text_ok || crosses),
              "range %s %s: %d values (got %d), evenly spaced, ends included (worst error %.3g)%s", ranges[k].knob,
              ranges[k].spec, ranges[k].n, n, worst, crosses ? "" : ", printed as %.12g");
        if (crosses) { /* one value is 0: lo + t (hi - lo) leaves a rounding error there */
            char zeros[160] = "";
            for (int i = 0; i < n; i++)
                if (fabs(v[i]) < 1e-12)
                    snprintf(zeros + strlen(zeros), sizeof zeros - strlen(zeros), " %s",
                             g.axes[gl_grid_axis(&g, ranges[k].knob)].values[i]);
            CHECK(text_ok, "range %s %s prints its zero as 0 with %%.12g (got%s)", ranges[k].knob, ranges[k].spec,
                      zeros);
        }
        CHECK(n == ranges[k].n && v[0] == ranges[k].lo && v[n - 1] == ranges[k].hi, "range %s %s starts at %g, ends at %g",
              ranges[k].knob, ranges[k].spec, ranges[k].lo, ranges[k].hi);
    }
    a = gl_grid_axis(&g, "noise");
    CHECK(a >= 0 && !strcmp(g.axes[a].values[3], "0.25") && !strcmp(g.axes[a].values[1], "0.15"),
          "0.1:0.25:4 prints 0.15 and 0.25, not 0.15000000000000002");
    a = gl_grid_axis(&g, "steps");
    CHECK(a >= 0 && !strcmp(g.axes[a].values[1], "200") && !strcmp(g.axes[a].values[2], "300"),
          "an integer range prints integers (200, 300)");
    gl_grid_free(&g);

    /* count 1: the low end alone (an axis of one value) */
    gl_grid_init(&g, &base);
    CHECK(add(&g, "wd", "0.5:0.9:1") == 0 && axis_values(&g, "wd", v, 64) == 1 && v[0] == 0.5,
          "range count 1 is the low end");
    gl_grid_free(&g);

    /* log ranges: lo (hi / lo)^(i / (count - 1)) */
    static const struct {
        const char *knob, *spec;
        double lo, hi;
        int n;
    } logs[] = {{"lr", "1e-4:1e-1:4:log", 1e-4, 1e-1, 4},
                {"wd", "0.01:100:9:log", 0.01, 100, 9},
                {"eps", "1e-8:3e-6:6:log", 1e-8, 3e-6, 6},
                {"init_std", "2:0.5:3:log", 2, 0.5, 3}};
    gl_grid_init(&g, &base);
    for (size_t k = 0; k < sizeof logs / sizeof logs[0]; k++) {
        int rc = add(&g, logs[k].knob, logs[k].spec);
        int n = axis_values(&g, logs[k].knob, v, 64);
        double worst = 0;
        for (int i = 0; i < n && i < logs[k].n; i++) {
            double want = logs[k].lo * pow(logs[k].hi / logs[k].lo, (double)i / (logs[k].n - 1));
            double err = fabs(v[i] - want) / want;
            if (err > worst) worst = err;
        }
        CHECK(rc == 0 && n == logs[k].n && worst < 1e-11 && v[0] == logs[k].lo && v[n - 1] == logs[k].hi,
              "log range %s %s: %d values (got %d), geometric, ends exact (worst relative error %.3g)", logs[k].knob,
              logs[k].spec, logs[k].n, n, worst);
    }
    a = gl_grid_axis(&g, "lr");
    CHECK(a >= 0 && !strcmp(g.axes[a].values[1], "0.001") && !strcmp(g.axes[a].values[2], "0.01"),
          "1e-4:1e-1:4:log prints 0.001 and 0.01");
    gl_grid_free(&g);

    /* a single value sets the base, adds no axis */
    gl_grid_init(&g, &base);
    CHECK(add(&g, "noise", "0.2") == 0 && g.n_axes == 0 && g.base.noise == 0.2 && gl_grid_size(&g) == 1,
          "a single value sets the base (noise 0.2) and adds no axis");
    CHECK(add(&g, "split-seed", "17") == 0 && g.n_axes == 0 && g.base.split_seed == 17,
          "a single value in flag spelling (split-seed) sets the base");
    CHECK(add(&g, "task", "mul") == 0 && g.n_axes == 0 && !strcmp(g.base.task, "mul"), "a single word sets the base");
    gl_grid_free(&g);
}

/* ---- points ---- */

/* The config of a point built by hand: base, then every axis value set with
 * gl_config_set (replicate: the three seeds; variant: its assignments). */
static int by_hand(const gl_grid *g, const int *coord, gl_config *c) {
    *c = g->base;
    for (int a = 0; a < g->n_axes; a++) {
        const char *name = g->axes[a].name, *val = g->axes[a].values[coord[a]];
        int rc = 0;
        if (!strcmp(name, "replicate")) {
            rc |= gl_config_set(c, "seed", val, NULL);
            rc |= gl_config_set(c, "split_seed", val, NULL);
            rc |= gl_config_set(c, "noise_seed", val, NULL);
        } else if (!strcmp(name, "variant")) {
            char buf[GL_AXIS_VALUE_LEN];
            snprintf(buf, sizeof buf, "%s", val);
            char *save = NULL;
            for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(tok, '=');
                if (!eq) return -1;
                *eq = 0;
                rc |= gl_config_set(c, tok, eq + 1, NULL);
            }
        } else {
            rc = gl_config_set(c, name, val, NULL);
        }
        if (rc) return -1;
    }
    return 0;
}

/* Every point of g: coordinates (first axis slowest) and config as by hand. */
static void check_points(const gl_grid *g, const char *what) {
    long size = gl_grid_size(g), want_size = 1;
    for (int a = 0; a < g->n_axes; a++) want_size *= g->axes[a].n;
    CHECK(size == want_size, "%s: size %ld is the product of the axis lengths (%ld)", what, size, want_size);
    long bad_coord = 0, bad_cfg = 0, first_bad = -1;
    for (long i = 0; i < size; i++) {
        int want[GL_MAX_AXES], got[GL_MAX_AXES];
        long stride = 1;
        for (int a = g->n_axes - 1; a >= 0; a--) { /* last axis fastest */
            want[a] = (int)((i / stride) % g->axes[a].n);
            stride *= g->axes[a].n;
        }
        gl_grid_coords(g, i, got);
        if (memcmp(want, got, sizeof(int) * (size_t)g->n_axes)) bad_coord++;
        gl_config c, h;
        gl_error e;
        if (gl_grid_point(g, i, &c, &e) != 0 || by_hand(g, want, &h) != 0 || first_difference(&c, &h) >= 0) {
            if (first_bad < 0) first_bad = i;
            bad_cfg++;
        }
    }
    CHECK(bad_coord == 0, "%s: gl_grid_coords of all %ld points, first axis slowest (%ld differ)", what, size, bad_coord);
    CHECK(bad_cfg == 0, "%s: every point's config equals the one built by hand with gl_config_set (%ld differ, first %ld)",
          what, bad_cfg, first_bad);
}

static void test_points(void) {
    gl_config base;
    gl_config_default(&base);
    gl_config_set(&base, "p", "23", NULL);
    gl_grid g;
    gl_grid_init(&g, &base);
    int rc = add(&g, "wd", "0,5,15") || add(&g, "noise", "0:0.3:4") || add(&g, "replicate", "3") ||
             add(&g, "variant", "b8:batch=8;lr=0.001|b16:batch=16;lr=0.002") || add(&g, "act", "quadratic,relu");
    CHECK(rc == 0 && g.n_axes == 5, "five axes: wd list, noise range, replicate, variant, act");
    CHECK(gl_grid_size(&g) == 3 * 4 * 3 * 2 * 2, "size 3 x 4 x 3 x 2 x 2 = 144 (got %ld)", gl_grid_size(&g));
    int ar = gl_grid_axis(&g, "replicate"), av = gl_grid_axis(&g, "variant");
    CHECK(ar == 2 && g.axes[ar].n == 3 && !strcmp(g.axes[ar].values[0], "0") && !strcmp(g.axes[ar].values[2], "2"),
          "replicate 3 has values 0, 1, 2");
    CHECK(av == 3 && g.axes[av].n == 2 && !strcmp(g.axes[av].labels[0], "b8") && !strcmp(g.axes[av].labels[1], "b16") &&
              !strcmp(g.axes[av].values[0], "batch=8;lr=0.001") && !strcmp(g.axes[av].values[1], "batch=16;lr=0.002"),
          "variant labels b8, b16 and their assignments");
    check_points(&g, "wd x noise x replicate x variant x act");

    /* spot checks written out: the last point, and the replicate's seeds */
    gl_config c;
    gl_error e = {{0}, 0};
    rc = gl_grid_point(&g, gl_grid_size(&g) - 1, &c, &e);
    CHECK(rc == 0 && c.wd == 15 && c.noise == 0.3 && c.seed == 2 && c.split_seed == 2 && c.noise_seed == 2 &&
              c.batch == 16 && c.lr == 0.002 && c.act == GL_ACT_RELU && c.p == 23,
          "the last point is wd 15, noise 0.3, replicate 2 (all three seeds), b16, relu, p 23 from the base (%s)", e.msg);
    rc = gl_grid_point(&g, 1, &c, &e);
    CHECK(rc == 0 && c.wd == 0 && c.noise == 0 && c.seed == 0 && c.batch == 8 && c.act == GL_ACT_RELU,
          "point 1 differs from point 0 in the last axis only");
    /* strides: act 1, variant 2, replicate 4, noise 12, wd 48 */
    rc = gl_grid_point(&g, 1 * 4 + 0 * 2 + 1, &c, &e);
    CHECK(rc == 0 && c.wd == 0 && c.noise == 0 && c.seed == 1 && c.split_seed == 1 && c.noise_seed == 1 && c.batch == 8 &&
              c.lr == 0.001 && c.act == GL_ACT_RELU,
          "point 5 is wd 0, noise 0, replicate 1, b8, relu (%s)", e.msg);
    rc = gl_grid_point(&g, 48 + 2 * 12, &c, &e);
    CHECK(rc == 0 && c.wd == 5 && c.noise == 0.2 && c.seed == 0 && c.batch == 8 && c.act == GL_ACT_QUADRATIC,
          "point 72 is wd 5, noise 0.2, everything else at its first value (%s)", e.msg);

    /* no axes: one point, the base */
    gl_grid g0;
    gl_grid_init(&g0, &base);
    CHECK(gl_grid_size(&g0) == 1 && gl_grid_point(&g0, 0, &c, &e) == 0 && first_difference(&c, &base) < 0,
          "a grid without axes has one point, the base");
    gl_grid_free(&g0);

    /* a variant without labels is labelled by its value */
    gl_grid_init(&g0, &base);
    CHECK(add(&g0, "variant", "batch=8|batch=16;steps=10") == 0 && !strcmp(g0.axes[0].labels[1], "batch=16;steps=10"),
          "a variant value without a label is its own label");
    check_points(&g0, "unlabelled variant");
    gl_grid_free(&g0);

    /* the JSON round trip: the same axes, labels and points */
    char *j = gl_grid_to_json(&g);
    gl_grid h;
    rc = j ? gl_grid_from_json(&h, j, &e) : -1;
    int same = rc == 0 && h.n_axes == g.n_axes && gl_grid_size(&h) == gl_grid_size(&g) &&
               first_difference(&h.base, &g.base) < 0;
    for (int a = 0; same && a < g.n_axes; a++) {
        same = !strcmp(h.axes[a].name, g.axes[a].name) && h.axes[a].n == g.axes[a].n;
        for (int i = 0; same && i < g.axes[a].n; i++)
            same = !strcmp(h.axes[a].values[i], g.axes[a].values[i]) && !strcmp(h.axes[a].labels[i], g.axes[a].labels[i]);
    }
    CHECK(same, "gl_grid_from_json(gl_grid_to_json) has the same base, axes, values and labels (%s)", rc ? e.msg : "");
    long diff = 0;
    for (long i = 0; rc == 0 && i < gl_grid_size(&g); i++) {
        gl_config x, y;
        if (gl_grid_point(&g, i, &x, &e) != 0 || gl_grid_point(&h, i, &y, &e) != 0 || first_difference(&x, &y) >= 0)
            diff++;
    }
    CHECK(rc == 0 && diff == 0, "the JSON round trip gives the same %ld points (%ld differ)", gl_grid_size(&g), diff);
    char *j2 = rc == 0 ? gl_grid_to_json(&h) : NULL;
    CHECK(j2 && !strcmp(j, j2), "and the same JSON again");
    free(j2);
    free(j);
    if (rc == 0) gl_grid_free(&h);
    static const char *bad_json[] = {"", "{}", "{\"base\": {}}", "{\"base\": {\"p\": 1}, \"axes\": []}",
                                     "{\"base\": {}, \"axes\": [{\"values\": [\"1\"]}]}",
                                     "{\"base\": {}, \"axes\": [{\"name\": \"lr\", \"values\": [0.1]}]}"};
    int refused = 0;
    for (size_t k = 0; k < sizeof bad_json / sizeof bad_json[0]; k++) {
        gl_grid x;
        gl_error e2 = {{0}, 0};
        if (gl_grid_from_json(&x, bad_json[k], &e2) == -1 && e2.msg[0]) refused++;
        else gl_grid_free(&x);
    }
    CHECK(refused == (int)(sizeof bad_json / sizeof bad_json[0]),
          "from_json refuses malformed definitions: no base or axes, a bad base, an axis without a name, a number value "
          "(%d of %d)",
          refused, (int)(sizeof bad_json / sizeof bad_json[0]));
    gl_grid_free(&g);
}

/* ---- errors ---- */

static void refused(gl_grid *g, const char *name, const char *spec, const char *want) {
    int n_axes = g->n_axes;
    long size = gl_grid_size(g);
    char *before = gl_grid_to_json(g);
    gl_error e = {{0}, 0};
    int rc = gl_grid_add(g, name, spec, &e);
    char *after = gl_grid_to_json(g);
    CHECK(rc == -1 && strstr(e.msg, want) && g->n_axes == n_axes && gl_grid_size(g) == size && !strcmp(before, after),
          "--%s '%s' is refused naming '%s', grid unchanged: %s", name, spec, want, e.msg);
    free(before);
    free(after);
}

static void test_errors(void) {
    gl_config base;
    gl_config_default(&base);
    gl_grid g;
    gl_grid_init(&g, &base);
    add(&g, "lr", "0.01,0.02");
    add(&g, "bn-momentum", "0.1,0.2");
    refused(&g, "nope", "1,2", "nope");
    refused(&g, "learning-rate", "0.1", "learning-rate");
    refused(&g, "lr", "0.1,0.2", "twice");
    refused(&g, "lr", "0.3", "twice");
    refused(&g, "bn_momentum", "0.3,0.4", "twice");
    /* bad ranges */
    refused(&g, "wd", "0:1", "range");
    refused(&g, "wd", "0:1:0", "range");
    refused(&g, "wd", "0:1:x", "range");
    refused(&g, "wd", "0:1:-3", "range");
    refused(&g, "wd", "0:1:3:lin", "range");
    refused(&g, "wd", "0:1:3:log", "range"); /* a log range needs positive ends */
    refused(&g, "wd", "-1:1:3:log", "range");
    refused(&g, "wd", "1:nan:3", "range");
    refused(&g, "wd", "a:b:3", "range");
    refused(&g, "wd", "0:1:200000", "range");
    {
        gl_grid x;
        gl_grid_init(&x, &base);
        gl_error e = {{0}, 0};
        int rc = gl_grid_add(&x, "wd", "0:1:3.5", &e);
        int n = rc == 0 && x.n_axes ? x.axes[0].n : 0;
        CHECK(rc == -1, "range 0:1:3.5 (a fractional count) is refused (rc %d, %d values: sscanf stops at '.')", rc, n);
        gl_grid_free(&x);
        gl_grid_init(&x, &base);
        rc = gl_grid_add(&x, "wd", "0:1:3junk", &e);
        CHECK(rc == -1, "range 0:1:3junk (trailing garbage) is refused (rc %d)", rc);
        gl_grid_free(&x);
    }
    /* values the knob refuses */
    refused(&g, "p", "97,abc", "--p");
    refused(&g, "p", "2:10:4", "--p"); /* 4.666... is not an integer */
    refused(&g, "dropout", "0,1", "--dropout");
    refused(&g, "frac", "0.5:1.5:3", "--frac");
    refused(&g, "act", "relu,tanh", "--act");
    refused(&g, "noise", "-0.1", "--noise"); /* a single value goes to the base, checked too */
    /* replicate counts */
    refused(&g, "replicate", "0", "1..100000");
    refused(&g, "replicate", "-2", "1..100000");
    refused(&g, "replicate", "abc", "1..100000");
    refused(&g, "replicate", "3x", "1..100000");
    refused(&g, "replicate", "100001", "1..100000");
    refused(&g, "replicate", "1,2", "1..100000");
    /* variants */
    refused(&g, "variant", "batch8", "knob=value");
    refused(&g, "variant", "b8:batchx=8", "batchx");
    refused(&g, "variant", "b8:batch=8;lr=abc", "--lr");
    CHECK(g.n_axes == 2 && gl_grid_size(&g) == 4, "after all refusals the grid still has its 2 x 2 points");
    gl_grid_free(&g);

    /* at most GL_MAX_AXES axes */
    gl_grid_init(&g, &base);
    static const char *knobs[] = {"lr", "wd", "noise", "frac", "seed", "split_seed", "noise_seed", "mu",
                                  "scale_s", "bn_momentum", "norm_eps", "eps", "beta1", "beta2", "momentum",
                                  "init_std", "log_every"};
    int ok = 0;
    for (int k = 0; k < GL_MAX_AXES; k++) ok += gl_grid_add(&g, knobs[k], k == 4 || k == 5 || k == 6 ? "1,2" : "0.1,0.2", NULL) == 0;
    CHECK(ok == GL_MAX_AXES && gl_grid_size(&g) == 1L << GL_MAX_AXES, "%d axes of 2 values: %ld points", GL_MAX_AXES,
          gl_grid_size(&g));
    refused(&g, knobs[GL_MAX_AXES], "1,2", "axes");
    gl_grid_free(&g);

    /* a point that is not a valid run: validate names it */
    gl_config_set(&base, "task", "div", NULL);
    gl_grid_init(&g, &base);
    add(&g, "lr", "0.01,0.02");
    add(&g, "p", "97,91,89");
    CHECK(gl_grid_size(&g) == 6, "div grid: 2 x 3 points");
    /* the first bad point in grid order: lr 0.01, p 91 is index 1, point 2 */
    gl_error e = {{0}, 0};
    int rc = gl_grid_validate(&g, &e);
    CHECK(rc == -1 && strstr(e.msg, "grid point 2 ") && strstr(e.msg, "lr=0.01") && strstr(e.msg, "p=91") &&
              strstr(e.msg, "prime"),
          "gl_grid_validate names the first bad point (2: lr=0.01, p=91) and why: %s", e.msg);
    gl_config c;
    int bad = 0;
    for (long i = 0; i < 6; i++) {
        int want_bad = i % 3 == 1;
        bad += (gl_grid_point(&g, i, &c, &e) != 0) != want_bad;
    }
    CHECK(bad == 0, "gl_grid_point refuses exactly the points with p 91 (%d wrong)", bad);
    gl_grid_free(&g);
    /* a variant label names the point */
    gl_config_default(&base);
    gl_config_set(&base, "p", "11", NULL);
    gl_config_set(&base, "frac", "0.5", NULL);
    gl_grid_init(&g, &base);
    add(&g, "variant", "small:batch=8|huge:batch=100");
    rc = gl_grid_validate(&g, &e);
    CHECK(rc == -1 && strstr(e.msg, "grid point 2 ") && strstr(e.msg, "variant=huge") && strstr(e.msg, "--batch"),
          "a batch larger than the training set is named by its variant label: %s", e.msg);
    gl_grid_free(&g);
    gl_grid_init(&g, &base);
    add(&g, "wd", "0,1");
    CHECK(gl_grid_validate(&g, &e) == 0, "a grid of valid points validates");
    gl_grid_free(&g);
}

int main(void) {
    test_ranges();
    test_points();
    test_errors();
    return CHECK_DONE();
}
