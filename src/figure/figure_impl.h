/* groklab: what the figure layer's files share. */
#ifndef GROKLAB_FIGURE_IMPL_H
#define GROKLAB_FIGURE_IMPL_H

#include "groklab/figure.h"
#include "groklab/text.h"

/* Runs the script body (freed) into DIR/NAME.png and .svg (gl_gnuplot). */
int gl_figure_draw(const char *dir, const char *name, int width, int height, gl_text *body, gl_error *err);

#endif
