/* The tests' comparison of two configs field by field, through the text of
 * every field (gl_config_field_text), so doubles are compared as they are
 * written: the index of the first field that differs, or -1. */
#ifndef GROKLAB_TEST_CONFIG_DIFF_H
#define GROKLAB_TEST_CONFIG_DIFF_H

#include <string.h>

#include "groklab/config.h"

static inline int first_difference(const gl_config *a, const gl_config *b) {
    char x[256], y[256];
    for (int i = 0; i < gl_config_nfields(); i++) {
        gl_config_field_text(a, i, x, sizeof x);
        gl_config_field_text(b, i, y, sizeof y);
        if (strcmp(x, y)) return i;
    }
    return -1;
}

#endif
