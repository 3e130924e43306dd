/* groklab: runtime settings, machine facts, the stop flag (groklab/runtime.h). */
#include "groklab/runtime.h"

#include <omp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gl_runtime settings = {0, -1, -1, 0, 0, 0, 0, 0};

void gl_runtime_default(gl_runtime *r) {
    memset(r, 0, sizeof *r);
    r->gpu = -1;
    r->local_rank = -1;
}

void gl_runtime_set(const gl_runtime *r) { settings = *r; }

const gl_runtime *gl_runtime_get(void) { return &settings; }

double gl_system_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

int gl_cores(void) { return omp_get_num_procs(); }

double gl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile sig_atomic_t stop_flag;

void gl_stop_request(void) { stop_flag = 1; }
int gl_stop_requested(void) { return stop_flag != 0; }
void gl_stop_clear(void) { stop_flag = 0; }
void gl_stop_signal_handler(int sig) {
    (void)sig;
    stop_flag = 1;
}
