#include "bench_scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OP(name) BRANCHLINE__V1__REQUEST__OP_##name

const scen_def_t scen_defs[SCEN_COUNT] = {
    [SCEN_PING] = {"ping", OP(PING), NULL},
    [SCEN_TREE] = {"tree", OP(SERVING), "tree.sql"},
    [SCEN_LEADS] = {"leads", OP(LEAD_LIST), "leads.sql"},
    [SCEN_ALLOC] = {"alloc", OP(LEAD_ADD), "alloc.sql"},
    [SCEN_ALLOC_BATCH] = {"alloc-batch", OP(LEAD_IMPORT), "alloc-batch.sql"},
    [SCEN_MIXED] = {"mixed", 0, NULL},
};

struct scen_scratch {
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    Branchline__V1__ServingRequest serving;
    Branchline__V1__LeadListRequest lead_list;
    Branchline__V1__LeadAddRequest lead_add;
    Branchline__V1__LeadImportRequest lead_import;
    Branchline__V1__LeadInput inputs[SCEN_BATCH_MAX];
    Branchline__V1__LeadInput *input_ptrs[SCEN_BATCH_MAX];
    char path[64];
    char project[16];
    char ext_id[SCEN_BATCH_MAX][64];
    char phone[SCEN_BATCH_MAX][24];
};

int scen_lookup(const char *name)
{
    for (int i = 0; i < SCEN_COUNT; i++)
        if (strcmp(scen_defs[i].name, name) == 0)
            return i;
    return -1;
}

void scen_params_default(scen_params_t *p)
{
    *p = (scen_params_t){.regions = 20, .cities = 10, .branches = 50, .projects = 50,
                         .batch = 100, .mix_alloc = 10, .leads_limit = 50};
    snprintf(p->tag, sizeof p->tag, "bb%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
}

typedef struct {
    const char *key;
    size_t offset;
    int min, max;
} int_param_t;

static const int_param_t int_params[] = {
    {"regions", offsetof(scen_params_t, regions), 1, 100000},
    {"cities", offsetof(scen_params_t, cities), 1, 100000},
    {"branches", offsetof(scen_params_t, branches), 1, 100000},
    {"projects", offsetof(scen_params_t, projects), 1, 100000},
    {"batch", offsetof(scen_params_t, batch), 1, SCEN_BATCH_MAX},
    {"mix_alloc", offsetof(scen_params_t, mix_alloc), 0, 100},
    {"leads_limit", offsetof(scen_params_t, leads_limit), 1, 1000},
};

int scen_param_set(scen_params_t *p, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : 0;
    if (!eq || klen == 0) {
        snprintf(err, errlen, "--param %s: expected key=value", kv);
        return -1;
    }
    if (klen == 3 && strncmp(kv, "tag", 3) == 0) {
        if (strlen(eq + 1) == 0 || strlen(eq + 1) >= sizeof p->tag) {
            snprintf(err, errlen, "--param tag: 1 to %zu characters", sizeof p->tag - 1);
            return -1;
        }
        snprintf(p->tag, sizeof p->tag, "%s", eq + 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof int_params / sizeof int_params[0]; i++) {
        const int_param_t *ip = &int_params[i];
        if (strlen(ip->key) != klen || strncmp(kv, ip->key, klen) != 0)
            continue;
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (*end || end == eq + 1 || v < ip->min || v > ip->max) {
            snprintf(err, errlen, "--param %s: an integer from %d to %d", ip->key, ip->min, ip->max);
            return -1;
        }
        *(int *)((char *)p + ip->offset) = (int)v;
        return 0;
    }
    snprintf(err, errlen, "--param %.*s: unknown (regions, cities, branches, projects, batch, "
             "mix_alloc, leads_limit, tag)", (int)klen, kv);
    return -1;
}

scen_scratch_t *scen_scratch_new(void)
{
    return calloc(1, sizeof(scen_scratch_t));
}

void scen_scratch_free(scen_scratch_t *s)
{
    free(s);
}

uint64_t scen_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int pick(uint64_t *rng, int n)
{
    return 1 + (int)(scen_rand(rng) % (uint64_t)n);
}

static void set_op(scen_scratch_t *s, Branchline__V1__Request__OpCase op, void *msg)
{
    branchline__v1__request__init(&s->req);
    s->req.op_case = op;
    switch (op) {
    case OP(PING): s->req.ping = msg; break;
    case OP(SERVING): s->req.serving = msg; break;
    case OP(LEAD_LIST): s->req.lead_list = msg; break;
    case OP(LEAD_ADD): s->req.lead_add = msg; break;
    default: s->req.lead_import = msg; break;
    }
}

/* Lead `row` of the request (row < 0: the only one, whose external id has
 * no row suffix) as alloc.sql and alloc-batch.sql make them: a unique
 * external id, the request's project and origin, channel search, a name and
 * a random mobile number. */
static void fill_lead(scen_scratch_t *s, Branchline__V1__LeadInput *in, int row,
                      const scen_params_t *p, uint64_t *rng, const char *uid)
{
    int r = row < 0 ? 0 : row;
    if (row < 0)
        snprintf(s->ext_id[r], sizeof s->ext_id[r], "%s-%s", p->tag, uid);
    else
        snprintf(s->ext_id[r], sizeof s->ext_id[r], "%s-%s-%d", p->tag, uid, row);
    snprintf(s->phone[r], sizeof s->phone[r], "1%010llu",
             (unsigned long long)(scen_rand(rng) % 10000000000ull));
    branchline__v1__lead_input__init(in);
    in->external_id = s->ext_id[r];
    in->project = s->project;
    in->channel = "search";
    in->origin = s->path;
    in->name = "Bench lead";
    in->phone = s->phone[r];
}

/* A campaign: a random project, coming in through a random region (whose
 * customer service holds it), so that requests spread over the pools. */
static void pick_campaign(scen_scratch_t *s, const scen_params_t *p, uint64_t *rng)
{
    snprintf(s->project, sizeof s->project, "p%d", pick(rng, p->projects));
    snprintf(s->path, sizeof s->path, "r%d", pick(rng, p->regions));
}

static Branchline__V1__Request *build_alloc(scen_scratch_t *s, const scen_params_t *p, uint64_t *rng,
                                            const char *uid)
{
    Branchline__V1__LeadInput in;
    pick_campaign(s, p, rng);
    fill_lead(s, &in, -1, p, rng, uid);
    Branchline__V1__LeadAddRequest *m = &s->lead_add;
    branchline__v1__lead_add_request__init(m);
    m->external_id = in.external_id;
    m->project = in.project;
    m->channel = in.channel;
    m->origin = in.origin;
    m->name = in.name;
    m->phone = in.phone;
    set_op(s, OP(LEAD_ADD), m);
    return &s->req;
}

/* An import of one campaign's leads: they share project and origin. */
static Branchline__V1__Request *build_batch(scen_scratch_t *s, const scen_params_t *p, uint64_t *rng,
                                            const char *uid)
{
    Branchline__V1__LeadImportRequest *m = &s->lead_import;
    branchline__v1__lead_import_request__init(m);
    pick_campaign(s, p, rng);
    for (int i = 0; i < p->batch; i++) {
        fill_lead(s, &s->inputs[i], i, p, rng, uid);
        s->input_ptrs[i] = &s->inputs[i];
    }
    m->n_leads = (size_t)p->batch;
    m->leads = s->input_ptrs;
    m->first_line = 1;
    set_op(s, OP(LEAD_IMPORT), m);
    return &s->req;
}

static scen_kind_t mixed_pick(const scen_params_t *p, uint64_t *rng)
{
    int roll = (int)(scen_rand(rng) % 100);
    if (roll < p->mix_alloc)
        return SCEN_ALLOC;
    return scen_rand(rng) % 2 ? SCEN_TREE : SCEN_LEADS;
}

bool scen_uses_uid(scen_kind_t kind)
{
    return kind == SCEN_ALLOC || kind == SCEN_ALLOC_BATCH || kind == SCEN_MIXED;
}

Branchline__V1__Request *scen_build(scen_scratch_t *s, scen_kind_t kind, const scen_params_t *p,
                                    uint64_t *rng, const char *uid, int *items)
{
    *items = 1;
    if (kind == SCEN_MIXED)
        kind = mixed_pick(p, rng);
    switch (kind) {
    case SCEN_PING:
        branchline__v1__ping_request__init(&s->ping);
        set_op(s, OP(PING), &s->ping);
        return &s->req;
    case SCEN_TREE:
        branchline__v1__serving_request__init(&s->serving);
        snprintf(s->path, sizeof s->path, "r%d", pick(rng, p->regions));
        s->serving.path = s->path;
        set_op(s, OP(SERVING), &s->serving);
        return &s->req;
    case SCEN_LEADS:
        branchline__v1__lead_list_request__init(&s->lead_list);
        snprintf(s->path, sizeof s->path, "r%d/c%d/b%d", pick(rng, p->regions),
                 pick(rng, p->cities), pick(rng, p->branches));
        s->lead_list.branch = s->path;
        s->lead_list.limit = p->leads_limit;
        set_op(s, OP(LEAD_LIST), &s->lead_list);
        return &s->req;
    case SCEN_ALLOC:
        return build_alloc(s, p, rng, uid);
    default:
        *items = p->batch;
        return build_batch(s, p, rng, uid);
    }
}
