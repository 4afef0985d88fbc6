#include "migrate.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "db_hosts.h"
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
    /* A table migration of 0.1 that held functions only is now a comment. */
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static const migration_t *known_migration(int version)
{
    for (int i = 0; i < migrations_count; i++)
        if (migrations[i].version == version)
            return &migrations[i];
    return NULL;
}

/* The versions recorded in schema_migrations; none when it does not exist
 * (a dry run against a database never migrated). */
static int read_applied(PGconn *pg, PGresult **applied, char *err, size_t errlen)
{
    *applied = PQexec(pg, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(*applied) == PGRES_TUPLES_OK)
        return 0;
    const char *state = PQresultErrorField(*applied, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P01") == 0)
        return 0;
    snprintf(err, errlen, "reading schema_migrations: %s", PQresultErrorMessage(*applied));
    return -1;
}

static int is_applied(const PGresult *applied, int version)
{
    for (int r = 0; r < PQntuples(applied); r++)
        if (atoi(PQgetvalue(applied, r, 0)) == version)
            return 1;
    return 0;
}

/* A database migrated by a newer branchd (or another branch of the code)
 * has tables this binary's api may not fit: refuse before changing it. */
static int check_known(const PGresult *applied, char *err, size_t errlen)
{
    for (int r = 0; r < PQntuples(applied); r++) {
        int v = atoi(PQgetvalue(applied, r, 0));
        if (known_migration(v))
            continue;
        if (v > migrate_expected_version())
            snprintf(err, errlen,
                     "the database's schema (version %d) is newer than this branchd knows (%d): "
                     "run the newer branchd's migrate, or upgrade branchd",
                     v, migrate_expected_version());
        else
            snprintf(err, errlen, "the database has migration %d, which this branchd does not know", v);
        return -1;
    }
    return 0;
}

static int apply_one(PGconn *pg, const migration_t *m, char *err, size_t errlen)
{
    char what[128], v[16];
    snprintf(what, sizeof what, "migration %s", m->name);
    snprintf(v, sizeof v, "%d", m->version);
    if (exec_ok(pg, m->sql, err, errlen, what) != 0)
        return -1;
    const char *params[] = {v, m->name};
    PGresult *res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                 2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s: recording: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/*
 * What the api files created: every view, routine and standalone composite
 * type in the schemas api and branchline, except the routines of the table
 * migrations (policies, constraints and triggers use them). One row per kind
 * in the order they can be dropped (views call routines, routines return
 * types): kind, how many, the DROP statement (NULL when there are none).
 * No CASCADE: an object of the tables that depends on one of these makes
 * the drop fail instead of disappearing with it.
 */
static const char API_OBJECTS_SQL[] =
    "SELECT kind, n, stmt FROM ("
    " SELECT 1, 'views', count(*), 'DROP VIEW ' || string_agg(format('%I.%I', s.nspname, c.relname), ', ')"
    "   FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
    "  WHERE c.relkind = 'v' AND s.nspname IN ('api', 'branchline')"
    " UNION ALL"
    " SELECT 2, 'routines', count(*), 'DROP ROUTINE ' || string_agg(format('%I.%I(%s)', s.nspname, p.proname,"
    "                                                  pg_get_function_identity_arguments(p.oid)), ', ')"
    "   FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace"
    "  WHERE s.nspname IN ('api', 'branchline') AND NOT (s.nspname || '.' || p.proname = ANY ($1::text[]))"
    " UNION ALL"
    " SELECT 3, 'types', count(*), 'DROP TYPE ' || string_agg(format('%I.%I', s.nspname, t.typname), ', ')"
    "   FROM pg_type t JOIN pg_namespace s ON s.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid"
    "  WHERE c.relkind = 'c' AND s.nspname IN ('api', 'branchline')"
    ") x (ord, kind, n, stmt) ORDER BY ord";

static int list_api_objects(PGconn *pg, PGresult **objects, char *err, size_t errlen)
{
    /* Names are [a-z0-9_.] (embed.cmake): an array literal needs no quoting. */
    size_t len = 3;
    for (const char *const *r = schema_routines; *r; r++)
        len += strlen(*r) + 1;
    char *keep = malloc(len);
    if (!keep) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *p = keep;
    *p++ = '{';
    for (const char *const *r = schema_routines; *r; r++)
        p += sprintf(p, "%s%s", r == schema_routines ? "" : ",", *r);
    strcpy(p, "}");
    const char *params[] = {keep};
    *objects = PQexecParams(pg, API_OBJECTS_SQL, 1, NULL, params, NULL, NULL, 0);
    free(keep);
    if (PQresultStatus(*objects) == PGRES_TUPLES_OK)
        return 0;
    snprintf(err, errlen, "listing the api: %s", PQresultErrorMessage(*objects));
    return -1;
}

static int recreate_api(PGconn *pg, const PGresult *objects, char *err, size_t errlen)
{
    for (int r = 0; r < PQntuples(objects); r++) {
        char what[64];
        snprintf(what, sizeof what, "dropping the api's %s", PQgetvalue(objects, r, 0));
        if (!PQgetisnull(objects, r, 2) && exec_ok(pg, PQgetvalue(objects, r, 2), err, errlen, what) != 0)
            return -1;
    }
    for (int i = 0; i < api_files_count; i++) {
        char what[128];
        snprintf(what, sizeof what, "api %s", api_files[i].name);
        if (exec_ok(pg, api_files[i].sql, err, errlen, what) != 0)
            return -1;
    }
    return 0;
}

static void print_plan(FILE *out, const PGresult *objects, int pending)
{
    if (pending == 0)
        fprintf(out, "no table migration to apply\n");
    fprintf(out, "would drop");
    for (int r = 0; r < PQntuples(objects); r++)
        fprintf(out, "%s %s %s", r == 0 ? "" : r + 1 == PQntuples(objects) ? " and" : ",",
                PQgetvalue(objects, r, 1), PQgetvalue(objects, r, 0));
    fprintf(out, " of the api and re-create it from %d file(s):", api_files_count);
    for (int i = 0; i < api_files_count; i++)
        fprintf(out, " %s", api_files[i].name);
    fprintf(out, "\n");
}

/* The role that migrates owns every object it creates, and SECURITY
 * DEFINER functions run as that owner: a superuser there would lend its
 * powers to them and, being above row-level security, to the sweep and the
 * lookups. Said, not refused: an older set-up's database is still the
 * superuser's until deploy/owner-handover.sql hands it over. */
static void warn_if_superuser(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles"
                               " WHERE rolname = current_user");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        log_warn("migrate_as_superuser",
                 "role=%s hint=\"the schema's owner should be branchline_owner, no superuser and no "
                 "BYPASSRLS (deploy/app-roles.sql, owner-handover.sql; README: Database roles)\"",
                 PQgetvalue(res, 0, 0));
    PQclear(res);
}

int migrate_run(const char *conninfo, bool dry_run, FILE *out, int *applied, char *err,
                size_t errlen)
{
    *applied = 0;
    PGconn *pg = db_connect_blocking(conninfo);
    PGresult *done = NULL, *objects = NULL;
    int rc = -1;
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect: %s", PQerrorMessage(pg));
        goto out;
    }
    warn_if_superuser(pg);
    /* Two concurrent runs serialize here; the second then finds only the
     * api to re-create. */
    if (exec_ok(pg, "SET client_min_messages = warning", err, errlen, "setup") != 0 ||
        exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen, "lock") != 0)
        goto out;
    if (!dry_run && exec_ok(pg,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version integer PRIMARY KEY,"
                            " name text NOT NULL,"
                            " applied_at timestamptz NOT NULL DEFAULT now())",
                            err, errlen, "schema_migrations") != 0)
        goto out;
    if (read_applied(pg, &done, err, errlen) != 0 || check_known(done, err, errlen) != 0)
        goto out;
    /* One transaction: the tables and the api that fits them change together
     * or not at all. */
    if (!dry_run && exec_ok(pg, "BEGIN", err, errlen, "begin") != 0)
        goto out;
    for (int i = 0; i < migrations_count; i++) {
        if (is_applied(done, migrations[i].version))
            continue;
        if (dry_run)
            fprintf(out, "would apply %s\n", migrations[i].name);
        else if (apply_one(pg, &migrations[i], err, errlen) != 0)
            goto out;
        else
            log_info("migration_applied", "version=%d name=%s", migrations[i].version,
                     migrations[i].name);
        (*applied)++;
    }
    if (list_api_objects(pg, &objects, err, errlen) != 0)
        goto out;
    if (dry_run) {
        print_plan(out, objects, *applied);
        rc = 0;
        goto out;
    }
    /* Leads placed under an older release's rules (or none) are settled
     * here, once, rather than at the tenant's next organization change. */
    if (recreate_api(pg, objects, err, errlen) != 0 ||
        exec_ok(pg, "SELECT branchline.settle_all_tenants()", err, errlen, "settling the leads") != 0 ||
        exec_ok(pg, "COMMIT", err, errlen, "commit") != 0)
        goto out;
    log_info("api_recreated", "files=%d leads_settled=all_tenants", api_files_count);
    rc = 0;
out:
    if (PQtransactionStatus(pg) == PQTRANS_INERROR || PQtransactionStatus(pg) == PQTRANS_INTRANS)
        PQclear(PQexec(pg, "ROLLBACK"));
    if (PQstatus(pg) == CONNECTION_OK)
        PQclear(PQexec(pg, "SELECT pg_advisory_unlock_all()"));
    PQclear(objects);
    PQclear(done);
    PQfinish(pg);
    return rc;
}

static int read_version(const char *conninfo, int *version, int *reachable, char *err, size_t errlen)
{
    PGconn *pg = db_connect_blocking(conninfo);
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
    /* The time connecting counts too: a silent server takes a whole
     * connect_timeout per attempt. */
    uint64_t start = now_ms();
    for (bool warned = false;; warned = true) {
        int reachable = 0;
        if (read_version(conninfo, version, &reachable, err, errlen) == 0)
            return 0;
        if (reachable || now_ms() - start >= (uint64_t)(timeout_ms > 0 ? timeout_ms : 0))
            return -1;
        if (!warned)
            log_warn("db_wait", "timeout_ms=%d reason=unreachable", timeout_ms);
        usleep(250 * 1000);
    }
}

int migrate_bootstrap_operator(const char *conninfo, const char *subject, char *err, size_t errlen)
{
    PGconn *pg = db_connect_blocking(conninfo);
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
