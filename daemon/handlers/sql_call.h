/*
 * Operations served by one SQL function each. The request's fields become
 * the function's parameters, the function's result columns fill the result
 * message by field name, both through protobuf-c descriptors, so adding
 * such an operation is a proto message, an SQL function and a dispatch row.
 *
 *   SELECT * FROM api.<op>(p_subject => $1, p_field1 => $2, p_field2 => $3, ...)
 *
 * "" and 0 are passed as SQL NULL ("not given"); repeated and message fields
 * as one JSON text (jsonb in SQL). A result message whose only
 * field is `repeated X items` gets one X per row; any other gets one row.
 */
#ifndef BRANCHD_SQL_CALL_H
#define BRANCHD_SQL_CALL_H

#include "db.h"
#include "db_statements.h"
#include "request.h"

/* Registers the statement for the operation whose Request field is op_field.
 * A cached operation's statement also returns the tenant the function set,
 * which the cache files the answer under. maps_result: the result columns
 * fill the result message (handle_sql_call), so sql_call_check_result
 * checks them. */
stmt_id_t sql_call_register(const char *op_name, const ProtobufCFieldDescriptor *op_field,
                            bool cached, bool maps_result);

/* Start-up: whether the columns of statement id, as PostgreSQL described
 * it, all name a field of its result message. 0, or -1 with err. */
int sql_call_check_result(stmt_id_t id, const PGresult *described, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void handle_sql_call(request_t *req);

/* Runs the operation's SQL function, handing the rows to `done` instead of
 * the generic result mapping (for handlers that do more with them). */
void sql_call_run(request_t *req, db_callback_t done);

/*
 * Progress: an operation whose request has `bool progress` set, on a live
 * connection, gets each notice its function raises with SQLSTATE
 * SQL_PROGRESS_SQLSTATE and the text "progress done=K total=N phase=P"
 * (sql/030, doc_step) sent at once as a Progress response with more = true.
 */
#define SQL_PROGRESS_SQLSTATE "BLPRG"

/* Parses such a notice into p (phase into phase_buf). false: not one. */
bool sql_call_parse_progress(const char *sqlstate, const char *message,
                             Branchline__V1__Progress *p, char *phase_buf, size_t phase_len);

#endif
