/*
 * The registry of prepared statements: every SQL the daemon runs. Fixed
 * statements are listed in db_statements.c; operations served by an SQL
 * function register theirs at start-up (dispatch_init), before any database
 * connection exists. Each connection prepares all of them once.
 */
#ifndef BRANCHD_DB_STATEMENTS_H
#define BRANCHD_DB_STATEMENTS_H

typedef enum {
    STMT_SCHEMA_VERSION,
    STMT_SWEEP,
    STMT_CONN_TENANT,
    STMT_FIXED_COUNT
} stmt_fixed_t;

typedef int stmt_id_t;

typedef struct {
    char *name;
    char *sql;
    int nparams;
} stmt_def_t;

/* Adds a statement; returns its id, or -1 when memory runs out. Not thread-safe:
 * call before the workers start. */
stmt_id_t stmt_register(const char *name, const char *sql, int nparams);

int stmt_count(void);
const stmt_def_t *stmt_def(stmt_id_t id);

/* Frees registered statements (at exit, after the workers stopped). */
void stmt_registry_free(void);

#endif
