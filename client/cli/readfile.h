/* Reading a whole file (or standard input) that a command takes as input. */
#ifndef BRANCHCTL_READFILE_H
#define BRANCHCTL_READFILE_H

#include <stddef.h>

#define READFILE_MAX (64L << 20)

/*
 * The whole of path ("-": standard input) as a NUL-terminated string, its
 * length in *len. NULL with errno set (EFBIG past READFILE_MAX); free it.
 */
char *readfile_all(const char *path, size_t *len) __attribute__((warn_unused_result));

#endif
