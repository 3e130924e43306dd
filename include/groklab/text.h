/* groklab: a growing text buffer, for the tables, summaries and figure
 * scripts groklab writes. Once memory runs out the buffer is marked failed
 * and saving it fails: a table is never written half. */
#ifndef GROKLAB_TEXT_H
#define GROKLAB_TEXT_H

#include <stddef.h>

#include "groklab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gl_text {
    char *data;
    size_t len, cap;
    int failed; /* memory ran out */
} gl_text;

/* Appends formatted text; -1 (and failed) when memory runs out. */
int gl_text_printf(gl_text *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends ",%.9g", or ",nan" for a value that is not finite (CSV cells). */
void gl_text_csv(gl_text *b, double v);
void gl_text_free(gl_text *b);
/* Writes the buffer to path (or dir/name) atomically (groklab/files.h). */
int gl_text_write(const gl_text *b, const char *path, gl_error *err);
int gl_text_save(const gl_text *b, const char *dir, const char *name, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
