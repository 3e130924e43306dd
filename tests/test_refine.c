/* The refinement scheduler (gl_refine_next, gl_refine_infer, groklab/sweep.h)
 * against a brute-force recomputation of the rule as docs/design.md states
 * it, on synthetic phase maps: the lattices are listed value by value, each
 * point's value is computed top-down from its level's neighbours (memoized
 * recursion, where the scheduler sweeps the levels bottom-up), and a refined
 * "sweep" is simulated by revealing the map's phase at each scheduled point.
 * Checked: the coarse strides; the points of every round equal the brute
 * force's; once no round schedules anything, no untrained point lies
 * between disagreeing neighbours; every untrained point is inferred, as the
 * brute force infers it, and equals the map where the map's regions are
 * wider than the coarse lattice; on random partial states (points finished
 * in any order, some failed, some waiting) both agree with the brute force. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/sweep.h"

#define MAXN 40

/* the lattice of stride s on an axis of n values: its values in order */
static int lattice(int n, int s, int *v) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i % s == 0 || i == n - 1) v[k++] = i;
    return k;
}
static int in_list(const int *v, int k, int i) {
    for (int j = 0; j < k; j++)
        if (v[j] == i) return 1;
    return 0;
}
static int stride(int s0, int t) {
    for (int u = 0; u < t; u++) s0 = s0 > 1 ? s0 / 2 : 1;
    return s0;
}
static int levels(int sx, int sy) {
    int t = 0;
    while (stride(sx, t) > 1 || stride(sy, t) > 1) t++;
    return t;
}
/* The rule, top-down: a point's level is the first whose lattices hold it;
 * its neighbours are the two values of the level above around it along the
 * axis it is off (both axes: the four points around it at its own level).
 * Its value: its finished state; else its neighbours' one phase. */
#define NONE (-10)
#define DISAGREE (-11)
static int memo[MAXN * MAXN], memo_set[MAXN * MAXN];

static void lattices(int n, int t, int *v, int *k) {
    *k = lattice(n, stride(gl_refine_stride(n), t), v);
}
static int level_of(int nx, int ny, int i, int j) {
    int T = levels(gl_refine_stride(nx), gl_refine_stride(ny));
    for (int t = 0; t <= T; t++) {
        int vx[MAXN], vy[MAXN], kx, ky;
        lattices(nx, t, vx, &kx), lattices(ny, t, vy, &ky);
        if (in_list(vx, kx, i) && in_list(vy, ky, j)) return t;
    }
    return -1;
}
/* the lattice values either side of i */
static void around(const int *v, int k, int i, int *lo, int *hi) {
    for (int u = 0; u + 1 < k; u++)
        if (v[u] < i && i < v[u + 1]) *lo = v[u], *hi = v[u + 1];
}
static int brute_value(int nx, int ny, const int *st, int i, int j);
/* the one phase of the neighbours, NONE when one has no value, DISAGREE */
static int neighbours(int nx, int ny, const int *st, int i, int j) {
    int t = level_of(nx, ny, i, j), vx[MAXN], vy[MAXN], kx, ky, pi[4], pj[4], m = 0;
    lattices(nx, t - 1, vx, &kx), lattices(ny, t - 1, vy, &ky);
    int xin = in_list(vx, kx, i), yin = in_list(vy, ky, j), lo = -1, hi = -1;
    if (!xin) around(vx, kx, i, &lo, &hi), pi[m] = lo, pj[m++] = j, pi[m] = hi, pj[m++] = j;
    if (!yin) around(vy, ky, j, &lo, &hi), pi[m] = i, pj[m++] = lo, pi[m] = i, pj[m++] = hi;
    int ph = NONE, bad = 0;
    for (int u = 0; u < m; u++) {
        int v = brute_value(nx, ny, st, pi[u], pj[u]);
        if (v == NONE) return NONE;
        if (v == GL_REFINE_NOPHASE || (ph != NONE && v != ph)) bad = 1;
        ph = v;
    }
    return bad ? DISAGREE : ph;
}
static int brute_value(int nx, int ny, const int *st, int i, int j) {
    int k = i * ny + j, v = st[k];
    if (memo_set[k]) return memo[k];
    if (v >= 0 || v == GL_REFINE_NOPHASE) memo[k] = v;
    else if (v == GL_REFINE_WAITING || level_of(nx, ny, i, j) == 0) memo[k] = NONE;
    else memo[k] = neighbours(nx, ny, st, i, j), memo[k] = memo[k] == DISAGREE ? NONE : memo[k];
    memo_set[k] = 1;
    return memo[k];
}
static void brute_reset(void) { memset(memo_set, 0, sizeof memo_set); }

/* the rule: the untrained points of the coarse lattice, and those whose
 * neighbours all have values that disagree */
static void brute_needed(int nx, int ny, const int *st, unsigned char *need) {
    brute_reset();
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++)
            need[i * ny + j] = st[i * ny + j] == GL_REFINE_UNTRAINED &&
                               (level_of(nx, ny, i, j) == 0 || neighbours(nx, ny, st, i, j) == DISAGREE);
}

/* the phase of untrained point (i, j), or -1 when it has no value */
static int brute_infer(int nx, int ny, const int *st, int i, int j) {
    brute_reset();
    int v = brute_value(nx, ny, st, i, j);
    return v >= 0 ? v : -1;
}

/* synthetic maps: the phase at (i, j) of an nx x ny grid */
static int map_halfplanes(int i, int j, int nx, int ny) {
    double x = (double)i / (nx - 1), y = (double)j / (ny - 1);
    return y > 0.8 - 0.6 * x ? 3 : x > 0.6 ? 0 : 1;
}
static int map_disc(int i, int j, int nx, int ny) {
    double x = (double)i / (nx - 1) - 0.45, y = (double)j / (ny - 1) - 0.55;
    return x * x + y * y < 0.09 ? 2 : 4;
}
static unsigned rng_state = 12345;
static unsigned rnd(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) & 0x7fff;
}
static int noise_map[MAXN * MAXN];
static int map_noise(int i, int j, int nx, int ny) { (void)nx; return noise_map[i * ny + j]; }

/* A refined sweep of the map: rounds until none schedules a point. Checks
 * each round against the brute force; returns the points trained. */
static int simulate(int nx, int ny, int (*map)(int, int, int, int), const char *name, int *st, int *rounds) {
    unsigned char next[MAXN * MAXN], need[MAXN * MAXN];
    for (int k = 0; k < nx * ny; k++) st[k] = GL_REFINE_UNTRAINED;
    int trained = 0, same = 1;
    *rounds = 0;
    for (;;) {
        long n = gl_refine_next(nx, ny, st, next);
        brute_needed(nx, ny, st, need);
        long nb = 0;
        for (int k = 0; k < nx * ny; k++) {
            nb += need[k];
            if (need[k] != next[k]) same = 0;
        }
        if (n != nb) same = 0;
        if (n == 0) break;
        for (int k = 0; k < nx * ny; k++)
            if (next[k]) st[k] = map(k / ny, k % ny, nx, ny), trained++;
        ++*rounds;
    }
    CHECK(same, "%s %dx%d: every round's points are the brute force's (%d rounds, %d of %d trained)", name, nx, ny,
          *rounds, trained, nx * ny);
    return trained;
}

/* whether gl_refine_infer's phases ph are the brute force's (a finished
 * point keeps its state); the first difference is printed */
static int same_as_brute(int nx, int ny, const int *st, const int *ph) {
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) {
            int k = i * ny + j, b = st[k] != GL_REFINE_UNTRAINED ? st[k] : brute_infer(nx, ny, st, i, j);
            int got = st[k] != GL_REFINE_UNTRAINED || ph[k] >= 0 ? ph[k] : -1;
            if (got != b) {
                printf("  %dx%d point (%d, %d): inferred %d, brute force %d\n", nx, ny, i, j, ph[k], b);
                return 0;
            }
        }
    return 1;
}

/* every untrained point inferred, as the brute force infers it; where wanted, as the map says */
static void check_inference(int nx, int ny, const int *st, int (*map)(int, int, int, int), const char *name,
                            int want_exact) {
    int ph[MAXN * MAXN], all = 1, exact = 1;
    long n = gl_refine_infer(nx, ny, st, ph), untrained = 0;
    int agree = same_as_brute(nx, ny, st, ph);
    for (int k = 0; k < nx * ny; k++) {
        if (st[k] != GL_REFINE_UNTRAINED) continue;
        untrained++;
        if (ph[k] < 0) all = 0;
        if (map && ph[k] != map(k / ny, k % ny, nx, ny)) exact = 0;
    }
    CHECK(agree, "%s %dx%d: inferred phases are the brute force's (%ld inferred)", name, nx, ny, n);
    CHECK(all && n == untrained, "%s %dx%d: every untrained point is inferred (%ld of %ld)", name, nx, ny, n, untrained);
    if (want_exact) CHECK(exact, "%s %dx%d: the inferred phases are the map's", name, nx, ny);
}

/* no untrained point lies between neighbours that disagree */
static void check_complete(int nx, int ny, const int *st, const char *name) {
    unsigned char need[MAXN * MAXN];
    brute_needed(nx, ny, st, need);
    int left = 0;
    for (int k = 0; k < nx * ny; k++) left += need[k];
    CHECK(left == 0, "%s %dx%d: at the end no untrained point lies between disagreeing neighbours (%d)", name, nx, ny, left);
}

static void test_strides(void) {
    int n[] = {1, 2, 3, 5, 8, 9, 16, 17, 19, 33, 40}, want[] = {1, 1, 1, 1, 1, 2, 2, 4, 4, 8, 8};
    int ok = 1;
    for (int i = 0; i < 11; i++) {
        int s = gl_refine_stride(n[i]);
        if (s != want[i]) ok = 0, printf("  n %d: stride %d, want %d\n", n[i], s, want[i]);
    }
    CHECK(ok, "gl_refine_stride: the largest power of two leaving at least 4 intervals");
}

static void test_maps(void) {
    int sizes[][2] = {{9, 9}, {17, 19}, {17, 17}, {5, 9}, {12, 7}, {33, 3}, {1, 9}};
    for (int z = 0; z < 7; z++) {
        int nx = sizes[z][0], ny = sizes[z][1], st[MAXN * MAXN], rounds;
        if (nx > 1) {
            simulate(nx, ny, map_halfplanes, "half-planes", st, &rounds);
            check_complete(nx, ny, st, "half-planes");
            check_inference(nx, ny, st, map_halfplanes, "half-planes", nx >= 9 && ny >= 9);
            simulate(nx, ny, map_disc, "disc", st, &rounds);
            check_complete(nx, ny, st, "disc");
            check_inference(nx, ny, st, map_disc, "disc", 0);
        }
        for (int k = 0; k < nx * ny; k++) noise_map[k] = (int)(rnd() % 3);
        int trained = simulate(nx, ny, map_noise, "noise", st, &rounds);
        check_complete(nx, ny, st, "noise");
        check_inference(nx, ny, st, map_noise, "noise", 0);
        (void)trained;
    }
    /* the paper's panel with its two big regions: a fraction of the runs */
    int st[MAXN * MAXN], rounds;
    int t = simulate(17, 19, map_halfplanes, "half-planes", st, &rounds);
    CHECK(t < 0.4 * 17 * 19, "half-planes 17x19: %d of %d points trained (< 40%%)", t, 17 * 19);
}

/* states no refined sweep reaches at its end: finished points anywhere, some
 * failed, some waiting; inference must still never use disagreeing points */
static void test_random_states(void) {
    int ok_next = 1, ok_inf = 1;
    for (int trial = 0; trial < 400; trial++) {
        int nx = 2 + (int)(rnd() % 18), ny = 2 + (int)(rnd() % 18), st[MAXN * MAXN], ph[MAXN * MAXN];
        int density = 1 + (int)(rnd() % 9);
        for (int k = 0; k < nx * ny; k++) {
            unsigned r = rnd() % 10;
            st[k] = r >= (unsigned)density ? GL_REFINE_UNTRAINED
                    : r == 0 && trial % 3 == 0 ? GL_REFINE_NOPHASE
                    : r == 1 && trial % 4 == 0 ? GL_REFINE_WAITING
                                               : (int)(rnd() % (1 + trial % 3));
        }
        unsigned char next[MAXN * MAXN], need[MAXN * MAXN];
        gl_refine_next(nx, ny, st, next);
        brute_needed(nx, ny, st, need);
        if (memcmp(next, need, (size_t)(nx * ny))) ok_next = 0;
        gl_refine_infer(nx, ny, st, ph);
        if (ok_inf && !same_as_brute(nx, ny, st, ph)) ok_inf = 0;
    }
    CHECK(ok_next, "random partial states: gl_refine_next marks the brute force's points");
    CHECK(ok_inf, "random partial states: gl_refine_infer infers only from neighbours that agree, as the brute force");
}

int main(void) {
    test_strides();
    test_maps();
    test_random_states();
    return CHECK_DONE();
}
