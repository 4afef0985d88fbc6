#include "readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 0;
    char *text = NULL;
    *len = 0;
    for (;;) {
        if (cap - *len < 2) {
            char *bigger = cap >= (size_t)READFILE_MAX ? NULL : realloc(text, cap ? cap * 2 : 4096);
            if (!bigger) {
                errno = cap >= (size_t)READFILE_MAX ? EFBIG : ENOMEM;
                break;
            }
            text = bigger;
            cap = cap ? cap * 2 : 4096;
        }
        size_t n = fread(text + *len, 1, cap - *len - 1, f);
        *len += n;
        if (n == 0) {
            if (ferror(f))
                break;
            text[*len] = '\0';
            return text;
        }
    }
    free(text);
    return NULL;
}

char *readfile_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *text = f ? read_stream(f, len) : NULL;
    int saved = errno;
    if (f && f != stdin)
        fclose(f);
    errno = saved;
    return text;
}
