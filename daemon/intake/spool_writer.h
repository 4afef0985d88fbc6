/*
 * The spool's writer thread: every write that ends in fdatasync (a record
 * appended, a record marked replayed) happens here, never on an event-loop
 * thread, since one slow disk flush would stall every connection of that
 * worker (the TLS protocol included). A worker hands a job over and goes on
 * serving; when the write is durable (or refused) the job's callback runs
 * back on the worker's own loop, through an event on its base, and only
 * then is 202 answered. Jobs are done one at a time, in the order they were
 * handed over, which is the spool's order.
 */
#ifndef BRANCHD_INTAKE_SPOOL_WRITER_H
#define BRANCHD_INTAKE_SPOOL_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intake/spool.h"

struct event_base;
typedef struct spool_writer spool_writer_t;

/* Runs on the loop of the base given with the job. cancelled: the writer
 * was stopped before the answer could be delivered there (shutdown); the
 * callback then runs on the stopping thread and must only clean up. */
typedef void (*spool_writer_cb)(spool_rc_t rc, bool cancelled, void *arg);

/* Starts the thread (libevent's pthread locking must be on). NULL on failure. */
spool_writer_t *spool_writer_new(spool_t *spool) __attribute__((warn_unused_result));
/* Finishes the jobs queued, stops and joins the thread; callbacks not yet
 * delivered run cancelled. After the workers' loops stopped. */
void spool_writer_free(spool_writer_t *w);

/* Appends record (taken: the writer frees it) durably. 0, or -1 when the
 * job could not be queued (out of memory; cb is not called, record is freed). */
int spool_writer_append(spool_writer_t *w, struct event_base *base, char *record, size_t len, int64_t received_s,
                        int64_t now_s, spool_writer_cb cb, void *arg) __attribute__((warn_unused_result));
/* Marks the record spool_next returned done (spool_done), durably. 0 or -1 as above. */
int spool_writer_done(spool_writer_t *w, struct event_base *base, spool_writer_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Appends handed over and not yet written: they count as waiting in the spool. */
unsigned spool_writer_pending(spool_writer_t *w);

#endif
