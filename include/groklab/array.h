/* groklab: small array helpers shared by every layer. */
#ifndef GROKLAB_ARRAY_H
#define GROKLAB_ARRAY_H

#ifdef __cplusplus
extern "C" {
#endif

/* dst (cols, rows) = src (rows, cols) transposed, both row-major: the
 * parameter arrays hold U and V as (p, N), files and tables as (N, p). */
void gl_transpose(float *dst, const float *src, int rows, int cols);

#ifdef __cplusplus
}
#endif

#endif
