/* groklab: run directories (see README "Outputs"): a trainer's files
 * written, resumed and read back. */
#ifndef GROKLAB_IO_H
#define GROKLAB_IO_H

#include "groklab/files.h"
#include "groklab/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether DIR/name exists. */
int gl_run_has(const char *dir, const char *name);
/* Checks that dir is a run directory and reads its validated config.json. */
int gl_run_open(const char *dir, gl_config *c, gl_error *err);
/* Makes dir ready for a new run: created if missing; an existing non-empty
 * directory is refused unless force; it must be writable. */
int gl_run_prepare(const char *dir, int force, gl_error *err);
int gl_run_write_config(const char *dir, const gl_config *c, gl_error *err);
int gl_run_write_data(const char *dir, const gl_dataset *d, gl_error *err);
/* which: "init" or "model" */
int gl_run_write_weights(const char *dir, const char *which, gl_trainer *t, gl_error *err);
int gl_run_write_metrics(const char *dir, gl_trainer *t, gl_error *err);
int gl_run_write_checkpoint(const char *dir, gl_trainer *t, gl_error *err);
int gl_run_write_summary(const char *dir, gl_trainer *t, gl_error *err);
/* DIR/examples.csv: each training example's story (gl_trainer_story):
 * index, m, n, label, true_label, corrupted (0/1), first_given,
 * last_given, unlearned (steps, -1: never). Nothing when the backend
 * recorded no predictions. */
int gl_run_write_examples(const char *dir, gl_trainer *t, gl_error *err);

/* ---- snapshots and RUN@STEP ----
 * A run is named by its directory, or by DIR@STEP for the snapshot
 * nearest to STEP (snapshots/step_SSSSSSSSS.safetensors, --snapshots).
 * gl_run_open, gl_run_load_weights and gl_run_load_data take either. */
/* "snapshots/step_SSSSSSSSS" (a gl_run_load_model / write_weights name). */
void gl_run_snapshot_name(char *out, size_t cap, long step);
/* Splits ref into its directory and step (-1 without "@STEP"); returns
 * whether it had one. */
int gl_run_ref_split(const char *ref, char *dir, size_t cap, long *step);
/* The steps of dir's snapshots in increasing order (*steps malloc'd, NULL
 * and *n 0 without any). */
int gl_run_snapshot_steps(const char *dir, long **steps, long *n, gl_error *err);
/* ref's directory, its weights' name ("model", or the snapshot nearest to
 * STEP) and that snapshot's step (-1 for "model"); a run without
 * snapshots is refused for DIR@STEP. */
int gl_run_ref_weights(const char *ref, char *dir, size_t cap, char *which, size_t wcap, long *step,
                       gl_error *err);
/* Where an analysis of ref writes: DIR itself, or DIR/at_S (created) for
 * the snapshot of step S. */
int gl_run_out_dir(const char *ref, char *out, size_t cap, gl_error *err);

/* progress.csv: its header and one row (keys: pm->n_key key frequencies),
 * appended to b; and the plan of a run's config and data (key_threshold
 * as gl_progress_plan_create). */
struct gl_text;
void gl_progress_header_text(struct gl_text *b);
void gl_progress_row_text(struct gl_text *b, const gl_progress *pm, const int *keys);
int gl_run_progress_plan(gl_progress_plan **pp, const gl_config *c, const gl_dataset *d, double key_threshold,
                         gl_error *err);

/* DIR/metrics.csv back into rows (*rows malloc'd, *n of them), its columns
 * found by name: a column the file does not have reads as NaN. */
int gl_run_read_metrics(const char *dir, gl_metrics **rows, long *n, gl_error *err);
/* Reads config.json of a run (or any config file). */
int gl_run_read_config(const char *path, gl_config *c, gl_error *err);
/* Loads the checkpoint and metrics history of dir into a trainer created
 * from the run's config. */
int gl_run_resume(const char *dir, gl_trainer *t, gl_error *err);
/* Writes everything of a finished (or checkpointed) run. */
int gl_run_save_all(const char *dir, gl_trainer *t, gl_error *err);
/* Trains t (created from the run's config; resumed: loaded with
 * gl_run_resume) to its configured steps into dir (ready: gl_run_prepare):
 * config.json, and for a new run data and initial weights, first; then
 * stretches of checkpoint_every steps, each followed by metrics.csv and a
 * checkpoint; then every file (gl_run_save_all). GL_E_INTERRUPTED after
 * gl_stop_request, with the checkpoint of the step it stopped after
 * written. Progress: gl_trainer_set_progress before the call. */
int gl_run_train(const char *dir, gl_trainer *t, int resumed, int threads, gl_error *err);

/* Trains M new runs t[i] (created from their configs) together as one
 * population (gl_population_advance: one core each on the CPU, one set
 * of kernels on a GPU) into dirs[i] (each ready: gl_run_prepare): config,
 * data and initial weights first, snapshots and progress rows as they
 * come, every file at the end. Interrupted (GL_E_INTERRUPTED): every
 * member's metrics and checkpoint, so each resumes with groklab train
 * --resume. */
int gl_run_train_population(const char *const *dirs, gl_trainer **t, int M, int threads, gl_error *err);

/* A model read back from a run directory, in the internal layout. */
typedef struct gl_model {
    gl_config cfg;             /* resolved (gl_config_resolve) */
    gl_net net;                /* any family */
    gl_layout L;               /* the two-layer MLP's layout (net.mlp) */
    float *params;             /* (net.n_params) */
    float *run_mean, *run_var; /* (net.n_run_layers, N) BatchNorm running statistics, else NULL */
    long step;                 /* the file's step, -1 if not recorded */
} gl_model;
/* Reads DIR/WHICH.safetensors (which: "model" or "init") for the run config
 * c; every tensor's shape must agree with c. */
int gl_run_load_model(const char *dir, const char *which, const gl_config *c, gl_model *m,
                      gl_error *err);
void gl_model_free(gl_model *m);
/* A finished run's weights: DIR/model.safetensors into *m (refused, naming
 * the missing file, when the run has none) and, when m0 is not NULL, the
 * initial weights into *m0 if DIR/init.safetensors is there (*has_init 1)
 * or nothing (*has_init 0, *m0 zeroed). On failure both are freed. */
int gl_run_load_weights(const char *dir, const gl_config *c, gl_model *m, gl_model *m0, int *has_init,
                        gl_error *err);
/* Reads DIR/data.safetensors (labels checked against c->p). */
int gl_run_load_data(const char *dir, const gl_config *c, gl_dataset *d, gl_error *err);

/* Writes the run directory dir from outside files, so that every analysis
 * of a run works on a network trained by other code (docs/byo.md):
 *   c           the knobs (any subset set over gl_config_default); c->data
 *               names the dataset file (gl_dataset_load), whose frac and
 *               noise the run takes (gl_config_adopt_data)
 *   model_path  the final weights, init_path the initial ones (NULL: none):
 *               safetensors files, named *.safetensors, holding c's family's
 *               tensors as gl_net_tensor_at names and shapes them (BatchNorm:
 *               also norm.running_mean and norm.running_var); a shape that
 *               differs is refused naming the tensor, its shape and c's
 *   step        the step the weights stand for (>= 0)
 * Writes config.json, data.safetensors (corrupted examples first),
 * model.safetensors (and init.safetensors), and the library's evaluation of
 * the network on the data (gl_trainer_evaluate, on the CPU whatever c's
 * device) as a one-row metrics.csv and summary.json. Every input is checked
 * before dir is touched; an existing non-empty dir is refused unless force
 * (gl_run_prepare), and a write that fails leaves none of these files. */
int gl_run_import(const char *dir, const gl_config *c, const char *model_path, const char *init_path, long step,
                  int force, gl_error *err);

#ifdef __cplusplus
}
#endif

#endif
