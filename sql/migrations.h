/*
 * The SQL compiled into the binary (sql/README.md): the table migrations in
 * version order, the api files in the order they run, and the routines the
 * table migrations create, which re-creating the api must keep.
 */
#ifndef BRANCHLINE_MIGRATIONS_H
#define BRANCHLINE_MIGRATIONS_H

typedef struct {
    int version;
    const char *name;  /* file name without .sql, e.g. "001_base" */
    const char *sql;
} migration_t;

typedef struct {
    const char *name;  /* file name without .sql, e.g. "015_leads" */
    const char *sql;
} api_file_t;

extern const migration_t migrations[];
extern const int migrations_count;

extern const api_file_t api_files[];
extern const int api_files_count;

/* "schema.name" of each routine a table migration creates; NULL-terminated. */
extern const char *const schema_routines[];

#endif
