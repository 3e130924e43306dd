/* The run configuration (groklab/config.h) against what README.md and the
 * header document: the defaults are the paper's setting; gl_config_set takes
 * the flag spelling (split-seed) and the JSON one (split_seed) and refuses
 * every bad value with -1 and a message naming the flag and the allowed
 * values (unknown names: -2), leaving the config as it was; exclusive upper
 * bounds; seeds over the whole uint64 range; gl_config_to_json ->
 * gl_config_from_json restores every field exactly (random values drawn here
 * for every field, doubles bit for bit); from_json refuses unknown keys,
 * flag-spelled keys, non-integral integers and malformed JSON without
 * touching the config; gl_config_validate refuses the documented bad
 * combinations and accepts their neighbours; resolve, resume_safe and the
 * paper's init std 0.5 (2N)^(-1/3), computed here. */
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/config.h"


/* ---- the test's own knowledge of the fields (README "groklab train") ---- */

typedef enum { K_INT, K_LONG, K_U64, K_DOUBLE, K_STRING, K_ENUM } kind;
typedef struct {
    const char *name;
    kind k;
    double lo, hi; /* a range of valid values to draw from (not the limits) */
    const char *words; /* enums: '|'-separated; strings: max length as text */
} spec;

static const spec specs[] = {
    {"task", K_STRING, 0, 0, "31"},          {"p", K_INT, 2, 4096, NULL},
    {"frac", K_DOUBLE, 0, 1, NULL},          {"noise", K_DOUBLE, 0, 1, NULL},
    {"split_seed", K_U64, 0, 0, NULL},       {"noise_seed", K_U64, 0, 0, NULL},
    {"seed", K_U64, 0, 0, NULL},             {"model", K_ENUM, 0, 0, "mlp|deep-mlp|transformer"},
    {"width", K_INT, 1, 100000, NULL},       {"depth", K_INT, 0, 64, NULL},
    {"param", K_ENUM, 0, 0, "standard|lazy"}, {"embed", K_INT, 1, 65536, NULL},
    {"heads", K_INT, 1, 1024, NULL},         {"mlp_factor", K_INT, 1, 64, NULL},
    {"tie", K_INT, 0, 1, NULL},              {"mu", K_DOUBLE, -1000, 1000, NULL},
    {"scale_s", K_DOUBLE, -1000, 1000, NULL},
    {"act", K_ENUM, 0, 0, "quadratic|relu|gelu|identity|auto"},
    {"norm", K_ENUM, 0, 0, "none|batchnorm|layernorm"},
    {"dropout", K_DOUBLE, 0, 0.999, NULL},   {"init_std", K_DOUBLE, 0, 1000, NULL},
    {"bn_momentum", K_DOUBLE, 0, 1, NULL},   {"norm_eps", K_DOUBLE, 0, 1, NULL},
    {"loss", K_ENUM, 0, 0, "mse|ce"},        {"optim", K_ENUM, 0, 0, "adamw|adam|sgd"},
    {"lr", K_DOUBLE, 0, 1000, NULL},         {"wd", K_DOUBLE, 0, 10000, NULL},
    {"beta1", K_DOUBLE, 0, 0.999, NULL},     {"beta2", K_DOUBLE, 0, 0.999, NULL},
    {"eps", K_DOUBLE, 0, 1, NULL},           {"momentum", K_DOUBLE, 0, 0.999, NULL},
    {"batch", K_INT, 0, 2000000000, NULL},   {"steps", K_LONG, 0, 1e12, NULL},
    {"log_every", K_LONG, 1, 1e12, NULL},    {"log_points", K_INT, 0, 1000000, NULL},
    {"checkpoint_every", K_LONG, 0, 1e12, NULL}, {"ipr", K_ENUM, 0, 0, "rfft|full"},
    {"ipr_basis", K_ENUM, 0, 0, "auto|additive|dlog"}, {"device", K_STRING, 0, 0, "7"},
    {"threads", K_INT, 0, 4096, NULL},
};
#define NSPECS (int)(sizeof specs / sizeof specs[0])

static const spec *spec_of(const char *name) {
    for (int i = 0; i < NSPECS; i++)
        if (!strcmp(specs[i].name, name)) return &specs[i];
    return NULL;
}

/* splitmix64: the test's own random numbers */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rnd01(void) { return (double)(rnd64() >> 11) * 0x1.0p-53; } /* [0, 1) */

/* field i of c as text (the library's gl_config_field_text), for comparing */
static void text_of(const gl_config *c, int i, char *buf, size_t cap) { gl_config_field_text(c, i, buf, cap); }

/* Index of the first field where a and b differ, or -1. */
static int first_difference(const gl_config *a, const gl_config *b) {
    char x[256], y[256];
    for (int i = 0; i < gl_config_nfields(); i++) {
        text_of(a, i, x, sizeof x);
        text_of(b, i, y, sizeof y);
        if (strcmp(x, y)) return i;
    }
    return -1;
}

/* A random valid value of field s as text; full: doubles with all 53 bits
 * (else 12 significant digits); seeds avoid (2^52, 2^53] unless full. */
static void draw(const spec *s, int full, char *buf, size_t cap) {
    switch (s->k) {
    case K_INT:
    case K_LONG: {
        double span = s->hi - s->lo + 1;
        long long v = (long long)s->lo + (long long)(rnd01() * span);
        if (v > (long long)s->hi) v = (long long)s->hi;
        snprintf(buf, cap, "%lld", v);
        break;
    }
    case K_U64: {
        uint64_t v = rnd64();
        switch (rnd64() % 4) {
        case 0: v >>= 40; break; /* small */
        case 1: v >>= 12; break; /* below 2^52 */
        default: break;          /* mostly above 2^53 */
        }
        if (!full && v > (1ull << 52) && v <= (1ull << 53)) v >>= 2;
        snprintf(buf, cap, "%llu", (unsigned long long)v);
        break;
    }
    case K_DOUBLE: {
        double v = s->lo + rnd01() * (s->hi - s->lo);
        if (rnd64() % 8 == 0) v = s->lo + (s->hi - s->lo) * rnd01() * 1e-6; /* small ones too */
        snprintf(buf, cap, full ? "%.17g" : "%.12g", v);
        break;
    }
    case K_STRING: { /* printable ASCII, JSON's special characters included */
        int maxlen = atoi(s->words), len = 1 + (int)(rnd64() % (uint64_t)maxlen);
        for (int i = 0; i < len; i++) buf[i] = (char)(' ' + rnd64() % 95);
        buf[len] = 0;
        if (rnd64() % 4 == 0) buf[0] = '"', buf[len - 1] = '\\';
        break;
    }
    case K_ENUM: {
        int n = 1;
        for (const char *q = s->words; *q; q++) n += *q == '|';
        int pick = (int)(rnd64() % (uint64_t)n);
        const char *q = s->words;
        for (int i = 0; i < pick; i++) q = strchr(q, '|') + 1;
        size_t len = strcspn(q, "|");
        snprintf(buf, cap, "%.*s", (int)len, q);
        break;
    }
    }
}

/* ---- defaults ---- */

static void test_defaults(void) {
    gl_config c;
    gl_config_default(&c);
    CHECK(!strcmp(c.task, "add") && c.p == 97 && c.width == 500, "default task add, p 97, width 500 (got %s, %d, %d)",
          c.task, c.p, c.width);
    CHECK(c.frac == 0.5 && c.noise == 0.0, "default alpha 0.5, xi 0 (got %g, %g)", c.frac, c.noise);
    CHECK(c.optim == GL_OPT_ADAMW && c.lr == 0.01 && c.beta1 == 0.9 && c.beta2 == 0.98 && c.eps == 1e-8 && c.wd == 0.0,
          "default AdamW lr 0.01, betas (0.9, 0.98), eps 1e-8, wd 0 (got %s %g %g %g %g %g)", gl_optim_name(c.optim),
          c.lr, c.beta1, c.beta2, c.eps, c.wd);
    CHECK(c.loss == GL_LOSS_MSE && c.batch == 0 && c.steps == 2000, "default MSE loss, full batch, 2000 steps (got %s %d %ld)",
          gl_loss_name(c.loss), c.batch, c.steps);
    CHECK(c.arch == GL_ARCH_MLP && c.act == GL_ACT_AUTO && c.norm == GL_NORM_NONE && c.dropout == 0.0 &&
              c.init_std == 0.0,
          "default model mlp, act auto, no norm, no dropout, init std 0 (the paper's)");
    CHECK(c.seed == 0 && c.split_seed == 0 && c.noise_seed == 0, "default seeds 0");
    CHECK(c.embed == 128 && c.heads == 4 && c.mlp_factor == 4 && c.tie == 0 && c.mu == 1.0 && c.scale_s == 1.0 &&
              c.depth == 0,
          "default transformer knobs: embed 128, heads 4, mlp factor 4, untied, mu 1, s 1, depth 0 (family default)");
    CHECK(c.ipr == GL_IPR_RFFT && c.ipr_basis == GL_BASIS_AUTO && !strcmp(c.device, "cpu") && c.threads == 0,
          "default IPR rfft, basis auto, device cpu, threads 0");
    gl_error e = {{0}, 0};
    CHECK(gl_config_validate(&c, &e) == 0, "the default config is valid (%s)", e.msg);
    gl_config r = c;
    gl_config_resolve(&r);
    CHECK(r.act == GL_ACT_QUADRATIC && r.depth == 2, "the default resolves to the quadratic two-layer MLP");
    CHECK(gl_config_basis(&c) == GL_BASIS_ADDITIVE, "task add uses the additive IPR basis");

    /* every field has the test's spec, and every spec is a field */
    int n = gl_config_nfields(), missing = 0;
    for (int i = 0; i < n; i++)
        if (!spec_of(gl_config_field_name(i))) {
            printf("  field '%s' is not known to this test\n", gl_config_field_name(i));
            missing++;
        }
    CHECK(n == NSPECS && missing == 0, "the config has the %d fields this test knows (%d fields, %d unknown)", NSPECS,
          n, missing);
    int numeric_ok = 1;
    for (int i = 0; i < n; i++) {
        const spec *s = spec_of(gl_config_field_name(i));
        if (s && gl_config_field_numeric(i) != (s->k != K_STRING && s->k != K_ENUM)) numeric_ok = 0;
    }
    CHECK(numeric_ok, "gl_config_field_numeric says numbers for the numeric fields only");
    CHECK(gl_config_field_name(-1) == NULL && gl_config_field_name(n) == NULL, "no field outside 0..nfields-1");

    /* --help lists every flag */
    char *help = NULL;
    size_t hl = 0;
    FILE *f = open_memstream(&help, &hl);
    gl_config_print_help(f);
    fclose(f);
    int unlisted = 0;
    for (int i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s ", gl_config_field_name(i));
        for (char *q = flag; *q; q++)
            if (*q == '_') *q = '-';
        if (!strstr(help, flag)) unlisted++;
    }
    CHECK(unlisted == 0, "--help lists every flag (%d missing)", unlisted);
    free(help);
}

/* ---- gl_config_set ---- */

static void refused(const char *name, const char *value, int want_rc, const char *flag, const char *allowed) {
    gl_config c, before;
    gl_config_default(&c);
    gl_config_set(&c, "p", "13", NULL);
    memcpy(&before, &c, sizeof c);
    gl_error e = {{0}, 0};
    int rc = gl_config_set(&c, name, value, &e);
    int named = strstr(e.msg, flag) != NULL && (!allowed || strstr(e.msg, allowed) != NULL);
    CHECK(rc == want_rc && named && memcmp(&c, &before, sizeof c) == 0,
          "set %s '%s' is refused (rc %d) naming %s%s%s, config unchanged: %s", name, value, rc, flag,
          allowed ? " and " : "", allowed ? allowed : "", e.msg);
}

static void accepted(const char *name, const char *value, const char *want_text) {
    gl_config c;
    gl_config_default(&c);
    gl_error e = {{0}, 0};
    int rc = gl_config_set(&c, name, value, &e);
    char got[256] = "?";
    for (int i = 0; i < gl_config_nfields(); i++) {
        char key[64];
        snprintf(key, sizeof key, "%s", name);
        for (char *q = key; *q; q++)
            if (*q == '-') *q = '_';
        if (!strcmp(gl_config_field_name(i), key)) text_of(&c, i, got, sizeof got);
    }
    /* numbers compare by value (0.999 reads back as 0.99899999999999999), words as text */
    char *end;
    double want_v = strtod(want_text, &end);
    int same = *want_text && !*end ? strtod(got, NULL) == want_v : !strcmp(got, want_text);
    CHECK(rc == 0 && same, "set %s '%s' is accepted and reads back as %s (rc %d, got %s) %s", name, value, want_text,
          rc, got, rc ? e.msg : "");
}

static void test_set(void) {
    gl_config c;
    gl_config_default(&c);
    gl_error e = {{0}, 0};
    CHECK(gl_config_set(&c, "split-seed", "7", &e) == 0 && c.split_seed == 7, "flag spelling split-seed sets split_seed");
    CHECK(gl_config_set(&c, "noise_seed", "8", &e) == 0 && c.noise_seed == 8, "JSON spelling noise_seed sets it");
    CHECK(gl_config_set(&c, "bn-momentum", "0.25", &e) == 0 && c.bn_momentum == 0.25 &&
              gl_config_set(&c, "mlp-factor", "2", &e) == 0 && c.mlp_factor == 2 &&
              gl_config_set(&c, "log-every", "3", &e) == 0 && c.log_every == 3,
          "flag spellings bn-momentum, mlp-factor, log-every");
    CHECK(gl_config_has("init-std") && gl_config_has("init_std") && gl_config_has("p") && !gl_config_has("nope") &&
              !gl_config_has("out"),
          "gl_config_has knows both spellings and only fields");

    /* integers: range, non-numbers, trailing garbage, fractions */
    refused("p", "1", -1, "--p", "2 to 4096");
    refused("p", "4097", -1, "--p", "2 to 4096");
    refused("p", "abc", -1, "--p", "2 to 4096");
    refused("p", "97x", -1, "--p", "2 to 4096");
    refused("p", "9.5", -1, "--p", "2 to 4096");
    refused("p", "1e2", -1, "--p", "2 to 4096");
    refused("p", "99999999999999999999999", -1, "--p", "2 to 4096");
    refused("p", "", -1, "--p", NULL);
    accepted("p", "2", "2");
    accepted("p", "4096", "4096");
    refused("width", "0", -1, "--width", "allowed");
    refused("tie", "2", -1, "--tie", "0 to 1");
    refused("steps", "-1", -1, "--steps", "allowed");
    accepted("steps", "1000000000000", "1000000000000");
    refused("steps", "1000000000001", -1, "--steps", "allowed");
    refused("log-every", "0", -1, "--log-every", "allowed");
    refused("threads", "-2", -1, "--threads", "0 to 4096");
    /* doubles: range, non-numbers, non-finite, trailing garbage */
    refused("frac", "1.5", -1, "--frac", "0 to 1");
    refused("frac", "-0.1", -1, "--frac", "0 to 1");
    refused("noise", "abc", -1, "--noise", "0 to 1");
    refused("noise", "0.5x", -1, "--noise", "0 to 1");
    refused("noise", "nan", -1, "--noise", "0 to 1");
    refused("lr", "inf", -1, "--lr", "allowed");
    refused("lr", "-0.01", -1, "--lr", "allowed");
    refused("lr", "1e400", -1, "--lr", "allowed");
    accepted("frac", "1", "1");
    accepted("lr", "1e-3", "0.001");
    /* exclusive upper bounds */
    refused("dropout", "1", -1, "--dropout", "exclusive");
    accepted("dropout", "0.999", "0.999");
    refused("beta1", "1", -1, "--beta1", "exclusive");
    refused("beta2", "1", -1, "--beta2", "exclusive");
    accepted("beta2", "0.9999", "0.9999");
    refused("momentum", "1", -1, "--momentum", "exclusive");
    accepted("bn_momentum", "1", "1"); /* an inclusive bound, for contrast */
    /* enums */
    refused("act", "tanh", -1, "--act", "quadratic|relu|gelu|identity|auto");
    refused("norm", "BatchNorm", -1, "--norm", "none|batchnorm|layernorm");
    refused("loss", "l2", -1, "--loss", "mse|ce");
    refused("optim", "rmsprop", -1, "--optim", "adamw|adam|sgd");
    refused("model", "cnn", -1, "--model", "mlp|deep-mlp|transformer");
    refused("ipr", "half", -1, "--ipr", "rfft|full");
    refused("ipr-basis", "mult", -1, "--ipr-basis", "auto|additive|dlog");
    refused("param", "xavier", -1, "--param", "standard|lazy");
    accepted("model", "deep-mlp", "deep-mlp");
    accepted("act", "gelu", "gelu");
    /* unknown names */
    refused("nope", "1", GL_E_INPUT, "nope", NULL);
    refused("learning_rate", "0.1", GL_E_INPUT, "learning_rate", NULL);
    /* strings: task and device have fixed capacities */
    char longtask[40], okt[40];
    memset(longtask, 'a', 32), longtask[32] = 0;
    memset(okt, 'b', 31), okt[31] = 0;
    refused("task", longtask, -1, "--task", NULL);
    accepted("task", okt, okt);
    refused("device", "cpu-cuda", -1, "--device", NULL);
    accepted("device", "abcdefg", "abcdefg");
    /* the message of a too-long value should say the limit (an allowed value) */
    gl_config_default(&c);
    gl_config_set(&c, "task", longtask, &e);
    CHECK(strstr(e.msg, "31") != NULL || strstr(e.msg, "32") != NULL,
              "a too-long --task value's message says the length limit: '%s'", e.msg);

    /* seeds: the whole uint64 range, nothing negative */
    accepted("seed", "18446744073709551615", "18446744073709551615");
    accepted("split_seed", "9007199254740993", "9007199254740993");
    accepted("noise-seed", "0", "0");
    refused("seed", "18446744073709551616", -1, "--seed", "2^64-1");
    refused("seed", "-1", -1, "--seed", "2^64-1");
    refused("seed", "12abc", -1, "--seed", "2^64-1");
    refused("seed", "1.5", -1, "--seed", "2^64-1");
    gl_config_default(&c);
    int rc = gl_config_set(&c, "seed", " -1", &e);
    CHECK(rc == -1 && c.seed == 0,
              "seed ' -1' (a blank, then a minus) is refused like '-1' (rc %d, seed now %llu: strtoull wrapped it)", rc,
              (unsigned long long)c.seed);
}

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
            char v[256];
            draw(s, 0, v, sizeof v);
            gl_error e;
            if (gl_config_set(&a, gl_config_field_name(i), v, &e) != 0) {
                if (set_fail++ < 3) printf("  set %s '%s': %s\n", gl_config_field_name(i), v, e.msg);
            }
            /* field_text reads back what was set, and setting it again is a no-op */
            char back[256];
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
                char x[256] = "", y[256] = "";
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

/* ---- validation ---- */

/* Applies "knob=value;knob=value" to a default config. */
static void make(gl_config *c, const char *sets) {
    gl_config_default(c);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sets);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        gl_error e;
        if (gl_config_set(c, tok, eq + 1, &e) != 0) printf("  (setup) %s\n", e.msg);
    }
}

static void valid(const char *sets, int want_ok, const char *want) {
    gl_config c;
    make(&c, sets);
    gl_error e = {{0}, 0};
    int rc = gl_config_validate(&c, &e);
    if (want_ok)
        CHECK(rc == 0, "valid: %s (%s)", sets, e.msg);
    else
        CHECK(rc == -1 && strstr(e.msg, want), "refused: %s, message names %s: %s", sets, want, e.msg);
}

static void test_validate(void) {
    valid("task=div;p=91", 0, "--p");  /* 91 = 7 x 13 */
    valid("task=div;p=97", 1, NULL);
    valid("task=div;p=4", 0, "prime");
    valid("task=nope", 0, "--task");
    valid("task=mul;p=91", 1, NULL); /* mul needs no prime */
    /* batch vs the training set: floor(frac * pairs), pairs p^2 (p(p-1) for div) */
    char buf[128];
    long n_add = (long)(0.5 * 11 * 11), n_div = (long)(0.5 * 11 * 10);
    snprintf(buf, sizeof buf, "p=11;frac=0.5;batch=%ld", n_add + 1);
    valid(buf, 0, "--batch");
    snprintf(buf, sizeof buf, "p=11;frac=0.5;batch=%ld", n_add);
    valid(buf, 1, NULL);
    snprintf(buf, sizeof buf, "task=div;p=11;frac=0.5;batch=%ld", n_div + 1);
    valid(buf, 0, "--batch");
    snprintf(buf, sizeof buf, "task=div;p=11;frac=0.5;batch=%ld", n_div);
    valid(buf, 1, NULL);
    /* BatchNorm needs 2 examples per batch */
    valid("norm=batchnorm;batch=1", 0, "--batch");
    valid("norm=batchnorm;batch=2", 1, NULL);
    valid("norm=batchnorm;batch=0", 1, NULL);
    valid("norm=layernorm;batch=1", 1, NULL);
    /* the Transformer */
    valid("model=transformer;embed=128;heads=3", 0, "--heads");
    valid("model=transformer;embed=128;heads=8", 1, NULL);
    valid("model=transformer;norm=batchnorm", 0, "--norm");
    valid("model=transformer;norm=layernorm", 1, NULL);
    valid("model=transformer;embed=65536;heads=1;mlp_factor=64", 0, "--mlp-factor");
    /* depths */
    valid("model=deep-mlp;depth=1", 0, "--depth");
    valid("model=deep-mlp;depth=17", 0, "--depth");
    valid("model=deep-mlp;depth=2", 1, NULL);
    valid("model=deep-mlp;depth=16", 1, NULL);
    valid("model=deep-mlp;depth=0", 1, NULL);
    valid("model=mlp;depth=3", 0, "--depth");
    valid("model=mlp;depth=2", 1, NULL);
    /* the discrete-log basis needs a prime p >= 3 */
    valid("ipr_basis=dlog;p=91", 0, "--ipr-basis");
    valid("ipr_basis=dlog;p=2", 0, "--ipr-basis");
    valid("ipr_basis=dlog;p=97", 1, NULL);
    valid("ipr_basis=additive;p=91", 1, NULL);
    /* at least one training example: frac >= 1/pairs (121 pairs at p 11) */
    snprintf(buf, sizeof buf, "p=11;frac=%.17g", 0.5 / 121);
    valid(buf, 0, "--frac");
    snprintf(buf, sizeof buf, "p=11;frac=%.17g", 1.5 / 121);
    valid(buf, 1, NULL);
    valid("frac=0", 0, "--frac");
    /* backends: cpu is one, tpu is not */
    valid("device=tpu", 0, "--device");
    valid("device=cpu", 1, NULL);
    /* ranges are checked again for configs built without gl_config_set */
    gl_config c;
    gl_config_default(&c);
    gl_error e = {{0}, 0};
    c.dropout = 1.0;
    CHECK(gl_config_validate(&c, &e) == -1 && strstr(e.msg, "--dropout"), "validate refuses dropout 1 set directly: %s",
          e.msg);
    gl_config_default(&c);
    c.p = 1;
    CHECK(gl_config_validate(&c, &e) == -1 && strstr(e.msg, "--p"), "validate refuses p 1 set directly: %s", e.msg);
    gl_config_default(&c);
    c.width = 0;
    CHECK(gl_config_validate(&c, &e) == -1 && strstr(e.msg, "--width"), "validate refuses width 0 set directly: %s",
          e.msg);
}

/* ---- resolve, resume, init std ---- */

static void test_resolve(void) {
    gl_config c;
    make(&c, "model=mlp");
    gl_config_resolve(&c);
    CHECK(c.act == GL_ACT_QUADRATIC && c.depth == 2, "mlp resolves act auto to quadratic, depth 0 to 2 (got %s, %d)",
          gl_act_name(c.act), c.depth);
    make(&c, "model=deep-mlp");
    gl_config_resolve(&c);
    CHECK(c.act == GL_ACT_RELU && c.depth == 3, "deep-mlp resolves to relu, depth 3 (got %s, %d)", gl_act_name(c.act),
          c.depth);
    make(&c, "model=transformer");
    gl_config_resolve(&c);
    CHECK(c.act == GL_ACT_RELU && c.depth == 1, "transformer resolves to relu, depth 1 (got %s, %d)", gl_act_name(c.act),
          c.depth);
    make(&c, "model=deep-mlp;act=gelu;depth=5");
    gl_config_resolve(&c);
    CHECK(c.act == GL_ACT_GELU && c.depth == 5, "explicit act and depth stay as they are");
    make(&c, "model=mlp;act=identity");
    gl_config r = c;
    gl_config_resolve(&r);
    CHECK(r.act == GL_ACT_IDENTITY && r.depth == 2, "an explicit act survives resolve (got %s)", gl_act_name(r.act));
    gl_config twice = r;
    gl_config_resolve(&twice);
    CHECK(first_difference(&r, &twice) < 0, "resolve is idempotent");

    static const char *safe[] = {"steps", "log_every", "log-every", "threads", "log_points", "checkpoint_every"};
    static const char *unsafe[] = {"lr", "p", "seed", "width", "task", "wd", "noise", "frac", "batch", "nope"};
    int bad = 0;
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (!gl_config_resume_safe(safe[i])) printf("  %s should be resume-safe\n", safe[i]), bad++;
    CHECK(bad == 0, "steps, log_every (both spellings), threads, log_points, checkpoint_every may change on resume");
    bad = 0;
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (gl_config_resume_safe(unsafe[i])) printf("  %s should not be resume-safe\n", unsafe[i]), bad++;
    CHECK(bad == 0, "lr, p, seed, width, task, wd, noise, frac, batch (and unknown names) may not change on resume");

    static const int widths[] = {1, 8, 500, 1000, 2048, 1 << 20};
    int worst = 0;
    double worst_err = 0;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        gl_config_default(&c);
        c.width = widths[i];
        double want = 0.5 / cbrt(2.0 * widths[i]);
        double err = fabs(gl_config_init_std(&c) - want) / want;
        if (err > worst_err) worst_err = err, worst = widths[i];
    }
    CHECK(worst_err < 1e-14, "init std 0.5 * (2N)^(-1/3) for N = 1 .. 2^20 (worst relative error %.3g at N %d)",
          worst_err, worst);
    gl_config_default(&c);
    CHECK_REL(gl_config_init_std(&c), 0.05, 1e-15, "init std at the default N 500 is 0.05");
    c.init_std = 0.3;
    CHECK(gl_config_init_std(&c) == 0.3, "an explicit init std is used as it is");

    make(&c, "task=mul;p=97");
    CHECK(gl_config_basis(&c) == GL_BASIS_DLOG, "mul at prime p uses the dlog basis");
    make(&c, "task=mul;p=91");
    CHECK(gl_config_basis(&c) == GL_BASIS_ADDITIVE, "mul at composite p falls back to the additive basis");
    make(&c, "task=div;p=97;ipr_basis=additive");
    CHECK(gl_config_basis(&c) == GL_BASIS_ADDITIVE, "an explicit basis wins over auto");
}

int main(void) {
    test_defaults();
    test_set();
    test_json();
    test_validate();
    test_resolve();
    return CHECK_DONE();
}
