/* groklab: what programs in other languages need beyond the C API (the
 * Python package calls the shared library through ctypes).
 *
 * A binding that mirrors a struct checks its mirror against
 * gl_struct_size; one that only passes a struct through allocates
 * gl_struct_size bytes for it. */
#ifndef GROKLAB_BIND_H
#define GROKLAB_BIND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof the public struct named, e.g. "gl_config", "gl_grid",
 * "gl_sweep_opts"; 0 for a name that is not one. */
size_t gl_struct_size(const char *name);

/* The library's version (GL_VERSION, for callers that cannot read macros). */
const char *gl_version(void);

#ifdef __cplusplus
}
#endif

#endif
