/* Tasks, split and corruption: invariants of docs/paper.md section 2, checked
 * against direct computation. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/data.h"

static int make(gl_dataset *d, const char *task, int p, double frac, double noise, uint64_t s1,
                uint64_t s2) {
    gl_config c;
    gl_config_default(&c);
    strcpy(c.task, task);
    c.p = p;
    c.frac = frac;
    c.noise = noise;
    c.split_seed = s1;
    c.noise_seed = s2;
    gl_error e;
    int rc = gl_dataset_create(d, &c, &e);
    if (rc) printf("dataset: %s\n", e.msg);
    return rc;
}

int main(void) {
    /* labels against independent formulas */
    int p = 23, bad = 0;
    for (int m = 0; m < p; m++)
        for (int n = 0; n < p; n++) {
            bad += gl_task_label("add", p, m, n) != (m + n) % p;
            bad += gl_task_label("sub", p, m, n) != ((m - n) % p + p) % p;
            bad += gl_task_label("mul", p, m, n) != (m * n) % p;
            bad += gl_task_label("sq_sum", p, m, n) != (m * m + n * n) % p;
            bad += gl_task_label("quad1", p, m, n) != (m * m + m * n + n * n) % p;
            bad += gl_task_label("quad2", p, m, n) != (m * m + m * n + n * n + m) % p;
            bad += gl_task_label("cubic1", p, m, n) != (m * m * m + m * n) % p;
            bad += gl_task_label("cubic2", p, m, n) != (m * m * m + m * n * n + n) % p;
            bad += gl_task_label("even_mul", p, m, n) != (m % 2 == 0 ? (m + n) % p : (m * n) % p);
            bad += gl_task_label("even_sub", p, m, n) != (m % 2 == 0 ? (m + n) % p : ((m - n) % p + p) % p);
            bad += gl_task_label("odd_div", p, m, n) != (n % 2 ? m / n : ((m - n) % p + p) % p);
            if (n == 0) {
                bad += gl_task_label("div", p, m, n) != -1;
            } else {
                int q = gl_task_label("div", p, m, n);
                bad += (q * n) % p != m; /* q = m / n means q * n = m */
            }
        }
    CHECK(bad == 0, "task labels match direct formulas at p = %d (%d mismatches)", p, bad);
    /* large p: no overflow in cubic tasks */
    long big = 4093;
    CHECK(gl_task_label("cubic2", (int)big, 4092, 4091) ==
              (int)(((4092L * 4092 % big) * 4092 % big + (4092L * 4091 % big) * 4091 % big + 4091) % big),
          "cubic2 at p = 4093 without overflow");

    gl_dataset d;
    p = 97;
    if (make(&d, "add", p, 0.5, 0.35, 11, 12)) return 1;
    long total = (long)p * p;
    CHECK(d.n_train == 4704 && d.n_test == total - 4704, "split sizes %d + %d", d.n_train, d.n_test);
    CHECK(d.n_corrupt == (int)(0.35 * 4704), "corrupted count %d = floor(0.35 * 4704)", d.n_corrupt);
    char *seen = calloc((size_t)total, 1);
    int dup = 0, wrong_true = 0, wrong_test = 0, changed_clean = 0, changed_corrupt = 0, range = 0;
    for (int i = 0; i < d.n_train; i++) {
        dup += seen[d.train_m[i] * p + d.train_n[i]]++;
        wrong_true += d.train_true[i] != (d.train_m[i] + d.train_n[i]) % p;
        if (i >= d.n_corrupt) changed_clean += d.train_y[i] != d.train_true[i];
        else changed_corrupt += d.train_y[i] != d.train_true[i];
        range += d.train_y[i] < 0 || d.train_y[i] >= p;
    }
    for (int i = 0; i < d.n_test; i++) {
        dup += seen[d.test_m[i] * p + d.test_n[i]]++;
        wrong_test += d.test_y[i] != (d.test_m[i] + d.test_n[i]) % p;
    }
    int covered = 1;
    for (long i = 0; i < total; i++) covered &= seen[i] == 1;
    CHECK(dup == 0 && covered, "train and test are disjoint and cover all p^2 pairs");
    CHECK(wrong_true == 0 && wrong_test == 0, "true labels and test labels are the task's");
    CHECK(changed_clean == 0, "clean examples keep their true label");
    CHECK(range == 0, "given labels in [0, p)");
    /* a uniform label equals the true one about 1/p of the time */
    double same = 1.0 - (double)changed_corrupt / d.n_corrupt;
    CHECK(same < 0.05, "corrupted labels differ from the true one but %.3f of the time (1/p = %.3f)",
          same, 1.0 / p);

    /* determinism and independence of the seeds */
    gl_dataset d2, d3;
    make(&d2, "add", p, 0.5, 0.35, 11, 12);
    make(&d3, "add", p, 0.5, 0.35, 11, 99);
    CHECK(memcmp(d.train_y, d2.train_y, sizeof(int32_t) * (size_t)d.n_train) == 0 &&
              memcmp(d.test_m, d2.test_m, sizeof(int32_t) * (size_t)d.n_test) == 0,
          "same seeds give the same dataset");
    int same_split = memcmp(d.train_m, d3.train_m, sizeof(int32_t) * (size_t)d.n_train) == 0 &&
                     memcmp(d.train_n, d3.train_n, sizeof(int32_t) * (size_t)d.n_train) == 0;
    int diff_noise = memcmp(d.train_y, d3.train_y, sizeof(int32_t) * (size_t)d.n_corrupt) != 0;
    CHECK(same_split && diff_noise, "another noise seed keeps the split and redraws the labels");
    gl_dataset_free(&d3);
    make(&d3, "add", p, 0.5, 0.35, 13, 12);
    CHECK(memcmp(d.train_m, d3.train_m, sizeof(int32_t) * (size_t)d.n_train) != 0,
          "another split seed changes the split");
    gl_dataset_free(&d3);

    /* division: n = 0 is never part of the task */
    make(&d3, "div", p, 0.3, 0.0, 1, 1);
    int zero = 0;
    for (int i = 0; i < d3.n_train; i++) zero += d3.train_n[i] == 0;
    for (int i = 0; i < d3.n_test; i++) zero += d3.test_n[i] == 0;
    CHECK(zero == 0 && d3.n_train + d3.n_test == p * (p - 1), "div has p(p-1) pairs, none with n = 0");
    gl_dataset_free(&d3);

    /* smallest modulus */
    make(&d3, "add", 2, 0.5, 0.5, 0, 0);
    CHECK(d3.n_train == 2 && d3.n_test == 2 && d3.n_corrupt == 1, "p = 2 works");
    gl_dataset_free(&d3);
    gl_dataset_free(&d2);
    gl_dataset_free(&d);
    free(seen);
    return CHECK_DONE();
}
