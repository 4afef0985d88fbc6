/*
 * The spool: web intake submissions accepted (202) while the database was
 * unreachable, kept in a local append-only file until they are replayed, in
 * order, through the same SQL call. A record is on disk (fdatasync) before
 * spool_append returns, so a 202 is never answered for a submission a crash
 * could lose. Replay progress is a byte offset in PATH.done, also synced, so
 * a daemon killed mid-replay resumes after the last record it finished
 * (at worst one is replayed twice: the SQL call is idempotent by external
 * id). When everything is replayed both files are emptied.
 *
 * Bounded by size and by the age of the oldest record waiting; past either
 * bound spool_append refuses (the listener answers 503 with Retry-After).
 * Thread-safe: workers append, one replayer reads.
 */
#ifndef BRANCHD_INTAKE_SPOOL_H
#define BRANCHD_INTAKE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool_t;

typedef enum {
    SPOOL_OK,
    SPOOL_FULL,     /* the size or age bound is reached */
    SPOOL_ERROR,    /* the file could not be written or synced */
} spool_rc_t;

/* Opens (creating) the spool at path and finds what still waits there; a
 * record cut short by a crash while it was written (never acknowledged) is
 * dropped. NULL with err. */
spool_t *spool_open(const char *path, uint64_t max_bytes, int64_t max_age_s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void spool_free(spool_t *s);

/* Appends one record received at received_s (wall-clock seconds), durably. */
spool_rc_t spool_append(spool_t *s, const char *record, size_t len, int64_t received_s, int64_t now_s)
    __attribute__((warn_unused_result));

/* A copy of the oldest record not yet done (NUL-terminated, the caller
 * frees it), or NULL when none waits or it cannot be read. */
char *spool_next(spool_t *s, size_t *len) __attribute__((warn_unused_result));

/* The record spool_next returned is done. 0, or -1 if progress could not be saved. */
int spool_done(spool_t *s) __attribute__((warn_unused_result));

/* Records waiting, and the bytes of the file they are in. */
uint64_t spool_depth(spool_t *s);
uint64_t spool_bytes(spool_t *s);

#endif
