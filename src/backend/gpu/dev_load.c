/* groklab GPU backend: the CUDA device, loaded on demand (see dev_module.h).
 *
 * gl_dev_cuda_ops loads groklab-cuda.so once per process, from the first
 * place that has it: $GROKLAB_CUDA_MODULE (a path); where an install puts
 * it, seen from the object this code is in (the program in bin/ or the
 * shared library in lib/, wherever the prefix was moved: lib/groklab/); the
 * configured install folder; the build tree. When it cannot, the table it
 * returns opens nothing and says why in one line. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/gpu/dev_module.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const gl_dev_ops *loaded;
static char why[GL_ERRLEN];

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The module's path into out (cap bytes); 0 when none of the places has it. */
static int find_module(char *out, size_t cap) {
    const char *env = getenv("GROKLAB_CUDA_MODULE");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return is_file(out) ? 1 : -1;
    }
    char here[4096] = "";
    Dl_info info;
    if (dladdr((void *)gl_dev_cuda_ops, &info) && info.dli_fname) {
        snprintf(here, sizeof here, "%s", info.dli_fname);
        char *slash = strrchr(here, '/');
        if (slash) *slash = '\0';
        else snprintf(here, sizeof here, ".");
    }
    /* folders relative to here (an install's lib/groklab, seen from lib/ and from bin/; here itself), then absolute */
    const char *near[] = {"/groklab", "/../" GL_CUDA_MODULE_LIBDIR "/groklab", ""};
    const char *far[] = {GL_CUDA_MODULE_INSTALL_DIR, GL_CUDA_MODULE_BUILD_DIR};
    for (size_t i = 0; here[0] && i < sizeof near / sizeof near[0]; i++) {
        snprintf(out, cap, "%s%s/%s", here, near[i], GL_CUDA_MODULE_FILE);
        if (is_file(out)) return 1;
    }
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        snprintf(out, cap, "%s/%s", far[i], GL_CUDA_MODULE_FILE);
        if (is_file(out)) return 1;
    }
    return 0;
}

static void load(void) {
    char path[4200];
    int found = find_module(path, sizeof path);
    if (found <= 0) {
        if (found < 0)
            snprintf(why, sizeof why, "GROKLAB_CUDA_MODULE=%.400s is not a file", path);
        else
            snprintf(why, sizeof why,
                     "the CUDA module %s is not installed (looked beside the library, in %s and in %s; "
                     "GROKLAB_CUDA_MODULE names it elsewhere)",
                     GL_CUDA_MODULE_FILE, GL_CUDA_MODULE_INSTALL_DIR, GL_CUDA_MODULE_BUILD_DIR);
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { /* e.g. the CUDA libraries are missing: dlerror names the one */
        snprintf(why, sizeof why, "the CUDA module cannot be loaded: %s", dlerror());
        return;
    }
    gl_cuda_module_fn entry;
    *(void **)&entry = dlsym(h, GL_CUDA_MODULE_ENTRY);
    /* the module keeps the pointer: static */
    static const gl_cuda_host host = {GL_CUDA_MODULE_ABI, sizeof(gl_gview), sizeof(gl_dev_ops), gl_runtime_get,
                                      gl_failc};
    if (!entry || !(loaded = entry(&host))) {
        snprintf(why, sizeof why, "%.400s was built for another version of groklab (rebuild it with this one)", path);
        dlclose(h);
    }
    /* a loaded module stays loaded: its tables are in use until exit */
}

static int unloaded_open(gl_dev **d, gl_error *err) {
    *d = NULL;
    return gl_failc(err, GL_E_NODEVICE, "%s", why);
}

static const gl_dev_ops unloaded = {.name = "cuda", .open = unloaded_open};

const gl_dev_ops *gl_dev_cuda_ops(void) {
    pthread_once(&once, load);
    return loaded ? loaded : &unloaded;
}
