/* groklab: error messages and codes. */
#include "groklab/error.h"

#include <stdarg.h>
#include <stdio.h>

static void fill(gl_error *err, int code, const char *fmt, va_list ap) {
    if (!err) return;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    err->code = code;
}

int gl_fail(gl_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fill(err, GL_E_INPUT, fmt, ap);
    va_end(ap);
    return GL_E_INPUT;
}

int gl_failc(gl_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int gl_fail_nomem(gl_error *err, const char *what) {
    return gl_failc(err, GL_E_NOMEM, "out of memory%s%s", what && *what ? " " : "", what ? what : "");
}

const char *gl_status_name(int code) {
    switch (code) {
    case GL_OK: return "ok";
    case GL_E_INPUT: return "bad input";
    case GL_E_NOMEM: return "out of memory";
    case GL_E_IO: return "input/output error";
    case GL_E_CORRUPT: return "corrupt file";
    case GL_E_NODEVICE: return "device unavailable";
    case GL_E_DEVICE: return "device failure";
    case GL_E_INTERRUPTED: return "interrupted";
    case GL_E_INTERNAL: return "internal error";
    }
    return "unknown error";
}
