/* groklab: the tasks, (m op n) mod p: their names, labels and pairs. */
#ifndef GROKLAB_TASK_H
#define GROKLAB_TASK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether name is a task; fills *needs_prime when the task requires p prime. */
int gl_task_lookup(const char *name, int *needs_prime);
/* Comma-separated list of every task name (static string). */
const char *gl_task_names(void);
/* The label of (m, n); returns -1 if the pair is outside the task (n == 0 for div). */
int gl_task_label(const char *name, int p, int m, int n);

/* Number of (m, n) pairs of the task at modulus p. */
long gl_task_pairs(const char *name, int p);

#ifdef __cplusplus
}
#endif

#endif
