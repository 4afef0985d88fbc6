/*
 * All printing of results and errors. Each result is built once as a JSON
 * object and then rendered either as JSON or as an aligned table, so both
 * formats always carry the same fields under the same (proto) names.
 */
#ifndef BRANCHCTL_OUTPUT_H
#define BRANCHCTL_OUTPUT_H

#include <stdint.h>

#include "blclient.h"

typedef enum {
    OUTPUT_TABLE,
    OUTPUT_JSON,
} output_format_t;

/* "table" or "json"; NULL means table. 0, or -1 for an unknown name. */
int output_format_parse(const char *name, output_format_t *format)
    __attribute__((warn_unused_result));

typedef struct {
    const char *server;
    uint64_t sent;
    uint64_t answered;
    double rtt_min_ms;
    double rtt_avg_ms;
    double rtt_max_ms;
    double total_ms;                /* first send to last answer */
    uint64_t server_time_unix_ms;   /* from the last answer */
} ping_summary_t;

/* Results on stdout: 0, or -1 when out of memory. */
int output_ping(output_format_t format, const ping_summary_t *ping)
    __attribute__((warn_unused_result));
int output_server_info(output_format_t format, const Branchline__V1__ServerInfoResult *info)
    __attribute__((warn_unused_result));
int output_version(output_format_t format) __attribute__((warn_unused_result));

/*
 * An error on stderr: "branchctl: CODE: message (field: x)", or with JSON
 * output {"code":"CODE","message":"...","field":"..."}. field may be NULL.
 */
void output_error(output_format_t format, int code, const char *message, const char *field);

/* "usage: ..." on stderr after a usage error (table output only). */
void output_usage_hint(output_format_t format, const char *usage);

#endif
