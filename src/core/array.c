/* groklab: small array helpers (groklab/array.h). */
#include <stddef.h>

#include "groklab/array.h"

void gl_transpose(float *dst, const float *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}
