/* examples/phase.c: train one run through groklab's C interface and print
 * its final accuracies and its phase (docs/library.md).
 *
 *   phase [--KNOB VALUE ...]    any knob of `groklab train`, e.g. --noise 0.1
 *
 * It starts from the paper's defaults with p = 23, alpha = 0.8 and 300 steps
 * (a second or two on one core); `groklab train` with the same knobs gives
 * the same numbers. */
#include <stdio.h>
#include <string.h>

#include <groklab/config.h>
#include <groklab/metrics.h>
#include <groklab/train.h>

int main(int argc, char **argv) {
    gl_config c;
    gl_error err;
    gl_config_default(&c);
    const char *fixed[][2] = {{"p", "23"}, {"frac", "0.8"}, {"steps", "300"}};
    for (int i = 0; i < 3; i++)
        if (gl_config_set(&c, fixed[i][0], fixed[i][1], &err)) goto fail;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 == argc) {
            fprintf(stderr, "phase: %s: missing value (usage: phase [--KNOB VALUE ...])\n", argv[i]);
            return 2;
        }
        const char *knob = argv[i] + (strncmp(argv[i], "--", 2) ? 0 : 2);
        if (gl_config_set(&c, knob, argv[i + 1], &err)) goto fail;
    }

    gl_trainer *t; /* NULL when gl_trainer_create fails */
    if (gl_trainer_create(&t, &c, &err) || gl_trainer_advance(t, c.steps, 0, &err)) {
        gl_trainer_free(t);
        goto fail;
    }
    long n;
    const gl_metrics *rows = gl_trainer_rows(t, &n), *last;
    gl_phase ph = gl_phase_of_run(rows, n, c.noise, gl_trainer_diverged_at(t) >= 0, NULL, &last);
    if (last) /* %.17g: the doubles exactly, as summary.json has them */
        printf("step %ld\ntrain_acc %.17g\ntest_acc %.17g\n", last->step, last->train_acc, last->test_acc);
    printf("phase %s\n", gl_phase_name(ph));
    gl_trainer_free(t);
    return 0;

fail:
    fprintf(stderr, "phase: %s\n", err.msg);
    return err.code == GL_E_INPUT ? 2 : 1;
}
