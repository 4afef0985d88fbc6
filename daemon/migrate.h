/*
 * Schema migrations and the start-up schema check. These run before any
 * event loop exists (`branchd migrate`, start-up), so they use blocking libpq.
 */
#ifndef BRANCHD_MIGRATE_H
#define BRANCHD_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The schema version this binary was built for: its newest migration. */
int migrate_expected_version(void);

/*
 * Under an advisory lock and in one transaction: applies every embedded
 * table migration not yet recorded in schema_migrations, then drops the
 * api (what the api files created) and re-creates it from the embedded
 * files. Refuses a database that records a migration this binary does not
 * know (a newer schema). *applied is how many table migrations ran (or would
 * run). With dry_run, changes nothing and writes to out what it would do.
 * 0, or -1 with err.
 */
int migrate_run(const char *conninfo, bool dry_run, FILE *out, int *applied, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/*
 * Reads the database's schema version (0 when nothing is migrated; when one
 * of this binary's migrations is missing, the version just below it), retrying
 * while the database cannot be reached, for up to timeout_ms.
 */
int migrate_current_version(const char *conninfo, int timeout_ms, int *version, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

/* Creates or re-enables an operator principal (api.bootstrap_operator). */
int migrate_bootstrap_operator(const char *conninfo, const char *subject, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
