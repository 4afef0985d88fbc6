/*
 * Schema migrations and the start-up schema check. These run before any
 * event loop exists (`branchd migrate`, start-up), so they use blocking libpq.
 */
#ifndef BRANCHD_MIGRATE_H
#define BRANCHD_MIGRATE_H

#include <stddef.h>

/* The schema version this binary was built for: its newest migration. */
int migrate_expected_version(void);

/*
 * Applies every embedded migration not yet recorded in schema_migrations,
 * each in its own transaction, under an advisory lock. *applied is how many
 * ran. 0, or -1 with err.
 */
int migrate_run(const char *conninfo, int *applied, char *err, size_t errlen)
    __attribute__((warn_unused_result));

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
