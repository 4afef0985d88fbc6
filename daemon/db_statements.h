/* The registry of prepared statements: every SQL the daemon runs. */
#ifndef BRANCHD_DB_STATEMENTS_H
#define BRANCHD_DB_STATEMENTS_H

typedef enum {
    STMT_SCHEMA_VERSION,
    STMT_COUNT
} stmt_id_t;

typedef struct {
    const char *name;
    const char *sql;
    int nparams;
} stmt_def_t;

const stmt_def_t *stmt_def(stmt_id_t id);

#endif
