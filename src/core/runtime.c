/* groklab: runtime settings, machine facts, the stop flag (groklab/runtime.h). */
#include "groklab/runtime.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gl_runtime settings = {0, -1, -1, 0, 0, 0, 0, 0};

void gl_runtime_default(gl_runtime *r) {
    memset(r, 0, sizeof *r);
    r->gpu = -1;
    r->local_rank = -1;
}

void gl_runtime_set(const gl_runtime *r) { settings = *r; }

const gl_runtime *gl_runtime_get(void) { return &settings; }

/* The settings by name: where each lives in gl_runtime, its text form and
 * the variable the groklab program reads it from. */
typedef enum { RT_BYTES, RT_INDEX, RT_FLAG, RT_NOT_FLAG, RT_EMULATE } rt_kind;

static const struct rt_setting {
    const char *name, *env;
    rt_kind kind;
    size_t off;
} rt_settings[] = {
    {"memory_limit", "GROKLAB_MEMORY_LIMIT", RT_BYTES, offsetof(gl_runtime, memory_limit)},
    {"gpu", "GROKLAB_GPU", RT_INDEX, offsetof(gl_runtime, gpu)},
    {"local_rank", NULL, RT_INDEX, offsetof(gl_runtime, local_rank)},
    {"tf32", "GROKLAB_TF32", RT_FLAG, offsetof(gl_runtime, tf32)},
    {"gpu_emulate", "GROKLAB_GPU_EMULATE", RT_EMULATE, offsetof(gl_runtime, gpu_emulate)},
    {"gpu_emulate_bytes", "GROKLAB_GPU_EMULATE_BYTES", RT_BYTES, offsetof(gl_runtime, emulate_bytes)},
    {"gpu_graphs", "GROKLAB_GPU_GRAPHS", RT_NOT_FLAG, offsetof(gl_runtime, gpu_direct)},
    {"gpu_sync", "GROKLAB_GPU_SYNC", RT_FLAG, offsetof(gl_runtime, gpu_sync)},
};
#define RT_N (int)(sizeof rt_settings / sizeof rt_settings[0])

static const char *const rt_allowed[] = {
    [RT_BYTES] = "a number of bytes >= 0; 0: the default",
    [RT_INDEX] = "-1 (the default) or an index 0 to 65535",
    [RT_FLAG] = "0 or 1",
    [RT_NOT_FLAG] = "0 or 1",
    [RT_EMULATE] = "0, 1 or strict",
};

/* The settings' names into out (cap bytes), separated by sep. */
static void rt_list(char *out, size_t cap, const char *sep) {
    out[0] = '\0';
    for (int i = 0; i < RT_N; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? sep : "", rt_settings[i].name);
}

/* The setting called name; NULL (and GL_E_INPUT listing the names) if none is. */
static const struct rt_setting *rt_find(const char *name, gl_error *err) {
    for (int i = 0; i < RT_N; i++)
        if (!strcmp(rt_settings[i].name, name)) return &rt_settings[i];
    char names[256];
    rt_list(names, sizeof names, ", ");
    gl_fail(err, "unknown runtime setting '%.100s' (allowed: %s)", name, names);
    return NULL;
}

const char *gl_runtime_names(void) {
    static char names[256];
    if (!names[0]) rt_list(names, sizeof names, " ");
    return names;
}

/* Sets s in r from text; label names it in the message (the setting or the variable). */
static int rt_parse(gl_runtime *r, const struct rt_setting *s, const char *label, const char *text,
                    gl_error *err) {
    char *at = (char *)r + s->off, *end = NULL;
    int ok = 0;
    errno = 0;
    switch (s->kind) {
    case RT_BYTES: {
        double v = text[0] ? strtod(text, &end) : -1;
        if ((ok = end && !*end && errno == 0 && isfinite(v) && v >= 0)) memcpy(at, &v, sizeof v);
        break;
    }
    case RT_INDEX: {
        long v = text[0] ? strtol(text, &end, 10) : -2;
        if ((ok = end && !*end && errno == 0 && v >= -1 && v <= 65535)) *(int *)(void *)at = (int)v;
        break;
    }
    case RT_FLAG:
    case RT_NOT_FLAG:
        if ((ok = !strcmp(text, "0") || !strcmp(text, "1")))
            *(int *)(void *)at = (text[0] == '1') != (s->kind == RT_NOT_FLAG);
        break;
    case RT_EMULATE:
        if ((ok = !strcmp(text, "0") || !strcmp(text, "1") || !strcmp(text, "strict")))
            *(int *)(void *)at = text[0] == 's' ? 2 : text[0] - '0';
        break;
    }
    if (!ok) return gl_fail(err, "%s: '%.200s' is not allowed (allowed: %s)", label, text, rt_allowed[s->kind]);
    return 0;
}

int gl_runtime_parse(gl_runtime *r, const char *name, const char *text, gl_error *err) {
    const struct rt_setting *s = rt_find(name, err);
    if (!s) return GL_E_INPUT;
    return rt_parse(r, s, name, text, err);
}

int gl_runtime_format(const gl_runtime *r, const char *name, char *out, size_t cap, gl_error *err) {
    const struct rt_setting *s = rt_find(name, err);
    if (!s) return GL_E_INPUT;
    const char *at = (const char *)r + s->off;
    int v = 0;
    if (s->kind != RT_BYTES) memcpy(&v, at, sizeof v);
    switch (s->kind) {
    case RT_BYTES: {
        double d;
        memcpy(&d, at, sizeof d);
        snprintf(out, cap, "%.17g", d);
        break;
    }
    case RT_INDEX: snprintf(out, cap, "%d", v); break;
    case RT_FLAG: snprintf(out, cap, "%d", v != 0); break;
    case RT_NOT_FLAG: snprintf(out, cap, "%d", v == 0); break;
    case RT_EMULATE: snprintf(out, cap, "%s", v == 2 ? "strict" : v ? "1" : "0"); break;
    }
    return 0;
}

int gl_runtime_environment(gl_runtime *r, gl_error *err) {
    gl_runtime_default(r);
    int rc = 0;
    gl_error e;
    for (int i = 0; i < RT_N; i++) {
        const struct rt_setting *s = &rt_settings[i];
        const char *env = s->env, *v = env ? getenv(env) : NULL;
        if (!env) { /* the local rank: the MPI launcher's or Slurm's */
            env = "OMPI_COMM_WORLD_LOCAL_RANK";
            if (!(v = getenv(env)) || !*v) v = getenv(env = "SLURM_LOCALID");
        }
        if (v && *v && rt_parse(r, s, env, v, &e) < 0 && rc == 0) {
            rc = GL_E_INPUT;
            if (err) *err = e;
        }
    }
    return rc;
}

double gl_system_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

int gl_cores(void) { return omp_get_num_procs(); }

double gl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile sig_atomic_t stop_flag;

void gl_stop_request(void) { stop_flag = 1; }
int gl_stop_requested(void) { return stop_flag != 0; }
void gl_stop_clear(void) { stop_flag = 0; }
void gl_stop_signal_handler(int sig) {
    (void)sig;
    stop_flag = 1;
}
