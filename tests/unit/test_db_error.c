/*
 * How the daemon maps a failed statement's SQLSTATE to the caller's status
 * (issue 13, item 6): our own refusals (BLnnn) keep their code and field;
 * races and outages keep theirs; anything else, an integer overflow
 * (22003) first, is our bug: INTERNAL with no field, never the caller's
 * INVALID_ARGUMENT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "db.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

static status_code_t map(const char *state, const char *column, const char **message, const char **field)
{
    return db_map_sqlstate(state, "PostgreSQL's own words", column, message, field);
}

static void test_our_refusals_keep_code_message_and_field(void **state)
{
    (void)state;
    const char *message, *field;
    assert_int_equal(map("BL003", "planned", &message, &field), CODE(INVALID_ARGUMENT));
    assert_string_equal(field, "planned");
    assert_string_equal(message, "PostgreSQL's own words");
    assert_int_equal(map("BL005", "path", &message, &field), CODE(NOT_FOUND));
    assert_int_equal(map("BL999", "x", &message, &field), CODE(INTERNAL));
}

static void test_data_exceptions_are_internal(void **state)
{
    (void)state;
    /* numeric_value_out_of_range (a sum cast to integer), division by
     * zero, bad text for a type, a datetime overflow, a string too long */
    static const char *const ours[] = {"22003", "22012", "22P02", "22008", "22001",
                                       "23514", "23502", "23P01", "42883", "P0001", "XX000"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        const char *message = NULL, *field = NULL;
        assert_int_equal(map(ours[i], "planned", &message, &field), CODE(INTERNAL));
        assert_string_equal(field, "");
        assert_string_equal(message, "internal database error");
    }
    const char *message, *field;
    assert_int_equal(db_map_sqlstate(NULL, NULL, NULL, &message, &field), CODE(INTERNAL));
    assert_string_equal(field, "");
}

static void test_races_and_outages_keep_their_codes(void **state)
{
    (void)state;
    const char *message, *field;
    assert_int_equal(map("23505", NULL, &message, &field), CODE(ALREADY_EXISTS));
    assert_int_equal(map("23503", NULL, &message, &field), CODE(FAILED_PRECONDITION));
    assert_int_equal(map("40001", NULL, &message, &field), CODE(ABORTED));
    assert_int_equal(map("40P01", NULL, &message, &field), CODE(ABORTED));
    assert_int_equal(map("57014", NULL, &message, &field), CODE(DEADLINE_EXCEEDED));
    assert_int_equal(map("57P01", NULL, &message, &field), CODE(UNAVAILABLE));
    assert_int_equal(map("08006", NULL, &message, &field), CODE(UNAVAILABLE));
    assert_int_equal(map("42501", NULL, &message, &field), CODE(PERMISSION_DENIED));
    assert_int_equal(map("26000", NULL, &message, &field), CODE(UNIMPLEMENTED));
    /* a write on the read pool: a bug of ours, with its own message */
    assert_int_equal(map("25006", NULL, &message, &field), CODE(INTERNAL));
    assert_string_equal(message, "a read-only database session refused a write");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_our_refusals_keep_code_message_and_field),
        cmocka_unit_test(test_data_exceptions_are_internal),
        cmocka_unit_test(test_races_and_outages_keep_their_codes),
    };
    return cmocka_run_group_tests_name("db_error", tests, NULL, NULL);
}
