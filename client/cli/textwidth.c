#include "textwidth.h"

#include <string.h>
#include <utf8proc.h>

size_t text_decode(const char *s, uint32_t *cp)
{
    utf8proc_int32_t v;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)strnlen(s, 4), &v);
    if (n <= 0) {
        *cp = TEXT_INVALID;
        return 1;
    }
    *cp = (uint32_t)v;
    return (size_t)n;
}

bool text_is_control(uint32_t cp)
{
    /* Line separators and bidirectional overrides would let text from the
     * server move or reorder what the terminal shows around it. */
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == TEXT_INVALID;
}

int text_char_width(uint32_t cp)
{
    if (text_is_control(cp))
        return 1;
    /* libutf8proc knows the whole of Unicode: East Asian Wide and Fullwidth
     * take two columns, combining marks and other non-printing characters
     * none. */
    return utf8proc_charwidth((utf8proc_int32_t)cp);
}

size_t text_width(const char *s)
{
    size_t width = 0;
    uint32_t cp;
    while (*s) {
        s += text_decode(s, &cp);
        width += (size_t)text_char_width(cp);
    }
    return width;
}
