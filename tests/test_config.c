/* The run configuration (groklab/config.h) against what docs/commands.md and the
 * header document: the defaults are the paper's setting; gl_config_set takes
 * the flag spelling (split-seed) and the JSON one (split_seed) and refuses
 * every bad value with -1 and a message naming the flag and the allowed
 * values (unknown names: -2), leaving the config as it was; exclusive upper
 * bounds; seeds over the whole uint64 range; gl_config_validate refuses the
 * documented bad combinations and accepts their neighbours; resolve,
 * resume_safe and the paper's init std 0.5 (2N)^(-1/3), computed here. The
 * JSON round trip is test_config_json.c. */
#include "config_fixture.h"
#include "groklab/train.h" /* the logging schedule */

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
    /* the knobs added after sweeps existed stay out of a config's JSON at
     * their defaults, so the points of older sweep stores (their identity)
     * and older config.json files read and match as before */
    static const char *const later[] = {"snapshots", "progress_measures", "drop_last", "warmup", "lr_decay",
                                        "clip", "grokfast", "grokfast_alpha", "grokfast_lambda",
                                        "grokfast_window", "weight_norm", "wd_toward", "wd_groups", "trainable"};
    char *js = gl_config_to_json_compact(&c);
    int leaked = 0;
    for (size_t i = 0; js && i < sizeof later / sizeof later[0]; i++) {
        char key[48];
        snprintf(key, sizeof key, "\"%s\"", later[i]);
        if (strstr(js, key)) leaked++, printf("  %s is in the default config's JSON\n", later[i]);
    }
    CHECK(js && leaked == 0, "the default config's JSON leaves out the %zu later knobs at their defaults",
          sizeof later / sizeof later[0]);
    free(js);

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
    refused("log-every", "-1", -1, "--log-every", "allowed");
    accepted("log-every", "0", "0"); /* the default: about GL_LOG_ROWS rows */
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

/* The data file: none by default and then absent from the JSON (a config
 * without one reads and writes as before the field existed); set, it
 * round-trips; too long a path is refused. */
static void test_data_path(void) {
    gl_config c, b;
    gl_config_default(&c);
    CHECK(c.data[0] == 0, "no data file by default");
    char *j = gl_config_to_json_compact(&c);
    CHECK(j && !strstr(j, "\"data\""), "a config without a data file has no data key in its JSON");
    free(j);
    gl_error e = {{0}, 0};
    CHECK(gl_config_set(&c, "data", "/tmp/x y/data.safetensors", &e) == 0, "a data path is accepted (%s)", e.msg);
    j = gl_config_to_json(&c);
    gl_config_default(&b);
    CHECK(j && gl_config_from_json(&b, j, &e) == 0 && !strcmp(b.data, c.data), "the data path round-trips through JSON");
    free(j);
    CHECK(gl_config_set(&c, "data", "", &e) == 0 && c.data[0] == 0, "an empty data path means none");
    char longpath[GL_PATH_LEN + 2];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    CHECK(gl_config_set(&c, "data", longpath, &e) == GL_E_INPUT && strstr(e.msg, "too long"),
          "a path over %d characters is refused (%s)", GL_PATH_LEN - 1, e.msg);
    CHECK(gl_config_set(&c, "p", "", &e) == GL_E_INPUT && strstr(e.msg, "missing value"), "other fields still need a value");
}

/* What --help prints, field by field, for other front ends. */
static void test_field_info(void) {
    int n = gl_config_nfields(), ok = 1;
    for (int i = 0; i < n; i++) {
        const char *k = gl_config_field_kind(i);
        if (!gl_config_field_help(i) || !gl_config_field_default(i) || !k) ok = 0;
        else if (gl_config_field_numeric(i) != (!strcmp(k, "int") || !strcmp(k, "float"))) ok = 0;
    }
    CHECK(ok, "every field has a help line, a default and a kind that agrees with gl_config_field_numeric");
    CHECK(gl_config_field_help(n) == NULL && gl_config_field_kind(-1) == NULL, "no field info outside 0..nfields-1");
    char buf[96];
    for (int i = 0; i < n; i++) {
        const char *name = gl_config_field_name(i);
        gl_config_field_allowed(i, buf, sizeof buf);
        if (!strcmp(name, "loss")) CHECK(!strcmp(buf, "mse|ce"), "loss allows mse|ce (got '%s')", buf);
        if (!strcmp(name, "dropout")) CHECK(!strcmp(buf, "0..1 (excl.)"), "dropout allows 0..1 exclusive (got '%s')", buf);
        if (!strcmp(name, "p")) CHECK(!strcmp(buf, "2..4096"), "p allows 2..4096 (got '%s')", buf);
        if (!strcmp(name, "lr")) CHECK(!strcmp(gl_config_field_kind(i), "float") && !strcmp(gl_config_field_default(i), "0.01"),
                                       "lr is a float with default 0.01");
    }
    gl_config *h = gl_config_new(), d;
    gl_config_default(&d);
    CHECK(h && !memcmp(h, &d, sizeof d), "gl_config_new gives the defaults");
    gl_config_free(h);
}

/* ---- the default logging schedule ---- */

/* rows of a run of c: the steps 0..steps that gl_log_due takes */
static long rows_of(const gl_config *c) {
    long n = 0;
    for (long s = 0; s <= c->steps; s++) n += gl_log_due(c, s);
    return n;
}

static void test_log_schedule(void) {
    gl_config c;
    gl_config_default(&c);
    CHECK(c.log_every == 0 && c.log_points == 0, "default log_every 0 (about 200 rows), no log points");
    static const long steps[] = {1, 150, 199, 200, 401, 2000, 8000, 64000, 64001};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        c.steps = steps[i];
        /* counted here: every P-th step and the last, P = max(1, floor(steps / 200)) */
        long P = steps[i] / 200 > 1 ? steps[i] / 200 : 1, want = steps[i] / P + 1 + (steps[i] % P != 0);
        long got = rows_of(&c);
        CHECK(gl_log_period(&c) == P && got == want, "%ld steps: every %ld steps, %ld rows (got %ld, %ld)", steps[i], P,
              want, gl_log_period(&c), got);
        CHECK(steps[i] < 200 || (got >= 200 && got <= 202), "%ld steps log about 200 rows (%ld)", steps[i], got);
    }
    c.steps = 2000;
    CHECK(gl_log_period(&c) == 10 && gl_log_due(&c, 10) && !gl_log_due(&c, 15), "2000 steps log every 10th, as --log-every 10");
    /* minibatches: no more often than every ceil(9409 / (2 B)) steps, an evaluation's cost */
    static const struct { int batch; long steps, period, rows; } mb[] = {
        {256, 2000, 19, 2000 / 19 + 2}, {64, 8000, 74, 8000 / 74 + 2}, {8, 64000, 589, 64000 / 589 + 2},
        {256, 100000, 500, 201}, {8000, 2000, 10, 201} /* larger than the training set: full batch */};
    for (size_t i = 0; i < sizeof mb / sizeof mb[0]; i++) {
        c.batch = mb[i].batch;
        c.steps = mb[i].steps;
        CHECK(gl_log_period(&c) == mb[i].period && rows_of(&c) == mb[i].rows, "batch %d, %ld steps: every %ld, %ld rows (got %ld, %ld)",
              mb[i].batch, mb[i].steps, mb[i].period, mb[i].rows, gl_log_period(&c), rows_of(&c));
    }
    c.batch = 0;
    c.log_every = 7;
    c.steps = 64000;
    CHECK(gl_log_period(&c) == 7 && rows_of(&c) == 64000 / 7 + 2, "--log-every 7 keeps its meaning at 64000 steps");
}

int main(void) {
    test_log_schedule();
    test_data_path();
    test_field_info();
    test_defaults();
    test_set();
    test_validate();
    test_resolve();
    return CHECK_DONE();
}
