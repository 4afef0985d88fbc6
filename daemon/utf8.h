/* UTF-8 validation, so bad text is refused naming its field before SQL sees it. */
#ifndef BRANCHD_UTF8_H
#define BRANCHD_UTF8_H

#include <stdbool.h>

/* Whether s is well-formed UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
bool utf8_valid(const char *s);

#endif
