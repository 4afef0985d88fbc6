#include "db_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "db_hosts.h"
#include "log.h"

/* Whether the schema api has a function of this name at all. */
static bool api_has_function(PGconn *pg, const char *name)
{
    const char *params[] = {name};
    PGresult *res = PQexecParams(pg,
                                 "SELECT 1 FROM pg_proc WHERE proname = $1"
                                 " AND pronamespace = 'api'::regnamespace",
                                 1, NULL, params, NULL, NULL, 0);
    bool found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    return found;
}

/* Prepares one statement and hands its description to check. */
static int check_one(PGconn *pg, stmt_id_t id, db_check_fn check, char *err, size_t errlen)
{
    const stmt_def_t *def = stmt_def(id);
    int rc = -1;
    PGresult *described = NULL;
    PGresult *res = PQprepare(pg, def->name, def->sql, def->nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "42883") == 0 && !api_has_function(pg, def->name)) {
            /* Not there at all (its migration is not applied or not written
             * yet): the operation answers an error until it is, the others
             * serve. Only a function that is there and does not match stops us. */
            log_warn("sql_contract_missing", "operation=%s", def->name);
            rc = 0;
            goto out;
        }
        snprintf(err, errlen, "statement %s: %s", def->name, PQresultErrorMessage(res));
        goto out;
    }
    described = PQdescribePrepared(pg, def->name);
    if (PQresultStatus(described) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "statement %s: %s", def->name, PQresultErrorMessage(described));
        goto out;
    }
    rc = check(id, described, err, errlen);
out:
    PQclear(described);
    PQclear(res);
    return rc;
}

int db_check_statements(const char *conninfo, db_check_fn check, char *err, size_t errlen)
{
    int rc = -1;
    PGconn *pg = db_connect_blocking(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect: %s", PQerrorMessage(pg));
        goto out;
    }
    for (stmt_id_t id = 0; id < stmt_count(); id++)
        if (check_one(pg, id, check, err, errlen) != 0)
            goto out;
    rc = 0;
out:
    PQfinish(pg);
    if (rc != 0) {
        /* libpq's messages end in a newline; the log line must not. */
        size_t n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
    }
    return rc;
}
