/*
 * SIGHUP: the configuration file again. Every option that can change
 * without a restart does (reloadable_options in config.c): the new
 * configuration replaces the old one whole (workers read it afresh), the
 * TLS contexts are rebuilt, and each worker re-applies what it holds (its
 * rate-limit share, the sweep timer, the HTTP limits) on its own loop. An
 * option that needs a restart keeps its value and is logged as such; a
 * file that does not validate, or TLS files that do not load, change
 * nothing at all. Open connections stay.
 */
#ifndef BRANCHD_RELOAD_H
#define BRANCHD_RELOAD_H

#include <stddef.h>

#include "config.h"
#include "server.h"

/* One event per worker for re-applying; after server_new. 0 or -1. */
int reload_init(server_t *srv) __attribute__((warn_unused_result));

/* Applies `next` (already parsed and validated), taking ownership of it.
 * 0, or -1 with err when nothing was changed. */
int reload_apply(server_t *srv, config_t *next, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Frees the events and every configuration a reload installed (at exit,
 * after the workers stopped). */
void reload_free(void);

#endif
