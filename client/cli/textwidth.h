/*
 * How wide UTF-8 text is on a terminal (libutf8proc), the same in every locale: East
 * Asian Wide and Fullwidth characters (CJK ideographs, kana, Hangul,
 * fullwidth forms, most emoji) take two columns, combining marks and
 * zero-width characters none, everything else one. Output prints control
 * characters and bytes that are not UTF-8 as '?', so they count one.
 */
#ifndef BRANCHCTL_TEXTWIDTH_H
#define BRANCHCTL_TEXTWIDTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_INVALID UINT32_MAX

/*
 * Decodes the character at s (s[0] not NUL): its length in bytes, with the
 * code point in *cp; 1 and TEXT_INVALID for a byte that begins no valid
 * UTF-8 sequence (overlong forms and surrogates included).
 */
size_t text_decode(const char *s, uint32_t *cp);

/* C0 and C1 controls, DEL, line separators, bidirectional overrides and
 * TEXT_INVALID: what output shows as '?'. */
bool text_is_control(uint32_t cp);

/* Columns of one character: 0, 1 or 2 (a control counts 1). */
int text_char_width(uint32_t cp);

/* Columns of a whole string. */
size_t text_width(const char *s);

#endif
