/* branchctl's progress line (progress.h): what it shows, how often it is
 * drawn, that it is erased, and that without a terminal nothing is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

static void test_bar(void **state)
{
    (void)state;
    char line[160];
    progress_t p;
    progress_start(&p, NULL, "units");
    p.done = 250;
    p.total = 1000;
    progress_format(&p, p.started_ms + 5000, 0, line, sizeof line);
    /* 50 a second, 750 left: 15 s */
    assert_string_equal(line, "[######..................] 250/1000  25% 50/s ETA 15s units");
    p.done = 1000;
    progress_format(&p, p.started_ms + 20000, 0, line, sizeof line);
    assert_string_equal(line, "[########################] 1000/1000 100% 50/s ETA 0s units");
    p.done = 0;
    progress_format(&p, p.started_ms + 100, 30, line, sizeof line);
    assert_string_equal(line, "[........................] 0/1");  /* cut to 30 columns */
    p.done = 5;
    p.total = 3;  /* more than the total: shown as full */
    progress_format(&p, p.started_ms + 1000, 0, line, sizeof line);
    assert_non_null(strstr(line, "] 3/3 100%"));
}

static void test_spinner(void **state)
{
    (void)state;
    char line[160];
    progress_t p;
    progress_start(&p, NULL, "computing stats");
    progress_format(&p, p.started_ms + 3400, 0, line, sizeof line);
    assert_string_equal(line, "| computing stats... 3s");
    p.frame = 1;
    progress_format(&p, p.started_ms + 125000, 0, line, sizeof line);
    assert_string_equal(line, "/ computing stats... 2m05s");
    /* a label from the daemon cannot carry escapes to the terminal */
    progress_start(&p, NULL, "x\033[2Jy");
    progress_format(&p, p.started_ms, 0, line, sizeof line);
    assert_string_equal(line, "| x??2Jy... 0s");
}

/* Drawn once however often it is updated within a tenth of a second, then erased. */
static void test_draw_and_erase(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    progress_t p;
    progress_start(&p, f, "units");
    for (uint64_t i = 0; i < 50; i++)
        progress_update(&p, i, 100, NULL);
    progress_tick(&p);
    progress_end(&p);
    progress_end(&p);  /* erases once */
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, "\r[........................] 0/100   0% units\033[K\r\033[K");
    free(text);
}

/* No terminal: not a byte. */
static void test_off(void **state)
{
    (void)state;
    progress_t p;
    progress_start(&p, NULL, "x");
    progress_update(&p, 1, 2, "y");
    progress_tick(&p);
    progress_end(&p);
    assert_false(p.drawn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bar),
        cmocka_unit_test(test_spinner),
        cmocka_unit_test(test_draw_and_erase),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests_name("cli_progress", tests, NULL, NULL);
}
