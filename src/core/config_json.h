/* groklab: a config as a cJSON object, for the files of the library that
 * embed configs in larger JSON documents (sweep definitions). */
#ifndef GROKLAB_CONFIG_JSON_H
#define GROKLAB_CONFIG_JSON_H

#include <cjson/cJSON.h>

#include "groklab/config.h"

/* As gl_config_from_json, from a parsed object. */
int gl_config_from_cjson(gl_config *c, const cJSON *o, gl_error *err);

#endif
