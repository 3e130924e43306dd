#ifndef GROKLAB_VERSION_H
#define GROKLAB_VERSION_H
#define GL_VERSION "0.1.0"
#endif
