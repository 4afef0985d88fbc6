/*
 * branchline_intake_source_requests_total{source, outcome}: web intake
 * submissions by channel source. The source label is "tenant/source" as
 * the database named it when it accepted a submission with that token; its
 * cardinality is bounded: the first SOURCE_LABELS_MAX sources the daemon
 * sees get a label of their own for the life of the process, later ones
 * count under "other", and a token no answer has named yet (a bad token, a
 * disabled source, a refusal before the database) under "unknown". No
 * client can create a series: only a token that the database accepted
 * names one, and the token itself never appears (it is a secret).
 */
#ifndef BRANCHD_INTAKE_SOURCE_METRICS_H
#define BRANCHD_INTAKE_SOURCE_METRICS_H

#include <stddef.h>

#define SOURCE_LABELS_MAX 64

/* Registers the family (before metrics_start); outcomes outlive it. 0 or -1. */
int source_metrics_register(const char *const *outcomes, size_t noutcomes) __attribute__((warn_unused_result));
/* The database named token's source: "tenant/source" from now on. */
void source_metrics_learn(const char *token, const char *tenant, const char *source);
/* One submission with token ended with outcome. */
void source_metrics_count(const char *token, const char *outcome);
/* Forgets everything (after the workers stopped). */
void source_metrics_free(void);

#endif
