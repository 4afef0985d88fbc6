/*
 * branchd refuses to start when an API function no longer matches the call
 * it makes: it calls api.<op> with named arguments (p_subject => $1, ...)
 * and prepares every statement at start-up, so a parameter that is not
 * named as its request field fails there instead of taking another field's
 * value at run time; and a result column that names no field of the result
 * message (which the mapping would drop) is refused too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

/* A fresh database changed by sql: branchd must exit, saying why. */
static void assert_refused(const char *name, const char *sql, const char *why)
{
    fx_t fx;
    assert_int_equal(fx_init(&fx, name, false), 0);
    assert_int_equal(fx_sql(&fx, sql), 0);
    int started = fx_start(&fx, NULL);
    bool said_why = fx_log_contains(&fx, "reason=sql_contract") && fx_log_contains(&fx, why);
    fx_cleanup(&fx, started == 0 || !said_why);
    assert_int_not_equal(started, 0);
    assert_true(said_why);
}

/* principal_add(p_subject, p_new_subject, p_role, p_scope_path) with role
 * and scope_path swapped and one of them renamed: by position a call would
 * still run (both text) and put the role where the scope goes; by name
 * PostgreSQL refuses it when branchd prepares it. (Swapped but keeping
 * their names, the parameters would bind right: names, not places, match.) */
static void test_swapped_parameters_refused(void **state)
{
    (void)state;
    assert_refused("swapped",
                   "DROP FUNCTION api.principal_add(text, text, text, text);"
                   "CREATE FUNCTION api.principal_add(p_subject text, p_new_subject text,"
                   "                                  p_scope text, p_role text)"
                   " RETURNS SETOF api.principal LANGUAGE sql"
                   " AS 'SELECT * FROM api.principal_list(p_subject) WHERE false'",
                   "principal_add");
}

static void test_unknown_result_column_refused(void **state)
{
    (void)state;
    assert_refused("extracolumn",
                   "DROP FUNCTION api.tenant_list(text);"
                   "CREATE FUNCTION api.tenant_list(p_subject text)"
                   " RETURNS TABLE (code text, name text, surprise integer) LANGUAGE sql"
                   " AS 'SELECT NULL::text, NULL::text, 1 WHERE false'",
                   "column surprise");
}

/* The same database unchanged starts: the refusals above are about the change. */
static void test_matching_schema_starts(void **state)
{
    (void)state;
    fx_t fx;
    assert_int_equal(fx_init(&fx, "contract", false), 0);
    int started = fx_start(&fx, NULL);
    fx_cleanup(&fx, started != 0);
    assert_int_equal(started, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_schema_starts),
        cmocka_unit_test(test_swapped_parameters_refused),
        cmocka_unit_test(test_unknown_result_column_refused),
    };
    return cmocka_run_group_tests_name("contract", tests, NULL, NULL);
}
