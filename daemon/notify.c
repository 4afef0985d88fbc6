#include "notify.h"

#include <event2/event.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "clock.h"
#include "health.h"
#include "log.h"

static struct event *watchdog_timer;
static server_t *watched;

static void notify_send(const char *state)
{
    /* 0: not started by systemd; < 0: the socket is gone. Neither stops us. */
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_warn("sd_notify", "error=%d", rc);
}

void notify_ready(const char *status)
{
    char msg[512];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    notify_send(msg);
}

void notify_reloading(void)
{
    char msg[128];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
             (unsigned long long)clock_mono_us());
    notify_send(msg);
}

void notify_stopping(const char *status)
{
    char msg[512];
    snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=%s", status);
    notify_send(msg);
}

/* A stuck worker withholds the ping, so systemd restarts the daemon. */
static void watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    char why[512];
    if (health_alive(watched, why, sizeof why))
        notify_send("WATCHDOG=1");
    else
        log_error("watchdog_withheld", "reason=\"worker loop stuck\"");
}

int notify_watchdog_start(struct event_base *base, server_t *srv)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    watched = srv;
    uint64_t half = usec / 2;
    struct timeval tv = {(time_t)(half / 1000000u), (suseconds_t)(half % 1000000u)};
    watchdog_timer = event_new(base, -1, EV_PERSIST, watchdog_tick, NULL);
    if (!watchdog_timer || event_add(watchdog_timer, &tv) != 0)
        return -1;
    log_info("watchdog", "interval_ms=%llu", (unsigned long long)(half / 1000u));
    notify_send("WATCHDOG=1");
    return 0;
}

void notify_watchdog_stop(void)
{
    if (watchdog_timer)
        event_free(watchdog_timer);
    watchdog_timer = NULL;
    watched = NULL;
}
