/*
 * The daemon's life: migrations, refusing an old schema, draining on
 * SIGTERM, and riding out a database outage. Runs serially (it stops the
 * shared PostgreSQL for a moment).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "migrations.h"

#define CODE(r) ((r)->status ? (int)(r)->status->code : 0)

static fx_t daemon_fx;

static blc_t *connect_ok(fx_t *fx)
{
    char err[512];
    blc_t *c = fx_connect(fx, "alice", err, sizeof err);
    if (!c)
        fail_msg("connect: %s", err);
    return c;
}

static Branchline__V1__Response *server_info(blc_t *c)
{
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__ServerInfoRequest info = BRANCHLINE__V1__SERVER_INFO_REQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_SERVER_INFO;
    req.server_info = &info;
    return blc_call(c, &req);
}

static void test_migrate_twice_is_a_noop(void **state)
{
    (void)state;
    fx_t *fx = &daemon_fx;
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' migrate --conninfo '%s'", fx_bin("BRANCHD_BIN"), fx->owner_conninfo);
    assert_int_equal(fx_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "0 migration(s) applied"));
    assert_int_equal(fx_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "0 migration(s) applied"));
}

static void test_refuses_to_serve_an_old_schema(void **state)
{
    (void)state;
    fx_t empty;
    assert_int_equal(fx_init(&empty, "oldschema", true), 0);
    assert_int_not_equal(fx_start(&empty, NULL), 0);
    bool said_why = fx_log_contains(&empty, "reason=schema_too_old");
    fx_cleanup(&empty, !said_why);
    assert_true(said_why);
}

/* A migration numbered below the newest one (added later) still counts. */
static void test_refuses_a_schema_missing_a_middle_migration(void **state)
{
    (void)state;
    fx_t gap;
    assert_int_equal(fx_init(&gap, "gapschema", false), 0);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM schema_migrations WHERE version = %d",
             migrations[migrations_count / 2].version);
    assert_int_equal(fx_sql(&gap, sql), 0);
    assert_int_not_equal(fx_start(&gap, NULL), 0);
    bool said_why = fx_log_contains(&gap, "reason=schema_too_old");
    fx_cleanup(&gap, !said_why);
    assert_true(said_why);
}

/* A dry run says what it would apply and changes nothing: a daemon still
 * finds the database empty. */
static void test_migrate_dry_run_changes_nothing(void **state)
{
    (void)state;
    fx_t empty;
    assert_int_equal(fx_init(&empty, "dryrun", true), 0);
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' migrate --dry-run --conninfo '%s'", fx_bin("BRANCHD_BIN"),
             empty.owner_conninfo);
    int rc = fx_run(cmd, out, sizeof out);
    char want[128];
    snprintf(want, sizeof want, "would apply %s\n", migrations[migrations_count - 1].name);
    bool planned = rc == 0 && strstr(out, "would apply 001_base\n") && strstr(out, want) &&
                   strstr(out, "re-create it from") && strstr(out, "nothing was changed");
    bool refused = fx_start(&empty, NULL) != 0 && fx_log_contains(&empty, "reason=schema_too_old");
    fx_cleanup(&empty, !refused);
    if (!planned)
        fail_msg("dry run exited %d: %s", rc, out);
    assert_true(refused);
}

/* A database migrated by a newer branchd is left alone. */
static void test_migrate_refuses_a_newer_schema(void **state)
{
    (void)state;
    fx_t newer;
    assert_int_equal(fx_init(&newer, "newerschema", false), 0);
    char sql[256], cmd[2048], out[4096];
    snprintf(sql, sizeof sql, "INSERT INTO schema_migrations (version, name) VALUES (%d, 'from_the_future')",
             migrations[migrations_count - 1].version + 1);
    assert_int_equal(fx_sql(&newer, sql), 0);
    snprintf(cmd, sizeof cmd, "'%s' migrate --conninfo '%s'", fx_bin("BRANCHD_BIN"), newer.owner_conninfo);
    int rc = fx_run(cmd, out, sizeof out);
    fx_cleanup(&newer, false);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "newer than this branchd knows"));
}

static void test_sigterm_answers_inflight_requests(void **state)
{
    (void)state;
    fx_t *fx = &daemon_fx;
    enum { N = 5 };
    blc_t *c = connect_ok(fx);
    for (int i = 0; i < N; i++) {
        Branchline__V1__Request req;
        Branchline__V1__PingRequest ping;
        fx_ping_init(&req, &ping, 800);
        assert_int_equal(blc_send(c, &req), 0);
    }
    usleep(200 * 1000); /* let the daemon read them */
    long long t0 = fx_now_ms();
    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(c);
        assert_non_null(r);
        assert_int_equal(CODE(r), 0);
        assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_PING);
        branchline__v1__response__free_unpacked(r, NULL);
    }
    assert_true(fx_now_ms() - t0 >= 400); /* answered after their delay, not cut short */
    assert_int_equal(fx_stop(fx, SIGTERM, 10000), 0);
    assert_true(fx_log_contains(fx, "event=stopped"));
    blc_free(c);
}

static void pgctl(const char *action)
{
    char cmd[2048], out[4096];
    const char *script = getenv("BRANCHLINE_TEST_PGCTL");
    assert_non_null(script);
    snprintf(cmd, sizeof cmd, "'%s' %s", script, action);
    if (fx_run(cmd, out, sizeof out) != 0)
        fail_msg("pgctl %s failed: %s", action, out);
}

static void test_database_outage_unavailable_then_recovers(void **state)
{
    (void)state;
    fx_t *fx = &daemon_fx;
    if (fx->pid == 0)
        assert_int_equal(fx_start(fx, NULL), 0);
    blc_t *c = connect_ok(fx);
    Branchline__V1__Response *r = server_info(c);
    assert_non_null(r);
    assert_true(r->server_info->database_reachable);
    branchline__v1__response__free_unpacked(r, NULL);

    pgctl("stop");
    usleep(300 * 1000);
    long long t0 = fx_now_ms();
    r = server_info(c);
    assert_non_null(r);
    assert_int_equal(CODE(r), 0);
    assert_false(r->server_info->database_reachable);
    assert_int_equal(r->server_info->schema_version, -1);
    branchline__v1__response__free_unpacked(r, NULL);

    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__WhoAmIRequest who = BRANCHLINE__V1__WHO_AM_IREQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_WHOAMI;
    req.whoami = &who;
    r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE);
    branchline__v1__response__free_unpacked(r, NULL);
    assert_true(fx_now_ms() - t0 < 2000); /* promptly, not after a timeout */

    pgctl("start");
    bool back = false;
    for (long long end = fx_now_ms() + 30000; !back && fx_now_ms() < end;) {
        r = server_info(c);
        assert_non_null(r);
        back = r->server_info->database_reachable;
        branchline__v1__response__free_unpacked(r, NULL);
        if (!back)
            usleep(200 * 1000);
    }
    assert_true(back);
    blc_free(c);
}

int main(void)
{
    /* The SIGTERM test ends the daemon, so it runs last. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice_is_a_noop),
        cmocka_unit_test(test_refuses_to_serve_an_old_schema),
        cmocka_unit_test(test_refuses_a_schema_missing_a_middle_migration),
        cmocka_unit_test(test_migrate_dry_run_changes_nothing),
        cmocka_unit_test(test_migrate_refuses_a_newer_schema),
        cmocka_unit_test(test_database_outage_unavailable_then_recovers),
        cmocka_unit_test(test_sigterm_answers_inflight_requests),
    };
    if (fx_init(&daemon_fx, "lifecycle", false) != 0 ||
        fx_start(&daemon_fx, "shutdown_timeout_ms = 5000\n") != 0) {
        fx_cleanup(&daemon_fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
    failed += fx_cleanup(&daemon_fx, failed != 0);
    return failed;
}
