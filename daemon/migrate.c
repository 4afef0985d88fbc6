#include "migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "migrations.h"

/* Arbitrary but fixed: every branchd agrees on it. */
#define MIGRATE_LOCK_KEY "7301942212"

int migrate_expected_version(void)
{
    return migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int is_applied(PGconn *pg, int version, int *applied, char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[] = {v};
    PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    *applied = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

static int apply_one(PGconn *pg, const migration_t *m, char *err, size_t errlen)
{
    char what[128], v[16];
    snprintf(what, sizeof what, "migration %s", m->name);
    snprintf(v, sizeof v, "%d", m->version);
    if (exec_ok(pg, "BEGIN", err, errlen, what) != 0)
        return -1;
    if (exec_ok(pg, m->sql, err, errlen, what) != 0)
        goto rollback;
    const char *params[] = {v, m->name};
    PGresult *res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                 2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s: recording: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    if (!ok)
        goto rollback;
    return exec_ok(pg, "COMMIT", err, errlen, what);
rollback:
    PQclear(PQexec(pg, "ROLLBACK"));
    return -1;
}

int migrate_run(const char *conninfo, int *applied, char *err, size_t errlen)
{
    *applied = 0;
    PGconn *pg = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect: %s", PQerrorMessage(pg));
        goto out;
    }
    /* Two concurrent runs serialize here; the second then finds nothing to do. */
    if (exec_ok(pg, "SET client_min_messages = warning", err, errlen, "setup") != 0 ||
        exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen, "lock") != 0 ||
        exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen, "schema_migrations") != 0)
        goto out;
    for (int i = 0; i < migrations_count; i++) {
        int done = 0;
        if (is_applied(pg, migrations[i].version, &done, err, errlen) != 0)
            goto out;
        if (done)
            continue;
        if (apply_one(pg, &migrations[i], err, errlen) != 0)
            goto out;
        log_info("migration_applied", "version=%d name=%s", migrations[i].version, migrations[i].name);
        (*applied)++;
    }
    rc = 0;
out:
    if (PQstatus(pg) == CONNECTION_OK)
        PQclear(PQexec(pg, "SELECT pg_advisory_unlock_all()"));
    PQfinish(pg);
    return rc;
}

static int read_version(const char *conninfo, int *version, int *reachable, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    int rc = -1;
    *reachable = PQstatus(pg) == CONNECTION_OK;
    if (!*reachable) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
        goto out;
    }
    /* The newest version applied, or the oldest of ours that is not: a
     * migration added below the newest number must not go unnoticed. */
    PGresult *res = PQexec(pg, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        int rows = PQntuples(res), r = 0;
        *version = rows ? atoi(PQgetvalue(res, rows - 1, 0)) : 0;
        for (int i = 0; i < migrations_count; i++) {
            while (r < rows && atoi(PQgetvalue(res, r, 0)) < migrations[i].version)
                r++;
            if (r >= rows || atoi(PQgetvalue(res, r, 0)) != migrations[i].version) {
                *version = migrations[i].version - 1;
                break;
            }
        }
        rc = 0;
    } else {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "42P01") == 0) { /* no schema_migrations: never migrated */
            *version = 0;
            rc = 0;
        } else {
            snprintf(err, errlen, "reading the schema version: %s", PQresultErrorMessage(res));
        }
    }
    PQclear(res);
out:
    PQfinish(pg);
    return rc;
}

int migrate_current_version(const char *conninfo, int timeout_ms, int *version, char *err,
                            size_t errlen)
{
    int waited = 0;
    for (;;) {
        int reachable = 0;
        if (read_version(conninfo, version, &reachable, err, errlen) == 0)
            return 0;
        if (reachable || waited >= timeout_ms)
            return -1;
        if (waited == 0)
            log_warn("db_wait", "timeout_ms=%d reason=unreachable", timeout_ms);
        usleep(250 * 1000);
        waited += 250;
    }
}

int migrate_bootstrap_operator(const char *conninfo, const char *subject, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect: %s", PQerrorMessage(pg));
        goto out;
    }
    const char *params[] = {subject};
    PGresult *res = PQexecParams(pg, "SELECT api.bootstrap_operator($1)", 1, NULL, params, NULL,
                                 NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = 0;
    else
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
out:
    PQfinish(pg);
    return rc;
}
