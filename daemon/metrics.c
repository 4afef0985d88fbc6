#include "metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX 64
#define SUM_SCALE 1e6          /* histogram sums are kept in millionths */
#define SLOT_ALIGN 8           /* values of one slot start on their own cache line */
#define PRINT_ALL_MAX 32       /* families with more series print only those in use */

struct metric {
    metric_type_t type;
    char *name;
    char *help;
    metric_label_t labels[2];
    size_t nlabels;
    size_t nseries;
    const double *buckets;
    size_t nbuckets;
    size_t width;              /* values per series: 1, or buckets + +Inf + sum */
    size_t offset;             /* of its first value within a slot */
};

static metric_t registry[METRICS_MAX];
static size_t registered;
static _Atomic int64_t *values;    /* slots x stride */
static size_t stride;
static unsigned nslots;
static atomic_uint next_slot;
static _Thread_local int my_slot = -1;

static bool name_ok(const char *name)
{
    if (!name || !name[0] || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

metric_t *metrics_register(metric_type_t type, const char *name, const char *help,
                           const metric_label_t *labels, size_t nlabels, const double *buckets,
                           size_t nbuckets)
{
    if (values || registered == METRICS_MAX || nlabels > 2 || !name_ok(name) || !help ||
        (type == METRIC_HISTOGRAM) != (nbuckets > 0))
        return NULL;
    for (size_t i = 0; i < registered; i++)
        if (strcmp(registry[i].name, name) == 0)
            return NULL;
    metric_t *m = &registry[registered];
    memset(m, 0, sizeof *m);
    m->type = type;
    m->nseries = 1;
    for (size_t i = 0; i < nlabels; i++) {
        if (!name_ok(labels[i].name) || labels[i].count == 0)
            return NULL;
        m->labels[i] = labels[i];
        m->nseries *= labels[i].count;
    }
    m->nlabels = nlabels;
    m->buckets = buckets;
    m->nbuckets = nbuckets;
    m->width = type == METRIC_HISTOGRAM ? nbuckets + 2 : 1;
    m->name = strdup(name);
    m->help = strdup(help);
    if (!m->name || !m->help) {
        free(m->name);
        free(m->help);
        return NULL;
    }
    registered++;
    return m;
}

int metrics_start(unsigned slots)
{
    size_t total = 0;
    for (size_t i = 0; i < registered; i++) {
        registry[i].offset = total;
        total += registry[i].nseries * registry[i].width;
    }
    stride = (total + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    if (stride == 0)
        stride = SLOT_ALIGN;
    values = calloc((size_t)slots * stride, sizeof *values);
    if (!values)
        return -1;
    nslots = slots;
    return 0;
}

void metrics_free(void)
{
    for (size_t i = 0; i < registered; i++) {
        free(registry[i].name);
        free(registry[i].help);
    }
    registered = 0;
    free(values);
    values = NULL;
    nslots = 0;
    atomic_store(&next_slot, 0);
}

size_t metrics_series(const metric_t *m, size_t i0, size_t i1)
{
    if (!m || m->nlabels == 0)
        return 0;
    if (m->nlabels == 1)
        return i0 < m->labels[0].count ? i0 : 0;
    if (i0 >= m->labels[0].count || i1 >= m->labels[1].count)
        return 0;
    return i0 * m->labels[1].count + i1;
}

size_t metrics_label_index(const metric_t *m, size_t label, const char *value)
{
    if (!m || label >= m->nlabels)
        return 0;
    const metric_label_t *l = &m->labels[label];
    size_t other = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (value && strcmp(l->values[i], value) == 0)
            return i;
        if (strcmp(l->values[i], "other") == 0)
            other = i;
    }
    return other;
}

/* This thread's values, or NULL before metrics_start. Threads beyond the
 * slots share one (the atomics keep that correct, only slower). */
static _Atomic int64_t *slot(void)
{
    if (!values)
        return NULL;
    if (my_slot < 0)
        my_slot = (int)(atomic_fetch_add(&next_slot, 1) % nslots);
    return values + (size_t)my_slot * stride;
}

void metrics_add(metric_t *m, size_t series, int64_t delta)
{
    _Atomic int64_t *v = slot();
    if (!m || !v || series >= m->nseries)
        return;
    atomic_fetch_add_explicit(&v[m->offset + series * m->width], delta, memory_order_relaxed);
}

void metrics_set(metric_t *m, size_t series, int64_t value)
{
    _Atomic int64_t *v = slot();
    if (!m || !v || series >= m->nseries)
        return;
    atomic_store_explicit(&v[m->offset + series * m->width], value, memory_order_relaxed);
}

void metrics_observe(metric_t *m, size_t series, double value)
{
    _Atomic int64_t *v = slot();
    if (!m || !v || series >= m->nseries || m->type != METRIC_HISTOGRAM)
        return;
    _Atomic int64_t *h = &v[m->offset + series * m->width];
    size_t b = 0;
    while (b < m->nbuckets && value > m->buckets[b])
        b++;
    atomic_fetch_add_explicit(&h[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h[m->nbuckets + 1], llround(value * SUM_SCALE), memory_order_relaxed);
}

static int64_t sum_value(size_t index)
{
    int64_t total = 0;
    for (unsigned s = 0; s < nslots; s++)
        total += atomic_load_explicit(&values[(size_t)s * stride + index], memory_order_relaxed);
    return total;
}

/* Label values are ours, but escaped all the same (the format's rules). */
static void write_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* {a="x",b="y"} for a series, with `extra` (le="...") appended if given. */
static void write_labels(FILE *out, const metric_t *m, size_t series, const char *extra)
{
    if (m->nlabels == 0 && !extra)
        return;
    size_t idx[2] = {0, 0};
    if (m->nlabels == 2) {
        idx[0] = series / m->labels[1].count;
        idx[1] = series % m->labels[1].count;
    } else {
        idx[0] = series;
    }
    fputc('{', out);
    for (size_t i = 0; i < m->nlabels; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", m->labels[i].name);
        write_escaped(out, m->labels[i].values[idx[i]]);
        fputc('"', out);
    }
    if (extra)
        fprintf(out, "%s%s", m->nlabels ? "," : "", extra);
    fputc('}', out);
}

static void write_histogram(FILE *out, const metric_t *m, size_t series, size_t base)
{
    int64_t cumulative = 0;
    char le[64];
    for (size_t b = 0; b <= m->nbuckets; b++) {
        cumulative += sum_value(base + b);
        if (b < m->nbuckets)
            snprintf(le, sizeof le, "le=\"%g\"", m->buckets[b]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        fprintf(out, "%s_bucket", m->name);
        write_labels(out, m, series, le);
        fprintf(out, " %lld\n", (long long)cumulative);
    }
    fprintf(out, "%s_sum", m->name);
    write_labels(out, m, series, NULL);
    fprintf(out, " %.6f\n", (double)sum_value(base + m->nbuckets + 1) / SUM_SCALE);
    fprintf(out, "%s_count", m->name);
    write_labels(out, m, series, NULL);
    fprintf(out, " %lld\n", (long long)cumulative);
}

static bool series_used(const metric_t *m, size_t base)
{
    for (size_t k = 0; k < m->width; k++)
        if (sum_value(base + k) != 0)
            return true;
    return false;
}

int metrics_write(FILE *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    if (!values)
        return -1;
    for (size_t i = 0; i < registered; i++) {
        const metric_t *m = &registry[i];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                type_names[m->type]);
        /* Small families show every series (a zero is information); large
         * ones (operation x code) only those that were ever touched. */
        bool all = m->nseries <= PRINT_ALL_MAX && m->type != METRIC_HISTOGRAM;
        for (size_t s = 0; s < m->nseries; s++) {
            size_t base = m->offset + s * m->width;
            if (!all && m->nlabels > 0 && !series_used(m, base))
                continue;
            if (m->type == METRIC_HISTOGRAM) {
                write_histogram(out, m, s, base);
                continue;
            }
            fputs(m->name, out);
            write_labels(out, m, s, NULL);
            fprintf(out, " %lld\n", (long long)sum_value(base));
        }
    }
    return ferror(out) ? -1 : 0;
}
