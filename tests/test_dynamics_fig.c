/* groklab tests: the figures of groklab dynamics (gl_figure_dynamics,
 * gl_figure_dynamics_panels) from synthetic tables in a temporary folder:
 * every figure is drawn (PNG and SVG, not empty) on log and linear step
 * axes, a figure whose table is absent or has no rows is skipped without an
 * error, a table whose header is another fails with GL_E_CORRUPT naming the
 * column while the other figures are still drawn, and the scripts name
 * their tables relative to the figures' folder.
 *
 * The synthetic run tells the story the figures are for: clean examples are
 * memorized near step 200 and corrupted ones near 400 by the excluded
 * logits, the restricted logits generalize near step 3000 (test, and the
 * corrupted examples' true labels), and with weight decay the excluded part
 * fades (near step 2e4). DYNAMICS_FIG_KEEP=1 keeps the folder to look at. */
#define _GNU_SOURCE /* nftw, mkdtemp */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "groklab/figure.h"

static char base[256];

static double sig(double x) { return 1 / (1 + exp(-x)); }

/* log10 of a step, -1 for step 0 */
static double lstep(long s) { return s > 0 ? log10((double)s) : -1; }

/* A small deterministic generator: uniform in [0, 1), and roughly normal. */
static unsigned long long lcg = 12345;
static double uniform(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}
static double normalish(void) { return (uniform() + uniform() + uniform() + uniform() - 2) * 1.7; }

static FILE *open_in(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) perror(p);
    return f;
}

static void make_dir(const char *dir) {
    if (mkdir(dir, 0755) != 0) perror(dir);
}

/* The steps of progress.csv and metrics.csv: 0, then 10 to 1e5 log-spaced. */
#define N_STEPS 42
static long step_at(int i) { return i == 0 ? 0 : lround(10 * pow(10, 4.0 * (i - 1) / (N_STEPS - 2))); }

/* The accuracies of the synthetic run at step s (fade_at: log10 of the
 * step where weight decay removes the excluded part, 0: never), as
 * acc[logits][subset] in the order of figure.h / metrics.h. */
static void accuracies(long s, double fade_at, double acc[3][4]) {
    double L = lstep(s), ch = 1.0 / 97, mem = sig((L - 2.3) * 6), gen = sig((L - 3.5) * 6);
    double fade = fade_at > 0 ? sig((L - fade_at) * 6) : 0;
    double a[3][4] = {{ch + (1 - ch) * mem, ch + (1 - ch) * mem * (1 - fade), ch + 0.9 * gen * fade, ch + 0.95 * gen},
                      {ch + 0.97 * gen, ch, ch + 0.9 * gen, ch + 0.95 * gen},
                      {ch + 0.7 * mem * (1 - fade), ch + 0.98 * mem * (1 - fade), ch, ch + 0.02}};
    memcpy(acc, a, sizeof a);
}

static const char progress_head[] =
    "step,key_frequencies,key_share,"
    "full_clean_loss,full_clean_acc,full_corrupted_loss,full_corrupted_acc,full_corrupted_true_loss,full_corrupted_true_acc,full_test_loss,full_test_acc,"
    "restricted_clean_loss,restricted_clean_acc,restricted_corrupted_loss,restricted_corrupted_acc,restricted_corrupted_true_loss,restricted_corrupted_true_acc,restricted_test_loss,restricted_test_acc,"
    "excluded_clean_loss,excluded_clean_acc,excluded_corrupted_loss,excluded_corrupted_acc,excluded_corrupted_true_loss,excluded_corrupted_true_acc,excluded_test_loss,excluded_test_acc";

/* progress.csv of the synthetic run into dir; head: its header line;
 * clean: a run without corrupted examples (their accuracies nan). */
static void write_progress(const char *dir, double fade_at, const char *head, int clean) {
    FILE *f = open_in(dir, "progress.csv");
    if (!f) return;
    fprintf(f, "%s\n", head);
    for (int i = 0; i < N_STEPS; i++) {
        long s = step_at(i);
        double acc[3][4], gen = sig((lstep(s) - 3.5) * 6);
        accuracies(s, fade_at, acc);
        fprintf(f, "%ld,%s,%.6g", s, gen > 0.3 ? "5 17 23" : "", 0.05 + 0.8 * gen);
        for (int l = 0; l < 3; l++)
            for (int t = 0; t < 4; t++) {
                if ((i == 0 && l == 1 && t == 2) || (clean && (t == 1 || t == 2)))
                    fprintf(f, ",nan,nan"); /* as the writer spells a subset it could not score */
                else
                    fprintf(f, ",%.6g,%.6g", -log(acc[l][t]), acc[l][t]);
            }
        fprintf(f, "\n");
    }
    fclose(f);
}

/* metrics.csv (one column more than groklab's own, as a later version may
 * write) and examples.csv (2000 examples, 10% corrupted unless clean) into
 * run. */
static void write_run(const char *run, int clean) {
    FILE *f = open_in(run, "metrics.csv");
    if (!f) return;
    fprintf(f, "step,train_loss,test_loss,train_acc,test_acc,corrupted_acc,corrupted_true_acc,clean_acc,norm_u,norm_v,norm_w,mean_ipr,extra\n");
    for (int i = 0; i < N_STEPS; i++) {
        long s = step_at(i);
        double a[3][4];
        accuracies(s, 4.3, a);
        double train = 0.9 * a[0][0] + 0.1 * a[0][1];
        if (clean) a[0][1] = a[0][2] = NAN;
        fprintf(f, "%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,1,1,1,%.6g,0\n", s, -log(train), -log(a[0][3]), train, a[0][3],
                a[0][1], a[0][2], a[0][0], 0.05 + 0.5 * sig((lstep(s) - 3.5) * 6));
    }
    fclose(f);
    f = open_in(run, "examples.csv");
    if (!f) return;
    fprintf(f, "index,m,n,label,true_label,corrupted,first_given,last_given,unlearned\n");
    for (int i = 0; i < 2000; i++) {
        int corrupted = !clean && i % 10 == 0, m = i % 97, n = (i / 97) % 97, y = (m + n) % 97;
        long first = lround(pow(10, (corrupted ? 2.6 : 2.3) + 0.25 * normalish())), unlearned = -1, last = 100000;
        if (i % 97 == 3) first = 0;              /* right by chance at initialization */
        if (!corrupted && i % 151 == 7) first = -1; /* never memorized */
        if (corrupted && uniform() < 0.6) {
            unlearned = lround(pow(10, 4.3 + 0.2 * normalish()));
            last = unlearned - 1;
        }
        if (first < 0) last = -1;
        fprintf(f, "%d,%d,%d,%d,%d,%d,%ld,%ld,%ld\n", i, m, n, corrupted ? (y + 1) % 97 : y, y, corrupted, first,
                last, corrupted ? unlearned : -1);
    }
    fclose(f);
}

/* neuron_ipr.csv and neuron_power.csv (64 neurons, n = 97: k 0..48) at
 * snapshots 0, then 10 to 1e5 on irregular, log-spaced steps; blank_lines:
 * a blank line after each snapshot's rows. */
#define N_SNAP 20
#define N_NEURONS 64
#define N_K 49
static int by_decreasing(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}
static void write_neurons(const char *dir, int blank_lines) {
    FILE *fi = open_in(dir, "neuron_ipr.csv"), *fp = open_in(dir, "neuron_power.csv");
    if (!fi || !fp) {
        if (fi) fclose(fi);
        if (fp) fclose(fp);
        return;
    }
    fprintf(fi, "snapshot,step,rank,ipr\n");
    fprintf(fp, "snapshot,step,k,share\n");
    for (int sn = 0; sn < N_SNAP; sn++) {
        long s = sn == 0 ? 0 : lround(10 * pow(10, 4.0 * pow((sn - 1) / (N_SNAP - 2.0), 0.8)));
        double gen = sig((lstep(s) - 3.5) * 6), ipr[N_NEURONS], power[N_K], sum = 0;
        for (int r = 0; r < N_NEURONS; r++)
            ipr[r] = 0.04 + 0.02 * uniform() + gen * 0.9 * (1 - pow((double)r / N_NEURONS, 3)) * (0.9 + 0.1 * uniform());
        qsort(ipr, N_NEURONS, sizeof ipr[0], by_decreasing);
        for (int r = 0; r < N_NEURONS; r++) fprintf(fi, "%d,%ld,%d,%.6g\n", sn, s, r, ipr[r]);
        for (int k = 0; k < N_K; k++) {
            power[k] = 0.5 + uniform() + gen * (k == 5 || k == 17 || k == 23 ? 60 : k == 41 ? 25 : 0);
            sum += power[k];
        }
        for (int k = 0; k < N_K; k++) fprintf(fp, "%d,%ld,%d,%.6g\n", sn, s, k, power[k] / sum);
        if (blank_lines) {
            fprintf(fi, "\n");
            fprintf(fp, "\n");
        }
    }
    fclose(fi);
    fclose(fp);
}

/* The size of dir/name, -1 when it does not exist. */
static long file_size(const char *dir, const char *name) {
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* Whether dir/name contains text. */
static int file_has(const char *dir, const char *name, const char *text) {
    char p[1024], line[4096];
    int found = 0;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

/* Figure name is drawn in dir: its script, PNG and SVG are there, none
 * empty, and the script does not name the temporary folder (its paths are
 * relative); want 0: none of them is there. */
static void check_figure(const char *what, const char *dir, const char *name, int want) {
    char f[3][128];
    long sz[3];
    static const char *const ext[3] = {"gp", "png", "svg"};
    for (int i = 0; i < 3; i++) {
        snprintf(f[i], sizeof f[i], "%s.%s", name, ext[i]);
        sz[i] = file_size(dir, f[i]);
    }
    if (!want) {
        CHECK(sz[0] < 0 && sz[1] < 0 && sz[2] < 0, "%s: %s is skipped (no .gp, .png or .svg)", what, name);
        return;
    }
    int relative = 0;
    char p[1024], *text = NULL;
    snprintf(p, sizeof p, "%s/%s", dir, f[0]);
    FILE *fp = fopen(p, "r");
    if (fp) {
        text = calloc(1, (size_t)sz[0] + 1);
        if (text && fread(text, 1, (size_t)sz[0], fp) == (size_t)sz[0]) relative = strstr(text, base) == NULL;
        free(text);
        fclose(fp);
    }
    CHECK(sz[0] > 0 && sz[1] > 0 && sz[2] > 0 && relative, "%s: %s drawn (gp %ld, png %ld, svg %ld bytes; paths relative: %d)",
          what, name, sz[0], sz[1], sz[2], relative);
}

static const char *const figures[4] = {"dynamics_accuracy", "dynamics_times", "dynamics_ipr", "dynamics_power"};

/* A run folder base/name with its dynamics/ folder, all the tables written
 * (clean: a run without corrupted examples). */
static void full_run(const char *name, char *run, char *dyn, size_t size, int clean) {
    snprintf(run, size, "%s/%s", base, name);
    snprintf(dyn, size, "%s/dynamics", run);
    make_dir(run);
    make_dir(dyn);
    write_run(run, clean);
    write_progress(dyn, 4.3, progress_head, clean);
    write_neurons(dyn, 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

int main(void) {
    if (system("gnuplot --version > /dev/null 2>&1") != 0) {
        printf("SKIP: gnuplot is not installed\n");
        return 77;
    }
    snprintf(base, sizeof base, "/tmp/gl_test_dynamics_fig_XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char run[512], dyn[512], p[1024];
    gl_error e = {"", 0};

    /* every figure, on a log step axis and on a linear one */
    full_run("log", run, dyn, sizeof run, 0);
    int rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == 0, "log axes: gl_figure_dynamics returns 0 (%s)", rc ? e.msg : "ok");
    for (int i = 0; i < 4; i++) check_figure("log axes", dyn, figures[i], 1);
    CHECK(file_has(dyn, "dynamics_accuracy.gp", "(5 17 23 at step 100000)"),
          "the accuracy figure's title names the last row's key frequencies and step");
    full_run("linear", run, dyn, sizeof run, 0);
    write_neurons(dyn, 1); /* a blank line between snapshots is drawn the same */
    rc = gl_figure_dynamics(dyn, "..", 0, &e);
    CHECK(rc == 0, "linear axes, blank lines between snapshots: returns 0 (%s)", rc ? e.msg : "ok");
    for (int i = 0; i < 4; i++) check_figure("linear axes", dyn, figures[i], 1);

    /* a run without corrupted examples: their lines and histograms are empty, the rest is drawn */
    full_run("clean", run, dyn, sizeof run, 1);
    rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == 0, "no corrupted examples: returns 0 (%s)", rc ? e.msg : "ok");
    for (int i = 0; i < 4; i++) check_figure("no corrupted examples", dyn, figures[i], 1);
    rc = gl_figure_dynamics(dyn, NULL, 1, &e);
    CHECK(rc == 0, "run NULL: returns 0 (%s)", rc ? e.msg : "ok");

    /* without metrics.csv the histograms are drawn alone */
    full_run("no_metrics", run, dyn, sizeof run, 0);
    snprintf(p, sizeof p, "%s/metrics.csv", run);
    remove(p);
    rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == 0, "no metrics.csv: returns 0 (%s)", rc ? e.msg : "ok");
    check_figure("no metrics.csv", dyn, "dynamics_times", 1);

    /* absent tables, and one with no rows, are skipped without an error */
    snprintf(dyn, sizeof dyn, "%s/partial", base);
    make_dir(dyn);
    write_neurons(dyn, 0);
    snprintf(p, sizeof p, "%s/neuron_ipr.csv", dyn);
    remove(p);
    FILE *f = open_in(dyn, "progress.csv");
    if (f) {
        fprintf(f, "%s\n\n", progress_head);
        fclose(f);
    }
    rc = gl_figure_dynamics(dyn, "no_such_run", 1, &e);
    CHECK(rc == 0, "absent tables and a header-only progress.csv: returns 0 (%s)", rc ? e.msg : "ok");
    check_figure("header only", dyn, "dynamics_accuracy", 0);
    check_figure("no examples.csv", dyn, "dynamics_times", 0);
    check_figure("no neuron_ipr.csv", dyn, "dynamics_ipr", 0);
    check_figure("partial", dyn, "dynamics_power", 1);
    snprintf(dyn, sizeof dyn, "%s/empty", base);
    make_dir(dyn);
    rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == 0, "an empty folder: returns 0, nothing drawn (%s)", rc ? e.msg : "ok");
    for (int i = 0; i < 4; i++) check_figure("empty folder", dyn, figures[i], 0);

    /* a header that is another: GL_E_CORRUPT naming the column; the other figures are drawn */
    full_run("bad_header", run, dyn, sizeof run, 0);
    char bad[sizeof progress_head];
    snprintf(bad, sizeof bad, "%s", progress_head);
    memcpy(strstr(bad, "full_clean_acc"), "full_clean_err", 14);
    write_progress(dyn, 4.3, bad, 0);
    rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == GL_E_CORRUPT && strstr(e.msg, "progress.csv: column 5") && strstr(e.msg, "'full_clean_err'") &&
              strstr(e.msg, "'full_clean_acc'"),
          "a progress.csv with another header: GL_E_CORRUPT (%d), naming column 5: %s", rc, e.msg);
    check_figure("bad progress.csv header", dyn, "dynamics_accuracy", 0);
    for (int i = 1; i < 4; i++) check_figure("bad progress.csv header", dyn, figures[i], 1);
    f = open_in(run, "examples.csv");
    if (f) {
        fprintf(f, "index,m,n,label\n0,1,2,3\n");
        fclose(f);
    }
    rc = gl_figure_dynamics(dyn, "..", 1, &e);
    CHECK(rc == GL_E_CORRUPT && strstr(e.msg, "progress.csv: column 5"),
          "two bad tables: the first error is returned (%s)", e.msg);

    /* the panels of three runs (weight decay 0, 5, 15), and one that is absent */
    const char *dirs[3] = {"wd0", "wd5", "wd15"}, *labels[3] = {"wd 0", "wd 5", "wd 15"};
    double fade[3] = {0, 4.3, 3.8};
    for (int i = 0; i < 3; i++) {
        snprintf(dyn, sizeof dyn, "%s/%s", base, dirs[i]);
        make_dir(dyn);
        write_progress(dyn, fade[i], progress_head, 0);
    }
    rc = gl_figure_dynamics_panels(base, "dynamics_panels", 3, dirs, labels, &e);
    CHECK(rc == 0, "gl_figure_dynamics_panels returns 0 (%s)", rc ? e.msg : "ok");
    check_figure("panels", base, "dynamics_panels", 1);
    const char *missing[2] = {"wd0", "wd99"};
    rc = gl_figure_dynamics_panels(base, "dynamics_panels_missing", 2, missing, labels, &e);
    CHECK(rc == GL_E_IO && strstr(e.msg, "wd99/progress.csv"), "panels: an absent progress.csv fails with GL_E_IO (%d: %s)",
          rc, e.msg);
    check_figure("panels with an absent table", base, "dynamics_panels_missing", 0);

    const char *keep = getenv("DYNAMICS_FIG_KEEP");
    if (keep && keep[0] == '1')
        printf("kept %s\n", base);
    else
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
