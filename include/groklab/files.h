/* groklab: files. Atomic writes, whole-file reads, directories, and the
 * safetensors format (a core service: no layer above is needed).
 *
 * Every file is written to a temporary name in the same directory, fsynced
 * and renamed over the target, so a killed process leaves either the old or
 * the new file, never half of one. */
#ifndef GROKLAB_FILES_H
#define GROKLAB_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "groklab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

int gl_write_atomic(const char *path, const void *data, size_t len, gl_error *err);
/* Reads a whole file (NUL-terminated); caller frees. */
int gl_read_file(const char *path, char **data, size_t *len, gl_error *err);
/* mkdir -p */
int gl_mkdirs(const char *path, gl_error *err);

/* safetensors: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}, "__metadata__": {k: v}}, the data. */
typedef enum { GL_ST_F32, GL_ST_F64, GL_ST_I32, GL_ST_I64, GL_ST_U8 } gl_st_dtype;

typedef struct gl_st_tensor {
    char name[64];
    gl_st_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data; /* writer: caller's buffer; reader: points into file */
} gl_st_tensor;

typedef struct gl_st_writer gl_st_writer;
gl_st_writer *gl_st_writer_new(void);
/* Data is referenced, not copied, until gl_st_writer_save. */
int gl_st_add(gl_st_writer *w, const char *name, gl_st_dtype dt, int ndim, const int64_t *shape,
              const void *data, gl_error *err);
int gl_st_meta(gl_st_writer *w, const char *key, const char *value, gl_error *err);
int gl_st_writer_save(gl_st_writer *w, const char *path, gl_error *err);
void gl_st_writer_free(gl_st_writer *w);

/* Opening validates the whole file (header length, JSON, every entry's dtype,
 * shape and offsets, no two tensors sharing bytes, metadata); a malformed
 * file is refused with one line naming the file, the tensor and the problem.
 * Tensor data is aligned for its dtype (misaligned tensors are copied), and
 * the product of its nonzero dimensions times its dtype size is below 2^62. */
typedef struct gl_st_file gl_st_file;
int gl_st_open(gl_st_file **f, const char *path, gl_error *err);
/* The same from bytes in memory (copied); name is used in messages. */
int gl_st_open_mem(gl_st_file **f, const void *buf, size_t len, const char *name, gl_error *err);
int gl_st_count(const gl_st_file *f);            /* tensors in the file */
const char *gl_st_name(const gl_st_file *f, int i); /* name of tensor i < count */
/* Finds a tensor; checks its dtype and element count when those are given
 * (pass (gl_st_dtype)-1 and -1 to accept any). out->data lives until close. */
int gl_st_get(gl_st_file *f, const char *name, gl_st_dtype dt, int64_t numel,
              gl_st_tensor *out, gl_error *err);
const char *gl_st_meta_get(gl_st_file *f, const char *key); /* NULL if absent */
void gl_st_close(gl_st_file *f);

#ifdef __cplusplus
}
#endif

#endif
