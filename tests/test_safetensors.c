/* The safetensors reader on good files (the writer's exact bytes, a bit-exact
 * round trip of every dtype, misaligned data read back aligned) and on every
 * kind of malformed file: each is refused at open with one line naming the
 * file and the problem, never a crash (the same checks run under ASan/UBSan
 * in the sanitizer build; the fuzz harness in tests/fuzz explores the rest,
 * and what it finds is added here). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "groklab/io.h"

#define USE_STRLEN UINT64_MAX

static unsigned char buf[1 << 16];

/* A file in buf: the length field (the header's length unless given), the
 * header text, then n data bytes 0, 1, 2, ... */
static size_t make(const char *header, uint64_t length_field, size_t n) {
    size_t hl = strlen(header);
    uint64_t field = length_field == USE_STRLEN ? hl : length_field;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(field >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < n; i++) buf[8 + hl + i] = (unsigned char)(i * 37 + 11);
    return 8 + hl + n;
}

/* The message is one line that starts with the file's name. */
static int one_line_from(const char *msg, const char *name) {
    return strchr(msg, '\n') == NULL && strncmp(msg, name, strlen(name)) == 0 && msg[strlen(name)] == ':';
}

static void refused_bytes(const char *what, size_t len, const char *want) {
    gl_st_file *f = NULL;
    gl_error e = {{0}, 0};
    int rc = gl_st_open_mem(&f, buf, len, "x.safetensors", &e);
    CHECK(rc != 0 && strstr(e.msg, want) != NULL && one_line_from(e.msg, "x.safetensors"), "%s: refused (%s)", what,
          rc ? e.msg : "accepted!");
    if (rc == 0) gl_st_close(f);
}

static void refused_hl(const char *what, const char *header, uint64_t length_field, size_t n, const char *want) {
    refused_bytes(what, make(header, length_field, n), want);
}

static void refused(const char *what, const char *header, size_t n, const char *want) {
    refused_hl(what, header, USE_STRLEN, n, want);
}

/* One tensor entry {"a": {...}} with the given dtype, shape and offsets text. */
static const char *entry(const char *dtype, const char *shape, const char *offsets) {
    static char h[512];
    snprintf(h, sizeof h, "{\"a\":{\"dtype\":%s,\"shape\":%s,\"data_offsets\":%s}}", dtype, shape, offsets);
    return h;
}

static void good_file(void) {
    float u[6] = {1.5f, -2, 3, 4, 5e-8f, 6};
    double w[3] = {1e300, -0.0, 3};
    int32_t ii[2] = {7, -9};
    int64_t ll[3] = {INT64_MIN, -1, INT64_MAX};
    uint8_t b[5] = {0, 1, 127, 128, 255};
    float s = 0.25f;
    int64_t sh_u[2] = {2, 3}, sh_w[1] = {3}, sh_i[1] = {2}, sh_l[3] = {1, 3, 1}, sh_b[1] = {5}, sh_e[2] = {4, 0};
    gl_error e;
    gl_st_writer *wr = gl_st_writer_new();
    int rc = gl_st_add(wr, "U", GL_ST_F32, 2, sh_u, u, &e);
    rc |= gl_st_add(wr, "w", GL_ST_F64, 1, sh_w, w, &e);
    rc |= gl_st_add(wr, "i", GL_ST_I32, 1, sh_i, ii, &e);
    rc |= gl_st_add(wr, "l", GL_ST_I64, 3, sh_l, ll, &e);
    rc |= gl_st_add(wr, "b", GL_ST_U8, 1, sh_b, b, &e);
    rc |= gl_st_add(wr, "scalar", GL_ST_F32, 0, NULL, &s, &e);
    rc |= gl_st_add(wr, "empty", GL_ST_F64, 2, sh_e, NULL, &e);
    rc |= gl_st_meta(wr, "step", "12", &e);
    char path[64];
    snprintf(path, sizeof path, "test_safetensors.%ld.tmp", (long)getpid());
    CHECK(rc == 0 && gl_st_writer_save(wr, path, &e) == 0, "writer saves seven tensors and metadata");
    gl_st_writer_free(wr);

    gl_st_file *f;
    gl_st_tensor t;
    CHECK(gl_st_open(&f, path, &e) == 0, "good file opens");
    CHECK(gl_st_count(f) == 7 && !strcmp(gl_st_name(f, 0), "U") && !strcmp(gl_st_name(f, 6), "empty") &&
              gl_st_name(f, 7) == NULL && gl_st_name(f, -1) == NULL,
          "seven tensors listed in file order");
    CHECK(gl_st_get(f, "U", GL_ST_F32, 6, &t, &e) == 0 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3 &&
              !memcmp(t.data, u, sizeof u),
          "U (F32) read back bit-exactly with its shape");
    CHECK(gl_st_get(f, "w", GL_ST_F64, 3, &t, &e) == 0 && !memcmp(t.data, w, sizeof w) && (uintptr_t)t.data % 8 == 0,
          "w (F64) read back bit-exactly (-0.0 kept), aligned");
    CHECK(gl_st_get(f, "i", GL_ST_I32, -1, &t, &e) == 0 && !memcmp(t.data, ii, sizeof ii), "i (I32) read back");
    CHECK(gl_st_get(f, "l", GL_ST_I64, 3, &t, &e) == 0 && t.ndim == 3 && !memcmp(t.data, ll, sizeof ll) &&
              (uintptr_t)t.data % 8 == 0,
          "l (I64, shape (1, 3, 1)) read back with INT64_MIN and MAX");
    CHECK(gl_st_get(f, "b", GL_ST_U8, 5, &t, &e) == 0 && !memcmp(t.data, b, sizeof b), "b (U8) read back");
    CHECK(gl_st_get(f, "scalar", GL_ST_F32, 1, &t, &e) == 0 && t.ndim == 0 && *(const float *)t.data == 0.25f,
          "a 0-d tensor has one element");
    CHECK(gl_st_get(f, "empty", GL_ST_F64, 0, &t, &e) == 0 && t.ndim == 2 && t.shape[1] == 0 && t.data &&
              (uintptr_t)t.data % 8 == 0,
          "an empty (4, 0) tensor has an aligned, non-NULL pointer");
    CHECK(gl_st_meta_get(f, "step") && !strcmp(gl_st_meta_get(f, "step"), "12"), "metadata read back");
    CHECK(gl_st_meta_get(f, "nothere") == NULL && gl_st_meta_get(f, "U") == NULL, "absent metadata is NULL");

    /* what callers are told when they ask for the wrong thing */
    CHECK(gl_st_get(f, "U", GL_ST_F64, -1, &t, &e) != 0 && strstr(e.msg, "tensor 'U' has dtype F32, expected F64"),
          "wrong dtype requested: %s", e.msg);
    CHECK(gl_st_get(f, "i", GL_ST_F32, 2, &t, &e) != 0 && strstr(e.msg, "tensor 'i' has dtype I32, expected F32"),
          "I32 requested as F32: %s", e.msg);
    CHECK(gl_st_get(f, "U", GL_ST_F32, 48500, &t, &e) != 0 && strstr(e.msg, "tensor 'U' has 6 elements, expected 48500"),
          "wrong size requested: %s", e.msg);
    CHECK(gl_st_get(f, "V", GL_ST_F32, -1, &t, &e) != 0 && strstr(e.msg, "tensor 'V' is missing"), "missing tensor: %s",
          e.msg);
    CHECK(gl_st_get(f, "U", (gl_st_dtype)7, -1, &t, &e) != 0 && strstr(e.msg, "not a gl_st_dtype"),
          "a dtype outside the enum is refused, not looked up: %s", e.msg);
    CHECK(gl_st_get(f, "__metadata__", (gl_st_dtype)-1, -1, &t, &e) != 0, "__metadata__ is not a tensor");
    gl_st_close(f);

    /* the same bytes from memory; every truncation refused, naming the file */
    char *raw;
    size_t len;
    CHECK(gl_read_file(path, &raw, &len, &e) == 0, "read the file back (%zu bytes)", len);
    CHECK(gl_st_open_mem(&f, raw, len, "mem", &e) == 0 && gl_st_count(f) == 7, "the same bytes open from memory");
    gl_st_close(f);
    int cut_refused = 0, cut_named = 0, cuts = 0;
    for (size_t cut = 0; cut < len; cut++, cuts++) {
        if (gl_st_open_mem(&f, raw, cut, "cut.safetensors", &e) == 0) {
            gl_st_close(f);
            continue;
        }
        cut_refused++;
        cut_named += one_line_from(e.msg, "cut.safetensors");
    }
    CHECK(cut_refused == cuts && cut_named == cuts, "all %d truncations of the %zu-byte file refused in one named line (%d, %d)",
          cuts, len, cut_refused, cut_named);
    free(raw);

    /* gl_st_open names the path */
    FILE *fp = fopen(path, "wb");
    fwrite("\x05\0\0\0\0\0\0\0{\"a\":", 1, 13, fp);
    fclose(fp);
    CHECK(gl_st_open(&f, path, &e) != 0 && one_line_from(e.msg, path) && strstr(e.msg, "not valid JSON"),
          "a malformed file on disk: %s", e.msg);
    remove(path);
    CHECK(gl_st_open(&f, path, &e) != 0 && strstr(e.msg, path), "a missing file: %s", e.msg);
}

/* The writer's bytes for a small file, spelled out: the format other
 * readers (Python's safetensors, tests/python/glio.py) rely on. */
static void writer_bytes(void) {
    float u[2] = {1, -2};
    int64_t sh[1] = {2};
    gl_error e;
    gl_st_writer *wr = gl_st_writer_new();
    gl_st_add(wr, "U", GL_ST_F32, 1, sh, u, &e);
    gl_st_meta(wr, "k", "v", &e);
    char path[64];
    snprintf(path, sizeof path, "test_safetensors_w.%ld.tmp", (long)getpid());
    gl_st_writer_save(wr, path, &e);
    gl_st_writer_free(wr);
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},\"U\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(json), padded = (hl + 7) / 8 * 8;
    unsigned char want[256] = {(unsigned char)padded};
    memcpy(want + 8, json, hl);
    memset(want + 8 + hl, ' ', padded - hl);
    memcpy(want + 8 + padded, u, sizeof u);
    char *raw = NULL;
    size_t len = 0;
    gl_read_file(path, &raw, &len, &e);
    CHECK(raw && len == 8 + padded + 8 && !memcmp(raw, want, len), "writer bytes: length, JSON padded with spaces, data");
    free(raw);
    remove(path);
}

static void malformed(void) {
    /* the length field */
    refused_bytes("empty file", 0, "shorter than its 8-byte header length");
    memcpy(buf, "\x02\0\0\0", 4);
    refused_bytes("4-byte file", 4, "shorter than its 8-byte header length");
    refused_hl("header length 0", "", 0, 0, "bad header length 0");
    refused_hl("header length 1", "{}", 1, 8, "bad header length 1 (at least 2)");
    refused_hl("header length past the end", "{}", 11, 0, "bad header length 11 (past the end of the 10-byte file)");
    refused_hl("header length one past the end", "{}", 3, 0, "past the end");
    refused_hl("header length 2^40", "{}", UINT64_C(1) << 40, 8, "bad header length 1099511627776 (over the 100 MB limit)");
    refused_hl("header length 2^64 - 2", "{}", UINT64_MAX - 1, 8, "over the 100 MB limit");
    refused_hl("header length 2^63", "{}", UINT64_C(1) << 63, 8, "over the 100 MB limit");
    refused_hl("header length too short for the JSON", entry("\"F32\"", "[2]", "[0,8]"), 20, 40, "not valid JSON");

    /* the JSON */
    refused("not JSON", "{\"a\":", 8, "malformed header: not valid JSON");
    refused("not JSON at all", "\xff\xfe garbage", 8, "not valid JSON");
    refused("JSON array, not object", "[1,2]", 8, "malformed header: not a JSON object");
    refused("JSON string", "\"ab\"", 8, "not a JSON object");
    refused("JSON number", "12", 8, "not a JSON object");
    refused("JSON null", "null", 8, "not a JSON object");
    refused("bytes after the JSON", "{}x  ", 8, "bytes after the JSON object (at byte 2 of 5)");
    refused("a second object", "{}{}", 8, "bytes after the JSON object");
    memcpy(buf, "\x08\0\0\0\0\0\0\0{}\0\0\0\0\0\0", 16);
    refused_bytes("NUL padding after the JSON", 16, "bytes after the JSON object");
    char deep[2100] = "";
    for (int i = 0; i < 1040; i++) strcat(deep, "[");
    for (int i = 0; i < 1040; i++) strcat(deep, "]");
    static char deep_h[2200];
    snprintf(deep_h, sizeof deep_h, "{\"a\":%s}", deep);
    refused("1040 nested arrays (past cJSON's nesting limit)", deep_h, 8, "not valid JSON");

    /* entries */
    refused("entry not an object", "{\"a\":3}", 8, "tensor 'a': entry is not an object");
    refused("entry an array", "{\"a\":[]}", 8, "tensor 'a': entry is not an object");
    refused("dtype missing", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
            "tensor 'a': dtype is missing or not a string (allowed: F32, F64, I32, I64, U8)");
    refused("dtype a number", entry("4", "[2]", "[0,8]"), 8, "dtype is missing or not a string");
    refused("unknown dtype", entry("\"BF16\"", "[2]", "[0,4]"), 4,
            "tensor 'a': unknown dtype 'BF16' (allowed: F32, F64, I32, I64, U8)");
    refused("lower-case dtype", entry("\"f32\"", "[2]", "[0,8]"), 8, "unknown dtype 'f32'");
    refused("empty dtype", entry("\"\"", "[2]", "[0,8]"), 8, "unknown dtype ''");

    /* shapes */
    refused("shape missing", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor 'a': shape is missing or not an array");
    refused("shape not an array", entry("\"F32\"", "2", "[0,8]"), 8, "tensor 'a': shape is missing or not an array");
    refused("shape an object", entry("\"F32\"", "{\"0\":2}", "[0,8]"), 8, "shape is missing or not an array");
    refused("five dimensions", entry("\"U8\"", "[1,1,1,1,1]", "[0,1]"), 1, "tensor 'a': shape has 5 dimensions (at most 4)");
    refused("negative dimension", entry("\"F32\"", "[2,-1]", "[0,8]"), 8, "tensor 'a': shape[1] is not an integer in [0, 2^53)");
    refused("fractional dimension", entry("\"F32\"", "[1.5]", "[0,6]"), 8, "shape[0] is not an integer");
    refused("huge dimension", entry("\"F32\"", "[1e300]", "[0,8]"), 8, "shape[0] is not an integer");
    refused("dimension 2^53", entry("\"U8\"", "[9007199254740992]", "[0,8]"), 8, "shape[0] is not an integer");
    refused("dimension a string", entry("\"F32\"", "[\"2\"]", "[0,8]"), 8, "shape[0] is not an integer");
    refused("dimension null", entry("\"F32\"", "[null]", "[0,8]"), 8, "shape[0] is not an integer");
    refused("dimension true", entry("\"F32\"", "[true]", "[0,8]"), 8, "shape[0] is not an integer");
    refused("element count overflow", entry("\"F64\"", "[4294967296,4294967296]", "[0,8]"), 8,
            "tensor 'a': shape has too many elements");
    refused("byte count overflow", entry("\"F64\"", "[1073741824,1073741824,8]", "[0,8]"), 8, "too many elements");
    refused("overflow after a zero is still checked", entry("\"F32\"", "[0,9007199254740991,9007199254740991]", "[0,0]"), 0,
            "too many elements");
    refused("2^52 elements of 8 bytes", entry("\"F64\"", "[4503599627370496]", "[0,8]"), 8,
            "data_offsets span 8 bytes, but dtype F64 and shape (4503599627370496) need 36028797018963968");

    /* data offsets */
    refused("offsets missing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
            "tensor 'a': data_offsets must be an array of two integers in [0, 2^53)");
    refused("one offset", entry("\"F32\"", "[2]", "[0]"), 8, "data_offsets must be an array of two integers");
    refused("three offsets", entry("\"F32\"", "[2]", "[0,8,8]"), 8, "data_offsets must be an array of two integers");
    refused("offsets an object", entry("\"F32\"", "[2]", "{\"b\":0,\"e\":8}"), 8, "data_offsets must be an array");
    refused("offsets strings", entry("\"F32\"", "[2]", "[\"0\",\"8\"]"), 8, "data_offsets must be an array");
    refused("negative offset", entry("\"F32\"", "[2]", "[-8,0]"), 8, "data_offsets must be an array of two integers");
    refused("fractional offset", entry("\"F32\"", "[2]", "[0,8.5]"), 8, "data_offsets must be an array");
    refused("huge offset", entry("\"F32\"", "[2]", "[1e300,1e300]"), 8, "data_offsets must be an array");
    refused("offsets past the end", entry("\"F32\"", "[2]", "[8,16]"), 8,
            "tensor 'a': data_offsets end 16 is past the end of the data section (8 bytes)");
    refused("offsets one past the end", entry("\"F32\"", "[2]", "[1,9]"), 8, "end 9 is past the end");
    refused("begin after end", entry("\"F32\"", "[2]", "[8,0]"), 8, "tensor 'a': data_offsets begin 8 is after end 0");
    refused("size disagrees with shape", entry("\"F32\"", "[3]", "[0,8]"), 12,
            "tensor 'a': data_offsets span 8 bytes, but dtype F32 and shape (3) need 12");
    refused("size disagrees with dtype", entry("\"F64\"", "[2,1]", "[0,8]"), 16, "span 8 bytes, but dtype F64 and shape (2, 1) need 16");
    refused("overlapping tensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[7,9]}}",
            9, "tensors 'a' [0, 8) and 'b' [7, 9) overlap");
    refused("two names for the same bytes",
            "{\"b\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[1,9]},"
            "\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[1,9]}}",
            9, "overlap in the data section");

    /* metadata and names */
    refused("metadata not an object", "{\"__metadata__\":[1]}", 0, "__metadata__ is not an object of strings");
    refused("metadata a string", "{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object");
    refused("metadata value not a string", "{\"__metadata__\":{\"k\":\"v\",\"step\":3}}", 0, "metadata 'step' is not a string");
    refused("metadata value an object", "{\"__metadata__\":{\"o\":{}}}", 0, "metadata 'o' is not a string");
    refused("metadata value null", "{\"__metadata__\":{\"n\":null}}", 0, "metadata 'n' is not a string");
    refused("duplicate name",
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
            2, "'a' appears twice in the header");
    refused("metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__' appears twice");
    refused("control characters in the name", "{\"a\\nb\\u0001\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
            "tensor 'a?b?': data_offsets span 1 bytes");
    refused("control characters in the dtype", entry("\"F\\r32\"", "[1]", "[0,4]"), 4, "unknown dtype 'F?32'");
    char longname[300];
    memset(longname, 'n', 200);
    longname[200] = 0;
    snprintf(deep_h, sizeof deep_h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]}}", longname);
    refused("a 200-character name is cut", deep_h, 1, "nnnnnnnn...': data_offsets span");

    /* thousands of entries: too many, and long duplicate names found fast */
    static char many[1 << 16];
    size_t k = (size_t)snprintf(many, sizeof many, "{");
    for (int i = 0; i < 4097; i++) k += (size_t)snprintf(many + k, sizeof many - k, "\"%d\":0,", i);
    many[k - 1] = '}';
    refused("4097 entries", many, 0, "more than 4096 entries in the header");
}

/* Misaligned data (header length not a multiple of 8, odd begin offsets) is
 * copied to aligned memory, equal byte for byte. */
static void misaligned(void) {
    const char *h = "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[1,17]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"c\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[18,30]},"
                    "\"d\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[30,38]},"
                    "\"e\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[38,42]},"
                    "\"z\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[17,17]}}";
    for (int pad = 0; pad < 8; pad++) {
        char header[512];
        snprintf(header, sizeof header, "%s%.*s", h, pad, "       ");
        size_t n = make(header, USE_STRLEN, 42);
        const unsigned char *data = buf + 8 + strlen(header);
        gl_st_file *f;
        gl_error e;
        gl_st_tensor t;
        int rc = gl_st_open_mem(&f, buf, n, "mis", &e);
        CHECK(rc == 0, "header of %zu bytes, tensors at odd offsets: accepted (%s)", strlen(header), rc ? e.msg : "ok");
        if (rc) continue;
        static const char names[] = "abcdez";
        static const size_t size[] = {8, 1, 4, 8, 4, 8}, begin[] = {1, 0, 18, 30, 38, 17}, end[] = {17, 1, 30, 38, 42, 17};
        int ok = 1;
        for (int i = 0; i < 6; i++) {
            char nm[2] = {names[i], 0};
            ok &= gl_st_get(f, nm, (gl_st_dtype)-1, -1, &t, &e) == 0 && (uintptr_t)t.data % size[i] == 0 &&
                  !memcmp(t.data, data + begin[i], end[i] - begin[i]);
        }
        CHECK(ok, "every tensor aligned for its dtype and equal to the file's bytes (header %zu bytes)", strlen(header));
        gl_st_get(f, "a", GL_ST_F64, 2, &t, &e);
        double a1;
        memcpy(&a1, data + 9, 8);
        CHECK(((const double *)t.data)[1] == a1 || a1 != a1, "a[1] read through a double pointer");
        gl_st_close(f);
    }
}

int main(void) {
    good_file();
    writer_bytes();
    malformed();
    misaligned();
    return CHECK_DONE();
}
