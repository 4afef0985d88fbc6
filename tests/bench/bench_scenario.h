/*
 * The scenarios of blbench: which operation each sends, the pgbench script
 * that runs the same SQL (tests/bench/sql/), and how a request is built.
 * check_sql_sync reads this table too, so a scenario cannot send one
 * operation while its pgbench script calls another.
 */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "branchline.pb-c.h"

#define SCEN_BATCH_MAX 1000
#define SCEN_TAG_MAX 24

typedef enum {
    SCEN_PING,
    SCEN_TREE,
    SCEN_LEADS,
    SCEN_ALLOC,
    SCEN_ALLOC_BATCH,
    SCEN_MIXED,
    SCEN_COUNT
} scen_kind_t;

typedef struct {
    const char *name;                   /* --scenario */
    Branchline__V1__Request__OpCase op; /* 0 for mixed */
    const char *script;                 /* under tests/bench/sql/; NULL: no SQL */
} scen_def_t;

/* The shape of the generated tenant (gendata.sh) and the load's knobs,
 * from --param k=v. Unit paths: r<i>, r<i>/c<j>, r<i>/c<j>/b<k>. */
typedef struct {
    int regions;        /* regions */
    int cities;         /* cities per region */
    int branches;       /* branches per city */
    int projects;       /* projects p1..pN */
    int batch;          /* leads per alloc-batch request */
    int mix_alloc;      /* percent of mixed requests that are alloc */
    int leads_limit;    /* LeadListRequest.limit */
    char tag[SCEN_TAG_MAX]; /* prefix of external ids: unique per run */
} scen_params_t;

/* Per-thread memory a request is built in; valid until the next build. */
typedef struct scen_scratch scen_scratch_t;

extern const scen_def_t scen_defs[SCEN_COUNT];

/* -1 when name is no scenario. */
int scen_lookup(const char *name);

void scen_params_default(scen_params_t *p);

/* Sets one "key=value"; -1 with a message in err when unknown or out of range. */
int scen_param_set(scen_params_t *p, const char *kv, char *err, size_t errlen);

scen_scratch_t *scen_scratch_new(void);
void scen_scratch_free(scen_scratch_t *s);

/*
 * Builds the next request of scenario kind into s and returns it (id 0).
 * rng is the caller's generator state; uid makes external ids unique within
 * the run (thread, connection, sequence). *items is the number of leads the
 * request carries (1 for others).
 */
/* Whether requests of this scenario carry external ids (made from the uid). */
bool scen_uses_uid(scen_kind_t kind);

Branchline__V1__Request *scen_build(scen_scratch_t *s, scen_kind_t kind, const scen_params_t *p,
                                    uint64_t *rng, const char *uid, int *items);

/* xorshift64*: a fast generator, one state per thread. */
uint64_t scen_rand(uint64_t *state);

#endif
