/* groklab: figures through gnuplot (groklab/figure.h). The script is saved
 * beside the figure, with paths relative to that folder, so a user can
 * restyle it and rerun `gnuplot NAME.gp` there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figure/figure_impl.h"

int gl_gnuplot(const char *dir, const char *name, int width, int height, const char *body, gl_error *err) {
    gl_text s = {0};
    gl_text_printf(&s, "# groklab figure %s: gnuplot %s.gp (in this folder) redraws it\n", name, name);
    gl_text_printf(&s, "set datafile separator ','\n");
    const char *term[2] = {"pngcairo", "svg"};
    const char *ext[2] = {"png", "svg"};
    for (int f = 0; f < 2; f++) {
        gl_text_printf(&s, "\nset terminal %s size %d,%d font ',10'\nset output '%s.%s'\n", term[f], width, height,
                       name, ext[f]);
        gl_text_printf(&s, "%s", body);
        gl_text_printf(&s, "set output\nreset\nset datafile separator ','\n");
    }
    char gp[512];
    snprintf(gp, sizeof gp, "%s.gp", name);
    int rc = gl_text_save(&s, dir, gp, err);
    gl_text_free(&s);
    if (rc != 0) return rc;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>&1", dir, name);
    FILE *pp = popen(cmd, "r");
    if (!pp) return gl_failc(err, GL_E_IO, "cannot run gnuplot (install it with scripts/install-deps.sh)");
    char line[512], first[512] = "";
    /* gnuplot's message: the first line that names a line of the script, or
     * else the first that is not blank */
    int named = 0;
    while (fgets(line, sizeof line, pp)) {
        line[strcspn(line, "\n")] = 0;
        int names = strstr(line, ".gp\" line ") != NULL;
        if ((!first[0] && strspn(line, " \t^") < strlen(line)) || (names && !named)) {
            snprintf(first, sizeof first, "%s", line);
            named |= names;
        }
    }
    int st = pclose(pp);
    if (st != 0)
        return gl_failc(err, GL_E_IO, "gnuplot failed on %s/%s.gp: %s (is gnuplot installed? scripts/install-deps.sh)",
                        dir, name, first[0] ? first : "no output");
    return 0;
}

int gl_figure_draw(const char *dir, const char *name, int width, int height, gl_text *body, gl_error *err) {
    int rc = body->failed ? gl_failc(err, GL_E_NOMEM, "out of memory drawing %s", name)
                          : gl_gnuplot(dir, name, width, height, body->data ? body->data : "", err);
    gl_text_free(body);
    return rc;
}
