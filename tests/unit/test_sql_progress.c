/* The daemon's reading of the SQL functions' progress notices (sql_call.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "handlers/sql_call.h"

static bool parse(const char *state, const char *message, Branchline__V1__Progress *p)
{
    static char phase[16];
    return sql_call_parse_progress(state, message, p, phase, sizeof phase);
}

static void test_progress_notice(void **st)
{
    (void)st;
    Branchline__V1__Progress p;
    assert_true(parse("BLPRG", "progress done=12 total=300 phase=units", &p));
    assert_int_equal(p.done, 12);
    assert_int_equal(p.total, 300);
    assert_string_equal(p.phase, "units");
    assert_true(parse("BLPRG", "progress done=0 total=0 phase=", &p));
    assert_string_equal(p.phase, "");
    /* a long phase is cut to the buffer */
    assert_true(parse("BLPRG", "progress done=1 total=2 phase=a-very-long-phase-name", &p));
    assert_string_equal(p.phase, "a-very-long-pha");
}

/* Anything else is not progress: other SQLSTATEs, other texts, counts that cannot be. */
static void test_not_progress(void **st)
{
    (void)st;
    Branchline__V1__Progress p;
    assert_false(parse("00000", "progress done=1 total=2 phase=units", &p));
    assert_false(parse("BL003", "progress done=1 total=2 phase=units", &p));
    assert_false(parse("BLPRG", "something else", &p));
    assert_false(parse("BLPRG", "progress done=1 phase=units", &p));
    assert_false(parse("BLPRG", "progress done=x total=2 phase=units", &p));
    assert_false(parse("BLPRG", "progress done=1 total=2", &p));
    assert_false(parse("BLPRG", "progress done=-1 total=2 phase=units", &p));
    assert_false(parse("BLPRG", "progress done=3 total=2 phase=units", &p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_notice),
        cmocka_unit_test(test_not_progress),
    };
    return cmocka_run_group_tests_name("sql_progress", tests, NULL, NULL);
}
