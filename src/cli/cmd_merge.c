/* groklab merge: the shard stores of a sweep into one. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void merge_help(FILE *f) {
    fprintf(f, "usage: groklab merge DIR [SHARD.db ...]\n\n"
               "Combines the shard stores of a sweep (default: DIR/shard-*-of-*.db, written by\n"
               "groklab sweep --shard I/N --out DIR) into DIR/sweep.db: finished runs of each\n"
               "shard are copied in with their time series.\n");
}

int cmd_merge(int argc, char **argv) {
    const char *pos[256];
    cli_args a = {.cmd = "merge", .pos = pos, .max_pos = 256, .help = merge_help, .usage = "groklab merge DIR [SHARD.db ...]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.n_pos < 1) {
        merge_help(stderr);
        return EXIT_USAGE;
    }
    const char *dir = pos[0];
    glob_t gb;
    memset(&gb, 0, sizeof gb);
    int n_src = a.n_pos - 1;
    const char *const *src = pos + 1;
    if (n_src == 0) {
        char pat[4096];
        snprintf(pat, sizeof pat, "%s/shard-*-of-*.db", dir);
        if (glob(pat, 0, NULL, &gb) != 0 || gb.gl_pathc == 0) {
            cli_error("merge: no shard stores in %s (expected %s)", dir, pat);
            globfree(&gb);
            return EXIT_USAGE;
        }
        n_src = (int)gb.gl_pathc;
        src = (const char *const *)gb.gl_pathv;
    }
    long *copied = calloc((size_t)n_src, sizeof *copied);
    gl_error err;
    rc = copied ? gl_sweep_merge(dir, src, n_src, copied, &err) : gl_fail_nomem(&err, "");
    for (int i = 0; rc == 0 && i < n_src; i++) printf("merged %ld finished runs from %s\n", copied[i], src[i]);
    char db[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    gl_store *s;
    long st[5];
    if (rc == 0 && gl_store_open(&s, db, 0, &err) == 0) {
        if (gl_store_counts(s, 0, 1, st, NULL, &err) == 0)
            printf("%s: %ld done, %ld diverged, %ld failed, %ld not finished\n", db, st[GL_RUN_DONE],
                   st[GL_RUN_DIVERGED], st[GL_RUN_FAILED], st[GL_RUN_PENDING] + st[GL_RUN_RUNNING]);
        gl_store_close(s);
    }
    free(copied);
    globfree(&gb);
    return rc ? cli_fail(&err) : EXIT_OK;
}
