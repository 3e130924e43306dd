/* groklab: sweeps over MPI in a build without MPI (src/sweep/mpi.c is the
 * real one). */
#include <string.h>

#include "groklab/sweep.h"

int gl_sweep_mpi_built(void) { return 0; }

int gl_sweep_run_mpi(const char *dir, const gl_grid *g, const gl_sweep_opts *o, gl_sweep_report *rep,
                     gl_error *err) {
    (void)dir, (void)g, (void)o;
    memset(rep, 0, sizeof *rep);
    return gl_failc(err, GL_E_NODEVICE, "this build of groklab has no MPI (configure with MPI installed)");
}
