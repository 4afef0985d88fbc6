#include "org_call.h"

#include <stdio.h>

#include "output.h"
#include "progress.h"
#include "reqbuild.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

int org_no_memory(const cli_t *cli)
{
    return cli_fail(cli, CODE(RESOURCE_EXHAUSTED), "out of memory");
}

int org_build(const cli_t *cli, const command_t *cmd, const char *op, const args_t *args,
              Branchline__V1__Request **req)
{
    char err[256];
    ProtobufCMessage *m = NULL;
    *req = reqbuild_new(op, &m);
    if (!*req)
        return org_no_memory(cli);
    reqbuild_rc_t rc = reqbuild_fill(cmd, args, m, err, sizeof err);
    if (rc == REQBUILD_OK)
        return 0;
    reqbuild_free(*req);
    *req = NULL;
    return rc == REQBUILD_INVALID ? cli_usage_error(cli, cmd, "%s", err) : org_no_memory(cli);
}

int org_check_columns(const cli_t *cli, const char *op)
{
    char err[512];
    if (output_check_columns(&cli->out, reqbuild_result_descriptor(op), err, sizeof err) < 0)
        return cli_usage_error(cli, NULL, "--columns: %s", err);
    return 0;
}

static void show_progress(void *arg, const Branchline__V1__Progress *p)
{
    progress_t *bar = arg;
    if (p)
        progress_update(bar, (uint64_t)p->done, (uint64_t)p->total, p->phase);
    else
        progress_tick(bar);
}

Branchline__V1__Response *org_call_progress(session_t *s, Branchline__V1__Request *req,
                                            const char *phase)
{
    progress_t bar;
    if (!phase)
        return blc_call(s->conn, req);
    progress_start(&bar, progress_terminal(), phase);
    /* Without a terminal nothing is drawn, so nothing needs waking. */
    Branchline__V1__Response *r =
        blc_call_progress(s->conn, req, bar.out ? 1000 / PROGRESS_HZ : 0, show_progress, &bar);
    progress_end(&bar);
    return r;
}

int org_exchange(const cli_t *cli, session_t *s, Branchline__V1__Request *req, const char *phase,
                 Branchline__V1__Response **resp, const ProtobufCMessage **result)
{
    Branchline__V1__Response *r = org_call_progress(s, req, phase);
    int rc = session_check(cli, s, r, (Branchline__V1__Response__ResultCase)req->op_case);
    if (rc == 0 && !(*result = reqbuild_result(r)))
        rc = cli_fail(cli, CODE(INTERNAL), "%s answered without a result", s->settings.server);
    if (rc != 0) {
        if (r)
            branchline__v1__response__free_unpacked(r, NULL);
        return rc;
    }
    *resp = r;
    return 0;
}

int org_run(const cli_t *given, const command_t *cmd, int argc, char **argv,
            org_present_fn present)
{
    cli_t view = command_cli(given, cmd);
    const cli_t *cli = &view;
    args_t args;
    session_t s;
    Branchline__V1__Request *req = NULL;
    Branchline__V1__Response *resp = NULL;
    const ProtobufCMessage *result = NULL;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = org_check_columns(cli, cmd->op);
    if (rc == 0)
        rc = org_build(cli, cmd, cmd->op, &args, &req);
    if (rc != 0)
        return rc;
    rc = session_open(cli, &s);
    if (rc == 0) {
        rc = org_exchange(cli, &s, req, cmd->progress, &resp, &result);
        if (rc == 0)
            rc = present(cli, req, result);
        session_close(&s);
    }
    if (resp)
        branchline__v1__response__free_unpacked(resp, NULL);
    reqbuild_free(req);
    return rc;
}

int org_present_result(const cli_t *cli, const Branchline__V1__Request *req,
                       const ProtobufCMessage *result)
{
    (void)req;
    return output_result(stdout, &cli->out, result) < 0 ? org_no_memory(cli) : 0;
}
