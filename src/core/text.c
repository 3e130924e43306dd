/* groklab: growing text buffers (groklab/text.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/files.h"
#include "groklab/text.h"

int gl_text_printf(gl_text *b, const char *fmt, ...) {
    if (b->failed) return -1;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = b->data ? vsnprintf(b->data + b->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (n >= 0 && cap < b->len + (size_t)n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
}

void gl_text_csv(gl_text *b, double v) {
    if (isfinite(v)) gl_text_printf(b, ",%.9g", v);
    else gl_text_printf(b, ",nan");
}

void gl_text_free(gl_text *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

int gl_text_write(const gl_text *b, const char *path, gl_error *err) {
    if (b->failed) return gl_fail_nomem(err, "writing a table");
    return gl_write_atomic(path, b->data ? b->data : "", b->len, err);
}

int gl_text_save(const gl_text *b, const char *dir, const char *name, gl_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->failed) return gl_fail_nomem(err, name);
    return gl_text_write(b, path, err);
}
