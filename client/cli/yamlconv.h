/*
 * YAML <-> JSON for branchctl, with libyaml. The protocol speaks JSON;
 * YAML exists only here, in the client, for people writing and reading
 * files.
 *
 * Reading: the first document of the stream, resolved as YAML 1.2's core
 * schema: a quoted (or block) scalar is a string; a plain one is null ("",
 * "~", "null"), a boolean ("true", "false" in any of their three cases),
 * an integer, a float, or else a string ("2026-11-22" is a string).
 * Aliases are followed; mapping keys must be scalars and unique. Every node
 * is recorded with its line under its location in the document, written
 * the way the daemon names places in errors: "units[3].cap.per_day".
 *
 * Writing: block style, keys in the JSON object's order, UTF-8 as is. A
 * string that a YAML 1.1 reader (PyYAML, yq) would take for something else
 * (a date, "yes", "1.0", "~") is quoted, so that every common reader gets
 * the same strings back.
 */
#ifndef BRANCHCTL_YAMLCONV_H
#define BRANCHCTL_YAMLCONV_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/*
 * The value of the first document in text. lines, when not NULL, receives
 * an object mapping each location to its line (from 1); free it. NULL with
 * "line N: reason" in err for text that is not YAML or breaks the rules
 * above, or when out of memory.
 */
json_t *yamlconv_parse(const char *text, size_t len, json_t **lines, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* v as one YAML document. 0, or -1 when out of memory or on a write error. */
int yamlconv_emit(FILE *out, const json_t *v) __attribute__((warn_unused_result));

/* True when a plain YAML scalar of s would not read back as the string s. */
int yamlconv_needs_quotes(const char *s);

#endif
