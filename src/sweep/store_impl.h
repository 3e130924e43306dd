/* groklab: the sweep store's inside, for the files of the sweep layer
 * (store.c, store_io.c, cells.c, refine.c). */
#ifndef GROKLAB_STORE_IMPL_H
#define GROKLAB_STORE_IMPL_H

#include <sqlite3.h>

#include "groklab/files.h"
#include "groklab/sweep.h"
#include "groklab/text.h"

struct gl_store {
    sqlite3 *db;
    char path[1024];
};

/* The store's path and connection. */
sqlite3 *gl_store_db(gl_store *s);
const char *gl_store_path(const gl_store *s);
/* An SQLite failure as a gl_error (code from SQLite's: corrupt, memory, or I/O). */
int gl_store_db_fail(gl_store *s, gl_error *err, const char *what);
/* Runs SQL without results. */
int gl_store_exec(gl_store *s, const char *sql, gl_error *err);
/* *value: the sweep table's value of key (to free), or NULL when it has none.
 * 0, or GL_E_NOMEM. */
int gl_store_key(gl_store *s, const char *key, char **value, gl_error *err);
/* A refined sweep's untrained points whose phase is inferred: a row id of
 * each (its first seed's) and the phase; *n 0 for a store that is not
 * refining (arrays to free). */
int gl_store_inferred(gl_store *s, long **ids, int **phase, long *n, gl_error *err);
/* The result columns of runs after the config knobs ("name TYPE"). */
extern const char *const gl_store_result_cols[];
extern const int gl_store_n_result;

#endif
