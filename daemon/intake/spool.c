#include "intake/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each record: this header line, the record's bytes, "\n". */
#define HEADER_FMT "BLSPOOL1 %" PRIu64 " %" PRId64 "\n"
#define HEADER_MAX 64
#define RECORD_MAX (16u << 20)

struct spool {
    pthread_mutex_t lock;
    int fd;
    int done_fd;
    uint64_t max_bytes;
    int64_t max_age_s;
    uint64_t end;          /* bytes of complete records */
    uint64_t cursor;       /* start of the oldest record not done */
    uint64_t next_end;     /* end of the record spool_next returned */
    uint64_t depth;
    int64_t oldest_s;      /* received time of the record at cursor; 0: none */
    int broken;            /* a failed write could not be cut off: no more appends */
};

/* Reads the header at off: the record's length and time, and the header's size. */
static int read_header(int fd, uint64_t off, uint64_t file_end, uint64_t *len, int64_t *at, size_t *hlen)
{
    char h[HEADER_MAX + 1];
    ssize_t n = pread(fd, h, HEADER_MAX, (off_t)off);
    if (n <= 0)
        return -1;
    h[n] = '\0';
    char *nl = memchr(h, '\n', (size_t)n);
    int used = 0;
    if (!nl || sscanf(h, "BLSPOOL1 %" SCNu64 " %" SCNd64 "\n%n", len, at, &used) != 2 ||
        used != nl - h + 1 || *len > RECORD_MAX)
        return -1;
    *hlen = (size_t)used;
    return off + *hlen + *len + 1 <= file_end ? 0 : -1;
}

/* Walks from the cursor: the records waiting and where complete ones end. */
static void scan(spool_t *s, uint64_t file_end)
{
    uint64_t off = s->cursor, len;
    int64_t at;
    size_t hlen;
    s->depth = 0;
    s->oldest_s = 0;
    while (off < file_end && read_header(s->fd, off, file_end, &len, &at, &hlen) == 0) {
        if (s->depth++ == 0)
            s->oldest_s = at;
        off += hlen + len + 1;
    }
    s->end = off;
}

static int save_cursor(spool_t *s)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", s->cursor);
    if (ftruncate(s->done_fd, 0) != 0 || pwrite(s->done_fd, buf, (size_t)n, 0) != n)
        return -1;
    return fdatasync(s->done_fd);
}

spool_t *spool_open(const char *path, uint64_t max_bytes, int64_t max_age_s, char *err, size_t errlen)
{
    char done_path[4096];
    spool_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fd = s->done_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->max_bytes = max_bytes;
    s->max_age_s = max_age_s;
    snprintf(done_path, sizeof done_path, "%s.done", path);
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    s->done_fd = open(done_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0 || s->done_fd < 0) {
        snprintf(err, errlen, "spool %s: %s", s->fd < 0 ? path : done_path, strerror(errno));
        goto fail;
    }
    char buf[32] = "";
    ssize_t n = pread(s->done_fd, buf, sizeof buf - 1, 0);
    s->cursor = n > 0 ? strtoull(buf, NULL, 10) : 0;
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
        goto fail;
    }
    if (s->cursor > (uint64_t)st.st_size)
        s->cursor = 0;
    scan(s, (uint64_t)st.st_size);
    /* What follows the last complete record was being written when the
     * daemon died: never synced, never answered 202. */
    if (s->end < (uint64_t)st.st_size && (ftruncate(s->fd, (off_t)s->end) != 0 || fdatasync(s->fd) != 0)) {
        snprintf(err, errlen, "spool %s: cannot cut a torn record: %s", path, strerror(errno));
        goto fail;
    }
    s->next_end = s->cursor;
    return s;
fail:
    spool_free(s);
    return NULL;
}

void spool_free(spool_t *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->done_fd >= 0)
        close(s->done_fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

spool_rc_t spool_append(spool_t *s, const char *record, size_t len, int64_t received_s, int64_t now_s)
{
    char header[HEADER_MAX];
    int hlen = snprintf(header, sizeof header, HEADER_FMT, (uint64_t)len, received_s);
    spool_rc_t rc = SPOOL_OK;
    pthread_mutex_lock(&s->lock);
    if (s->broken) {
        rc = SPOOL_ERROR;
        goto out;
    }
    if (len > RECORD_MAX || s->end + (uint64_t)hlen + len + 1 > s->max_bytes ||
        (s->depth > 0 && now_s - s->oldest_s > s->max_age_s)) {
        rc = SPOOL_FULL;
        goto out;
    }
    if (pwrite(s->fd, header, (size_t)hlen, (off_t)s->end) != hlen ||
        pwrite(s->fd, record, len, (off_t)(s->end + (uint64_t)hlen)) != (ssize_t)len ||
        pwrite(s->fd, "\n", 1, (off_t)(s->end + (uint64_t)hlen + len)) != 1 || fdatasync(s->fd) != 0) {
        /* Cut what was written, so that the next record starts clean. */
        s->broken = ftruncate(s->fd, (off_t)s->end) != 0;
        rc = SPOOL_ERROR;
        goto out;
    }
    if (s->depth++ == 0)
        s->oldest_s = received_s;
    s->end += (uint64_t)hlen + len + 1;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

char *spool_next(spool_t *s, size_t *len)
{
    char *out = NULL;
    uint64_t rlen;
    int64_t at;
    size_t hlen;
    pthread_mutex_lock(&s->lock);
    if (s->depth == 0 || read_header(s->fd, s->cursor, s->end, &rlen, &at, &hlen) != 0)
        goto out;
    if (!(out = malloc(rlen + 1)))
        goto out;
    if (pread(s->fd, out, rlen, (off_t)(s->cursor + hlen)) != (ssize_t)rlen) {
        free(out);
        out = NULL;
        goto out;
    }
    out[rlen] = '\0';
    *len = rlen;
    s->next_end = s->cursor + hlen + rlen + 1;
out:
    pthread_mutex_unlock(&s->lock);
    return out;
}

int spool_done(spool_t *s)
{
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (s->next_end <= s->cursor)
        goto out;
    s->cursor = s->next_end;
    if (s->cursor >= s->end) {
        /* All replayed: empty both files (the cursor first, so that a crash
         * in between cannot leave a cursor past the end of a new spool). */
        s->cursor = s->end = s->next_end = 0;
        rc = save_cursor(s) == 0 && ftruncate(s->fd, 0) == 0 && fdatasync(s->fd) == 0 ? 0 : -1;
        s->depth = 0;
        s->oldest_s = 0;
        goto out;
    }
    rc = save_cursor(s);
    s->depth--;
    uint64_t len;
    size_t hlen;
    if (read_header(s->fd, s->cursor, s->end, &len, &s->oldest_s, &hlen) != 0)
        scan(s, s->end);
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

uint64_t spool_depth(spool_t *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t d = s->depth;
    pthread_mutex_unlock(&s->lock);
    return d;
}

uint64_t spool_bytes(spool_t *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t b = s->end;
    pthread_mutex_unlock(&s->lock);
    return b;
}
