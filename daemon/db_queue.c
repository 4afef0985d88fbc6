#include "db_queue.h"

#include <stdlib.h>

struct db_source {
    const void *key;
    int count;
    TAILQ_HEAD(, db_query) queries;
    TAILQ_ENTRY(db_source) link;
};

void db_queue_init(db_queue_t *q, int max, int per_source_max)
{
    TAILQ_INIT(&q->sources);
    q->queued = 0;
    q->max = max;
    q->per_source_max = per_source_max;
}

/* Sources with queued statements are few (at most one per client that is
 * waiting), so a walk finds one faster than a hash would pay for itself. */
static db_source_t *source_find(db_queue_t *q, const void *key)
{
    db_source_t *s;
    TAILQ_FOREACH(s, &q->sources, link)
        if (s->key == key)
            return s;
    return NULL;
}

dbq_status_t db_queue_push(db_queue_t *q, db_query_t *query)
{
    if (q->queued >= q->max)
        return DBQ_FULL;
    db_source_t *s = source_find(q, query->source);
    if (s && s->count >= q->per_source_max)
        return DBQ_SOURCE_FULL;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return DBQ_NO_MEMORY;
        s->key = query->source;
        TAILQ_INIT(&s->queries);
        TAILQ_INSERT_TAIL(&q->sources, s, link);
    }
    TAILQ_INSERT_TAIL(&s->queries, query, link);
    s->count++;
    q->queued++;
    return DBQ_OK;
}

db_query_t *db_queue_pop(db_queue_t *q)
{
    db_source_t *s = TAILQ_FIRST(&q->sources);
    if (!s)
        return NULL;
    db_query_t *query = TAILQ_FIRST(&s->queries);
    TAILQ_REMOVE(&s->queries, query, link);
    s->count--;
    q->queued--;
    TAILQ_REMOVE(&q->sources, s, link);
    if (s->count > 0)
        TAILQ_INSERT_TAIL(&q->sources, s, link); /* its turn comes again after the others */
    else
        free(s);
    return query;
}
