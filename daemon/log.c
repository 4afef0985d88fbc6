#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048

static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_FORMAT_TEXT;
static bool to_journal;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"text", "json"};
static const int syslog_priorities[] = {7, 6, 4, 3};

void log_set_format(log_format_t format)
{
    atomic_store(&current_format, (int)format);
}

int log_format_parse(const char *name, log_format_t *out)
{
    for (int i = 0; i <= LOG_FORMAT_JSON; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (log_format_t)i;
            return 0;
        }
    }
    return -1;
}

/* systemd sets JOURNAL_STREAM=device:inode of the stream it connected; a
 * stderr redirected elsewhere by the unit or a wrapper does not match. */
void log_detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                 (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Appends s as a JSON string body (without quotes); returns the new length. */
static size_t json_escape(char *out, size_t n, size_t cap, const char *s, size_t len)
{
    for (size_t i = 0; i < len && n + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

/* Whether a bare value is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static bool is_number(const char *s, size_t len)
{
    size_t i = s[0] == '-';
    size_t int_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t int_len = i - int_start;
    if (int_len == 0 || (int_len > 1 && s[int_start] == '0'))
        return false;
    if (i == len)
        return true;
    if (s[i++] != '.' || i == len)
        return false;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i == len;
}

/* `key=value key="quoted \"value\""` -> `,"key":"value","key":"quoted \"value\""`. */
static size_t logfmt_to_json(char *out, size_t n, size_t cap, const char *tail)
{
    const char *p = tail;
    while (*p && n + 8 < cap) {
        while (*p == ' ')
            p++;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t keylen = (size_t)(p - key);
        if (!keylen)
            break;
        out[n++] = ',';
        out[n++] = '"';
        n = json_escape(out, n, cap, key, keylen);
        n += (size_t)snprintf(out + n, cap - n, "\":");
        if (*p != '=') {
            n += (size_t)snprintf(out + n, cap - n, "true");
            continue;
        }
        p++;
        if (*p == '"') {
            /* log_quote's escapes (\" and \\) are JSON's too: copy them. */
            const char *v = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (n + (size_t)(p - v) + 3 < cap) {
                out[n++] = '"';
                memcpy(out + n, v, (size_t)(p - v));
                n += (size_t)(p - v);
                out[n++] = '"';
            }
            if (*p)
                p++;
            continue;
        }
        const char *v = p;
        while (*p && *p != ' ')
            p++;
        size_t vlen = (size_t)(p - v);
        if (vlen && is_number(v, vlen) && n + vlen < cap) {
            memcpy(out + n, v, vlen);
            n += vlen;
        } else {
            out[n++] = '"';
            n = json_escape(out, n, cap, v, vlen);
            if (n < cap)
                out[n++] = '"';
        }
    }
    return n < cap ? n : cap - 1;
}

void log_set_level(log_level_t level)
{
    atomic_store(&current_level, (int)level);
}

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = 0; i <= LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(log_level_t level)
{
    return (int)level >= atomic_load(&current_level);
}

void log_emit(log_level_t level, const char *event, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char tail[LINE_MAX_BYTES];
    tail[0] = '\0';
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tail, sizeof tail, fmt, ap);
        va_end(ap);
    }
    char ts[64];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    char line[LINE_MAX_BYTES + 512];
    size_t n = 0;
    if (to_journal)
        n += (size_t)snprintf(line, sizeof line, "<%d>", syslog_priorities[level]);
    if (atomic_load(&current_format) == LOG_FORMAT_JSON) {
        n += (size_t)snprintf(line + n, sizeof line - n, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"",
                              ts, level_names[level]);
        n = json_escape(line, n, sizeof line - 2, event, strlen(event));
        line[n++] = '"';
        n = logfmt_to_json(line, n, sizeof line - 2, tail);
        line[n++] = '}';
    } else {
        int m = snprintf(line + n, sizeof line - n - 1, "ts=%s level=%s event=%s%s%s", ts,
                         level_names[level], event, tail[0] ? " " : "", tail);
        n += m > 0 ? (size_t)m : 0;
        if (n > sizeof line - 2)
            n = sizeof line - 2;
    }
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    fwrite(line, 1, n, stderr);
}

const char *log_quote(char *out, size_t outlen, const char *value)
{
    size_t j = 0;
    if (outlen < 3)
        return "\"\"";
    out[j++] = '"';
    for (const char *p = value ? value : ""; *p && j + 3 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c < 0x20) {
            out[j++] = '?';
        } else {
            out[j++] = (char)c;
        }
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}
