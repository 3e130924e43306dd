#ifndef GROKLAB_VERSION_H
#define GROKLAB_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define GL_VERSION "0.1.0"

#ifdef __cplusplus
}
#endif

#endif
