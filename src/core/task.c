/* groklab: the tasks, (m op n) mod p.
 *
 * Arithmetic is done in 64-bit integers on values already reduced mod p, so
 * nothing overflows for any p the config allows. */
#include <string.h>

#include "groklab/task.h"
#include "groklab/modular.h"

typedef struct task {
    const char *name;
    int needs_prime; /* division needs inverses */
    int skip_n0;     /* pairs with n == 0 are not part of the task */
} task;

static const task tasks[] = {
    {"add", 0, 0},        /* m + n */
    {"sub", 0, 0},        /* m - n */
    {"mul", 0, 0},        /* m * n */
    {"div", 1, 1},        /* m * n^-1, n != 0 */
    {"sq_sum", 0, 0},     /* m^2 + n^2 */
    {"quad1", 0, 0},      /* m^2 + m n + n^2 */
    {"quad2", 0, 0},      /* m^2 + m n + n^2 + m */
    {"cubic1", 0, 0},     /* m^3 + m n */
    {"cubic2", 0, 0},     /* m^3 + m n^2 + n */
    {"odd_div", 0, 0},    /* m // n (floor) if n odd else m - n */
    {"even_mul", 0, 0},   /* m + n if m even else m * n */
    {"even_sub", 0, 0},   /* m + n if m even else m - n */
};
#define NTASKS (int)(sizeof tasks / sizeof tasks[0])

static const task *find(const char *name) {
    for (int i = 0; i < NTASKS; i++)
        if (strcmp(tasks[i].name, name) == 0) return &tasks[i];
    return NULL;
}

int gl_task_lookup(const char *name, int *needs_prime) {
    const task *t = find(name);
    if (t && needs_prime) *needs_prime = t->needs_prime;
    return t != NULL;
}

const char *gl_task_names(void) {
    return "add, sub, mul, div, sq_sum (m^2+n^2), quad1 (m^2+mn+n^2), quad2 (m^2+mn+n^2+m), "
           "cubic1 (m^3+mn), cubic2 (m^3+mn^2+n), odd_div (m//n if n odd else m-n), "
           "even_mul (m+n if m even else m*n), even_sub (m+n if m even else m-n)";
}

long gl_task_pairs(const char *name, int p) {
    const task *t = find(name);
    if (!t) return 0;
    return t->skip_n0 ? (long)p * (p - 1) : (long)p * p;
}


int gl_task_label(const char *name, int p, int m_, int n_) {
    const task *t = find(name);
    if (!t || m_ < 0 || n_ < 0 || m_ >= p || n_ >= p) return -1;
    if (t->skip_n0 && n_ == 0) return -1;
    long m = m_, n = n_, P = p;
    long mm = m * m % P, nn = n * n % P, mn = m * n % P;
    switch ((int)(t - tasks)) {
    case 0: return (int)gl_mod(m + n, P);
    case 1: return (int)gl_mod(m - n, P);
    case 2: return (int)mn;
    case 3: return (int)(m * gl_inverse_mod(n, P) % P);
    case 4: return (int)gl_mod(mm + nn, P);
    case 5: return (int)gl_mod(mm + mn + nn, P);
    case 6: return (int)gl_mod(mm + mn + nn + m, P);
    case 7: return (int)gl_mod(mm * m % P + mn, P);
    case 8: return (int)gl_mod(mm * m % P + mn * n % P + n, P);
    case 9: return (int)(n % 2 == 1 ? m / n : gl_mod(m - n, P));
    case 10: return (int)(m % 2 == 0 ? gl_mod(m + n, P) : mn);
    case 11: return (int)(m % 2 == 0 ? gl_mod(m + n, P) : gl_mod(m - n, P));
    }
    return -1;
}
