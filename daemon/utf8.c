#include "utf8.h"

#include <string.h>
#include <utf8proc.h>

bool utf8_valid(const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    utf8proc_int32_t cp;
    while (left > 0) {
        /* utf8proc refuses overlongs, surrogates and code points past U+10FFFF. */
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0)
            return false;
        p += n;
        left -= n;
    }
    return true;
}
