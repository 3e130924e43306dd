/* libFuzzer harness for the safetensors reader: open any bytes, list every
 * tensor, get each with and without dtype and element-count checks, touch
 * every byte of its data, read metadata. Any crash, sanitizer report or
 * out-of-bounds read is a bug. Build and run: tests/fuzz/run.sh [SECONDS]. */
#include <stddef.h>
#include <stdint.h>

#include "groklab/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gl_st_file *f;
    gl_error err;
    if (gl_st_open_mem(&f, data, size, "fuzz", &err) != 0) return 0;
    static const size_t sizes[] = {4, 8, 4, 8, 1};
    volatile unsigned sink = 0;
    for (int i = 0; i < gl_st_count(f); i++) {
        const char *name = gl_st_name(f, i);
        gl_st_tensor t;
        if (gl_st_get(f, name, (gl_st_dtype)-1, -1, &t, &err) != 0) __builtin_trap(); /* listed: must be found */
        int64_t n = 1;
        for (int d = 0; d < t.ndim; d++) n *= t.shape[d];
        const unsigned char *p = t.data;
        for (int64_t b = 0; b < n * (int64_t)sizes[t.dtype]; b++) sink += p[b];
        /* typed loads: UBSan checks the alignment callers rely on */
        if (t.dtype == GL_ST_F32 && n > 0) sink += ((const float *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_F64 && n > 0) sink += ((const double *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_I32 && n > 0) sink += ((const int32_t *)t.data)[n - 1] != 0;
        if (t.dtype == GL_ST_I64 && n > 0) sink += ((const int64_t *)t.data)[n - 1] != 0;
        gl_st_get(f, name, GL_ST_F32, 12, &t, &err);
        gl_st_get(f, name, GL_ST_U8, -1, &t, &err);
    }
    gl_st_get(f, "U", GL_ST_F32, -1, &(gl_st_tensor){0}, &err);
    const char *m = gl_st_meta_get(f, "step");
    if (m) sink += (unsigned)m[0];
    gl_st_close(f);
    (void)sink;
    return 0;
}
