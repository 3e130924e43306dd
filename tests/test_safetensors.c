/* The safetensors reader on a good file (bit-exact round trip) and on every
 * kind of malformed file: each is refused at open with a message naming the
 * problem, never a crash (the same checks run under ASan/UBSan in CI; the
 * fuzz harness in tests/fuzz explores the rest). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/io.h"

/* A file from a header text and n data bytes (0, 1, 2, ...). */
static size_t make(unsigned char *buf, const char *header, size_t header_len_field, size_t n) {
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)header_len_field >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < n; i++) buf[8 + hl + i] = (unsigned char)i;
    return 8 + hl + n;
}

static void refused(const char *what, const char *header, long hl_field, size_t n, const char *want) {
    static unsigned char buf[1 << 16];
    size_t len = make(buf, header, hl_field < 0 ? strlen(header) : (size_t)hl_field, n);
    gl_st_file *f = NULL;
    gl_error e;
    int rc = gl_st_open_mem(&f, buf, len, "x.safetensors", &e);
    CHECK(rc != 0 && strstr(e.msg, want) != NULL, "%s: refused (%s)", what, rc ? e.msg : "accepted!");
    if (rc == 0) gl_st_close(f);
}

int main(void) {
    /* a good file, written and read back */
    float u[6] = {1.5f, -2, 3, 4, 5e-8f, 6};
    double w[3] = {1e300, -0.0, 3};
    int32_t ii[2] = {7, -9};
    int64_t sh_u[2] = {2, 3}, sh_w[1] = {3}, sh_i[1] = {2};
    gl_error e;
    gl_st_writer *wr = gl_st_writer_new();
    gl_st_add(wr, "U", GL_ST_F32, 2, sh_u, u, &e);
    gl_st_add(wr, "w", GL_ST_F64, 1, sh_w, w, &e);
    gl_st_add(wr, "i", GL_ST_I32, 1, sh_i, ii, &e);
    gl_st_meta(wr, "step", "12", &e);
    const char *path = "test_safetensors.tmp";
    CHECK(gl_st_writer_save(wr, path, &e) == 0, "writer saves");
    gl_st_writer_free(wr);
    gl_st_file *f;
    CHECK(gl_st_open(&f, path, &e) == 0, "good file opens");
    gl_st_tensor t;
    CHECK(gl_st_count(f) == 3, "three tensors listed");
    CHECK(gl_st_get(f, "U", GL_ST_F32, 6, &t, &e) == 0 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3 &&
              !memcmp(t.data, u, sizeof u),
          "U read back bit-exactly with its shape");
    CHECK(gl_st_get(f, "w", GL_ST_F64, 3, &t, &e) == 0 && !memcmp(t.data, w, sizeof w) && (uintptr_t)t.data % 8 == 0,
          "w (F64) read back bit-exactly, aligned");
    CHECK(gl_st_get(f, "i", GL_ST_I32, -1, &t, &e) == 0 && !memcmp(t.data, ii, sizeof ii), "i (I32) read back");
    CHECK(gl_st_meta_get(f, "step") && !strcmp(gl_st_meta_get(f, "step"), "12"), "metadata read back");
    CHECK(gl_st_get(f, "U", GL_ST_F64, -1, &t, &e) != 0 && strstr(e.msg, "dtype F32, expected F64"), "wrong dtype requested: %s", e.msg);
    CHECK(gl_st_get(f, "U", GL_ST_F32, 7, &t, &e) != 0 && strstr(e.msg, "has 6 elements, expected 7"), "wrong size requested: %s", e.msg);
    CHECK(gl_st_get(f, "V", GL_ST_F32, -1, &t, &e) != 0 && strstr(e.msg, "'V' is missing"), "missing tensor: %s", e.msg);
    gl_st_close(f);
    /* truncated copies of the good file */
    char *raw;
    size_t len;
    gl_read_file(path, &raw, &len, &e);
    int trunc_ok = 1;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 8) {
        if (gl_st_open_mem(&f, raw, cut, "cut", &e) == 0) {
            trunc_ok = 0;
            gl_st_close(f);
        }
    }
    CHECK(trunc_ok, "every truncation of a %zu-byte file is refused", len);
    free(raw);
    remove(path);

    /* malformed headers */
    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    refused("empty header", "", 0, 0, "bad header length");
    CHECK(gl_st_open_mem(&f, "\x02\0\0\0", 4, "short", &e) != 0 && strstr(e.msg, "shorter than its 8-byte header length"),
          "file shorter than 8 bytes: refused (%s)", e.msg);
    refused("header length past the end", ok1, 1 << 20, 8, "bad header length");
    refused("header length 2^63", ok1, (long)(UINT64_C(1) << 62), 8, "bad header length");
    refused("header length 1", ok1, 1, 8, "bad header length");
    refused("not JSON", "{\"a\":", -1, 8, "malformed header");
    refused("JSON array, not object", "[1,2]", -1, 8, "malformed header");
    refused("entry not an object", "{\"a\":3}", -1, 8, "entry is not an object");
    refused("dtype missing", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, "dtype missing");
    refused("unknown dtype", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4,
            "unknown dtype 'BF16' (allowed: F32, F64, I32, I64, U8)");
    refused("shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", -1, 8, "shape missing or not an array");
    refused("five dimensions", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,1]}}", -1, 1, "more than 4 dimensions");
    refused("negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,-1],\"data_offsets\":[0,8]}}", -1, 8, "integers >= 0");
    refused("fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", -1, 8, "integers >= 0");
    refused("huge dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", -1, 8, "integers >= 0");
    refused("element count overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", -1, 8, "too many elements");
    refused("offsets not two numbers", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", -1, 8, "data_offsets must be two integers");
    refused("negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", -1, 8, "data_offsets must be two integers");
    refused("offsets past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", -1, 8, "data offsets out of the file");
    refused("begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", -1, 8, "data offsets out of the file");
    refused("size disagrees with shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 12, "does not match its dtype and shape");
    refused("metadata not an object", "{\"__metadata__\":[1]}", -1, 0, "__metadata__ is not an object");
    refused("metadata value not a string", "{\"__metadata__\":{\"step\":3}}", -1, 0, "metadata 'step' is not a string");
    refused("duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
            -1, 1, "'a' appears twice");

    /* misaligned data (header not padded to 8, odd offset) is copied aligned */
    static unsigned char buf[256];
    const char *mis = "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[1,17]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    size_t n = make(buf, mis, strlen(mis), 17);
    int rc = gl_st_open_mem(&f, buf, n, "mis", &e);
    CHECK(rc == 0, "misaligned F64 tensor accepted (%s)", rc ? e.msg : "ok");
    if (rc == 0) {
        CHECK(gl_st_get(f, "a", GL_ST_F64, 2, &t, &e) == 0 && (uintptr_t)t.data % 8 == 0 &&
                  !memcmp(t.data, buf + 8 + strlen(mis) + 1, 16),
              "misaligned F64 data comes back aligned and equal");
        gl_st_close(f);
    }
    return CHECK_DONE();
}
