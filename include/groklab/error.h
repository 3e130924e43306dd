/* groklab: errors.
 *
 * Library functions return an int status (0 = ok, a negative gl_status on
 * failure) and fill a gl_error the caller may print: its message names the
 * problem (and, for bad input, the allowed values), its code says what kind
 * of failure it was. The library never prints and never exits; the CLI maps
 * codes to exit statuses in one place (2 for bad input, 1 for a runtime
 * failure, 128 + the signal for an interrupt). */
#ifndef GROKLAB_ERROR_H
#define GROKLAB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define GL_ERRLEN 512

typedef enum gl_status {
    GL_OK = 0,
    GL_E_INPUT = -1,       /* bad input: a value, an option, a combination, a path that is not one */
    GL_E_NOMEM = -2,       /* out of memory (host or device) */
    GL_E_IO = -3,          /* reading or writing a file failed */
    GL_E_CORRUPT = -4,     /* a file is malformed, truncated, or not groklab's */
    GL_E_NODEVICE = -5,    /* the backend asked for cannot run here (no GPU, no CUDA in this build) */
    GL_E_DEVICE = -6,      /* the device failed while running */
    GL_E_INTERRUPTED = -7, /* stopped on request (gl_stop_request, e.g. from a signal) */
    GL_E_INTERNAL = -8,    /* a broken invariant: a bug */
} gl_status;

typedef struct gl_error {
    char msg[GL_ERRLEN];
    int code; /* a gl_status */
} gl_error;

/* Formats the message into err (if non-NULL) with code GL_E_INPUT and
 * returns GL_E_INPUT (-1). */
int gl_fail(gl_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The same with another code; returns code. */
int gl_failc(gl_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* "out of memory" + what, code GL_E_NOMEM; returns GL_E_NOMEM. */
int gl_fail_nomem(gl_error *err, const char *what);

/* A word for a code ("bad input", "out of memory", ...). */
const char *gl_status_name(int code);

#ifdef __cplusplus
}
#endif

#endif
