/* groklab: support for bindings in other languages (groklab/bind.h). */
#include "groklab/bind.h"

#include <string.h>

#include "groklab/analysis.h"
#include "groklab/runtime.h"
#include "groklab/sweep.h"
#include "groklab/version.h"

size_t gl_struct_size(const char *name) {
#define S(type) {#type, sizeof(type)}
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        S(gl_error),      S(gl_config),     S(gl_metrics),    S(gl_ipr_opts),      S(gl_prune_opts),
        S(gl_prune_point), S(gl_prune_result), S(gl_grid),     S(gl_phase_grid),    S(gl_sweep_opts),
        S(gl_sweep_report), S(gl_run_result), S(gl_dataset), S(gl_dynamics_opts), S(gl_dynamics_report),
        S(gl_runtime),
    };
#undef S
    for (size_t i = 0; name && i < sizeof sizes / sizeof sizes[0]; i++)
        if (!strcmp(sizes[i].name, name)) return sizes[i].size;
    return 0;
}

const char *gl_version(void) { return GL_VERSION; }
