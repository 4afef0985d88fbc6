#include "sql_call.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "cache.h"
#include "log.h"
#include "pbjson.h"
#include "utf8.h"

#define SQL_MAX 2048
#define PARAMS_MAX 32
#define OPS_MAX 128
#define TENANT_COLUMN "_tenant"

/*
 * A request field travels as the function's parameter p_<field>, except
 * where that name is taken: p_subject is always the caller, so a field
 * naming another principal has a name of its own in SQL.
 */
static const struct {
    const char *op, *field, *param;
} renamed_params[] = {
    {"principal_add", "subject", "p_new_subject"},
    {"principal_set_enabled", "subject", "p_target_subject"},
};

/* Operations whose result columns fill the result message: checked at start-up. */
static struct {
    stmt_id_t stmt;
    const char *name;
    const ProtobufCMessageDescriptor *result;  /* a list's item message for a list */
} mapped[OPS_MAX];
static unsigned mapped_count;

static bool is_list(const ProtobufCMessageDescriptor *d);

static int param_name(const char *op_name, const char *field, char *out, size_t outlen)
{
    for (size_t i = 0; i < sizeof renamed_params / sizeof renamed_params[0]; i++)
        if (strcmp(renamed_params[i].op, op_name) == 0 && strcmp(renamed_params[i].field, field) == 0)
            return snprintf(out, outlen, "%s", renamed_params[i].param);
    return snprintf(out, outlen, "p_%s", field);
}

stmt_id_t sql_call_register(const char *op_name, const ProtobufCFieldDescriptor *op_field,
                            bool cached, bool maps_result)
{
    const ProtobufCMessageDescriptor *in = op_field->descriptor;
    char sql[SQL_MAX], name[128];
    if (in->n_fields + 1 > PARAMS_MAX || (maps_result && mapped_count == OPS_MAX))
        return -1;
    /* Named notation: PostgreSQL refuses the statement when it is prepared
     * if a name is not the function's, so two parameters of one type cannot
     * be swapped unnoticed. */
    int n = snprintf(sql, sizeof sql, "SELECT *%s FROM api.%s(p_subject => $1",
                     cached ? ", current_setting('branchline.tenant', true) AS " TENANT_COLUMN : "",
                     op_name);
    for (unsigned i = 0; i < in->n_fields && n > 0 && (size_t)n < sizeof sql; i++) {
        if (param_name(op_name, in->fields[i].name, name, sizeof name) >= (int)sizeof name)
            return -1;
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", %s => $%u", name, i + 2);
    }
    if (n <= 0 || (size_t)n + 2 >= sizeof sql)
        return -1;
    strcat(sql, ")");
    stmt_id_t id = stmt_register(op_name, sql, (int)in->n_fields + 1);
    if (id >= 0 && maps_result) {
        const ProtobufCFieldDescriptor *rf = protobuf_c_message_descriptor_get_field(
            &branchline__v1__response__descriptor, op_field->id);
        if (!rf || rf->type != PROTOBUF_C_TYPE_MESSAGE)
            return -1;
        const ProtobufCMessageDescriptor *d = rf->descriptor;
        mapped[mapped_count].stmt = id;
        mapped[mapped_count].name = op_name;
        mapped[mapped_count].result = is_list(d) ? d->fields[0].descriptor : d;
        mapped_count++;
    }
    return id;
}

int sql_call_check_result(stmt_id_t id, const PGresult *described, char *err, size_t errlen)
{
    for (unsigned i = 0; i < mapped_count; i++) {
        if (mapped[i].stmt != id)
            continue;
        for (int col = 0; col < PQnfields(described); col++) {
            const char *column = PQfname(described, col);
            if (strcmp(column, TENANT_COLUMN) != 0 &&
                !protobuf_c_message_descriptor_get_field_by_name(mapped[i].result, column)) {
                snprintf(err, errlen, "api.%s returns column %s, which names no field of %s",
                         mapped[i].name, column, mapped[i].result->name);
                return -1;
            }
        }
    }
    return 0;
}

static const ProtobufCMessage *op_message(const request_t *req, const ProtobufCFieldDescriptor **fd)
{
    *fd = protobuf_c_message_descriptor_get_field(&branchline__v1__request__descriptor,
                                                  (unsigned)req->msg->op_case);
    return *(const ProtobufCMessage *const *)((const char *)req->msg + (*fd)->offset);
}

/* One request field as SQL parameter text; NULL for "not given". Nested and
 * repeated fields travel as one JSON text (jsonb in SQL), owned by the
 * request's arena. */
static const char *param_text(request_t *req, const ProtobufCMessage *m,
                              const ProtobufCFieldDescriptor *f, char *num, size_t numlen)
{
    const char *slot = (const char *)m + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        json_t *v = pbjson_field(m, f);
        char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        const char *owned = text ? request_strdup(req, text) : NULL;
        free(text);
        return owned;
    }
    /* A scalar alone in a oneof says whether it was given (0 included);
     * other scalars are "not given" when zero. */
    bool has_presence = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type != PROTOBUF_C_TYPE_MESSAGE;
    if (has_presence && *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
        return NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)slot;
        return s && s[0] ? s : NULL;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)slot ? "true" : "false";
    case PROTOBUF_C_TYPE_INT32:
        if (*(const int32_t *)slot == 0 && !has_presence)
            return NULL;
        snprintf(num, numlen, "%d", *(const int32_t *)slot);
        return num;
    case PROTOBUF_C_TYPE_INT64:
        if (*(const int64_t *)slot == 0 && !has_presence)
            return NULL;
        snprintf(num, numlen, "%lld", (long long)*(const int64_t *)slot);
        return num;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (*(const double *)slot == 0 && !has_presence)
            return NULL;
        snprintf(num, numlen, "%.17g", *(const double *)slot);
        return num;
    default:
        return NULL; /* no operation uses other types as parameters */
    }
}

static int set_field(request_t *req, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     const char *value)
{
    char *slot = (char *)m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (!(*(char **)slot = request_strdup(req, value)))
            return -1;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)slot = value[0] == 't';
        return 0;
    case PROTOBUF_C_TYPE_INT32:
        *(int32_t *)slot = (int32_t)strtol(value, NULL, 10);
        return 0;
    case PROTOBUF_C_TYPE_INT64:
        *(int64_t *)slot = (int64_t)strtoll(value, NULL, 10);
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
        *(uint32_t *)slot = (uint32_t)strtoul(value, NULL, 10);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)slot = strtod(value, NULL);
        return 0;
    default:
        return 0;
    }
}

static ProtobufCMessage *message_from_row(request_t *req, const ProtobufCMessageDescriptor *d,
                                          const PGresult *res, int row)
{
    ProtobufCMessage *m = request_alloc(req, d->sizeof_message);
    if (!m)
        return NULL;
    d->message_init(m);
    for (int col = 0; col < PQnfields(res); col++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, PQfname(res, col));
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED || PQgetisnull(res, row, col))
            continue;
        if (set_field(req, m, f, PQgetvalue(res, row, col)) != 0)
            return NULL;
        /* A scalar alone in a oneof is there even as 0; NULL left it out. */
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    }
    return m;
}

static bool is_list(const ProtobufCMessageDescriptor *d)
{
    return d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED &&
           d->fields[0].type == PROTOBUF_C_TYPE_MESSAGE && strcmp(d->fields[0].name, "items") == 0;
}

static ProtobufCMessage *list_from_rows(request_t *req, const ProtobufCMessageDescriptor *d,
                                        const PGresult *res)
{
    ProtobufCMessage *list = request_alloc(req, d->sizeof_message);
    if (!list)
        return NULL;
    d->message_init(list);
    const ProtobufCFieldDescriptor *items = &d->fields[0];
    int rows = PQntuples(res);
    ProtobufCMessage **arr = request_alloc(req, sizeof *arr * (size_t)(rows ? rows : 1));
    if (!arr)
        return NULL;
    for (int r = 0; r < rows; r++)
        if (!(arr[r] = message_from_row(req, items->descriptor, res, r)))
            return NULL;
    *(size_t *)((char *)list + items->quantifier_offset) = (size_t)rows;
    *(ProtobufCMessage ***)((char *)list + items->offset) = arr;
    return list;
}

/* Finds a string that is not UTF-8 anywhere in m; writes its field path. */
static bool find_bad_utf8(const ProtobufCMessage *m, char *path, size_t pathlen)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *slot = (const char *)m + f->offset;
        size_t n = 1;
        const void *const *items = (const void *const *)slot;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const void *const *const *)slot;
        }
        for (size_t k = 0; k < n; k++) {
            const void *item = items[k];
            if (!item)
                continue;
            bool bad = f->type == PROTOBUF_C_TYPE_STRING
                           ? !utf8_valid(item)
                           : find_bad_utf8(item, path, pathlen);
            if (!bad)
                continue;
            char inner[256];
            snprintf(inner, sizeof inner, "%s", f->type == PROTOBUF_C_TYPE_MESSAGE ? path : "");
            /* A path cut short still names the field; the length is not checked. */
            int written = f->label == PROTOBUF_C_LABEL_REPEATED
                        ? snprintf(path, pathlen, "%s[%zu]%s%s", f->name, k, inner[0] ? "." : "", inner)
                        : snprintf(path, pathlen, "%s%s%s", f->name, inner[0] ? "." : "", inner);
            return written >= 0;
        }
    }
    return false;
}

/* Key: subject, NUL, operation number, packed arguments. */
static bool cache_key(request_t *req, const ProtobufCMessage *args)
{
    const char *subject = req->subject;
    size_t slen = strlen(subject) + 1;
    size_t alen = protobuf_c_message_get_packed_size(args);
    uint32_t op = (uint32_t)req->msg->op_case;
    req->cache_key_len = slen + sizeof op + alen;
    req->cache_key = request_alloc(req, req->cache_key_len);
    if (!req->cache_key)
        return false;
    memcpy(req->cache_key, subject, slen);
    memcpy(req->cache_key + slen, &op, sizeof op);
    protobuf_c_message_pack(args, req->cache_key + slen + sizeof op);
    return true;
}

static void cache_store(request_t *req, const PGresult *res)
{
    int col = PQfnumber(res, TENANT_COLUMN);
    long long tenant = col >= 0 && PQntuples(res) > 0 ? atoll(PQgetvalue(res, 0, col)) : 0;
    uint64_t id = req->resp.id;
    req->resp.id = 0;
    size_t len = branchline__v1__response__get_packed_size(&req->resp);
    uint8_t *buf = malloc(len);
    if (buf) {
        branchline__v1__response__pack(&req->resp, buf);
        cache_put(req->worker->cache, req->cache_key, req->cache_key_len, tenant,
                  req->cache_generation, buf, len);
        free(buf);
    }
    req->resp.id = id;
}

/* A hit answers at once; a miss remembers the key for the answer to come. */
static bool answered_from_cache(request_t *req, const ProtobufCMessage *args)
{
    cache_t *cache = req->worker->cache;
    if (!req->cacheable || !cache || !cache_key(req, args))
        return false;
    db_pool_poll_notifies(req->worker->db);
    size_t len;
    const uint8_t *hit = cache_get(cache, req->cache_key, req->cache_key_len, &len);
    if (hit) {
        request_finish_packed(req, hit, len);
        return true;
    }
    cache_count_miss(cache);
    req->cache_generation = cache_generation(cache);
    return false;
}

static void sql_call_done(void *arg, const db_result_t *res)
{
    request_t *req = arg;
    if (res->code != BRANCHLINE__V1__STATUS__CODE__OK) {
        request_finish(request_error(req, res->code, res->field, "%s", res->message));
        return;
    }
    const ProtobufCFieldDescriptor *rf = protobuf_c_message_descriptor_get_field(
        &branchline__v1__response__descriptor, (unsigned)req->msg->op_case);
    const ProtobufCMessageDescriptor *d = rf->descriptor;
    ProtobufCMessage *out;
    if (is_list(d)) {
        out = list_from_rows(req, d, res->result);
    } else if (PQntuples(res->result) == 1) {
        out = message_from_row(req, d, res->result, 0);
    } else {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__NOT_FOUND, "",
                                     "no such object"));
        return;
    }
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    *(uint32_t *)((char *)&req->resp + rf->quantifier_offset) = rf->id;
    *(ProtobufCMessage **)((char *)&req->resp + rf->offset) = out;
    if (req->cache_key)
        cache_store(req, res->result);
    request_finish(req);
}

void handle_sql_call(request_t *req)
{
    sql_call_run(req, sql_call_done);
}

bool sql_call_parse_progress(const char *sqlstate, const char *message,
                             Branchline__V1__Progress *p, char *phase_buf, size_t phase_len)
{
    long long done, total;
    int end = 0;
    if (strcmp(sqlstate, SQL_PROGRESS_SQLSTATE) != 0 ||
        sscanf(message, "progress done=%lld total=%lld phase=%n", &done, &total, &end) != 2 ||
        end == 0 || done < 0 || total < 0 || (total > 0 && done > total))
        return false;
    snprintf(phase_buf, phase_len, "%s", message + end);
    branchline__v1__progress__init(p);
    p->done = done;
    p->total = total;
    p->phase = phase_buf;
    return true;
}

/* A notice of the running function: progress goes to the client at once. */
static void sql_call_notice(void *arg, const char *sqlstate, const char *message)
{
    request_t *req = arg;
    char phase[64];
    Branchline__V1__Progress p;
    if (!sql_call_parse_progress(sqlstate, message, &p, phase, sizeof phase)) {
        log_debug("db_notice", "worker=%u request=%llu op=%s sqlstate=%s not_progress=1",
                  req->worker->index, (unsigned long long)req->id, req->op_name, sqlstate);
        return;
    }
    /* On the stack: request_send_partial packs it at once. */
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_PROGRESS;
    req->resp.progress = &p;
    request_send_partial(req);
}

/* Whether the request has a `bool progress` field, set. */
static bool wants_progress(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "progress");
    return f && f->type == PROTOBUF_C_TYPE_BOOL && f->label != PROTOBUF_C_LABEL_REPEATED &&
           *(const protobuf_c_boolean *)((const char *)m + f->offset);
}

void sql_call_run(request_t *req, db_callback_t done)
{
    const ProtobufCFieldDescriptor *opf;
    const ProtobufCMessage *m = op_message(req, &opf);
    const ProtobufCMessageDescriptor *d = opf->descriptor;
    if (answered_from_cache(req, m))
        return;
    const char *values[PARAMS_MAX];
    char nums[PARAMS_MAX][24];
    values[0] = req->subject;
    char bad[256];
    if (find_bad_utf8(m, bad, sizeof bad)) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, bad,
                                     "%s is not valid UTF-8", bad));
        return;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        values[i + 1] = param_text(req, m, &d->fields[i], nums[i], sizeof nums[i]);
        bool structured = d->fields[i].label == PROTOBUF_C_LABEL_REPEATED ||
                          d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE;
        if (structured && !values[i + 1]) {
            request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED,
                                         d->fields[i].name, "out of memory"));
            return;
        }
    }
    db_pool_t *pool = req->read_pool && req->worker->db_read ? req->worker->db_read : req->worker->db;
    db_submit_notices(pool, req->sink.arg, req->stmt, (int)d->n_fields + 1, values, done,
                      !request_detached(req) && wants_progress(m) ? sql_call_notice : NULL, req);
}
