/* Run directories (groklab/io.h): a small run (p 11, width 8, 20 steps,
 * log every 5, noise 0.2, frac 0.6) written into a temporary directory and
 * read back independently: metrics.csv with this file's own CSV parsing
 * against gl_trainer_rows to the printed precision (%.9g); summary.json with
 * cJSON (phase from gl_phase_of_run, final row, milestones, sizes computed
 * here); config.json round trip; model.safetensors and init.safetensors read
 * with gl_st_get in the paper's shapes (U[k][i] is params[off_u + i N + k])
 * and through gl_run_load_model; data.safetensors through gl_run_load_data
 * and against the task's labels; gl_run_resume from a step-10 checkpoint
 * continues bit for bit; refused inputs (an existing run directory without
 * --force, a file as the directory, a config of another width, a checkpoint
 * beyond --steps, a label >= p) with messages, leaving files unchanged. */
#define _GNU_SOURCE /* nftw */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "config_diff.h"
#include "read_bytes.h"
#include "groklab/io.h"
#include "groklab/metrics.h"
#include "groklab/train.h"

static char base[256];

static void path_in(char *out, size_t cap, const char *d, const char *name) { snprintf(out, cap, "%s/%s", d, name); }

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* Every file of a directory (names and bytes) in one buffer, for before/after
 * comparisons; caller frees. */
static char *snapshot(const char *d, size_t *len) {
    struct dirent **names = NULL;
    int n = scandir(d, &names, NULL, alphasort);
    size_t cap = 1024, used = 0;
    char *out = malloc(cap);
    for (int i = 0; i < n; i++) {
        char p[1024];
        path_in(p, sizeof p, d, names[i]->d_name);
        struct stat st;
        size_t bl = 0;
        char *b = stat(p, &st) == 0 && S_ISREG(st.st_mode) ? read_bytes(p, &bl) : NULL;
        size_t need = strlen(names[i]->d_name) + 1 + bl;
        if (used + need > cap) {
            cap = 2 * (used + need);
            out = realloc(out, cap);
        }
        memcpy(out + used, names[i]->d_name, strlen(names[i]->d_name) + 1);
        used += strlen(names[i]->d_name) + 1;
        if (b) memcpy(out + used, b, bl), used += bl;
        free(b);
        free(names[i]);
    }
    free(names);
    *len = used;
    return out;
}

static void run_config(gl_config *c) {
    gl_config_default(c);
    static const char *sets[][2] = {{"p", "11"},        {"width", "8"},    {"steps", "20"}, {"log_every", "5"},
                                    {"noise", "0.2"},   {"frac", "0.6"},   {"seed", "3"},   {"split_seed", "4"},
                                    {"noise_seed", "5"}, {"threads", "1"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) gl_config_set(c, sets[i][0], sets[i][1], NULL);
}

enum { NCOL = 18 };
static void values_of(const gl_metrics *m, double v[NCOL]) {
    double t[NCOL] = {(double)m->step, m->train_loss, m->test_loss, m->train_acc, m->test_acc, m->corrupted_acc,
                      m->corrupted_true_acc, m->clean_acc, m->norm_u, m->norm_v, m->norm_w, m->mean_ipr,
                      m->ipr_u, m->ipr_v, m->ipr_w, m->grad_norm, m->gamma_mean, m->gamma_std};
    memcpy(v, t, sizeof t);
}

/* ---- metrics.csv, parsed here ---- */

static void check_metrics_csv(const char *dir, gl_trainer *t) {
    char p[1024];
    path_in(p, sizeof p, dir, "metrics.csv");
    char *s = read_bytes(p, NULL);
    CHECK(s != NULL, "metrics.csv exists");
    if (!s) return;
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    /* split into lines */
    char *lines[256];
    int nl = 0;
    for (char *q = s, *end; *q && nl < 256; q = end + 1) {
        end = strchr(q, '\n');
        if (!end) { /* the last line must end with a newline */
            lines[nl++] = q;
            break;
        }
        *end = 0;
        lines[nl++] = q;
    }
    CHECK(nl >= 1 && !strcmp(lines[0], "step,train_loss,test_loss,train_acc,test_acc,corrupted_acc,corrupted_true_acc,"
                                        "clean_acc,norm_u,norm_v,norm_w,mean_ipr,ipr_u,ipr_v,ipr_w,grad_norm,gamma_mean,gamma_std"),
          "metrics.csv's header is docs/outputs.md's column list: %s", nl ? lines[0] : "");
    CHECK(nl - 1 == n && n == 5, "metrics.csv has one line per logged row (%d lines, %ld rows, steps 0 5 10 15 20)", nl - 1,
          n);
    int bad_fields = 0, bad_num = 0, bad_text = 0, bad_step = 0;
    double worst = 0;
    for (long i = 0; i < n && i + 1 < nl; i++) {
        char *fields[NCOL + 4];
        int nf = 0;
        for (char *q = lines[i + 1];; q++) {
            fields[nf++] = q;
            q = strchr(q, ',');
            if (!q || nf == NCOL + 4) break;
            *q = 0;
        }
        if (nf != NCOL) {
            bad_fields++;
            continue;
        }
        double v[NCOL];
        values_of(&rows[i], v);
        char want[64];
        snprintf(want, sizeof want, "%ld", rows[i].step);
        if (strcmp(fields[0], want)) bad_step++;
        for (int c = 1; c < NCOL; c++) {
            char *end;
            double x = strtod(fields[c], &end);
            if (*end) bad_fields++;
            if (isnan(v[c])) {
                bad_num += !isnan(x);
            } else {
                double err = fabs(x - v[c]) / fmax(fabs(v[c]), 1e-300);
                if (err > worst) worst = err;
                bad_num += err > 5.0000001e-9; /* %.9g: half a unit in the ninth digit */
            }
            snprintf(want, sizeof want, "%.9g", v[c]);
            if (strcmp(want, fields[c])) {
                if (bad_text < 3) printf("  row %ld column %d: '%s', %%.9g of the trainer's value is '%s'\n", i, c, fields[c], want);
                bad_text++;
            }
        }
    }
    CHECK(bad_fields == 0 && bad_step == 0, "every row has 18 numeric fields and its step (%d bad fields, %d bad steps)",
          bad_fields, bad_step);
    CHECK(bad_num == 0, "every value equals gl_trainer_rows to 9 significant digits (worst relative error %.3g, %d off)",
          worst, bad_num);
    CHECK(bad_text == 0, "every value is the trainer's value printed with %%.9g (%d differ)", bad_text);
    int acc_ok = 1;
    for (long i = 0; i < n; i++)
        acc_ok &= rows[i].train_acc >= 0 && rows[i].train_acc <= 1 && rows[i].test_acc >= 0 && rows[i].test_acc <= 1 &&
                  !isnan(rows[i].corrupted_acc);
    CHECK(acc_ok, "(accuracies are fractions; corrupted accuracy is defined with noise 0.2)");
    free(s);
}

/* ---- summary.json with cJSON ---- */

static double num(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static void check_summary(const char *dir, gl_trainer *t, const gl_config *c) {
    char p[1024];
    path_in(p, sizeof p, dir, "summary.json");
    char *s = read_bytes(p, NULL);
    cJSON *o = s ? cJSON_Parse(s) : NULL;
    CHECK(cJSON_IsObject(o), "summary.json is a JSON object");
    if (!o) {
        free(s);
        return;
    }
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    gl_milestones ms;
    const gl_metrics *last = NULL;
    gl_phase ph = gl_phase_of_run(rows, n, c->noise, 0, &ms, &last);
    const cJSON *phase = cJSON_GetObjectItemCaseSensitive(o, "phase");
    CHECK(cJSON_IsString(phase) && !strcmp(phase->valuestring, gl_phase_name(ph)),
          "summary phase is gl_phase_of_run's: %s (got %s)", gl_phase_name(ph),
          cJSON_IsString(phase) ? phase->valuestring : "?");
    CHECK(last == &rows[n - 1], "(the phase of a run that did not diverge is read from its last row)");
    static const char *const keys[] = {"train_loss", "test_loss", "train_acc", "test_acc", "corrupted_acc",
                                       "corrupted_true_acc", "clean_acc", "norm_u", "norm_v", "norm_w", "mean_ipr"};
    double v[NCOL];
    values_of(&rows[n - 1], v);
    double worst = 0;
    int missing = 0;
    for (int k = 0; k < 11; k++) {
        double x = num(o, keys[k]);
        if (isnan(x)) missing++;
        else worst = check_worse(worst, fabs(x - v[k + 1]) / fmax(fabs(v[k + 1]), 1e-300));
    }
    CHECK(missing == 0 && worst < 1e-14, "summary's final metrics are the last row's (worst relative error %.3g, %d missing)",
          worst, missing);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "milestones");
    static const char *const mk[] = {"train_acc_90", "test_acc_90", "unlearned"};
    long want[3] = {ms.train90, ms.test90, ms.unlearn};
    int bad = !cJSON_IsObject(m);
    for (int k = 0; k < 3 && !bad; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, mk[k]);
        bad += want[k] < 0 ? !cJSON_IsNull(x) : !(cJSON_IsNumber(x) && x->valuedouble == (double)want[k]);
    }
    CHECK(bad == 0, "summary milestones are gl_milestones_compute's (%ld, %ld, %ld; null for none)", ms.train90, ms.test90,
          ms.unlearn);
    long n_train = (long)floor(c->frac * c->p * c->p), n_corrupt = (long)floor(c->noise * (double)n_train);
    CHECK(num(o, "steps") == 20 && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "diverged_at")) &&
              num(o, "n_train") == n_train && num(o, "n_test") == c->p * c->p - n_train &&
              num(o, "n_corrupted") == n_corrupt && num(o, "p") == 11 && num(o, "frac") == 0.6 && num(o, "noise") == 0.2,
          "summary: steps 20, diverged_at null, n_train floor(0.6 * 121) = %ld, n_test %ld, n_corrupted floor(0.2 * %ld) = %ld",
          n_train, c->p * c->p - n_train, n_train, n_corrupt);
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    CHECK(cJSON_IsString(task) && !strcmp(task->valuestring, "add") && num(o, "wall_seconds") >= 0,
          "summary: task add, wall_seconds");
    cJSON_Delete(o);
    free(s);
}

/* ---- weights, read with gl_st_get ---- */

static void check_weights_file(const char *dir, const char *which, const float *params, const gl_layout *L, long step) {
    char p[1024], name[64];
    snprintf(name, sizeof name, "%s.safetensors", which);
    path_in(p, sizeof p, dir, name);
    gl_st_file *f = NULL;
    gl_error e = {{0}, 0};
    if (gl_st_open(&f, p, &e) != 0) {
        CHECK(0, "%s opens: %s", name, e.msg);
        return;
    }
    int N = L->N, P = L->p;
    gl_st_tensor U, V, W;
    int ok = gl_st_get(f, "U", GL_ST_F32, (int64_t)N * P, &U, &e) == 0 && gl_st_get(f, "V", GL_ST_F32, (int64_t)N * P, &V, &e) == 0 &&
             gl_st_get(f, "W", GL_ST_F32, (int64_t)N * P, &W, &e) == 0;
    CHECK(ok && gl_st_count(f) == 3, "%s holds U, V, W (and nothing else without a norm): %d tensors %s", name,
          gl_st_count(f), ok ? "" : e.msg);
    if (ok) {
        CHECK(U.ndim == 2 && U.shape[0] == N && U.shape[1] == P && V.ndim == 2 && V.shape[0] == N && V.shape[1] == P &&
                  W.ndim == 2 && W.shape[0] == P && W.shape[1] == N,
              "%s: U and V are (N, p) = (%d, %d), W is (p, N)", name, N, P);
        const float *u = U.data, *v = V.data, *w = W.data;
        long bad = 0;
        for (int k = 0; k < N; k++)
            for (int i = 0; i < P; i++) {
                bad += memcmp(&u[k * P + i], &params[L->off_u + (size_t)i * N + k], sizeof(float)) != 0;
                bad += memcmp(&v[k * P + i], &params[L->off_v + (size_t)i * N + k], sizeof(float)) != 0;
                bad += memcmp(&w[i * N + k], &params[L->off_w + (size_t)i * N + k], sizeof(float)) != 0;
            }
        CHECK(bad == 0, "%s: U[k][i] = params[off_u + i N + k], V likewise, W[i][k] = params[off_w + i N + k] (%ld differ)",
              name, bad);
    }
    const char *st = gl_st_meta_get(f, "step"), *model = gl_st_meta_get(f, "model");
    CHECK(st && atol(st) == step && model && !strcmp(model, "mlp"), "%s metadata: step %ld, model mlp (got %s, %s)", name,
          step, st ? st : "-", model ? model : "-");
    gl_st_close(f);
}

/* ---- data.safetensors, rewritten with one change ---- */

static int write_data_copy(const char *src_dir, const char *dst_dir, const char *tensor, long idx, int32_t value) {
    char p[1024];
    path_in(p, sizeof p, src_dir, "data.safetensors");
    gl_st_file *f = NULL;
    gl_error e;
    if (gl_st_open(&f, p, &e) != 0) return -1;
    static const char *const names[] = {"train_m", "train_n", "train_label", "train_true_label", "train_corrupted",
                                        "test_m",  "test_n",  "test_label"};
    gl_st_writer *w = gl_st_writer_new();
    void *copies[8] = {0};
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++) {
        gl_st_tensor t;
        if (gl_st_get(f, names[i], (gl_st_dtype)-1, -1, &t, &e) != 0) {
            rc = -1;
            break;
        }
        size_t es = t.dtype == GL_ST_U8 ? 1 : 4;
        copies[i] = malloc((size_t)t.shape[0] * es + 1);
        memcpy(copies[i], t.data, (size_t)t.shape[0] * es);
        if (tensor && !strcmp(tensor, names[i])) ((int32_t *)copies[i])[idx] = value;
        rc = gl_st_add(w, names[i], t.dtype, t.ndim, t.shape, copies[i], &e);
    }
    const char *pm = gl_st_meta_get(f, "p");
    if (!rc) rc = gl_st_meta(w, "p", pm ? pm : "11", &e);
    mkdir(dst_dir, 0755);
    path_in(p, sizeof p, dst_dir, "data.safetensors");
    if (!rc) rc = gl_st_writer_save(w, p, &e);
    if (rc) printf("  rewriting data.safetensors: %s\n", e.msg);
    gl_st_writer_free(w);
    for (int i = 0; i < 8; i++) free(copies[i]);
    gl_st_close(f);
    return rc;
}

static int same_data(const gl_dataset *a, const gl_dataset *b) {
    if (a->p != b->p || a->n_train != b->n_train || a->n_test != b->n_test || a->n_corrupt != b->n_corrupt) return 0;
    size_t tr = (size_t)a->n_train * sizeof(int32_t), te = (size_t)a->n_test * sizeof(int32_t);
    return !memcmp(a->train_m, b->train_m, tr) && !memcmp(a->train_n, b->train_n, tr) && !memcmp(a->train_y, b->train_y, tr) &&
           !memcmp(a->train_true, b->train_true, tr) && !memcmp(a->test_m, b->test_m, te) &&
           !memcmp(a->test_n, b->test_n, te) && !memcmp(a->test_y, b->test_y, te);
}

int main(void) {
    snprintf(base, sizeof base, "/tmp/gl_test_run_XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char dir[512], mid[512], p[1024];
    snprintf(dir, sizeof dir, "%s/run", base);
    snprintf(mid, sizeof mid, "%s/mid", base);
    gl_config c;
    run_config(&c);
    gl_error e = {{0}, 0};
    gl_trainer *t = NULL;
    if (gl_trainer_create(&t, &c, &e) != 0) {
        printf("trainer: %s\n", e.msg);
        return 1;
    }
    const gl_config *tc = gl_trainer_config(t);
    /* a checkpointed run at step 10 ... */
    int rc = gl_run_prepare(mid, 0, &e) || gl_run_write_config(mid, tc, &e) ||
             gl_run_write_data(mid, gl_trainer_data(t), &e) || gl_run_write_weights(mid, "init", t, &e) ||
             gl_trainer_advance(t, 10, 1, &e) || gl_run_save_all(mid, t, &e);
    CHECK(rc == 0 && gl_trainer_step_count(t) == 10, "a run saved at step 10 (%s)", rc ? e.msg : "");
    /* ... and the same run to its end, 20 steps */
    rc = gl_run_prepare(dir, 0, &e) || gl_run_write_config(dir, tc, &e) || gl_run_write_data(dir, gl_trainer_data(t), &e) ||
         gl_run_write_weights(dir, "init", t, &e) || gl_trainer_advance(t, 20, 1, &e) || gl_run_save_all(dir, t, &e);
    CHECK(rc == 0 && gl_trainer_step_count(t) == 20 && gl_trainer_diverged_at(t) < 0, "the run saved at step 20 (%s)",
          rc ? e.msg : "");
    static const char *const files[] = {"config.json", "data.safetensors", "init.safetensors", "model.safetensors",
                                        "checkpoint.safetensors", "metrics.csv", "summary.json"};
    int have = 0;
    struct stat st;
    for (int i = 0; i < 7; i++) {
        path_in(p, sizeof p, dir, files[i]);
        have += stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    }
    path_in(p, sizeof p, dir, ".groklab-probe");
    CHECK(have == 7 && stat(p, &st) != 0, "the run directory has its 7 files and no leftover probe");

    check_metrics_csv(dir, t);
    check_summary(dir, t, tc);

    /* config.json */
    gl_config back;
    gl_config_default(&back);
    path_in(p, sizeof p, dir, "config.json");
    rc = gl_run_read_config(p, &back, &e);
    CHECK(rc == 0 && first_difference(&back, tc) < 0, "config.json reads back as the trainer's config, every field (%s)",
          rc ? e.msg : "");
    char *cj = read_bytes(p, NULL);
    cJSON *co = cj ? cJSON_Parse(cj) : NULL;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(co, "act"), *ver = cJSON_GetObjectItemCaseSensitive(co, "groklab_version");
    CHECK(cJSON_IsString(act) && !strcmp(act->valuestring, "quadratic") && cJSON_IsString(ver) &&
              num(co, "width") == 8 && num(co, "p") == 11 && num(co, "noise") == 0.2,
          "config.json records the resolved act (quadratic), the version, width 8, p 11, noise 0.2");
    cJSON_Delete(co);
    free(cj);

    /* weights: the files, read here, and gl_run_load_model */
    const gl_layout *L = gl_trainer_layout(t);
    const gl_net *net = gl_trainer_net(t);
    check_weights_file(dir, "model", gl_trainer_params(t), L, 20);
    check_weights_file(dir, "init", gl_trainer_init_params(t), L, 0);
    gl_model m;
    rc = gl_run_load_model(dir, "model", tc, &m, &e);
    CHECK(rc == 0 && m.net.n_params == net->n_params &&
              !memcmp(m.params, gl_trainer_params(t), net->n_params * sizeof(float)) && m.step == 20 &&
              m.run_mean == NULL && m.L.off_u == L->off_u && m.L.off_w == L->off_w,
          "gl_run_load_model(model) gives the trainer's %zu parameters bit for bit, step 20 (%s)", net->n_params,
          rc ? e.msg : "");
    if (rc == 0) gl_model_free(&m);
    rc = gl_run_load_model(dir, "init", tc, &m, &e);
    CHECK(rc == 0 && !memcmp(m.params, gl_trainer_init_params(t), net->n_params * sizeof(float)) && m.step == 0,
          "gl_run_load_model(init) gives the initial parameters, step 0 (%s)", rc ? e.msg : "");
    if (rc == 0) gl_model_free(&m);
    CHECK(memcmp(gl_trainer_params(t), gl_trainer_init_params(t), net->n_params * sizeof(float)) != 0,
          "(training moved the weights)");

    /* gl_run_load_weights: both files; only the final one; none */
    gl_model m0;
    int has_init = -1;
    rc = gl_run_load_weights(dir, tc, &m, &m0, &has_init, &e);
    CHECK(rc == 0 && has_init == 1 && !memcmp(m.params, gl_trainer_params(t), net->n_params * sizeof(float)) &&
              !memcmp(m0.params, gl_trainer_init_params(t), net->n_params * sizeof(float)),
          "gl_run_load_weights gives the final and the initial parameters bit for bit (%s)", rc ? e.msg : "");
    if (rc == 0) gl_model_free(&m), gl_model_free(&m0);
    char only[1024], src[1100], dst[1100];
    path_in(only, sizeof only, dir, "only-model");
    mkdir(only, 0755);
    path_in(src, sizeof src, dir, "model.safetensors");
    path_in(dst, sizeof dst, only, "model.safetensors");
    size_t nb = 0;
    char *mb = read_bytes(src, &nb);
    FILE *mf = fopen(dst, "wb");
    if (mf && mb) fwrite(mb, 1, nb, mf);
    if (mf) fclose(mf);
    free(mb);
    rc = gl_run_load_weights(only, tc, &m, &m0, &has_init, &e);
    CHECK(rc == 0 && has_init == 0 && m0.params == NULL &&
              !memcmp(m.params, gl_trainer_params(t), net->n_params * sizeof(float)),
          "without init.safetensors: the final parameters, no initial ones (%s)", rc ? e.msg : "");
    if (rc == 0) gl_model_free(&m);
    remove(dst);
    rc = gl_run_load_weights(only, tc, &m, &m0, &has_init, &e);
    CHECK(rc == GL_E_INPUT && m.params == NULL && strstr(e.msg, "only-model has no weights") &&
              strstr(e.msg, "model.safetensors is missing") && strstr(e.msg, "--resume"),
          "without model.safetensors: refused, naming the file and how to resume: %s", e.msg);
    remove(only);

    /* data */
    gl_dataset d;
    rc = gl_run_load_data(dir, tc, &d, &e);
    const gl_dataset *td = gl_trainer_data(t);
    CHECK(rc == 0 && same_data(&d, td), "gl_run_load_data equals gl_trainer_data (%s)", rc ? e.msg : "");
    if (rc == 0) {
        long n_train = (long)floor(0.6 * 121), n_corrupt = (long)floor(0.2 * (double)n_train);
        int seen[121] = {0}, bad = 0, changed = 0;
        for (int i = 0; i < d.n_train; i++) {
            bad += d.train_true[i] != (d.train_m[i] + d.train_n[i]) % 11;
            bad += i >= d.n_corrupt && d.train_y[i] != d.train_true[i];
            changed += d.train_y[i] != d.train_true[i];
            seen[d.train_m[i] * 11 + d.train_n[i]]++;
        }
        for (int i = 0; i < d.n_test; i++) {
            bad += d.test_y[i] != (d.test_m[i] + d.test_n[i]) % 11;
            seen[d.test_m[i] * 11 + d.test_n[i]]++;
        }
        int once = 0;
        for (int k = 0; k < 121; k++) once += seen[k] == 1;
        CHECK(d.n_train == n_train && d.n_test == 121 - n_train && d.n_corrupt == n_corrupt && d.p == 11,
              "data: %ld train, %ld test, %ld corrupted (got %d, %d, %d)", n_train, 121 - n_train, n_corrupt, d.n_train,
              d.n_test, d.n_corrupt);
        CHECK(bad == 0 && once == 121 && changed <= n_corrupt,
              "data: true labels (m + n) mod 11, clean labels given as true, every pair once (%d bad, %d pairs once, "
              "%d labels changed)",
              bad, once, changed);
        gl_dataset_free(&d);
    }

    /* resume from the step-10 checkpoint: the same history, then the same steps */
    gl_trainer *t2 = NULL;
    rc = gl_trainer_create(&t2, &c, &e);
    if (rc == 0) rc = gl_run_resume(mid, t2, &e);
    long n1, n2;
    const gl_metrics *r1 = gl_trainer_rows(t, &n1);
    const gl_metrics *r2 = rc == 0 ? gl_trainer_rows(t2, &n2) : NULL;
    int hist_ok = rc == 0 && gl_trainer_step_count(t2) == 10 && n2 == 3;
    for (long i = 0; hist_ok && i < n2; i++) {
        double a[NCOL], b[NCOL];
        values_of(&r1[i], a);
        values_of(&r2[i], b);
        for (int k = 0; k < NCOL; k++)
            hist_ok &= isnan(a[k]) ? isnan(b[k]) : fabs(a[k] - b[k]) <= 5.0000001e-9 * fabs(a[k]);
    }
    CHECK(hist_ok, "gl_run_resume restores step 10 and the 3 logged rows (to 9 digits) (%s)", rc ? e.msg : "");
    if (rc == 0) {
        rc = gl_trainer_advance(t2, 20, 1, &e);
        r2 = gl_trainer_rows(t2, &n2);
        int same = rc == 0 && n2 == n1 && gl_trainer_step_count(t2) == 20;
        for (long i = 3; same && i < n1; i++) {
            double a[NCOL], b[NCOL];
            values_of(&r1[i], a);
            values_of(&r2[i], b);
            for (int k = 0; k < NCOL; k++) same &= (isnan(a[k]) && isnan(b[k])) || a[k] == b[k];
        }
        CHECK(same, "the resumed run logs steps 15 and 20 exactly as the uninterrupted one");
        CHECK(rc == 0 && !memcmp(gl_trainer_params(t2), gl_trainer_params(t), net->n_params * sizeof(float)),
              "the resumed run ends with the same weights bit for bit");
    }
    gl_trainer_free(t2);

    /* ---- refused inputs ---- */
    size_t l0, l1;
    char *s0 = snapshot(dir, &l0);
    rc = gl_run_prepare(dir, 0, &e);
    char *s1 = snapshot(dir, &l1);
    CHECK(rc == -1 && strstr(e.msg, "--force") && strstr(e.msg, dir) && l0 == l1 && !memcmp(s0, s1, l0),
          "gl_run_prepare on an existing run without force is refused, every file unchanged: %s", e.msg);
    free(s0), free(s1);
    CHECK(gl_run_prepare(dir, 1, &e) == 0, "with force it is allowed");
    char empty[512], nested[600];
    snprintf(empty, sizeof empty, "%s/empty", base);
    mkdir(empty, 0755);
    snprintf(nested, sizeof nested, "%s/a/b/c", base);
    CHECK(gl_run_prepare(empty, 0, &e) == 0 && gl_run_prepare(nested, 0, &e) == 0 && stat(nested, &st) == 0 &&
              S_ISDIR(st.st_mode),
          "an empty directory, and a new nested one, are fine without force");
    char afile[512];
    snprintf(afile, sizeof afile, "%s/afile", base);
    FILE *f = fopen(afile, "w");
    fprintf(f, "not a directory\n");
    fclose(f);
    for (int force = 0; force < 2; force++) {
        size_t a0 = 0, a1 = 0;
        char *b0 = read_bytes(afile, &a0);
        rc = gl_run_prepare(afile, force, &e);
        char *b1 = read_bytes(afile, &a1);
        CHECK(rc == -1 && strstr(e.msg, "not a directory") && a0 == a1 && !memcmp(b0, b1, a0),
              "gl_run_prepare on a file (force %d) is refused, the file unchanged: %s", force, e.msg);
        free(b0), free(b1);
    }
    /* a config of another width */
    gl_config wide = *tc;
    wide.width = 9;
    rc = gl_run_load_model(dir, "model", &wide, &m, &e);
    CHECK(rc == GL_E_CORRUPT && e.code == GL_E_CORRUPT && strstr(e.msg, "'U'") && strstr(e.msg, "(8, 11)") && strstr(e.msg, "(9, 11)"),
          "gl_run_load_model with width 9 is refused naming the tensor and both shapes: %s", e.msg);
    if (rc == 0) gl_model_free(&m);
    /* a checkpoint beyond --steps */
    gl_config shortc = c;
    gl_config_set(&shortc, "steps", "5", NULL);
    gl_trainer *t3 = NULL;
    rc = gl_trainer_create(&t3, &shortc, &e);
    if (rc == 0) rc = gl_run_resume(dir, t3, &e);
    CHECK(rc == -1 && strstr(e.msg, "step 20") && strstr(e.msg, "--steps 5"),
          "gl_run_resume of a step-20 checkpoint with --steps 5 is refused: %s", e.msg);
    gl_trainer_free(t3);
    /* labels outside [0, p) */
    char good[512], bad1[512], bad2[512];
    snprintf(good, sizeof good, "%s/copy", base);
    snprintf(bad1, sizeof bad1, "%s/bad1", base);
    snprintf(bad2, sizeof bad2, "%s/bad2", base);
    rc = write_data_copy(dir, good, NULL, 0, 0) || write_data_copy(dir, bad1, "train_label", 3, 11) ||
         write_data_copy(dir, bad2, "test_label", 0, -1);
    gl_dataset d2;
    int rg = gl_run_load_data(good, tc, &d2, &e);
    CHECK(rc == 0 && rg == 0 && same_data(&d2, td), "an unchanged copy of data.safetensors written here loads as the data");
    if (rg == 0) gl_dataset_free(&d2);
    rc = gl_run_load_data(bad1, tc, &d2, &e);
    CHECK(rc == GL_E_CORRUPT && strstr(e.msg, "train_label[3] = 11") && strstr(e.msg, "data.safetensors"),
          "a train label 11 >= p is refused naming the tensor and entry: %s", e.msg);
    rc = gl_run_load_data(bad2, tc, &d2, &e);
    CHECK(rc == GL_E_CORRUPT && strstr(e.msg, "test_label[0] = -1"), "a test label -1 is refused: %s", e.msg);
    gl_config p7 = *tc;
    p7.p = 7;
    rc = gl_run_load_data(dir, &p7, &d2, &e);
    CHECK(rc == GL_E_CORRUPT && strstr(e.msg, "outside [0, 7)"), "the run's data with a config of p 7 is refused: %s", e.msg);

    gl_trainer_free(t);
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    CHECK(stat(base, &st) != 0, "the temporary directory %s is removed", base);
    return CHECK_DONE();
}
