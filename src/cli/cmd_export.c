/* groklab export: a sweep's runs (and time series) as CSV. */
#include <stdio.h>

#include "cli.h"

static void export_help(FILE *f) {
    fprintf(f, "usage: groklab export DIR --csv runs.csv [--metrics metrics.csv]\n\n"
               "Writes the runs table of DIR/sweep.db (every knob, status, final metrics,\n"
               "phase, milestones, timings; one row per run) as CSV, and with --metrics the\n"
               "logged time series of every run (run_id, step, ...).\n");
}

int cmd_export(int argc, char **argv) {
    const char *dir = NULL, *csv = NULL, *mcsv = NULL;
    const cli_opt opts[] = {OPT_S("--csv", &csv), OPT_S("--metrics", &mcsv), OPT_END};
    cli_args a = {.cmd = "export", .opts = opts, .pos = &dir, .max_pos = 1, .help = export_help,
                  .usage = "groklab export DIR --csv FILE [--metrics FILE]"};
    int rc = cli_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!dir || (!csv && !mcsv)) {
        cli_error("export: usage: groklab export DIR --csv FILE [--metrics FILE]");
        return EXIT_USAGE;
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/sweep.db", dir);
    gl_error err;
    gl_store *s;
    if (gl_store_open(&s, db, 0, &err) != 0) return cli_fail(&err);
    long n = 0;
    rc = 0;
    if (csv && (rc = gl_store_export_csv(s, "runs", csv, &n, &err)) == 0) printf("wrote %ld runs to %s\n", n, csv);
    if (rc == 0 && mcsv && (rc = gl_store_export_csv(s, "metrics", mcsv, &n, &err)) == 0)
        printf("wrote %ld metric rows to %s\n", n, mcsv);
    gl_store_close(s);
    return rc ? cli_fail(&err) : EXIT_OK;
}
