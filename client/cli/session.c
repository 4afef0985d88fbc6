#include "session.h"

#include <string.h>

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

int session_open(const cli_t *cli, session_t *s)
{
    char err[512];
    memset(s, 0, sizeof *s);
    if (settings_resolve(&s->settings, &cli->flags, err, sizeof err) < 0)
        return cli_usage_error(cli, NULL, "%s", err);
    blc_options_t opts = {
        .server = s->settings.server,
        .ca_file = s->settings.ca,
        .cert_file = s->settings.cert,
        .key_file = s->settings.key,
        .timeout_ms = s->settings.timeout_ms,
        .session_dir = s->settings.session_dir,
    };
    s->conn = blc_connect(&opts, err, sizeof err);
    if (!s->conn) {
        settings_release(&s->settings);
        return cli_fail(cli, CODE(UNAVAILABLE), "%s", err);
    }
    return 0;
}

void session_close(session_t *s)
{
    blc_free(s->conn);
    s->conn = NULL;
    settings_release(&s->settings);
}

int session_check(const cli_t *cli, const session_t *s, const Branchline__V1__Response *r,
                  Branchline__V1__Response__ResultCase want)
{
    if (!r)
        return cli_fail(cli, blc_error_code(s->conn), "%s: %s", s->settings.server,
                        blc_error(s->conn));
    const Branchline__V1__Status *st = r->status;
    if (st && st->code != CODE(OK)) {
        output_error(&cli->out, st->code, st->message, st->field);
        return blc_exit_code(st->code);
    }
    if (r->result_case != want)
        return cli_fail(cli, CODE(INTERNAL), "%s answered request %llu with result %d, not %d",
                        s->settings.server, (unsigned long long)r->id, (int)r->result_case,
                        (int)want);
    return 0;
}
