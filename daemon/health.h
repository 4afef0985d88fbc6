/*
 * Liveness and readiness. Every worker beats (a timer on its own loop) and
 * publishes, with each beat, what it knows of its database connections;
 * /livez asks whether every loop has beaten recently, /readyz whether the
 * daemon can serve (database reachable, notifications heard, not
 * draining). The systemd watchdog is fed from the same beats.
 */
#ifndef BRANCHD_HEALTH_H
#define BRANCHD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

/* A worker's loop that has not beaten for this long is not alive. */
#define HEALTH_DEADLINE_MS 5000

/* The worker's beat (on its loop); called by server.c. */
int health_worker_init(worker_t *w) __attribute__((warn_unused_result));
void health_worker_free(worker_t *w);

/* Registers GET /livez and GET /readyz (before server_new). */
int health_routes_add(void) __attribute__((warn_unused_result));

/* Whether every worker beat within HEALTH_DEADLINE_MS; if not, why. Any thread. */
bool health_alive(server_t *srv, char *why, size_t whylen);

/* Whether the daemon is ready to serve; if not, why (one reason a line). Any thread. */
bool health_ready(server_t *srv, char *why, size_t whylen);

#endif
