/* blbench's output: one key=value line per run (and one per error code) on
 * stdout, and optionally the same figures as a JSON object in a file. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "bench_load.h"

/* Extra key=value pairs printed before the load's own (e.g. idle=, rss_kib=). */
typedef struct {
    const char *key;
    long long value;
} report_extra_t;

void report_text(FILE *out, const load_config_t *cfg, const load_result_t *r,
                 const report_extra_t *extra, int n_extra);

/* Appends one JSON object (one line) to path; 0 or -1. */
int report_json(const char *path, const load_config_t *cfg, const load_result_t *r,
                const report_extra_t *extra, int n_extra);

/* Answers that were not OK, plus lost requests. */
unsigned long long report_failures(const load_result_t *r);

#endif
