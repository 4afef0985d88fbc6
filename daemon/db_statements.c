#include "db_statements.h"

#include <stdlib.h>
#include <string.h>

static stmt_def_t fixed[STMT_FIXED_COUNT] = {
    [STMT_SCHEMA_VERSION] = {"schema_version",
                             "SELECT coalesce(max(version), 0) FROM schema_migrations", 0},
    [STMT_SWEEP] = {"sweep", "SELECT * FROM api.sweep($1)", 1},
    /* The subject's tenant, for the rate limit: 0 for operators and for
     * unknown or disabled subjects. Not api.whoami, which raises for an
     * unknown subject and so made PostgreSQL log an error per connection. */
    [STMT_CONN_TENANT] = {"conn_tenant",
                          "SELECT coalesce((SELECT tenant_id FROM branchline.principal_by_subject($1) "
                          "WHERE enabled), 0)", 1},
};

static stmt_def_t *registered;
static int registered_count;

stmt_id_t stmt_register(const char *name, const char *sql, int nparams)
{
    stmt_def_t *grown = realloc(registered, sizeof *registered * (size_t)(registered_count + 1));
    if (!grown)
        return -1;
    registered = grown;
    stmt_def_t *def = &registered[registered_count];
    def->name = strdup(name);
    def->sql = strdup(sql);
    def->nparams = nparams;
    if (!def->name || !def->sql) {
        free(def->name);
        free(def->sql);
        return -1;
    }
    return STMT_FIXED_COUNT + registered_count++;
}

int stmt_count(void)
{
    return STMT_FIXED_COUNT + registered_count;
}

const stmt_def_t *stmt_def(stmt_id_t id)
{
    if (id >= 0 && id < STMT_FIXED_COUNT)
        return &fixed[id];
    if (id >= STMT_FIXED_COUNT && id < stmt_count())
        return &registered[id - STMT_FIXED_COUNT];
    return NULL;
}

void stmt_registry_free(void)
{
    for (int i = 0; i < registered_count; i++) {
        free(registered[i].name);
        free(registered[i].sql);
    }
    free(registered);
    registered = NULL;
    registered_count = 0;
}
