/* groklab: errors.
 *
 * Library functions return an int status (0 = ok, negative = error) and fill
 * a gl_error the caller may print. The library never prints and never exits;
 * the CLI decides what to show and which exit code to use. */
#ifndef GROKLAB_ERROR_H
#define GROKLAB_ERROR_H

#define GL_ERRLEN 512

typedef struct gl_error {
    char msg[GL_ERRLEN];
} gl_error;

/* Formats the message into err (if non-NULL) and returns -1. */
int gl_fail(gl_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
