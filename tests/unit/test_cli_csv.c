/*
 * Unit tests for branchctl's CSV reader (client/cli/csv.c): quoting,
 * embedded commas and line breaks, CRLF, the byte order mark, empty lines,
 * and bad records reported with the line they start on while reading goes
 * on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

typedef struct {
    FILE *f;
    csv_t *csv;
    csv_record_t rec;
} reader_t;

static void open_text(reader_t *r, const char *text, size_t len)
{
    r->f = fmemopen((void *)text, len, "r");
    assert_non_null(r->f);
    r->csv = csv_new(r->f);
    assert_non_null(r->csv);
}

#define OPEN(r, literal) open_text((r), (literal), sizeof(literal) - 1)

static void close_reader(reader_t *r)
{
    csv_free(r->csv);
    fclose(r->f);
}

/* The next record must have status st, start on line, and hold the n fields given. */
static void expect(reader_t *r, csv_status_t st, long line, size_t n, ...)
{
    va_list ap;
    assert_int_equal(csv_next(r->csv, &r->rec), st);
    assert_int_equal(r->rec.line, line);
    assert_int_equal(r->rec.n, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        assert_string_equal(r->rec.fields[i], want);
        assert_int_equal(r->rec.lens[i], strlen(want));
    }
    va_end(ap);
}

static void expect_end(reader_t *r)
{
    assert_int_equal(csv_next(r->csv, &r->rec), CSV_END);
    assert_int_equal(csv_next(r->csv, &r->rec), CSV_END);
}

static void test_plain(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "a,b,c\n1,,3\n,,\n");
    expect(&r, CSV_RECORD, 1, 3, "a", "b", "c");
    expect(&r, CSV_RECORD, 2, 3, "1", "", "3");
    expect(&r, CSV_RECORD, 3, 3, "", "", "");
    expect_end(&r);
    close_reader(&r);

    OPEN(&r, "a,b\n1,2");  /* the last line without its line break */
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    expect(&r, CSV_RECORD, 2, 2, "1", "2");
    expect_end(&r);
    close_reader(&r);

    OPEN(&r, "");
    expect_end(&r);
    close_reader(&r);
}

static void test_quotes(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "name,note\n"
             "\"Wang, Fang\",\"said \"\"call me\"\"\"\n"
             "\"\",\"\"\"\"\n"
             "5\" screen,ab\"c\n");
    expect(&r, CSV_RECORD, 1, 2, "name", "note");
    expect(&r, CSV_RECORD, 2, 2, "Wang, Fang", "said \"call me\"");
    expect(&r, CSV_RECORD, 3, 2, "", "\"");
    /* A quote inside an unquoted field is an ordinary character. */
    expect(&r, CSV_RECORD, 4, 2, "5\" screen", "ab\"c");
    expect_end(&r);
    close_reader(&r);
}

static void test_embedded_newlines(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "id,note\n"
             "1,\"first line\nsecond line\n\nfourth\"\n"
             "2,\"crlf\r\ninside\"\n"
             "3,after\n");
    expect(&r, CSV_RECORD, 1, 2, "id", "note");
    expect(&r, CSV_RECORD, 2, 2, "1", "first line\nsecond line\n\nfourth");
    /* Line breaks inside quotes are kept as they are, and counted. */
    expect(&r, CSV_RECORD, 6, 2, "2", "crlf\r\ninside");
    expect(&r, CSV_RECORD, 8, 2, "3", "after");
    expect_end(&r);
    close_reader(&r);
}

static void test_crlf_and_empty_lines(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "a,b\r\n\r\n1,2\r\n\n\n\"x\",y\r\n\r\n");
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    expect(&r, CSV_RECORD, 3, 2, "1", "2");
    expect(&r, CSV_RECORD, 6, 2, "x", "y");
    expect_end(&r);
    close_reader(&r);

    /* A CR that does not end a line is text. */
    OPEN(&r, "a\rb,c\n");
    expect(&r, CSV_RECORD, 1, 2, "a\rb", "c");
    expect_end(&r);
    close_reader(&r);
}

static void test_bom(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "\xef\xbb\xbf" "external_id,名字\n1,张伟\n");
    expect(&r, CSV_RECORD, 1, 2, "external_id", "名字");
    expect(&r, CSV_RECORD, 2, 2, "1", "张伟");
    expect_end(&r);
    close_reader(&r);

    /* Only at the very start; a quoted first field works after it. */
    OPEN(&r, "\xef\xbb\xbf\"a\",b\n\xef\xbb\xbf,c\n");
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    expect(&r, CSV_RECORD, 2, 2, "\xef\xbb\xbf", "c");
    expect_end(&r);
    close_reader(&r);

    OPEN(&r, "\xef\xbb");
    expect(&r, CSV_RECORD, 1, 1, "\xef\xbb");
    close_reader(&r);
}

static void test_ragged_rows(void **state)
{
    (void)state;
    reader_t r;
    OPEN(&r, "a,b,c\n1,2\n1,2,3\n1,2,3,4\n\"x\ny\",2\n5,6,7\n");
    expect(&r, CSV_RECORD, 1, 3, "a", "b", "c");
    expect(&r, CSV_RAGGED, 2, 2, "1", "2");
    assert_string_equal(csv_error(r.csv), "2 fields, expected 3");
    expect(&r, CSV_RECORD, 3, 3, "1", "2", "3");
    expect(&r, CSV_RAGGED, 4, 4, "1", "2", "3", "4");
    assert_string_equal(csv_error(r.csv), "4 fields, expected 3");
    expect(&r, CSV_RAGGED, 5, 2, "x\ny", "2");
    expect(&r, CSV_RECORD, 7, 3, "5", "6", "7");
    expect_end(&r);
    close_reader(&r);
}

static void test_malformed_records(void **state)
{
    (void)state;
    reader_t r;
    /* Text after a closing quote: that line is skipped, reading goes on. */
    OPEN(&r, "a,b\n\"x\"y,2\n3,4\n\"multi\nline\"z, more\n5,6\n");
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    expect(&r, CSV_MALFORMED, 2, 0);
    assert_string_equal(csv_error(r.csv), "text after a closing quote");
    expect(&r, CSV_RECORD, 3, 2, "3", "4");
    expect(&r, CSV_MALFORMED, 4, 0);
    expect(&r, CSV_RECORD, 6, 2, "5", "6");
    expect_end(&r);
    close_reader(&r);

    /* An unterminated quote swallows the rest of the file. */
    OPEN(&r, "a,b\n1,\"open\n2,3\n");
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    expect(&r, CSV_MALFORMED, 2, 0);
    assert_string_equal(csv_error(r.csv), "unterminated quoted field");
    expect_end(&r);
    close_reader(&r);
}

static void test_nul_bytes_are_kept(void **state)
{
    (void)state;
    reader_t r;
    static const char text[] = "a,b\nx\0y,z\n";
    open_text(&r, text, sizeof text - 1);
    expect(&r, CSV_RECORD, 1, 2, "a", "b");
    assert_int_equal(csv_next(r.csv, &r.rec), CSV_RECORD);
    assert_int_equal(r.rec.lens[0], 3);
    assert_memory_equal(r.rec.fields[0], "x\0y", 4);
    assert_string_equal(r.rec.fields[1], "z");
    close_reader(&r);
}

static void test_limits(void **state)
{
    (void)state;
    size_t big = CSV_RECORD_MAX + CSV_FIELDS_MAX + 10;
    char *text = malloc(big + 64);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "a\n\"");
    memset(text + len, 'x', big);
    len += big;
    len += (size_t)sprintf(text + len, "\"\nok\n");
    reader_t r;
    open_text(&r, text, len);
    expect(&r, CSV_RECORD, 1, 1, "a");
    expect(&r, CSV_MALFORMED, 2, 0);
    expect(&r, CSV_RECORD, 3, 1, "ok");
    expect_end(&r);
    close_reader(&r);

    /* Too many fields. */
    len = 0;
    for (unsigned i = 0; i <= CSV_FIELDS_MAX; i++)
        len += (size_t)sprintf(text + len, "%s", i ? ",x" : "x");
    len += (size_t)sprintf(text + len, "\nok\n");
    open_text(&r, text, len);
    expect(&r, CSV_MALFORMED, 1, 0);
    expect(&r, CSV_RECORD, 2, 1, "ok");
    close_reader(&r);
    free(text);
}

/* Records across the reader's 64 KiB input chunks come out whole. */
static void test_chunk_boundaries(void **state)
{
    (void)state;
    size_t rows = 20000, len = 0;
    char *text = malloc(rows * 32);
    assert_non_null(text);
    for (size_t i = 0; i < rows; i++)
        len += (size_t)sprintf(text + len, "%zu,\"q,%zu\"\r\n", i, i);
    reader_t r;
    open_text(&r, text, len);
    for (size_t i = 0; i < rows; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%zu", i);
        snprintf(b, sizeof b, "q,%zu", i);
        expect(&r, CSV_RECORD, (long)i + 1, 2, a, b);
    }
    expect_end(&r);
    close_reader(&r);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_embedded_newlines),
        cmocka_unit_test(test_crlf_and_empty_lines),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_nul_bytes_are_kept),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_chunk_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
