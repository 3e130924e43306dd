/* libFuzzer harness for the safetensors reader: open any bytes; if they are
 * accepted, list every tensor, get each with and without the dtype and
 * element-count checks, check its data is aligned for its dtype, touch every
 * byte of it and load its last element through a typed pointer (UBSan checks
 * the alignment callers rely on), and read metadata. Any crash, sanitizer
 * report or trap is a bug. Build and run: tests/fuzz/run.sh [SECONDS]. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "groklab/io.h"

#define MUST(cond) \
    do {           \
        if (!(cond)) __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t sizes[] = {4, 8, 4, 8, 1};
    gl_st_file *f;
    gl_error err;
    if (gl_st_open_mem(&f, data, size, "fuzz", &err) != 0) {
        MUST(strchr(err.msg, '\n') == NULL && strncmp(err.msg, "fuzz: ", 6) == 0); /* one line, names the file */
        return 0;
    }
    volatile unsigned sink = 0;
    int64_t total = 0;
    for (int i = 0; i < gl_st_count(f); i++) {
        const char *name = gl_st_name(f, i);
        gl_st_tensor t;
        MUST(name && gl_st_get(f, name, (gl_st_dtype)-1, -1, &t, &err) == 0); /* listed: must be found */
        MUST((int)t.dtype >= 0 && (int)t.dtype < 5 && t.ndim >= 0 && t.ndim <= 4 && t.data != NULL);
        MUST((uintptr_t)t.data % sizes[t.dtype] == 0);
        int64_t n = 1;
        for (int d = 0; d < t.ndim; d++) {
            MUST(t.shape[d] >= 0);
            n *= t.shape[d]; /* no overflow: the reader bounds the product */
        }
        int64_t bytes = n * (int64_t)sizes[t.dtype];
        MUST(bytes <= (int64_t)size);
        total += bytes;
        const unsigned char *p = t.data;
        for (int64_t b = 0; b < bytes; b++) sink += p[b];
        if (t.dtype == GL_ST_F32 && n > 0) sink += ((const float *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_F64 && n > 0) sink += ((const double *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_I32 && n > 0) sink += ((const int32_t *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_I64 && n > 0) sink += ((const int64_t *)t.data)[n - 1] != 0;
        /* the checks callers make: the right dtype and count pass, others fail */
        gl_st_tensor u;
        MUST(gl_st_get(f, name, t.dtype, n, &u, &err) == 0 && u.data == t.data);
        MUST(gl_st_get(f, name, (gl_st_dtype)((t.dtype + 1) % 5), -1, &u, &err) != 0);
        MUST(gl_st_get(f, name, t.dtype, n + 1, &u, &err) != 0);
        MUST(gl_st_get(f, name, (gl_st_dtype)9, -1, &u, &err) != 0);
    }
    MUST(total <= (int64_t)size); /* tensors do not overlap */
    gl_st_tensor t;
    gl_st_get(f, "U", GL_ST_F32, -1, &t, &err);
    MUST(gl_st_get(f, "__metadata__", (gl_st_dtype)-1, -1, &t, &err) != 0);
    MUST(gl_st_name(f, gl_st_count(f)) == NULL);
    static const char *keys[] = {"step", "p", "k", "", "__metadata__"};
    for (int i = 0; i < 5; i++) {
        const char *m = gl_st_meta_get(f, keys[i]);
        if (m) sink += (unsigned)strlen(m);
    }
    gl_st_close(f);
    (void)sink;
    return 0;
}
