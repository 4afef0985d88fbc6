/*
 * One line per event on stderr: `ts=... level=... event=... key=value ...`,
 * or the same fields as one JSON object a line (log_format = json).
 * Callers pass the key=value tail as a format; values that may contain
 * spaces go through log_quote(). When stderr is the journal
 * (JOURNAL_STREAM names it), each line starts with its syslog priority
 * (<3> error, <4> warn, <6> info, <7> debug).
 */
#ifndef BRANCHD_LOG_H
#define BRANCHD_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format_t;

void log_set_level(log_level_t level);
void log_set_format(log_format_t format);
int log_format_parse(const char *name, log_format_t *out);
/* Looks at JOURNAL_STREAM and stderr once, at start-up. */
void log_detect_journal(void);
int log_level_parse(const char *name, log_level_t *out);
int log_enabled(log_level_t level);

void log_emit(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies `value` into `out` as a quoted, escaped logfmt value. */
const char *log_quote(char *out, size_t outlen, const char *value);

#define log_debug(ev, ...) do { if (log_enabled(LOG_DEBUG)) log_emit(LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...) log_emit(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_emit(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(LOG_ERROR, ev, __VA_ARGS__)

#endif
