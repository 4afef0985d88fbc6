/*
 * reorg plan prints the plan (its -o json output is the plan file); reorg
 * apply sends a plan file, or with --yes plans and applies in two calls on
 * one connection, so what is applied is exactly what was just planned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "org_call.h"
#include "output.h"
#include "readfile.h"
#include "reqbuild.h"

static int present_plan(const cli_t *cli, const Branchline__V1__Request *req,
                        const ProtobufCMessage *result)
{
    (void)req;
    const Branchline__V1__ReorgPlan *plan = (const Branchline__V1__ReorgPlan *)result;
    return output_reorg_plan(stdout, &cli->out, plan) < 0 ? org_no_memory(cli) : 0;
}

int cmd_reorg_plan(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    return org_run(cli, cmd, argc, argv, present_plan);
}

/* PLANFILE ("-": standard input) into *text. 0, or the usage error's exit code. */
static int read_plan(const cli_t *cli, const command_t *cmd, const char *path, char **text)
{
    size_t len;
    *text = readfile_all(path, &len);
    if (!*text)
        return cli_usage_error(cli, cmd, "cannot read PLANFILE %s: %s", path, strerror(errno));
    if (!(*text)[0]) {
        free(*text);
        return cli_usage_error(cli, cmd, "PLANFILE %s is empty", path);
    }
    return 0;
}

/* Sends plan_json to reorg_apply and prints the result (after plan's summary, if any). */
static int apply(const cli_t *cli, session_t *s, const char *plan_json,
                 const Branchline__V1__ReorgPlan *plan)
{
    char err[256];
    ProtobufCMessage *m = NULL;
    Branchline__V1__Response *resp = NULL;
    const ProtobufCMessage *result = NULL;
    Branchline__V1__Request *req = reqbuild_new("reorg_apply", &m);
    if (!req || reqbuild_set(m, "plan_json", plan_json, "PLANFILE", err, sizeof err) != REQBUILD_OK) {
        reqbuild_free(req);
        return org_no_memory(cli);
    }
    int rc = org_exchange(cli, s, req, NULL, &resp, &result);
    if (rc == 0 && output_reorg_applied(stdout, &cli->out, plan, result) < 0)
        rc = org_no_memory(cli);
    if (resp)
        branchline__v1__response__free_unpacked(resp, NULL);
    reqbuild_free(req);
    return rc;
}

/* reorg plan's flags with the plan's own request, then apply what came back. */
static int plan_and_apply(const cli_t *cli, const command_t *cmd, const args_t *args,
                          session_t *s)
{
    Branchline__V1__Request *req = NULL;
    Branchline__V1__Response *resp = NULL;
    const ProtobufCMessage *result = NULL;
    int rc = org_build(cli, cmd, "reorg_plan", args, &req);
    if (rc == 0)
        rc = org_exchange(cli, s, req, NULL, &resp, &result);
    if (rc == 0) {
        const Branchline__V1__ReorgPlan *plan = (const Branchline__V1__ReorgPlan *)result;
        rc = apply(cli, s, plan->plan_json, plan);
    }
    if (resp)
        branchline__v1__response__free_unpacked(resp, NULL);
    reqbuild_free(req);
    return rc;
}

/* PLANFILE goes alone; planning and applying in one step needs --yes. */
static int check_apply_args(const cli_t *cli, const command_t *cmd, const args_t *args)
{
    if (!args_get(cmd, args, "PLANFILE")) {
        if (!args_get(cmd, args, "--yes"))
            return cli_usage_error(cli, cmd, "planning and applying in one step needs --yes "
                                   "(or apply a PLANFILE from reorg plan -o json)");
        return 0;
    }
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
        if (cmd->params[i].field && args->values[i])
            return cli_usage_error(cli, cmd, "PLANFILE and %s cannot be combined",
                                   cmd->params[i].name);
    return 0;
}

int cmd_reorg_apply(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    args_t args;
    session_t s;
    char *plan_json = NULL;
    const char *path;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = check_apply_args(cli, cmd, &args);
    if (rc == 0)
        rc = org_check_columns(cli, "reorg_apply");
    if (rc == 0 && (path = args_get(cmd, &args, "PLANFILE")))
        rc = read_plan(cli, cmd, path, &plan_json);
    if (rc != 0)
        return rc;
    rc = session_open(cli, &s);
    if (rc == 0) {
        rc = plan_json ? apply(cli, &s, plan_json, NULL) : plan_and_apply(cli, cmd, &args, &s);
        session_close(&s);
    }
    free(plan_json);
    return rc;
}
