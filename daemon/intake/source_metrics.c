#include "intake/source_metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define NAME_MAX_LEN 96
#define TOKENS_MAX 1024     /* token hash -> label; a collision only mislabels a count */

/* Label values: "unknown", SOURCE_LABELS_MAX names claimed as sources are
 * seen, "other". A name is written once, under the lock, before the first
 * count of its series; a scrape prints only series that were counted. */
static char names[SOURCE_LABELS_MAX][NAME_MAX_LEN];
static const char *values[SOURCE_LABELS_MAX + 2];
static size_t claimed;
static struct {
    uint64_t hash;          /* 0: free */
    unsigned label;
} tokens[TOKENS_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metric_t *family;

enum { LABEL_UNKNOWN = 0, LABEL_OTHER = SOURCE_LABELS_MAX + 1 };

static uint64_t token_hash(const char *token)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a, 64 bits */
    for (const char *p = token; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h ? h : 1;
}

int source_metrics_register(const char *const *outcomes, size_t noutcomes)
{
    values[LABEL_UNKNOWN] = "unknown";
    for (size_t i = 0; i < SOURCE_LABELS_MAX; i++)
        values[1 + i] = names[i];
    values[LABEL_OTHER] = "other";
    static metric_label_t labels[2];
    labels[0] = (metric_label_t){"source", values, SOURCE_LABELS_MAX + 2};
    labels[1] = (metric_label_t){"outcome", outcomes, noutcomes};
    family = metrics_register(METRIC_COUNTER, "branchline_intake_source_requests_total",
                              "Web intake submissions by source (tenant/source; the first 64 sources seen, then "
                              "\"other\"; \"unknown\" before a source is named) and outcome.",
                              labels, 2, NULL, 0);
    return family ? 0 : -1;
}

/* The label index of a name, claiming a free one; under the lock. */
static unsigned label_of(const char *name)
{
    for (size_t i = 0; i < claimed; i++)
        if (strcmp(names[i], name) == 0)
            return (unsigned)(1 + i);
    if (claimed == SOURCE_LABELS_MAX)
        return LABEL_OTHER;
    snprintf(names[claimed], NAME_MAX_LEN, "%s", name);
    return (unsigned)(1 + claimed++);
}

void source_metrics_learn(const char *token, const char *tenant, const char *source)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s/%s", tenant, source);
    uint64_t h = token_hash(token);
    pthread_mutex_lock(&lock);
    unsigned label = label_of(name);
    tokens[h % TOKENS_MAX].hash = h;
    tokens[h % TOKENS_MAX].label = label;
    pthread_mutex_unlock(&lock);
}

void source_metrics_count(const char *token, const char *outcome)
{
    if (!family)
        return;
    uint64_t h = token_hash(token ? token : "");
    pthread_mutex_lock(&lock);
    unsigned label = tokens[h % TOKENS_MAX].hash == h ? tokens[h % TOKENS_MAX].label : LABEL_UNKNOWN;
    pthread_mutex_unlock(&lock);
    metrics_add(family, metrics_series(family, label, metrics_label_index(family, 1, outcome)), 1);
}

void source_metrics_free(void)
{
    pthread_mutex_lock(&lock);
    memset(names, 0, sizeof names);
    memset(tokens, 0, sizeof tokens);
    claimed = 0;
    family = NULL;
    pthread_mutex_unlock(&lock);
}
