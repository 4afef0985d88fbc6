/*
 * Unit tests for branchctl's YAML reading (client/cli/yamlconv.c): nesting
 * beyond the limit is refused while parsing, at a cost that does not grow
 * with how deep the file goes (it was quadratic: 100,000 levels took 20 s
 * of CPU before "nested too deeply"), in flow and in block style; nesting
 * within the limit still reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "yamlconv.h"

/* "[[[...1...]]]" nested `depth` deep. */
static char *flow_nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 2);
    assert_non_null(s);
    memset(s, '[', (size_t)depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', (size_t)depth);
    s[depth * 2 + 1] = '\0';
    return s;
}

/* "- - - ... 1": block sequences nested `depth` deep on one line. */
static char *block_nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 2);
    assert_non_null(s);
    for (int i = 0; i < depth; i++)
        memcpy(s + 2 * i, "- ", 2);
    memcpy(s + depth * 2, "1", 2);
    return s;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds to refuse `text`; fails unless it is refused as too deep. */
static double refuse_cost(const char *text)
{
    char err[256] = "";
    double t0 = cpu_seconds();
    json_t *v = yamlconv_parse(text, strlen(text), NULL, err, sizeof err);
    double spent = cpu_seconds() - t0;
    assert_null(v);
    assert_non_null(strstr(err, "nested too deeply"));
    return spent;
}

static void test_deep_nesting_refused_at_the_limit(void **state)
{
    (void)state;
    char *(*const shapes[])(int) = {flow_nested, block_nested};
    for (size_t k = 0; k < 2; k++) {
        char *shallow = shapes[k](1000), *deep = shapes[k](100000);
        double shallow_cpu = refuse_cost(shallow), deep_cpu = refuse_cost(deep);
        print_message("%s: 1,000 levels refused in %.4f s of CPU, 100,000 in %.4f s\n",
                      k ? "block" : "flow", shallow_cpu, deep_cpu);
        /* 100 times the depth; quadratic work would be 10,000 times the
         * cost, work bounded by the limit the same. */
        assert_true(deep_cpu < 20 * shallow_cpu + 0.05);
        free(shallow);
        free(deep);
    }
}

static void test_nesting_within_the_limit_reads(void **state)
{
    (void)state;
    char *text = flow_nested(60);
    char err[256] = "";
    json_t *v = yamlconv_parse(text, strlen(text), NULL, err, sizeof err);
    assert_non_null(v);
    json_t *x = v;
    for (int i = 0; i < 60; i++)
        x = json_array_get(x, 0);
    assert_int_equal(json_integer_value(x), 1);
    json_decref(v);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_nesting_refused_at_the_limit),
        cmocka_unit_test(test_nesting_within_the_limit_reads),
    };
    return cmocka_run_group_tests_name("cli_yamlconv", tests, NULL, NULL);
}
