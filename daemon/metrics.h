/*
 * A small Prometheus registry and its text writer (exposition format
 * 0.0.4). There is no maintained Prometheus client library for C in
 * Debian, and we need little: counters, gauges and histograms with at most
 * two labels, each label with a fixed list of values, so no series can be
 * created by a client (no tenant, subject or path labels).
 *
 * Lock-free: every thread adds to its own slot of the values (one slot per
 * worker, assigned on a thread's first update), with relaxed atomics that
 * nobody else writes; a scrape sums the slots. Families are registered
 * before metrics_start(), at start-up; other modules add theirs the same
 * way (say, the web intake's requests by source and outcome):
 *
 *     static const char *const outcomes[] = {"created", "duplicate", "rejected"};
 *     static const metric_label_t l = {"outcome", outcomes, 3};
 *     m = metrics_register(METRIC_COUNTER, "branchline_intake_requests_total",
 *                          "Web intake requests by outcome.", &l, 1, NULL, 0);
 *     ...
 *     metrics_add(m, metrics_series(m, metrics_label_index(m, 0, "created"), 0), 1);
 */
#ifndef BRANCHD_METRICS_H
#define BRANCHD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type_t;

typedef struct {
    const char *name;           /* "operation" */
    const char *const *values;  /* every value it may take; must outlive the registry */
    size_t count;
} metric_label_t;

typedef struct metric metric_t;

/*
 * Registers a family (before metrics_start). `name` follows Prometheus
 * conventions (branchline_ prefix, base units, _total for counters,
 * _seconds for durations); at most two labels; `buckets` (histograms only)
 * are the upper bounds, ascending, without +Inf. NULL when the name is
 * taken or malformed, the registry is full or already started.
 */
metric_t *metrics_register(metric_type_t type, const char *name, const char *help,
                           const metric_label_t *labels, size_t nlabels, const double *buckets,
                           size_t nbuckets);

/* Allocates `slots` slots (one per thread that updates, at least); after
 * this the registry is fixed. 0 or -1. */
int metrics_start(unsigned slots) __attribute__((warn_unused_result));
void metrics_free(void);

/* The series of label values (i0 of the first label, i1 of the second). */
size_t metrics_series(const metric_t *m, size_t i0, size_t i1);
/* The index of `value` in label `label`'s list, or the index of "other"
 * when the list has one, else 0. */
size_t metrics_label_index(const metric_t *m, size_t label, const char *value);

/* Counters and gauges: adds delta to this thread's slot. A NULL metric, or
 * a call before metrics_start, does nothing. */
void metrics_add(metric_t *m, size_t series, int64_t delta);
/* Gauges: sets this thread's share (a worker publishing its own state). */
void metrics_set(metric_t *m, size_t series, int64_t value);
/* Histograms: one observation. */
void metrics_observe(metric_t *m, size_t series, double value);

/* Writes every family, HELP and TYPE first, summed over the slots. 0 or -1. */
int metrics_write(FILE *out) __attribute__((warn_unused_result));

#endif
