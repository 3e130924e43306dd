/* groklab: BLAS threading. groklab cuts every product into fixed chunks and
 * spreads them over its own threads, so the BLAS itself runs single-threaded:
 * this keeps results independent of the thread count. */
#include "groklab/model.h"

#if defined(GL_BLAS_OPENBLAS)
void openblas_set_num_threads(int);
void gl_blas_init(void) { openblas_set_num_threads(1); }
const char *gl_blas_name(void) { return "OpenBLAS"; }
#elif defined(GL_BLAS_BLIS)
void bli_thread_set_num_threads(long);
void gl_blas_init(void) { bli_thread_set_num_threads(1); }
const char *gl_blas_name(void) { return "BLIS"; }
#else
void gl_blas_init(void) {}
const char *gl_blas_name(void) { return "cblas"; }
#endif
