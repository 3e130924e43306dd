/* groklab: safetensors files (readable by the Python `safetensors` package).
 *
 * Layout: u64 little-endian header length n, n bytes of JSON (padded with
 * spaces to a multiple of 8), then the tensors' bytes back to back in the
 * order of the header's data_offsets. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/io.h"

static const char *dtype_names[] = {"F32", "F64", "I32", "I64", "U8"};
static const size_t dtype_sizes[] = {4, 8, 4, 8, 1};

#define ST_MAX 32
struct gl_st_writer {
    gl_st_tensor t[ST_MAX];
    int n;
    cJSON *meta;
};

gl_st_writer *gl_st_writer_new(void) {
    gl_st_writer *w = calloc(1, sizeof *w);
    if (w) w->meta = cJSON_CreateObject();
    return w;
}

void gl_st_writer_free(gl_st_writer *w) {
    if (!w) return;
    cJSON_Delete(w->meta);
    free(w);
}

static int64_t numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int gl_st_add(gl_st_writer *w, const char *name, gl_st_dtype dt, int ndim, const int64_t *shape,
              const void *data, gl_error *err) {
    if (w->n == ST_MAX || ndim > 4 || strlen(name) >= sizeof w->t[0].name)
        return gl_fail(err, "safetensors: cannot add tensor '%s'", name);
    gl_st_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    return 0;
}

int gl_st_meta(gl_st_writer *w, const char *key, const char *value, gl_error *err) {
    if (!cJSON_AddStringToObject(w->meta, key, value))
        return gl_fail(err, "safetensors: cannot add metadata '%s'", key);
    return 0;
}

int gl_st_writer_save(gl_st_writer *w, const char *path, gl_error *err) {
    cJSON *h = cJSON_CreateObject();
    if (w->meta->child) cJSON_AddItemToObject(h, "__metadata__", cJSON_Duplicate(w->meta, 1));
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        gl_st_tensor *t = &w->t[i];
        size_t bytes = (size_t)numel(t->ndim, t->shape) * dtype_sizes[t->dtype];
        cJSON *o = cJSON_AddObjectToObject(h, t->name);
        cJSON_AddStringToObject(o, "dtype", dtype_names[t->dtype]);
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!json) return gl_fail(err, "safetensors: out of memory");
    size_t hl = strlen(json), padded = (hl + 7) / 8 * 8;
    size_t total = 8 + padded + off;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(json);
        return gl_fail(err, "safetensors: out of memory for %zu bytes", total);
    }
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(json);
    size_t pos = 8 + padded;
    for (int i = 0; i < w->n; i++) {
        gl_st_tensor *t = &w->t[i];
        size_t bytes = (size_t)numel(t->ndim, t->shape) * dtype_sizes[t->dtype];
        if (bytes) memcpy(buf + pos, t->data, bytes); /* x86-64 and arm64 are little-endian */
        pos += bytes;
    }
    int rc = gl_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

struct gl_st_file {
    char *raw;
    size_t len;
    cJSON *header;
    const char *data; /* start of the data section */
    size_t data_len;
};

int gl_st_open(gl_st_file **out, const char *path, gl_error *err) {
    gl_st_file *f = calloc(1, sizeof *f);
    if (!f) return gl_fail(err, "out of memory");
    if (gl_read_file(path, &f->raw, &f->len, err) != 0) {
        free(f);
        return -1;
    }
    uint64_t hl = 0;
    if (f->len >= 8)
        for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)f->raw[i] << (8 * i);
    if (f->len < 8 || hl > f->len - 8) {
        gl_st_close(f);
        return gl_fail(err, "%s: not a safetensors file (bad header length)", path);
    }
    f->header = cJSON_ParseWithLength(f->raw + 8, (size_t)hl);
    if (!f->header || !cJSON_IsObject(f->header)) {
        gl_st_close(f);
        return gl_fail(err, "%s: not a safetensors file (malformed header)", path);
    }
    f->data = f->raw + 8 + hl;
    f->data_len = f->len - 8 - hl;
    *out = f;
    return 0;
}

int gl_st_get(gl_st_file *f, const char *name, gl_st_dtype dt, int64_t want, gl_st_tensor *out,
              gl_error *err) {
    cJSON *o = cJSON_GetObjectItemCaseSensitive(f->header, name);
    if (!o) return gl_fail(err, "tensor '%s' is missing", name);
    cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || cJSON_GetArraySize(offs) != 2)
        return gl_fail(err, "tensor '%s': malformed entry", name);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    int d = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(dtype->valuestring, dtype_names[i]) == 0) d = i;
    if (d < 0 || ((int)dt >= 0 && d != (int)dt))
        return gl_fail(err, "tensor '%s': dtype %s, expected %s", name, dtype->valuestring,
                       (int)dt >= 0 ? dtype_names[dt] : "a known dtype");
    out->dtype = (gl_st_dtype)d;
    out->ndim = cJSON_GetArraySize(shape);
    if (out->ndim > 4) return gl_fail(err, "tensor '%s': too many dimensions", name);
    for (int i = 0; i < out->ndim; i++) out->shape[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    int64_t n = numel(out->ndim, out->shape);
    if (b < 0 || e < b || e > (double)f->data_len || (e - b) != (double)n * (double)dtype_sizes[d])
        return gl_fail(err, "tensor '%s': data offsets out of the file", name);
    if (want >= 0 && n != want)
        return gl_fail(err, "tensor '%s' has %lld elements, expected %lld", name, (long long)n,
                       (long long)want);
    out->data = f->data + (size_t)b;
    return 0;
}

const char *gl_st_meta_get(gl_st_file *f, const char *key) {
    cJSON *m = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void gl_st_close(gl_st_file *f) {
    if (!f) return;
    cJSON_Delete(f->header);
    free(f->raw);
    free(f);
}
