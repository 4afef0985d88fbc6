/* daemon/intake/spool_writer.c: appends and progress are written by the
 * writer thread, never by the caller's thread; each callback runs on the
 * loop of the base it was handed with (the worker's), in order; the records
 * are durable in the spool when it runs; stopping delivers what is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "intake/spool_writer.h"

static char dir[] = "/tmp/test_spool_writer_XXXXXX";
static char path[256];

typedef struct {
    pthread_t loop_thread;
    int seen[8];
    int count;
    bool wrong_thread;
    bool cancelled;
    spool_rc_t last_rc;
    spool_t *spool;
    uint64_t depth_at_callback[8];
    struct event_base *base;
    int want;
} state_t;

typedef struct {
    state_t *st;
    int n;
} ticket_t;

static void on_written(spool_rc_t rc, bool cancelled, void *arg)
{
    ticket_t *t = arg;
    state_t *st = t->st;
    if (!pthread_equal(pthread_self(), st->loop_thread))
        st->wrong_thread = true;
    st->cancelled = st->cancelled || cancelled;
    st->last_rc = rc;
    st->depth_at_callback[st->count] = spool_depth(st->spool);
    st->seen[st->count++] = t->n;
    free(t);
    if (st->count == st->want)
        event_base_loopbreak(st->base);
}

static void keep_alive(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static ticket_t *ticket(state_t *st, int n)
{
    ticket_t *t = malloc(sizeof *t);
    t->st = st;
    t->n = n;
    return t;
}

static void test_appends_on_the_writer_thread(void **unused)
{
    (void)unused;
    char err[256];
    state_t st = {.loop_thread = pthread_self(), .want = 4};
    st.spool = spool_open(path, 1 << 20, 3600, err, sizeof err);
    assert_non_null(st.spool);
    st.base = event_base_new();
    spool_writer_t *w = spool_writer_new(st.spool);
    assert_non_null(w);
    for (int i = 0; i < 3; i++) {
        char rec[16];
        snprintf(rec, sizeof rec, "r%d", i);
        assert_int_equal(spool_writer_append(w, st.base, strdup(rec), strlen(rec), 100, 100, on_written, ticket(&st, i)),
                         0);
    }
    /* Nothing is delivered before the loop runs: callbacks are the loop's. */
    assert_int_equal(st.count, 0);
    size_t len;
    /* Progress is a job too: the record at the head is done, after the appends. */
    while (spool_depth(st.spool) < 3)
        usleep(1000);
    char *first = spool_next(st.spool, &len);
    assert_string_equal(first, "r0");
    free(first);
    assert_int_equal(spool_writer_done(w, st.base, on_written, ticket(&st, 3)), 0);
    /* A worker's loop always has events; this one keeps the test's alive. */
    struct event *keep = event_new(st.base, -1, EV_PERSIST, keep_alive, NULL);
    struct timeval ten = {10, 0};
    event_add(keep, &ten);
    event_base_dispatch(st.base);
    event_free(keep);
    assert_false(st.wrong_thread);
    assert_false(st.cancelled);
    assert_int_equal(st.last_rc, SPOOL_OK);
    int want[] = {0, 1, 2, 3};
    assert_memory_equal(st.seen, want, sizeof want);
    /* Each append was in the spool when its callback ran. */
    assert_true(st.depth_at_callback[0] >= 1);
    assert_int_equal(st.depth_at_callback[3], 2);
    assert_int_equal(spool_writer_pending(w), 0);
    spool_writer_free(w);
    spool_free(st.spool);
    /* Durable: a new process finds the two records not done. */
    spool_t *again = spool_open(path, 1 << 20, 3600, err, sizeof err);
    assert_int_equal(spool_depth(again), 2);
    char *next = spool_next(again, &len);
    assert_string_equal(next, "r1");
    free(next);
    spool_free(again);
    event_base_free(st.base);
}

static void test_stop_delivers_cancelled(void **unused)
{
    (void)unused;
    char err[256];
    unlink(path);
    state_t st = {.loop_thread = pthread_self(), .want = 100};
    st.spool = spool_open(path, 1 << 20, 3600, err, sizeof err);
    st.base = event_base_new();
    spool_writer_t *w = spool_writer_new(st.spool);
    assert_int_equal(spool_writer_append(w, st.base, strdup("x"), 1, 100, 100, on_written, ticket(&st, 7)), 0);
    /* The loop never runs: stopping delivers it, cancelled, on this thread. */
    spool_writer_free(w);
    assert_int_equal(st.count, 1);
    assert_true(st.cancelled);
    assert_int_equal(spool_depth(st.spool), 1);
    spool_free(st.spool);
    event_base_free(st.base);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/spool", dir);
    unlink(path);
    char done[300];
    snprintf(done, sizeof done, "%s.done", path);
    unlink(done);
    return 0;
}

int main(void)
{
    evthread_use_pthreads();
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_appends_on_the_writer_thread, setup),
        cmocka_unit_test_setup(test_stop_delivers_cancelled, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
