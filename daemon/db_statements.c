#include "db_statements.h"

static const stmt_def_t statements[STMT_COUNT] = {
    [STMT_SCHEMA_VERSION] = {"schema_version",
                             "SELECT coalesce(max(version), 0) FROM schema_migrations", 0},
};

const stmt_def_t *stmt_def(stmt_id_t id)
{
    return (unsigned)id < STMT_COUNT ? &statements[id] : 0;
}
