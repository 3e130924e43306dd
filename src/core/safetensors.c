/* groklab: safetensors files (readable by the Python `safetensors` package).
 *
 * Layout: u64 little-endian header length n, n bytes of JSON (padded with
 * spaces to a multiple of 8), then the tensors' bytes back to back in the
 * order of the header's data_offsets. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/files.h"

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
    if (!json) return gl_fail_nomem(err, "for a safetensors header");
    size_t hl = strlen(json), padded = (hl + 7) / 8 * 8;
    size_t total = 8 + padded + off;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(json);
        return gl_failc(err, GL_E_NOMEM, "safetensors: out of memory for %zu bytes", total);
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
 * malformed file is refused as a whole, with one line naming the file, the
 * tensor and the problem: the header length, the JSON (one object, nothing
 * after it but padding), every entry's dtype, shape (at most 4 integers in
 * [0, 2^53) whose product, zeros left out, times the dtype size is below
 * 2^62) and data offsets (integers, begin <= end <= size of the data
 * section, end - begin = numel * dtype size, no two tensors sharing a byte),
 * and the metadata (strings).
 *
 * Alignment: callers read t.data as float, double or int arrays. A tensor
 * whose bytes are not aligned for its dtype (header length not a multiple of
 * 8, or an odd begin offset) is copied into one aligned buffer owned by the
 * file. Because tensors may not overlap, that buffer is never larger than
 * the data section plus 8 bytes per tensor, whatever the header says. */

#define ST_MAX_HEADER (100u << 20) /* bytes of JSON */
#define ST_MAX_ENTRIES 4096
#define ST_DTYPES "F32, F64, I32, I64, U8"

typedef struct st_entry {
    const char *name; /* inside the cJSON header */
    gl_st_dtype dtype;
    int ndim;
    int64_t shape[4];
    int64_t begin, end; /* bytes within the data section */
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
    char *aligned; /* copies of the misaligned tensors */
    char where[256]; /* the file's name, for messages */
};

/* Fails with "<file>: <message>". */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int st_fail(const gl_st_file *f, gl_error *err, const char *fmt, ...) {
    char msg[GL_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gl_failc(err, GL_E_CORRUPT, "%s: %s", f->where, msg);
}

/* Fails with "<file>: out of memory" (a runtime failure, not the file's). */
static int st_oom(const gl_st_file *f, gl_error *err) {
    return gl_failc(err, GL_E_NOMEM, "%s: out of memory", f->where);
}

/* A name from the file, fit for a one-line message: control characters
 * become '?', and long names are cut with "...". */
static const char *printable(char *buf, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

/* A JSON number that is an integer in [0, 2^53) (exact in a double). */
static int json_count(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d >= 9007199254740992.0 || d != (double)(int64_t)d) return 0;
    *out = (int64_t)d;
    return 1;
}

/* "(2, 3)" */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

static int check_entry(gl_st_file *f, const cJSON *o, st_entry *e, gl_error *err) {
    char nm[80], s[80];
    const char *name = printable(nm, sizeof nm, o->string);
    if (!cJSON_IsObject(o))
        return st_fail(f, err, "tensor '%s': entry is not an object {dtype, shape, data_offsets}", name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dtype))
        return st_fail(f, err, "tensor '%s': dtype is missing or not a string (allowed: " ST_DTYPES ")", name);
    int d = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(dtype->valuestring, dtype_names[i]) == 0) d = i;
    if (d < 0)
        return st_fail(f, err, "tensor '%s': unknown dtype '%s' (allowed: " ST_DTYPES ")", name,
                       printable(s, sizeof s, dtype->valuestring));
    if (!cJSON_IsArray(shape)) return st_fail(f, err, "tensor '%s': shape is missing or not an array", name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > 4) return st_fail(f, err, "tensor '%s': shape has %d dimensions (at most 4)", name, nd);
    e->name = o->string;
    e->dtype = (gl_st_dtype)d;
    e->ndim = nd;
    /* The product of the nonzero dimensions times the dtype size stays below
     * 2^62, so callers may multiply any of the dimensions without overflow,
     * even in an empty tensor. */
    uint64_t nz = 1, limit = (UINT64_C(1) << 62) / dtype_sizes[d];
    int i = 0, empty = 0;
    for (const cJSON *v = shape->child; v; v = v->next, i++) {
        int64_t dim;
        if (!json_count(v, &dim))
            return st_fail(f, err, "tensor '%s': shape[%d] is not an integer in [0, 2^53)", name, i);
        e->shape[i] = dim;
        empty |= dim == 0;
        if (dim != 0 && nz > limit / (uint64_t)dim)
            return st_fail(f, err, "tensor '%s': shape has too many elements (the byte count overflows)", name);
        if (dim != 0) nz *= (uint64_t)dim;
    }
    uint64_t n = empty ? 0 : nz;
    int64_t b, en;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_count(offs->child, &b) ||
        !json_count(offs->child->next, &en))
        return st_fail(f, err, "tensor '%s': data_offsets must be an array of two integers in [0, 2^53)", name);
    if (b > en)
        return st_fail(f, err, "tensor '%s': data_offsets begin %lld is after end %lld", name, (long long)b,
                       (long long)en);
    if ((uint64_t)en > f->data_len)
        return st_fail(f, err, "tensor '%s': data_offsets end %lld is past the end of the data section (%zu bytes)",
                       name, (long long)en, f->data_len);
    if ((uint64_t)(en - b) != n * dtype_sizes[d])
        return st_fail(f, err, "tensor '%s': data_offsets span %lld bytes, but dtype %s and shape %s need %llu",
                       name, (long long)(en - b), dtype_names[d], shape_str(s, sizeof s, nd, e->shape),
                       (unsigned long long)(n * dtype_sizes[d]));
    e->begin = b;
    e->end = en;
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Tensors may not share bytes (a file could otherwise name the same bytes
 * thousands of times, and each misaligned name would cost a copy). */
static int check_overlaps(gl_st_file *f, gl_error *err) {
    const st_entry **s = malloc(sizeof *s * (size_t)(f->n_ent ? f->n_ent : 1));
    if (!s) return st_oom(f, err);
    int n = 0;
    for (int i = 0; i < f->n_ent; i++)
        if (f->ent[i].end > f->ent[i].begin) s[n++] = &f->ent[i];
    qsort(s, (size_t)n, sizeof *s, by_begin);
    for (int i = 1; i < n; i++)
        if (s[i]->begin < s[i - 1]->end) {
            char a[80], b[80];
            int rc = st_fail(f, err, "tensors '%s' [%lld, %lld) and '%s' [%lld, %lld) overlap in the data section",
                             printable(a, sizeof a, s[i - 1]->name), (long long)s[i - 1]->begin,
                             (long long)s[i - 1]->end, printable(b, sizeof b, s[i]->name),
                             (long long)s[i]->begin, (long long)s[i]->end);
            free(s);
            return rc;
        }
    free(s);
    return 0;
}

/* Points every tensor at its bytes, copying the misaligned ones. */
static int place_data(gl_st_file *f, gl_error *err) {
    static const int64_t empty[1]; /* aligned for every dtype; never read */
    size_t need = 0;
    for (int i = 0; i < f->n_ent; i++) {
        const st_entry *e = &f->ent[i];
        if (e->end > e->begin && (uintptr_t)(f->data + e->begin) % dtype_sizes[e->dtype] != 0)
            need += ((size_t)(e->end - e->begin) + 7) / 8 * 8;
    }
    if (need && !(f->aligned = malloc(need))) return st_oom(f, err);
    size_t at = 0;
    for (int i = 0; i < f->n_ent; i++) {
        st_entry *e = &f->ent[i];
        const char *p = f->data + e->begin;
        size_t bytes = (size_t)(e->end - e->begin);
        if (bytes == 0) {
            e->data = empty;
        } else if ((uintptr_t)p % dtype_sizes[e->dtype] != 0) {
            memcpy(f->aligned + at, p, bytes); /* malloc's alignment, then multiples of 8 */
            e->data = f->aligned + at;
            at += (bytes + 7) / 8 * 8;
        } else {
            e->data = p;
        }
    }
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* JSON allows a key twice; a safetensors header does not. Sorted, so that
 * thousands of long names cost n log n comparisons, not n^2. */
static int check_duplicates(gl_st_file *f, int n, gl_error *err) {
    const char **s = malloc(sizeof *s * (size_t)(n ? n : 1));
    if (!s) return st_oom(f, err);
    int k = 0;
    for (const cJSON *it = f->header->child; it; it = it->next) s[k++] = it->string;
    qsort(s, (size_t)n, sizeof *s, by_name);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(s[i - 1], s[i]) == 0) {
            char nm[80];
            rc = st_fail(f, err, "'%s' appears twice in the header", printable(nm, sizeof nm, s[i]));
        }
    free(s);
    return rc;
}

static int st_parse(gl_st_file *f, gl_error *err) {
    if (f->len < 8)
        return st_fail(f, err, "not a safetensors file (%zu bytes, shorter than its 8-byte header length)", f->len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)f->raw[i] << (8 * i);
    if (hl < 2) return st_fail(f, err, "bad header length %llu (at least 2)", (unsigned long long)hl);
    if (hl > ST_MAX_HEADER)
        return st_fail(f, err, "bad header length %llu (over the %u MB limit)", (unsigned long long)hl,
                       ST_MAX_HEADER >> 20);
    if (hl > f->len - 8)
        return st_fail(f, err, "bad header length %llu (past the end of the %zu-byte file)", (unsigned long long)hl,
                       f->len);
    const char *json = f->raw + 8, *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(json, (size_t)hl, &end, 0);
    if (!f->header) {
        size_t at = end && end >= json && end <= json + hl ? (size_t)(end - json) : 0;
        return st_fail(f, err, "malformed header: not valid JSON (near byte %zu of %llu)", at,
                       (unsigned long long)hl);
    }
    if (!cJSON_IsObject(f->header)) return st_fail(f, err, "malformed header: not a JSON object");
    for (const char *p = end; p < json + hl; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return st_fail(f, err, "malformed header: bytes after the JSON object (at byte %zu of %llu)",
                           (size_t)(p - json), (unsigned long long)hl);
    f->data = f->raw + 8 + hl;
    f->data_len = f->len - 8 - hl;
    int n = 0;
    for (const cJSON *it = f->header->child; it; it = it->next)
        if (++n > ST_MAX_ENTRIES) return st_fail(f, err, "more than %d entries in the header", ST_MAX_ENTRIES);
    f->ent = calloc((size_t)(n ? n : 1), sizeof *f->ent);
    if (!f->ent) return st_oom(f, err);
    if (check_duplicates(f, n, err) != 0) return -1;
    for (const cJSON *it = f->header->child; it; it = it->next) {
        char nm[80];
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) return st_fail(f, err, "__metadata__ is not an object of strings");
            for (const cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m))
                    return st_fail(f, err, "metadata '%s' is not a string", printable(nm, sizeof nm, m->string));
            continue;
        }
        if (check_entry(f, it, &f->ent[f->n_ent], err) != 0) return -1;
        f->n_ent++;
    }
    if (check_overlaps(f, err) != 0) return -1;
    return place_data(f, err);
}

/* Takes raw (from malloc) and parses it into a new file. */
static int st_open_raw(gl_st_file **out, char *raw, size_t len, const char *name, gl_error *err) {
    gl_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(raw);
        return gl_fail_nomem(err, "");
    }
    snprintf(f->where, sizeof f->where, "%s", name ? name : "(memory)");
    f->raw = raw;
    f->len = len;
    if (st_parse(f, err) != 0) {
        gl_st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int gl_st_open_mem(gl_st_file **out, const void *buf, size_t len, const char *name, gl_error *err) {
    char *raw = malloc(len + 1);
    if (!raw) return gl_failc(err, GL_E_NOMEM, "%s: out of memory for %zu bytes", name ? name : "(memory)", len);
    if (len) memcpy(raw, buf, len);
    raw[len] = 0;
    return st_open_raw(out, raw, len, name, err);
}

int gl_st_open(gl_st_file **out, const char *path, gl_error *err) {
    char *raw;
    size_t len;
    if (gl_read_file(path, &raw, &len, err) != 0) return -1;
    return st_open_raw(out, raw, len, path, err);
}

int gl_st_count(const gl_st_file *f) { return f->n_ent; }
const char *gl_st_name(const gl_st_file *f, int i) { return i >= 0 && i < f->n_ent ? f->ent[i].name : NULL; }

int gl_st_get(gl_st_file *f, const char *name, gl_st_dtype dt, int64_t want, gl_st_tensor *out,
              gl_error *err) {
    if (!name) return gl_fail(err, "%s: no tensor name given", f->where);
    if ((int)dt >= 5) return gl_fail(err, "tensor '%s': requested dtype %d is not a gl_st_dtype", name, (int)dt);
    const st_entry *e = NULL;
    for (int i = 0; i < f->n_ent && !e; i++)
        if (strcmp(f->ent[i].name, name) == 0) e = &f->ent[i];
    if (!e) return gl_failc(err, GL_E_CORRUPT, "tensor '%s' is missing", name);
    if ((int)dt >= 0 && e->dtype != dt)
        return gl_failc(err, GL_E_CORRUPT, "tensor '%s' has dtype %s, expected %s", name, dtype_names[e->dtype], dtype_names[dt]);
    int64_t n = numel(e->ndim, e->shape);
    if (want >= 0 && n != want)
        return gl_failc(err, GL_E_CORRUPT, "tensor '%s' has %lld elements, expected %lld", name, (long long)n, (long long)want);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof e->shape);
    out->data = e->data;
    return 0;
}

const char *gl_st_meta_get(gl_st_file *f, const char *key) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    const cJSON *v = m && key ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void gl_st_close(gl_st_file *f) {
    if (!f) return;
    free(f->aligned);
    free(f->ent);
    cJSON_Delete(f->header);
    free(f->raw);
    free(f);
}
