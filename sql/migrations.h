/* The SQL migrations compiled into the binary, in version order. */
#ifndef BRANCHLINE_MIGRATIONS_H
#define BRANCHLINE_MIGRATIONS_H

typedef struct {
    int version;
    const char *name;  /* file name without .sql, e.g. "001_base" */
    const char *sql;
} migration_t;

extern const migration_t migrations[];
extern const int migrations_count;

#endif
