/* What the config tests share: their own table of the fields (docs/commands.md,
 * "groklab train") with a range of valid values to draw for each, a seeded
 * generator, and the first field in which two configs differ. Functions are
 * static inline so that a test that does not use one does not warn. */
#ifndef GROKLAB_TEST_CONFIG_FIXTURE_H
#define GROKLAB_TEST_CONFIG_FIXTURE_H

#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config_diff.h"
#include "groklab/config.h"


/* ---- the test's own knowledge of the fields (docs/commands.md, "groklab train") ---- */

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
    {"seed", K_U64, 0, 0, NULL},             {"data", K_STRING, 0, 0, "511"},
    {"model", K_ENUM, 0, 0, "mlp|deep-mlp|transformer"},
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
    {"drop_last", K_ENUM, 0, 0, "off|on"},   {"warmup", K_LONG, 0, 1e12, NULL},
    {"lr_decay", K_ENUM, 0, 0, "none|cosine|linear"}, {"clip", K_DOUBLE, 0, 1e12, NULL},
    {"grokfast", K_ENUM, 0, 0, "off|ema|ma"}, {"grokfast_alpha", K_DOUBLE, 0, 0.999, NULL},
    {"grokfast_lambda", K_DOUBLE, 0, 1e6, NULL}, {"grokfast_window", K_INT, 1, 100000, NULL},
    {"weight_norm", K_DOUBLE, 0, 1e6, NULL}, {"wd_toward", K_ENUM, 0, 0, "zero|init"},
    {"wd_groups", K_ENUM, 0, 0, "all|matrices"}, {"trainable", K_ENUM, 0, 0, "all|norm"},
    {"log_every", K_LONG, 1, 1e12, NULL},    {"log_points", K_INT, 0, 1000000, NULL},
    {"checkpoint_every", K_LONG, 0, 1e12, NULL}, {"snapshots", K_INT, 0, 100000, NULL},
    {"progress_measures", K_ENUM, 0, 0, "off|on"}, {"ipr", K_ENUM, 0, 0, "rfft|full"},
    {"ipr_basis", K_ENUM, 0, 0, "auto|additive|dlog"}, {"device", K_STRING, 0, 0, "7"},
    {"threads", K_INT, 0, 4096, NULL},
};
#define NSPECS (int)(sizeof specs / sizeof specs[0])

static inline const spec *spec_of(const char *name) {
    for (int i = 0; i < NSPECS; i++)
        if (!strcmp(specs[i].name, name)) return &specs[i];
    return NULL;
}

/* splitmix64: the test's own random numbers */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rnd64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double rnd01(void) { return (double)(rnd64() >> 11) * 0x1.0p-53; } /* [0, 1) */

/* field i of c as text (the library's gl_config_field_text), for comparing */
static inline void text_of(const gl_config *c, int i, char *buf, size_t cap) { gl_config_field_text(c, i, buf, cap); }

/* A random valid value of field s as text; full: doubles with all 53 bits
 * (else 12 significant digits); seeds avoid (2^52, 2^53] unless full. */
static inline void draw(const spec *s, int full, char *buf, size_t cap) {
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

#endif
