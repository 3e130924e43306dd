/* groklab: atomic file writes and small file helpers. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groklab/files.h"

int gl_write_atomic(const char *path, const void *data, size_t len, gl_error *err) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 32);
    if (!tmp) return gl_fail_nomem(err, "");
    snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return gl_failc(err, GL_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return gl_failc(err, GL_E_IO, "cannot write %s: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return gl_failc(err, GL_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return gl_failc(err, GL_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    free(tmp);
    /* make the rename itself durable */
    char *dcopy = strdup(path);
    if (dcopy) {
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dcopy);
    }
    return 0;
}

int gl_read_file(const char *path, char **data, size_t *len, gl_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return gl_fail(err, "cannot read %s: %s", path, strerror(errno));
    const size_t limit = (size_t)1 << 31; /* a device or pipe can be endless */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        if (cap >= limit) {
            free(buf);
            fclose(f);
            return gl_fail(err, "cannot read %s: larger than %zu bytes", path, limit);
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return gl_failc(err, GL_E_NOMEM, "out of memory reading %s", path);
    if (bad) {
        free(buf);
        return gl_failc(err, GL_E_IO, "cannot read %s", path);
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return 0;
}

int gl_mkdirs(const char *path, gl_error *err) {
    char *p = strdup(path);
    if (!p) return gl_fail_nomem(err, "");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                gl_fail(err, "cannot create directory %s: %s", p, strerror(e));
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    struct stat st;
    int ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    if (!ok) return gl_fail(err, "%s exists and is not a directory", path);
    return 0;
}
