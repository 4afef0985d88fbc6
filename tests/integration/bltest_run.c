/*
 * Runs a shell scenario against a fresh database and a real branchd:
 *
 *   bltest_run SCRIPT [--two-daemons | --intake | --read-pool] [OPTION=VALUE ...]
 *
 * With --two-daemons a second branchd serves the same database, on
 * BLTEST_PORT2 (log BLTEST_DAEMON_LOG2): for what several daemons share.
 * With --read-pool the daemon also has a read pool (db_read_conninfo) on
 * the same database with application_name=branchd_read, and the second
 * daemon (BLTEST_PORT2, BLTEST_HTTP_PORT2) one whose server never answers.
 * With --intake the daemon serves web intake (BLTEST_INTAKE_PORT) with a
 * spool. Each OPTION=VALUE is one more line of the daemon's configuration.
 * The script sees BRANCHCTL, BRANCHD, BLTEST_CERTS, BLTEST_ADMIN_CONNINFO
 * (superuser), BLTEST_OWNER_CONNINFO (branchline_owner), BLTEST_APP_CONNINFO,
 * BLTEST_PORT, BLTEST_HTTP_PORT (the daemon's HTTP listener: /metrics,
 * /livez, /readyz) and BRANCHLINE_SERVER/BRANCHLINE_CA, and sources
 * tests/integration/lib.sh for its helpers. CN=carol is bootstrapped as the
 * platform operator (by branchline_owner, as `branchd bootstrap-operator`
 * with migrate_conninfo). On failure the daemon's log is printed.
 */
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static void export_env(const fx_t *fx)
{
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char buf[512];
    setenv("BRANCHCTL", fx_bin("BRANCHCTL_BIN"), 1);
    setenv("BRANCHD", fx_bin("BRANCHD_BIN"), 1);
    setenv("BLTEST_CERTS", certs, 1);
    setenv("BLTEST_ADMIN_CONNINFO", fx->admin_conninfo, 1);
    setenv("BLTEST_APP_CONNINFO", fx->app_conninfo, 1);
    setenv("BLTEST_OWNER_CONNINFO", fx->owner_conninfo, 1);
    snprintf(buf, sizeof buf, "%d", fx->port);
    setenv("BLTEST_PORT", buf, 1);
    snprintf(buf, sizeof buf, "127.0.0.1:%d", fx->port);
    setenv("BRANCHLINE_SERVER", buf, 1);
    snprintf(buf, sizeof buf, "%s/ca.crt", certs);
    setenv("BRANCHLINE_CA", buf, 1);
    setenv("BLTEST_DAEMON_LOG", fx->log_path, 1);
    setenv("BLTEST_DIR", fx->dir, 1);
    /* branchctl keeps TLS sessions beside its configuration: the test's own. */
    snprintf(buf, sizeof buf, "%s/xdg", fx->dir);
    setenv("XDG_CONFIG_HOME", buf, 1);
    snprintf(buf, sizeof buf, "%s/intake.port", fx->dir);
    FILE *f = fopen(buf, "r");
    int intake_port = 0;
    if (f && fscanf(f, "%d", &intake_port) == 1) {
        snprintf(buf, sizeof buf, "%d", intake_port);
        setenv("BLTEST_INTAKE_PORT", buf, 1);
    }
    if (f)
        fclose(f);
    snprintf(buf, sizeof buf, "%s/http.port", fx->dir);
    f = fopen(buf, "r");
    int http_port = 0;
    if (f && fscanf(f, "%d", &http_port) == 1) {
        snprintf(buf, sizeof buf, "%d", http_port);
        setenv("BLTEST_HTTP_PORT", buf, 1);
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bltest_run SCRIPT [--two-daemons | --intake | --read-pool] [OPTION=VALUE ...]\n");
        return 2;
    }
    bool read_pool = argc > 2 && strcmp(argv[2], "--read-pool") == 0;
    bool two = read_pool || (argc > 2 && strcmp(argv[2], "--two-daemons") == 0);
    bool web = argc > 2 && strcmp(argv[2], "--intake") == 0;
    char options[1024] = "";
    for (int i = 2; i < argc; i++)
        if (strchr(argv[i], '='))
            snprintf(options + strlen(options), sizeof options - strlen(options), "%s\n", argv[i]);
    char script_copy[1024];
    snprintf(script_copy, sizeof script_copy, "%s", argv[1]);
    char name[64];
    snprintf(name, sizeof name, "%s", basename(script_copy));
    for (char *p = name; *p; p++)
        if (*p == '.' || *p == '-')
            *p = '_';
    fx_t fx, fx2;
    int rc = 1;
    memset(&fx2, 0, sizeof fx2);
    /* Sweeps often, so scenarios about overdue leads need not wait; the
     * HTTP listener on a free port, for scenarios about it. */
    char extra[1024];
    if (fx_init(&fx, name, false) != 0)
        goto out;
    snprintf(extra, sizeof extra, "sweep_interval_ms = 300\nhttp_port = 0\nhttp_port_file = %s/http.port\n",
             fx.dir);
    /* The public web intake listener on a free port, with a spool. */
    if (web)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "intake_port = 0\nintake_port_file = %s/intake.port\nintake_spool_path = %s/intake.spool\n",
                 fx.dir, fx.dir);
    if (read_pool)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "db_read_conninfo = %s application_name=branchd_read\n", fx.app_conninfo);
    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%s", options);
    if (fx_start(&fx, extra) != 0)
        goto out;
    if (two) {
        if (fx_init_sibling(&fx2, &fx, "second") != 0)
            goto out;
        snprintf(extra, sizeof extra, "sweep_interval_ms = 300\nhttp_port = 0\nhttp_port_file = %s/http.port\n",
                 fx2.dir);
        /* Port 1 on loopback: refused at once, again and again. */
        if (read_pool)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                     "db_read_conninfo = host=127.0.0.1 port=1 user=branchd dbname=none\n");
        if (fx_start(&fx2, extra) != 0)
            goto out;
        char buf[320];
        snprintf(buf, sizeof buf, "%d", fx2.port);
        setenv("BLTEST_PORT2", buf, 1);
        snprintf(buf, sizeof buf, "%s/http.port", fx2.dir);
        FILE *hp = fopen(buf, "r");
        int http_port2 = 0;
        if (hp && fscanf(hp, "%d", &http_port2) == 1) {
            snprintf(buf, sizeof buf, "%d", http_port2);
            setenv("BLTEST_HTTP_PORT2", buf, 1);
        }
        if (hp)
            fclose(hp);
        setenv("BLTEST_DAEMON_LOG2", fx2.log_path, 1);
    }
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' bootstrap-operator --subject CN=carol --conninfo '%s'",
             fx_bin("BRANCHD_BIN"), fx.owner_conninfo);
    if (fx_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bltest_run: bootstrap-operator failed: %s\n", out);
        goto out;
    }
    export_env(&fx);
    snprintf(cmd, sizeof cmd, "bash -eu -o pipefail '%s'", argv[1]);
    int st = system(cmd);
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc != 0)
        fprintf(stderr, "bltest_run: %s failed with status %d\n", argv[1], rc);
out:
    if (two && fx_cleanup(&fx2, rc != 0) != 0 && rc == 0)
        rc = 1;
    if (fx_cleanup(&fx, rc != 0) != 0 && rc == 0)
        rc = 1;
    return rc;
}
