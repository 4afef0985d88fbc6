/*
 * The start-up check of every SQL statement the daemon will run, before any
 * worker starts (blocking libpq, like the schema check): each statement is
 * prepared once, so PostgreSQL refuses a call whose argument names or types
 * no longer match its function, and its description (the result columns)
 * goes to a check of the caller's. A daemon that fails it does not serve;
 * an operation whose function does not exist at all is only logged
 * (sql_contract_missing) and fails when called, as before.
 */
#ifndef BRANCHD_DB_CHECK_H
#define BRANCHD_DB_CHECK_H

#include <libpq-fe.h>
#include <stddef.h>

#include "db_statements.h"

/* Checks one statement's description; 0, or -1 with err. */
typedef int (*db_check_fn)(stmt_id_t id, const PGresult *described, char *err, size_t errlen);

/* Prepares and describes every registered statement on one connection.
 * 0, or -1 with err naming the statement. */
int db_check_statements(const char *conninfo, db_check_fn check, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
