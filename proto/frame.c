#include "frame.h"

#include <stdlib.h>
#include <string.h>

frame_status_t frame_peek(const uint8_t *head, size_t head_len, size_t buffered,
                          uint32_t max_frame, uint32_t *payload_len)
{
    if (head_len < FRAME_HEADER_SIZE || buffered < FRAME_HEADER_SIZE)
        return FRAME_NEED_MORE;
    uint32_t n = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) |
                 ((uint32_t)head[2] << 8) | (uint32_t)head[3];
    *payload_len = n;
    if (n == 0)
        return FRAME_EMPTY;
    if (n > max_frame)
        return FRAME_TOO_LARGE;
    if (buffered - FRAME_HEADER_SIZE < n)
        return FRAME_NEED_MORE;
    return FRAME_READY;
}

void frame_put_header(uint8_t out[FRAME_HEADER_SIZE], uint32_t payload_len)
{
    out[0] = (uint8_t)(payload_len >> 24);
    out[1] = (uint8_t)(payload_len >> 16);
    out[2] = (uint8_t)(payload_len >> 8);
    out[3] = (uint8_t)payload_len;
}

const char *frame_status_name(frame_status_t status)
{
    switch (status) {
    case FRAME_READY: return "ready";
    case FRAME_NEED_MORE: return "need_more";
    case FRAME_EMPTY: return "empty_frame";
    case FRAME_TOO_LARGE: return "frame_too_large";
    }
    return "unknown";
}

void frame_buf_init(frame_buf_t *buf)
{
    memset(buf, 0, sizeof *buf);
}

void frame_buf_release(frame_buf_t *buf)
{
    free(buf->data);
    frame_buf_init(buf);
}

size_t frame_buf_len(const frame_buf_t *buf)
{
    return buf->end - buf->start;
}

int frame_buf_reserve(frame_buf_t *buf, size_t n)
{
    if (buf->start > 0 && buf->end + n > buf->cap) {
        /* Reclaim consumed space before growing. */
        memmove(buf->data, buf->data + buf->start, buf->end - buf->start);
        buf->end -= buf->start;
        buf->start = 0;
    }
    if (buf->end + n > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 4096;
        while (cap < buf->end + n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        uint8_t *grown = realloc(buf->data, cap);
        if (!grown)
            return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    return 0;
}

int frame_buf_append(frame_buf_t *buf, const void *bytes, size_t n)
{
    if (n == 0)
        return 0;
    if (frame_buf_reserve(buf, n) != 0)
        return -1;
    memcpy(buf->data + buf->end, bytes, n);
    buf->end += n;
    return 0;
}

frame_status_t frame_buf_next(frame_buf_t *buf, uint32_t max_frame,
                              const uint8_t **payload, uint32_t *payload_len)
{
    size_t avail = frame_buf_len(buf);
    if (avail < FRAME_HEADER_SIZE)
        return FRAME_NEED_MORE; /* also keeps an empty buffer's NULL data unused */
    frame_status_t st = frame_peek(buf->data + buf->start, avail, avail,
                                   max_frame, payload_len);
    if (st != FRAME_READY)
        return st;
    *payload = buf->data + buf->start + FRAME_HEADER_SIZE;
    buf->start += FRAME_HEADER_SIZE + *payload_len;
    if (buf->start == buf->end)
        buf->start = buf->end = 0;
    return FRAME_READY;
}
