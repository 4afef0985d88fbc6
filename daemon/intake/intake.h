/*
 * Web intake: POST /v1/intake/{token} on the public HTTPS listener (http.c,
 * intake_port). A website form (application/x-www-form-urlencoded) or a
 * webhook (application/json) becomes a lead through api.web_intake, one
 * database round trip: the token names a channel source and its tenant, and
 * the lead goes the way of lead_add. Abuse limits (limits.c) come first;
 * while the database is unreachable a valid submission waits in the spool
 * (spool.c, written and synced by its own thread: spool_writer.c) and is
 * replayed, in order, on worker 0 (replay.c).
 */
#ifndef BRANCHD_INTAKE_H
#define BRANCHD_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "worker.h"

/* Registers the route, its statement and metrics, opens the spool; before
 * dispatch's statements are frozen and before metrics_core_init. 0 or -1. */
int intake_init(const config_t *cfg, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Starts replaying the spool on worker 0 (after server_new, before the
 * workers run). */
int intake_start(server_t *srv) __attribute__((warn_unused_result));
/* After the workers stopped. */
void intake_free(void);

/* replay.c: the spool's replayer on one worker's loop. */
typedef struct intake_replay intake_replay_t;
struct spool;
struct spool_writer;
/* Progress is saved through the writer thread (spool_writer.h). */
intake_replay_t *intake_replay_new(worker_t *w, struct spool *spool, struct spool_writer *writer, int stmt);
void intake_replay_free(intake_replay_t *r);
/* Replays now rather than at the next tick (a record was just spooled). */
void intake_replay_kick(intake_replay_t *r);
/* The spool's depth as the metrics gauge (from the replayer's worker). */
void intake_publish_depth(uint64_t depth);

#endif
