/* The tests' reading of a whole file: its bytes, NUL-terminated, with their
 * count in *len (may be NULL); NULL if it cannot be opened. */
#ifndef GROKLAB_TEST_READ_BYTES_H
#define GROKLAB_TEST_READ_BYTES_H

#include <stdio.h>
#include <stdlib.h>

static inline char *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
    if (b) b[got] = 0;
    if (len) *len = got;
    fclose(f);
    return b;
}

#endif
