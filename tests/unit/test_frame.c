/*
 * Unit tests for the length-prefixed framing in proto/frame.h: how frames
 * come apart and back together across reads, and how bad length prefixes
 * are caught before any payload is waited for or allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

/* A small max_frame keeps the over-limit cases cheap. */
#define TEST_MAX 64u

/* Fills len bytes with a pattern that differs per frame and per offset, so a
 * payload returned from the wrong place or in the wrong order is noticed. */
static void fill_pattern(uint8_t *out, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(seed * 31u + i * 7u);
}

static void assert_pattern(const uint8_t *payload, size_t len, unsigned seed)
{
    uint8_t *want = malloc(len ? len : 1);
    assert_non_null(want);
    fill_pattern(want, len, seed);
    assert_memory_equal(payload, want, len);
    free(want);
}

/* Appends one whole frame (header + patterned payload) to buf. */
static void append_frame(frame_buf_t *buf, uint32_t len, unsigned seed)
{
    uint8_t header[FRAME_HEADER_SIZE];
    uint8_t *payload = malloc(len ? len : 1);
    assert_non_null(payload);
    frame_put_header(header, len);
    fill_pattern(payload, len, seed);
    assert_int_equal(frame_buf_append(buf, header, sizeof header), 0);
    assert_int_equal(frame_buf_append(buf, payload, len), 0);
    free(payload);
}

static void append_header(frame_buf_t *buf, uint32_t len)
{
    uint8_t header[FRAME_HEADER_SIZE];
    frame_put_header(header, len);
    assert_int_equal(frame_buf_append(buf, header, sizeof header), 0);
}

/* Takes the next frame, which must be whole, and checks its payload. */
static void expect_frame(frame_buf_t *buf, uint32_t max, uint32_t len,
                         unsigned seed)
{
    const uint8_t *payload = NULL;
    uint32_t got = 0;
    assert_int_equal(frame_buf_next(buf, max, &payload, &got), FRAME_READY);
    assert_int_equal(got, len);
    assert_non_null(payload);
    assert_pattern(payload, len, seed);
}

static void expect_status(frame_buf_t *buf, uint32_t max, frame_status_t want)
{
    const uint8_t *payload = NULL;
    uint32_t len = 0;
    assert_int_equal(frame_buf_next(buf, max, &payload, &len), want);
}

static void test_header_is_big_endian(void **state)
{
    (void)state;
    uint8_t header[FRAME_HEADER_SIZE];
    uint32_t len = 0;

    frame_put_header(header, 0x01020304u);
    assert_int_equal(header[0], 0x01);
    assert_int_equal(header[1], 0x02);
    assert_int_equal(header[2], 0x03);
    assert_int_equal(header[3], 0x04);

    frame_put_header(header, 42);
    assert_int_equal(frame_peek(header, sizeof header, sizeof header + 42,
                                TEST_MAX, &len), FRAME_READY);
    assert_int_equal(len, 42);
}

static void test_empty_buffer_needs_more(void **state)
{
    (void)state;
    frame_buf_t buf;
    frame_buf_init(&buf);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_len(&buf), 0);
    frame_buf_release(&buf);
    frame_buf_release(&buf); /* releasing twice is harmless */
}

/*
 * A stream of frames arriving one byte per read. The sizes cross the
 * buffer's initial capacity so that both growth and the reclaiming of
 * consumed space are exercised while frames are half-read.
 */
static void test_frames_split_byte_by_byte(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 7, 300, 4000, 5000, 2, 4096};
    const size_t nframes = sizeof sizes / sizeof sizes[0];
    const uint32_t max = 8192;

    frame_buf_t whole;
    frame_buf_init(&whole);
    for (size_t i = 0; i < nframes; i++)
        append_frame(&whole, sizes[i], (unsigned)i);
    const size_t total = frame_buf_len(&whole);
    const uint8_t *stream = whole.data + whole.start;

    frame_buf_t buf;
    frame_buf_init(&buf);
    size_t next = 0;      /* index of the frame expected next */
    size_t frame_end = FRAME_HEADER_SIZE + sizes[0];  /* offset where it ends */
    for (size_t off = 0; off < total; off++) {
        assert_int_equal(frame_buf_append(&buf, stream + off, 1), 0);
        if (off + 1 < frame_end) {
            expect_status(&buf, max, FRAME_NEED_MORE);
            continue;
        }
        expect_frame(&buf, max, sizes[next], (unsigned)next);
        assert_int_equal(frame_buf_len(&buf), 0);
        next++;
        if (next < nframes)
            frame_end += FRAME_HEADER_SIZE + sizes[next];
    }
    assert_int_equal(next, nframes);
    expect_status(&buf, max, FRAME_NEED_MORE);

    frame_buf_release(&buf);
    frame_buf_release(&whole);
}

static void test_several_frames_in_one_append(void **state)
{
    (void)state;
    frame_buf_t staging, buf;
    frame_buf_init(&staging);
    frame_buf_init(&buf);
    append_frame(&staging, 3, 1);
    append_frame(&staging, TEST_MAX, 2);
    append_frame(&staging, 1, 3);

    assert_int_equal(frame_buf_append(&buf, staging.data + staging.start,
                                      frame_buf_len(&staging)), 0);
    expect_frame(&buf, TEST_MAX, 3, 1);
    expect_frame(&buf, TEST_MAX, TEST_MAX, 2);
    expect_frame(&buf, TEST_MAX, 1, 3);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_len(&buf), 0);

    frame_buf_release(&staging);
    frame_buf_release(&buf);
}

/* A frame of exactly max_frame bytes is legal: the limit is inclusive. */
static void test_max_size_frame(void **state)
{
    (void)state;
    const uint32_t max = FRAME_DEFAULT_MAX;
    uint8_t *payload = malloc(max);
    assert_non_null(payload);
    fill_pattern(payload, max, 9);

    frame_buf_t buf;
    frame_buf_init(&buf);
    append_header(&buf, max);
    expect_status(&buf, max, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_append(&buf, payload, max - 1), 0);
    expect_status(&buf, max, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_append(&buf, payload + max - 1, 1), 0);
    expect_frame(&buf, max, max, 9);
    assert_int_equal(frame_buf_len(&buf), 0);

    frame_buf_release(&buf);
    free(payload);
}

/* One byte over the limit is refused from the header alone, so a peer cannot
 * make the reader wait for (or buffer) a payload it will never accept. */
static void test_one_over_max_rejected_from_header(void **state)
{
    (void)state;
    uint8_t header[FRAME_HEADER_SIZE];
    uint32_t len = 0;

    frame_put_header(header, TEST_MAX + 1);
    assert_int_equal(frame_peek(header, sizeof header, sizeof header,
                                TEST_MAX, &len), FRAME_TOO_LARGE);
    assert_int_equal(len, TEST_MAX + 1);

    frame_buf_t buf;
    frame_buf_init(&buf);
    append_header(&buf, TEST_MAX + 1);
    expect_status(&buf, TEST_MAX, FRAME_TOO_LARGE);
    frame_buf_release(&buf);
}

static void test_zero_length_is_empty(void **state)
{
    (void)state;
    uint8_t header[FRAME_HEADER_SIZE];
    uint32_t len = 99;

    frame_put_header(header, 0);
    assert_int_equal(frame_peek(header, sizeof header, sizeof header,
                                TEST_MAX, &len), FRAME_EMPTY);
    assert_int_equal(len, 0);

    /* Bytes after the empty frame do not hide it. */
    frame_buf_t buf;
    frame_buf_init(&buf);
    append_header(&buf, 0);
    append_frame(&buf, 5, 1);
    expect_status(&buf, TEST_MAX, FRAME_EMPTY);
    frame_buf_release(&buf);
}

/* At end of stream a reader tells a clean close (nothing buffered) from a
 * truncated frame (bytes left over while the framer still wants more). */
static void test_truncated_stream_at_eof(void **state)
{
    (void)state;
    frame_buf_t buf;
    frame_buf_init(&buf);
    append_frame(&buf, 10, 4);
    expect_frame(&buf, TEST_MAX, 10, 4);
    assert_int_equal(frame_buf_len(&buf), 0);

    uint8_t partial[FRAME_HEADER_SIZE + 5];
    frame_put_header(partial, 10);
    fill_pattern(partial + FRAME_HEADER_SIZE, 5, 5);
    assert_int_equal(frame_buf_append(&buf, partial, sizeof partial), 0);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_len(&buf), sizeof partial);
    frame_buf_release(&buf);

    /* Cut inside the header. */
    frame_buf_init(&buf);
    assert_int_equal(frame_buf_append(&buf, partial, 3), 0);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_len(&buf), 3);
    frame_buf_release(&buf);
}

static void test_header_split_two_and_two(void **state)
{
    (void)state;
    uint8_t header[FRAME_HEADER_SIZE];
    uint32_t len = 0;
    frame_put_header(header, 6);

    /* frame_peek must not read past head_len, whatever `buffered` says. */
    assert_int_equal(frame_peek(header, 2, 2, TEST_MAX, &len), FRAME_NEED_MORE);
    assert_int_equal(frame_peek(header, 2, 100, TEST_MAX, &len), FRAME_NEED_MORE);

    uint8_t payload[6];
    fill_pattern(payload, sizeof payload, 6);
    frame_buf_t buf;
    frame_buf_init(&buf);
    assert_int_equal(frame_buf_append(&buf, header, 2), 0);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_append(&buf, header + 2, 2), 0);
    expect_status(&buf, TEST_MAX, FRAME_NEED_MORE);
    assert_int_equal(frame_buf_append(&buf, payload, sizeof payload), 0);
    expect_frame(&buf, TEST_MAX, sizeof payload, 6);
    frame_buf_release(&buf);
}

static void test_all_ones_length(void **state)
{
    (void)state;
    const uint8_t header[FRAME_HEADER_SIZE] = {0xff, 0xff, 0xff, 0xff};
    uint32_t len = 0;

    assert_int_equal(frame_peek(header, sizeof header, sizeof header,
                                FRAME_DEFAULT_MAX, &len), FRAME_TOO_LARGE);
    assert_int_equal(len, UINT32_MAX);

    /* Even with no limit at all, the length must not wrap into "ready". */
    assert_int_equal(frame_peek(header, sizeof header, sizeof header + 16,
                                UINT32_MAX, &len), FRAME_NEED_MORE);

    frame_buf_t buf;
    frame_buf_init(&buf);
    assert_int_equal(frame_buf_append(&buf, header, sizeof header), 0);
    expect_status(&buf, FRAME_DEFAULT_MAX, FRAME_TOO_LARGE);
    frame_buf_release(&buf);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(frame_status_name(FRAME_READY), "ready");
    assert_string_equal(frame_status_name(FRAME_NEED_MORE), "need_more");
    assert_string_equal(frame_status_name(FRAME_EMPTY), "empty_frame");
    assert_string_equal(frame_status_name(FRAME_TOO_LARGE), "frame_too_large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_is_big_endian),
        cmocka_unit_test(test_empty_buffer_needs_more),
        cmocka_unit_test(test_frames_split_byte_by_byte),
        cmocka_unit_test(test_several_frames_in_one_append),
        cmocka_unit_test(test_max_size_frame),
        cmocka_unit_test(test_one_over_max_rejected_from_header),
        cmocka_unit_test(test_zero_length_is_empty),
        cmocka_unit_test(test_truncated_stream_at_eof),
        cmocka_unit_test(test_header_split_two_and_two),
        cmocka_unit_test(test_all_ones_length),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
