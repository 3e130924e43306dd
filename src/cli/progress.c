/* groklab CLI: what runs print while they go (a progress line on a
 * terminal, a line per finished run otherwise), one training from a ready
 * directory with its checkpoints, and a sweep from start to end. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "groklab/runtime.h"

void cli_progress_init(cli_progress *pg, int quiet, const char *label) {
    pg->enabled = !quiet && isatty(STDERR_FILENO);
    pg->t_start = cli_now();
    pg->step_start = -1;
    pg->label = label;
}

void cli_progress_cb(void *ctx, const gl_trainer *t) {
    cli_progress *pg = ctx;
    if (!pg->enabled) return;
    long step = gl_trainer_step_count(t), total = gl_trainer_config(t)->steps;
    if (pg->step_start < 0) {
        pg->step_start = step;
        pg->t_start = cli_now();
        return;
    }
    double dt = cli_now() - pg->t_start;
    double rate = dt > 0 ? (double)(step - pg->step_start) / dt : 0;
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n);
    double tr = n ? rows[n - 1].train_acc : NAN, te = n ? rows[n - 1].test_acc : NAN;
    fprintf(stderr, "\r%s%sstep %ld/%ld  %.0f steps/s  ETA %.0fs  train %.3f  test %.3f   ", pg->label ? pg->label : "",
            pg->label ? "  " : "", step, total, rate, rate > 0 ? (double)(total - step) / rate : 0.0, tr, te);
    fflush(stderr);
}

void cli_progress_done(cli_progress *pg) {
    if (pg->enabled && pg->step_start >= 0) fputc('\n', stderr);
}

int cli_train_run(const char *dir, gl_trainer *t, int resumed, int threads, int quiet, gl_error *err) {
    const gl_config *c = gl_trainer_config(t);
    cli_progress pg;
    cli_progress_init(&pg, quiet, NULL);
    gl_trainer_set_progress(t, cli_progress_cb, &pg);
    int rc = gl_run_train(dir, t, resumed, threads, err);
    cli_progress_done(&pg);
    if (rc == GL_E_INTERRUPTED)
        return gl_failc(err, GL_E_INTERRUPTED, "%s at step %ld of %ld: checkpoint and metrics written; continue with "
                                               "groklab train --resume %s",
                        cli_signal() == SIGTERM ? "stopped by SIGTERM" : "interrupted", gl_trainer_step_count(t),
                        c->steps, dir);
    return rc;
}

/* ---- sweeps ---- */

static void on_done(void *ctx, long id, const gl_config *c, const gl_run_result *r) {
    cli_sweep_progress *pg = ctx;
    pg->finished++;
    if (pg->quiet || pg->tty) return;
    long n = r->n_rows;
    const gl_metrics *last = n ? &r->rows[n - 1] : NULL;
    if (r->status == GL_RUN_DIVERGED && n > 1) last = &r->rows[n - 2];
    gl_phase ph = n ? gl_phase_of_run(r->rows, n, c->noise, r->diverged_at >= 0, NULL, NULL) : GL_PHASE_CONFUSION;
    printf("run %ld %s:", id, gl_run_status_name(r->status));
    if (!pg->n_knobs) printf(" frac %g noise %g wd %g", c->frac, c->noise, c->wd);
    for (int k = 0; k < pg->n_knobs; k++) {
        char v[128];
        gl_config_field_text(c, pg->knob[k], v, sizeof v);
        char *end;
        double x = strtod(v, &end);
        if (end != v && !*end) snprintf(v, sizeof v, "%g", x); /* 0.005, not its 17 digits */
        printf(" %s %s", gl_config_field_name(pg->knob[k]), v);
    }
    printf(" seed %llu -> %s", (unsigned long long)c->seed, r->status == GL_RUN_FAILED ? r->message : gl_phase_name(ph));
    if (last && r->status != GL_RUN_FAILED) printf(" (train %.3f, test %.3f)", last->train_acc, last->test_acc);
    printf(", %.1fs\n", r->wall_seconds);
    fflush(stdout);
}

static void on_tick(void *ctx, gl_store *s) {
    cli_sweep_progress *pg = ctx;
    if (pg->quiet || !pg->tty) return;
    long st[5], ph[6];
    gl_error e;
    if (gl_store_counts(s, pg->shard_i, pg->shard_n, st, ph, &e) != 0) return;
    long done = st[GL_RUN_DONE] + st[GL_RUN_DIVERGED] + st[GL_RUN_FAILED];
    pg->total = done + st[GL_RUN_PENDING] + st[GL_RUN_RUNNING]; /* a refined sweep's rounds add runs */
    double dt = cli_now() - pg->t0, rate = dt > 0 ? pg->finished / dt : 0;
    fprintf(stderr, "\rruns %ld/%ld  %.2f runs/s  ETA %.0fs  failed %ld  | coex %ld  partial %ld  full %ld  mem %ld  forget %ld  conf %ld   ",
            done, pg->total, rate, rate > 0 ? (pg->total - done) / rate : 0.0, st[GL_RUN_FAILED] + st[GL_RUN_DIVERGED],
            ph[0], ph[1], ph[2], ph[3], ph[4], ph[5]);
    fflush(stderr);
}

/* The knobs the grid's axes set (a variant's assignments, not the replicate:
 * the line shows the seed), so that each run's line says which point it is. */
static void grid_knobs(cli_sweep_progress *pg, const char *store) {
    gl_store *s;
    gl_grid g;
    gl_error e;
    if (gl_store_open(&s, store, 0, &e) != 0) return;
    if (gl_store_grid(s, &g, &e) == 0) {
        for (int i = 0; i < gl_config_nfields() && pg->n_knobs < GL_MAX_AXES; i++) {
            const char *name = gl_config_field_name(i);
            int on = gl_grid_axis(&g, name) >= 0 && strcmp(name, "seed");
            int v = gl_grid_axis(&g, "variant");
            for (int j = 0; v >= 0 && !on && j < g.axes[v].n; j++) {
                const char *at = strstr(g.axes[v].values[j], name);
                on = at && (at == g.axes[v].values[j] || at[-1] == ';') && at[strlen(name)] == '=';
            }
            if (on) pg->knob[pg->n_knobs++] = i;
        }
        gl_grid_free(&g);
    }
    gl_store_close(s);
}

static void on_start(void *ctx, const gl_sweep_report *r) {
    cli_sweep_progress *pg = ctx;
    if (!pg->quiet) grid_knobs(pg, r->store);
    pg->total = r->total;
    pg->t0 = cli_now();
    cli_sweep_print_start(r, pg->quiet);
}

void cli_sweep_callbacks(gl_sweep_opts *o, cli_sweep_progress *pg, int quiet, int shard_i, int shard_n) {
    memset(pg, 0, sizeof *pg);
    pg->tty = isatty(STDERR_FILENO);
    pg->quiet = quiet;
    pg->t0 = cli_now();
    pg->shard_i = shard_i;
    pg->shard_n = shard_n;
    o->on_start = on_start;
    o->on_done = on_done;
    o->on_tick = on_tick;
    o->ctx = pg;
}

void cli_sweep_print_start(const gl_sweep_report *r, int quiet) {
    if (quiet) return;
    if (r->ranks > 1)
        printf("sweep %s over %d MPI ranks: %ld runs (%ld new, %ld requeued, %ld to do)\n", r->store, r->ranks,
               r->total, r->added, r->requeued, r->pending);
    else
        printf("sweep %s: %ld runs (%ld new, %ld finished, %ld requeued from a previous process, %ld to do)\n",
               r->store, r->total, r->added, r->total - r->pending, r->requeued, r->pending);
    fflush(stdout);
}

void cli_sweep_print_end(const gl_sweep_report *r, const cli_sweep_progress *pg, int quiet) {
    if (pg->tty && !quiet && r->ranks <= 1) fputc('\n', stderr);
    if (quiet) return;
    const long *st = r->status;
    if (r->ranks > 1) {
        printf("%.1fs; %ld runs from other ranks; store: %ld done, %ld diverged, %ld failed, %ld pending\n", r->seconds,
               r->from_ranks, st[GL_RUN_DONE], st[GL_RUN_DIVERGED], st[GL_RUN_FAILED],
               st[GL_RUN_PENDING] + st[GL_RUN_RUNNING]);
        return;
    }
    printf("trained %ld runs in %.1fs (%.0f runs/hour); store: %ld done, %ld diverged, %ld failed, %ld pending\n",
           pg->finished, r->seconds, r->seconds > 0 ? 3600.0 * pg->finished / r->seconds : 0.0, st[GL_RUN_DONE],
           st[GL_RUN_DIVERGED], st[GL_RUN_FAILED], st[GL_RUN_PENDING] + st[GL_RUN_RUNNING]);
    printf("phases:");
    for (int i = 0; i < 6; i++) printf(" %s %ld%s", gl_phase_name(i), r->phase[i], i < 5 ? "," : "\n");
    if (r->rounds || r->untrained)
        printf("refined: %d rounds in this process; %ld runs of the grid never trained (cells with no run are "
               "inferred in phase.csv)\n", r->rounds, r->untrained);
}

/* Whether mpirun (Open MPI, MPICH, PMIx) started this process. */
static int under_mpi(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
    for (int i = 0; i < 4; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int cli_sweep(const char *dir, const gl_grid *g, int extend, int threads, int keep, int shard_i, int shard_n,
              int quiet, const cli_refine *rf) {
    gl_sweep_opts o = {.threads = threads, .keep_weights = keep, .extend = extend, .shard_i = shard_i,
                       .shard_n = shard_n};
    if (rf && rf->on && rf->complete) {
        cli_error("--refine and --complete contradict: --complete trains the whole grid of a refined sweep");
        return EXIT_USAGE;
    }
    if (rf) o.refine = rf->on, o.complete = rf->complete, o.refine_x = rf->x, o.refine_y = rf->y, o.refine_seeds = rf->seeds;
    cli_sweep_progress pg;
    gl_sweep_report rep;
    gl_error err = {{0}, 0};
    int mpi = gl_sweep_mpi_built() && under_mpi() && shard_n == 1, rc;
    if (mpi) {
        /* mpirun ends every rank together; a killed sweep resumes with --resume */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        o.on_start = NULL;
        cli_sweep_callbacks(&o, &pg, quiet, 0, 1);
        o.on_done = NULL;
        o.on_tick = NULL;
        rc = gl_sweep_run_mpi(dir, g, &o, &rep, &err);
    } else {
        cli_sweep_callbacks(&o, &pg, quiet, shard_i, shard_n);
        rc = gl_sweep_run(dir, g, &o, &rep, &err);
    }
    if (rc == GL_E_INTERRUPTED) {
        if (pg.tty && !quiet) fputc('\n', stderr);
        gl_failc(&err, GL_E_INTERRUPTED, "%s: the runs in flight are pending again; continue with groklab sweep --resume %s",
                 cli_signal() == SIGTERM ? "stopped by SIGTERM" : "interrupted", dir);
        return cli_fail(&err);
    }
    if (rc != 0) { /* under MPI a rank that only followed rank 0 has nothing to say */
        if (err.msg[0]) cli_error("%s", err.msg);
        return cli_exit_code(&err);
    }
    if (rep.rank == 0) cli_sweep_print_end(&rep, &pg, quiet);
    return EXIT_OK;
}
