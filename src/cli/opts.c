/* groklab CLI: one parser for every command's options (cli.h: cli_opt). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Index of w in "a|b|c", or -1. */
static int word_index(const char *words, const char *w) {
    size_t n = strlen(w);
    int i = 0;
    for (const char *s = words;; i++) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        if (len == n && !strncmp(s, w, n)) return i;
        if (!bar) return -1;
        s = bar + 1;
    }
}

/* "a|b|c" as "a, b, c" */
static void word_list(const char *words, char *out, size_t cap) {
    size_t k = 0;
    for (const char *s = words; *s && k + 3 < cap; s++) {
        if (*s == '|') {
            out[k++] = ',';
            out[k++] = ' ';
        } else {
            out[k++] = *s;
        }
    }
    out[k] = 0;
}

static int set_value(const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_FLAG: return 0;
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_INT:
    case OPT_LONG: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno || x < o->lo || x > o->hi) {
            cli_error("%s: '%s' is not an integer in [%.0f, %.0f]", o->name, v, o->lo, o->hi);
            return -1;
        }
        if (o->kind == OPT_INT) *(int *)o->dst = (int)x;
        else *(long *)o->dst = x;
        return 0;
    }
    case OPT_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end || errno || (double)x > o->hi) {
            cli_error("%s: '%s' is not an integer in [0, %.0f]", o->name, v, o->hi);
            return -1;
        }
        *(uint64_t *)o->dst = (uint64_t)x;
        return 0;
    }
    case OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || !(x >= o->lo && x <= o->hi)) {
            cli_error("%s: '%s' is not a number in [%g, %g]", o->name, v, o->lo, o->hi);
            return -1;
        }
        *(double *)o->dst = x;
        return 0;
    }
    case OPT_WORD: {
        int w = word_index(o->words, v);
        if (w < 0) {
            char list[256];
            word_list(o->words, list, sizeof list);
            cli_error("%s: '%s' is not allowed (allowed: %s)", o->name, v, list);
            return -1;
        }
        *(int *)o->dst = w;
        return 0;
    }
    }
    return -1;
}

int cli_parse(int argc, char **argv, cli_args *a) {
    a->n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            if (a->help) a->help(stdout);
            return EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (a->n_pos < a->max_pos) {
                a->pos[a->n_pos++] = arg;
                continue;
            }
            cli_error("%s: unexpected '%s' (usage: %s)", a->cmd, arg, a->usage);
            return EXIT_USAGE;
        }
        /* --name=value or --name [value] */
        char name[64];
        const char *eq = strchr(arg, '='), *value = NULL;
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, arg, n);
        name[n] = 0;
        const cli_opt *o = a->opts;
        while (o && o->name && strcmp(o->name, name)) o++;
        if (o && o->name && o->kind == OPT_FLAG) {
            if (eq) {
                cli_error("%s takes no value", name);
                return EXIT_USAGE;
            }
            *(int *)o->dst = 1;
            continue;
        }
        if (!(o && o->name) && !a->knob) {
            cli_error("%s: unknown option '%s' (usage: %s)", a->cmd, name, a->usage);
            return EXIT_USAGE;
        }
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else {
            cli_error("%s: missing value", name);
            return EXIT_USAGE;
        }
        if (o && o->name) {
            if (set_value(o, value) != 0) return EXIT_USAGE;
            continue;
        }
        gl_error e;
        if (a->knob(a->ctx, name + 2, value, &e) != 0) return cli_fail(&e);
    }
    return -1;
}
