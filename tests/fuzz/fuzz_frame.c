/*
 * The frame decoder (proto/frame.c) against a reference model.
 *
 * Input: byte 0 picks the frame limit, byte 1 how often the rest repeats (its
 * top 3 bits: 1 to 8 times, so that small inputs still make streams long
 * enough for the buffer to move and grow) and how the stream is cut into
 * chunks (the other bits seed that). The stream is appended chunk by
 * chunk, taking every whole frame after each append, exactly as a reader
 * would. Whatever the chunking, the frames that come out, and where a bad
 * length prefix stops the stream, must be what one pass of the model over
 * the whole stream says. ASan catches reads past the buffer; the model
 * catches frames cut in the wrong place.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static const uint32_t limits[] = {1, 4, 16, 64, 255, 4096, FRAME_DEFAULT_MAX, UINT32_MAX};

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    frame_status_t end;   /* NEED_MORE at a clean or partial end, else the error */
    uint32_t end_len;     /* announced length of the bad prefix */
} model_t;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The model's next frame; false at the end or at a bad prefix (m->end says which). */
static bool model_next(model_t *m, uint32_t max, const uint8_t **payload, uint32_t *len)
{
    size_t left = m->size - m->pos;
    m->end = FRAME_NEED_MORE;
    if (left < FRAME_HEADER_SIZE)
        return false;
    uint32_t n = be32(m->data + m->pos);
    if (n == 0 || n > max) {
        m->end = n == 0 ? FRAME_EMPTY : FRAME_TOO_LARGE;
        m->end_len = n;
        return false;
    }
    if (left - FRAME_HEADER_SIZE < n)
        return false;
    *payload = m->data + m->pos + FRAME_HEADER_SIZE;
    *len = n;
    m->pos += FRAME_HEADER_SIZE + n;
    return true;
}

/* xorshift: a chunk schedule from one seed byte. */
static size_t next_chunk(uint32_t *state, size_t left)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    size_t n = (x & 1) ? (x >> 1) % 8 + 1 : (x >> 1) % 300 + 1;
    return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t max = limits[data[0] % (sizeof limits / sizeof limits[0])];
    uint32_t state = 0x9e3779b9u ^ (data[1] & 0x1fu);
    size_t reps = (size_t)(data[1] >> 5) + 1;
    uint8_t *stream = malloc((size - 2) * reps + 1);
    CHECK(stream != NULL);
    for (size_t i = 0; i < reps; i++)
        memcpy(stream + i * (size - 2), data + 2, size - 2);
    data = stream;
    size = (size - 2) * reps;

    model_t model = {data, size, 0, FRAME_NEED_MORE, 0};
    frame_buf_t buf;
    frame_buf_init(&buf);
    size_t fed = 0, taken = 0;
    frame_status_t st = FRAME_NEED_MORE;
    uint32_t len = 0;
    while (fed < size && (st == FRAME_NEED_MORE || st == FRAME_READY)) {
        size_t n = next_chunk(&state, size - fed);
        CHECK(frame_buf_append(&buf, data + fed, n) == 0);
        fed += n;
        const uint8_t *payload = NULL;
        while ((st = frame_buf_next(&buf, max, &payload, &len)) == FRAME_READY) {
            const uint8_t *want = NULL;
            uint32_t want_len = 0;
            CHECK(model_next(&model, max, &want, &want_len));
            CHECK(len == want_len && memcmp(payload, want, len) == 0);
            taken += FRAME_HEADER_SIZE + len;
        }
        /* What is left buffered is exactly what no frame has taken. */
        CHECK(frame_buf_len(&buf) == fed - taken);
    }
    const uint8_t *unused;
    uint32_t unused_len;
    /* No frame the model still has was missed, and both stop for the same reason. */
    CHECK(!model_next(&model, max, &unused, &unused_len));
    CHECK(st == model.end);
    if (st == FRAME_EMPTY || st == FRAME_TOO_LARGE) {
        CHECK(len == model.end_len);
        /* A bad prefix is decided from the header alone and stays put. */
        CHECK(frame_buf_next(&buf, max, &unused, &unused_len) == st);
    }
    /* frame_peek on the raw stream agrees for the first frame. */
    uint32_t peek_len = 0;
    frame_status_t first = frame_peek(data, size, size, max, &peek_len);
    CHECK(first != FRAME_READY || (size >= FRAME_HEADER_SIZE && peek_len == be32(data)));
    frame_buf_release(&buf);
    free(stream);
    return 0;
}
