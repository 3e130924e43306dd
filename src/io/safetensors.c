/* groklab: safetensors files (readable by the Python `safetensors` package).
 *
 * Layout: u64 little-endian header length n, n bytes of JSON (padded with
 * spaces to a multiple of 8), then the tensors' bytes back to back in the
 * order of the header's data_offsets. */
#include <cjson/cJSON.h>
#include <stdint.h>
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

/* ---- reader ----
 *
 * gl_st_open validates the whole file before anything is read from it, so a
 * malformed file is refused as a whole: the header length, the JSON, every
 * entry's dtype, shape (non-negative integers, at most 4 dims, no overflow)
 * and data offsets (integers within the data section whose size matches the
 * shape), and the metadata (strings). A tensor whose bytes are not aligned
 * for its dtype is copied into an aligned buffer, so callers may read it as
 * float, double or int arrays. */

#define ST_MAX_HEADER (100u << 20) /* bytes of JSON */
#define ST_MAX_ENTRIES 4096

typedef struct st_entry {
    const char *name;  /* inside the cJSON header */
    gl_st_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
} st_entry;

struct gl_st_file {
    char *raw;
    size_t len;
    cJSON *header;
    const char *data; /* start of the data section */
    size_t data_len;
    st_entry *ent;
    int n_ent;
    void **copies; /* aligned copies of misaligned tensors */
    int n_copies;
    char where[256]; /* the file's name, for messages */
};

/* A JSON number that is an integer in [0, 2^53). */
static int json_count(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d >= 9007199254740992.0 || d != (double)(int64_t)d) return 0;
    *out = (int64_t)d;
    return 1;
}

static int st_fail(gl_st_file *f, gl_error *err, const char *fmt, const char *name, const char *what) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, name ? name : "", what ? what : "");
    return gl_fail(err, "%s: %s", f->where, msg);
}

static int check_entry(gl_st_file *f, cJSON *o, st_entry *e, gl_error *err) {
    const char *name = o->string;
    if (!cJSON_IsObject(o)) return st_fail(f, err, "tensor '%s': entry is not an object%s", name, NULL);
    cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dtype)) return st_fail(f, err, "tensor '%s': dtype missing or not a string%s", name, NULL);
    int d = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(dtype->valuestring, dtype_names[i]) == 0) d = i;
    if (d < 0)
        return st_fail(f, err, "tensor '%s': unknown dtype '%s' (allowed: F32, F64, I32, I64, U8)", name,
                       dtype->valuestring);
    if (!cJSON_IsArray(shape)) return st_fail(f, err, "tensor '%s': shape missing or not an array%s", name, NULL);
    int nd = cJSON_GetArraySize(shape);
    if (nd > 4) return st_fail(f, err, "tensor '%s': more than 4 dimensions%s", name, NULL);
    e->name = name;
    e->dtype = (gl_st_dtype)d;
    e->ndim = nd;
    uint64_t n = 1, limit = (UINT64_C(1) << 62) / dtype_sizes[d];
    for (int i = 0; i < nd; i++) {
        int64_t v;
        if (!json_count(cJSON_GetArrayItem(shape, i), &v))
            return st_fail(f, err, "tensor '%s': shape entries must be integers >= 0%s", name, NULL);
        e->shape[i] = v;
        if (v != 0 && n > limit / (uint64_t)v) return st_fail(f, err, "tensor '%s': too many elements%s", name, NULL);
        n *= (uint64_t)v;
    }
    int64_t b, en;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_count(cJSON_GetArrayItem(offs, 0), &b) ||
        !json_count(cJSON_GetArrayItem(offs, 1), &en))
        return st_fail(f, err, "tensor '%s': data_offsets must be two integers >= 0%s", name, NULL);
    if (b > en || (uint64_t)en > f->data_len)
        return st_fail(f, err, "tensor '%s': data offsets out of the file%s", name, NULL);
    if ((uint64_t)(en - b) != n * dtype_sizes[d])
        return st_fail(f, err, "tensor '%s': data size does not match its dtype and shape%s", name, NULL);
    const char *p = f->data + b;
    if ((uintptr_t)p % dtype_sizes[d] != 0 && en > b) { /* copy to an aligned buffer */
        void *c = malloc((size_t)(en - b));
        void **nc = c ? realloc(f->copies, sizeof(void *) * (size_t)(f->n_copies + 1)) : NULL;
        if (!nc) {
            free(c);
            return st_fail(f, err, "out of memory%s%s", NULL, NULL);
        }
        f->copies = nc;
        f->copies[f->n_copies++] = c;
        memcpy(c, p, (size_t)(en - b));
        p = c;
    }
    e->data = p;
    return 0;
}

static int st_parse(gl_st_file *f, gl_error *err) {
    uint64_t hl = 0;
    if (f->len < 8) return st_fail(f, err, "not a safetensors file (shorter than its 8-byte header length)%s%s", NULL, NULL);
    for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)f->raw[i] << (8 * i);
    if (hl < 2 || hl > f->len - 8 || hl > ST_MAX_HEADER)
        return st_fail(f, err, "not a safetensors file (bad header length)%s%s", NULL, NULL);
    f->header = cJSON_ParseWithLength(f->raw + 8, (size_t)hl);
    if (!f->header || !cJSON_IsObject(f->header))
        return st_fail(f, err, "not a safetensors file (malformed header)%s%s", NULL, NULL);
    f->data = f->raw + 8 + hl;
    f->data_len = f->len - 8 - hl;
    int n = 0;
    for (cJSON *it = f->header->child; it; it = it->next) n++;
    if (n > ST_MAX_ENTRIES) return st_fail(f, err, "too many entries in the header%s%s", NULL, NULL);
    f->ent = calloc((size_t)(n ? n : 1), sizeof *f->ent);
    if (!f->ent) return st_fail(f, err, "out of memory%s%s", NULL, NULL);
    for (cJSON *it = f->header->child; it; it = it->next) {
        if (!it->string) return st_fail(f, err, "malformed header%s%s", NULL, NULL);
        for (cJSON *prev = f->header->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return st_fail(f, err, "'%s' appears twice in the header%s", it->string, NULL);
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) return st_fail(f, err, "__metadata__ is not an object%s%s", NULL, NULL);
            for (cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m)) return st_fail(f, err, "metadata '%s' is not a string%s", m->string, NULL);
            continue;
        }
        if (check_entry(f, it, &f->ent[f->n_ent], err) != 0) return -1;
        f->n_ent++;
    }
    return 0;
}

int gl_st_open_mem(gl_st_file **out, const void *buf, size_t len, const char *name, gl_error *err) {
    gl_st_file *f = calloc(1, sizeof *f);
    if (!f) return gl_fail(err, "out of memory");
    snprintf(f->where, sizeof f->where, "%s", name ? name : "(memory)");
    f->raw = malloc(len + 1);
    if (!f->raw) {
        free(f);
        return gl_fail(err, "out of memory for %zu bytes", len);
    }
    if (len) memcpy(f->raw, buf, len);
    f->len = len;
    if (st_parse(f, err) != 0) {
        gl_st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int gl_st_open(gl_st_file **out, const char *path, gl_error *err) {
    gl_st_file *f = calloc(1, sizeof *f);
    if (!f) return gl_fail(err, "out of memory");
    snprintf(f->where, sizeof f->where, "%s", path);
    if (gl_read_file(path, &f->raw, &f->len, err) != 0) {
        free(f);
        return -1;
    }
    if (st_parse(f, err) != 0) {
        gl_st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int gl_st_count(const gl_st_file *f) { return f->n_ent; }
const char *gl_st_name(const gl_st_file *f, int i) { return i >= 0 && i < f->n_ent ? f->ent[i].name : NULL; }

int gl_st_get(gl_st_file *f, const char *name, gl_st_dtype dt, int64_t want, gl_st_tensor *out,
              gl_error *err) {
    const st_entry *e = NULL;
    for (int i = 0; i < f->n_ent && !e; i++)
        if (strcmp(f->ent[i].name, name) == 0) e = &f->ent[i];
    if (!e) return gl_fail(err, "tensor '%s' is missing", name);
    if ((int)dt >= 0 && e->dtype != dt)
        return gl_fail(err, "tensor '%s': dtype %s, expected %s", name, dtype_names[e->dtype], dtype_names[dt]);
    int64_t n = numel(e->ndim, e->shape);
    if (want >= 0 && n != want)
        return gl_fail(err, "tensor '%s' has %lld elements, expected %lld", name, (long long)n, (long long)want);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof e->shape);
    out->data = e->data;
    return 0;
}

const char *gl_st_meta_get(gl_st_file *f, const char *key) {
    cJSON *m = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void gl_st_close(gl_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_copies; i++) free(f->copies[i]);
    free(f->copies);
    free(f->ent);
    cJSON_Delete(f->header);
    free(f->raw);
    free(f);
}
