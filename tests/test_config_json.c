/* The run configuration's JSON (groklab/config.h): gl_config_to_json ->
 * gl_config_from_json restores every field exactly (random values drawn here
 * for every field, doubles bit for bit); from_json refuses unknown keys,
 * flag-spelled keys, non-integral integers, trailing text and malformed JSON
 * without touching the config. */
#include "config_fixture.h"

/* ---- JSON ---- */

static void test_json(void) {
    int n = gl_config_nfields();
    /* random values for every field, set through their text */
    int trials = 200, set_fail = 0, json_fail = 0, text_fail = 0, worst_field = -1;
    for (int t = 0; t < trials; t++) {
        gl_config a, b;
        gl_config_default(&a);
        for (int i = 0; i < n; i++) {
            const spec *s = spec_of(gl_config_field_name(i));
            if (!s) continue;
            char v[GL_PATH_LEN + 8];
            draw(s, 0, v, sizeof v);
            gl_error e;
            if (gl_config_set(&a, gl_config_field_name(i), v, &e) != 0) {
                if (set_fail++ < 3) printf("  set %s '%s': %s\n", gl_config_field_name(i), v, e.msg);
            }
            /* field_text reads back what was set, and setting it again is a no-op */
            char back[GL_PATH_LEN + 8];
            text_of(&a, i, back, sizeof back);
            gl_config a2 = a;
            if (gl_config_set(&a2, gl_config_field_name(i), back, &e) != 0 || first_difference(&a, &a2) >= 0)
                text_fail++;
        }
        char *j = gl_config_to_json(&a);
        gl_config_default(&b);
        gl_error e = {{0}, 0};
        int rc = j ? gl_config_from_json(&b, j, &e) : -1;
        int d = first_difference(&a, &b);
        if (rc != 0 || d >= 0) {
            if (json_fail++ < 3) {
                char x[GL_PATH_LEN + 8] = "", y[GL_PATH_LEN + 8] = "";
                if (d >= 0) text_of(&a, d, x, sizeof x), text_of(&b, d, y, sizeof y);
                printf("  trial %d: rc %d (%s), field %s: %s -> %s\n", t, rc, e.msg, d >= 0 ? gl_config_field_name(d) : "-",
                       x, y);
            }
            worst_field = d;
        }
        free(j);
    }
    CHECK(set_fail == 0, "random valid values of every field are accepted (%d refused)", set_fail);
    CHECK(text_fail == 0, "gl_config_field_text of every field sets back to the same value (%d differ)", text_fail);
    CHECK(json_fail == 0, "to_json -> from_json restores every field of %d random configs (%d differ, last at %s)",
          trials, json_fail, worst_field >= 0 ? gl_config_field_name(worst_field) : "-");

    /* doubles with all their bits */
    int dbl_fail = 0, dbl_total = 0;
    char example[160] = "";
    for (int t = 0; t < 50; t++) {
        gl_config a, b;
        gl_config_default(&a);
        for (int i = 0; i < n; i++) {
            const spec *s = spec_of(gl_config_field_name(i));
            if (!s || s->k != K_DOUBLE) continue;
            char v[64];
            draw(s, 1, v, sizeof v);
            gl_config_set(&a, gl_config_field_name(i), v, NULL);
        }
        char *j = gl_config_to_json(&a);
        gl_config_default(&b);
        gl_config_from_json(&b, j, NULL);
        free(j);
        for (int i = 0; i < n; i++) {
            const spec *s = spec_of(gl_config_field_name(i));
            if (!s || s->k != K_DOUBLE) continue;
            char x[64], y[64];
            text_of(&a, i, x, sizeof x);
            text_of(&b, i, y, sizeof y);
            dbl_total++;
            /* %.17g text is equal exactly when the doubles are equal bit for bit */
            if (strcmp(x, y)) {
                if (!dbl_fail) snprintf(example, sizeof example, "%s %s -> %s", gl_config_field_name(i), x, y);
                dbl_fail++;
            }
        }
    }
    CHECK(dbl_fail == 0, "random full-precision doubles round-trip through JSON bit for bit (%d of %d lost bits, e.g. %s)",
              dbl_fail, dbl_total, example);
    {
        gl_config a, b;
        gl_config_default(&a);
        a.lr = nextafter(0.01, 1.0);
        a.mu = 1.0 + DBL_EPSILON;
        char *j = gl_config_to_json(&a);
        gl_config_default(&b);
        gl_config_from_json(&b, j, NULL);
        free(j);
        CHECK(memcmp(&a.lr, &b.lr, sizeof(double)) == 0 && memcmp(&a.mu, &b.mu, sizeof(double)) == 0,
                  "lr one ulp above 0.01 and mu = 1 + DBL_EPSILON round-trip through JSON (%.17g -> %.17g, %.17g -> %.17g)",
                  a.lr, b.lr, a.mu, b.mu);
        a.frac = -0.0;
        j = gl_config_to_json(&a);
        gl_config_from_json(&b, j, NULL);
        free(j);
        CHECK(b.frac == 0.0, "frac -0 comes back as zero");
    }

    /* seeds: plain numbers up to 2^53, strings above; every one exact */
    static const uint64_t seeds[] = {0,
                                     1,
                                     4294967296ull,
                                     (1ull << 52) - 12345,
                                     (1ull << 53) + 1,
                                     (1ull << 63),
                                     UINT64_MAX - 1,
                                     UINT64_MAX};
    int seed_fail = 0;
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        gl_config a, b;
        gl_config_default(&a);
        a.seed = seeds[k];
        a.split_seed = seeds[k];
        a.noise_seed = seeds[k];
        char *j = gl_config_to_json(&a);
        gl_config_default(&b);
        int rc = gl_config_from_json(&b, j, NULL);
        free(j);
        if (rc || b.seed != a.seed || b.split_seed != a.split_seed || b.noise_seed != a.noise_seed) {
            printf("  seed %llu came back as %llu\n", (unsigned long long)a.seed, (unsigned long long)b.seed);
            seed_fail++;
        }
    }
    CHECK(seed_fail == 0, "seeds 0, 1, 2^32, 2^52-12345, 2^53+1, 2^63, 2^64-2, 2^64-1 round-trip through JSON (%d differ)",
          seed_fail);
    /* integers in [2^52, 2^53] are written as JSON numbers, and cJSON prints a
     * number with 15 digits when that is within DBL_EPSILON of it */
    static const uint64_t near53[] = {(1ull << 52) + 3, 5000000000000001ull, (1ull << 53) - 1, 1ull << 53};
    char lost[256] = "";
    int near_fail = 0;
    for (size_t k = 0; k < sizeof near53 / sizeof near53[0]; k++) {
        gl_config a, b;
        gl_config_default(&a);
        a.seed = near53[k];
        char *j = gl_config_to_json(&a);
        gl_config_default(&b);
        gl_config_from_json(&b, j, NULL);
        free(j);
        if (b.seed != a.seed) {
            near_fail++;
            snprintf(lost + strlen(lost), sizeof lost - strlen(lost), " %llu->%llu", (unsigned long long)a.seed,
                     (unsigned long long)b.seed);
        }
    }
    CHECK(near_fail == 0, "seeds 2^52+3, 5e15+1, 2^53-1, 2^53 round-trip through JSON (%d lost digits:%s)", near_fail,
              lost);

    /* from_json refusals leave the config untouched */
    static const struct {
        const char *json, *want, *what;
    } bad[] = {
        {"{\"p\": 13, \"nope\": 1}", "nope", "an unknown key"},
        {"{\"split-seed\": 3}", "split-seed", "a key in flag spelling"},
        {"{\"p\": 13.5}", "p", "a non-integral number for an int"},
        {"{\"steps\": 100.25}", "steps", "a non-integral number for a long"},
        {"{\"seed\": 1.5}", "seed", "a non-integral number for a seed"},
        {"{\"seed\": -1}", "seed", "a negative seed"},
        {"{\"p\": 13, \"lr\": \"abc\"}", "lr", "a bad value after a good one"},
        {"{\"p\": 13, \"dropout\": 1}", "dropout", "a value at an exclusive bound"},
        {"{\"act\": \"tanh\"}", "act", "an unknown enum word"},
        {"{\"p\": true}", "p", "a boolean"},
        {"{\"p\": null}", "p", "null"},
        {"{\"p\": [13]}", "p", "an array"},
        {"{\"p\": 13", "JSON", "an unterminated object"},
        {"[1, 2]", "JSON", "an array instead of an object"},
        {"", "JSON", "an empty text"},
        {"p = 13", "JSON", "not JSON at all"},
        {"{\"p\": 13,}", "JSON", "a trailing comma"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        gl_config c, before;
        gl_config_default(&c);
        c.p = 23;
        memcpy(&before, &c, sizeof c);
        gl_error e = {{0}, 0};
        int rc = gl_config_from_json(&c, bad[k].json, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[k].want) && memcmp(&c, &before, sizeof c) == 0,
              "from_json refuses %s, naming '%s', config untouched: %s", bad[k].what, bad[k].want, e.msg);
    }
    {
        gl_config c;
        gl_config_default(&c);
        gl_error e = {{0}, 0};
        int rc = gl_config_from_json(&c, "{\"p\": 13, \"steps\": 1e3, \"lr\": \"0.5\", \"groklab_version\": \"x\"}", &e);
        CHECK(rc == 0 && c.p == 13 && c.steps == 1000 && c.lr == 0.5 && c.width == 500,
              "from_json takes integral numbers as 1e3, numbers as strings, ignores groklab_version, keeps the rest (%s)",
              e.msg);
        gl_config before;
        memcpy(&before, &c, sizeof c);
        rc = gl_config_from_json(&c, "{\"p\": 17} {\"p\": 19}", &e);
        CHECK(rc == -1 && memcmp(&c, &before, sizeof c) == 0,
                  "from_json refuses text after the object ('{\"p\": 17} {\"p\": 19}': rc %d, p now %d)", rc, c.p);
    }
}

int main(void) {
    test_json();
    return CHECK_DONE();
}
