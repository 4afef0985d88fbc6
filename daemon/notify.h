/*
 * systemd's service protocol (sd_notify, Type=notify): READY=1 once the
 * daemon serves, RELOADING=1 with MONOTONIC_USEC while SIGHUP is handled,
 * STOPPING=1 when the drain starts, STATUS= lines saying what it does, and
 * WATCHDOG=1 every half WatchdogSec while every worker's loop beats. Each
 * call does nothing when the daemon was not started by systemd (no
 * NOTIFY_SOCKET), so the rest of the code need not ask.
 */
#ifndef BRANCHD_NOTIFY_H
#define BRANCHD_NOTIFY_H

#include "server.h"

struct event_base;

void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(const char *status);

/* Starts feeding the watchdog on `base` (the main thread's loop) when
 * systemd asked for one (WatchdogSec); 0, or -1 when it could not. */
int notify_watchdog_start(struct event_base *base, server_t *srv) __attribute__((warn_unused_result));
void notify_watchdog_stop(void);

#endif
