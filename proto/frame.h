/*
 * Length-prefixed framing shared by branchd and the client library.
 *
 * A frame is a 4-byte big-endian payload length N followed by N bytes,
 * 0 < N <= max_frame. The functions here never allocate from the network's
 * word alone: the length is checked against the limit before anyone reserves
 * memory for the payload.
 */
#ifndef BRANCHLINE_FRAME_H
#define BRANCHLINE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 4u
#define FRAME_DEFAULT_MAX (1u << 20)

typedef enum {
    FRAME_READY,      /* a whole frame is buffered */
    FRAME_NEED_MORE,  /* header or payload incomplete */
    FRAME_EMPTY,      /* length prefix of zero: a protocol error */
    FRAME_TOO_LARGE,  /* length prefix above the limit: a protocol error */
} frame_status_t;

/*
 * Looks at the start of a byte stream: `head` holds the first `head_len`
 * buffered bytes (only the first four are read), `buffered` is how many bytes
 * are buffered in all. On FRAME_READY, FRAME_EMPTY and FRAME_TOO_LARGE,
 * *payload_len is the announced length.
 */
frame_status_t frame_peek(const uint8_t *head, size_t head_len, size_t buffered,
                          uint32_t max_frame, uint32_t *payload_len);

void frame_put_header(uint8_t out[FRAME_HEADER_SIZE], uint32_t payload_len);

const char *frame_status_name(frame_status_t status);

/*
 * A growable byte queue: the input and output of a connection, in the
 * daemon and in the client library. Release it when empty to hold no memory
 * while idle.
 */
typedef struct {
    uint8_t *data;
    size_t start;  /* first unread byte */
    size_t end;    /* one past the last buffered byte */
    size_t cap;
} frame_buf_t;

void frame_buf_init(frame_buf_t *buf);
void frame_buf_release(frame_buf_t *buf);
/* Makes room for n more bytes, so that appends of n bytes in all cannot
 * fail; returns 0, or -1 when memory runs out (the buffer is unchanged). */
int frame_buf_reserve(frame_buf_t *buf, size_t n) __attribute__((warn_unused_result));
/* Appends bytes; returns 0, or -1 when memory runs out. */
int frame_buf_append(frame_buf_t *buf, const void *bytes, size_t n)
    __attribute__((warn_unused_result));
size_t frame_buf_len(const frame_buf_t *buf);

/*
 * Takes the next whole frame off the buffer. On FRAME_READY, *payload points
 * into the buffer and stays valid until the next append; the frame is
 * consumed.
 */
frame_status_t frame_buf_next(frame_buf_t *buf, uint32_t max_frame,
                              const uint8_t **payload, uint32_t *payload_len);

#endif
