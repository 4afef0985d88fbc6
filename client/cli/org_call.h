/*
 * The generic life of a row-driven command: parse its arguments, build its
 * request from the row, check --columns against the result it will get,
 * connect, make the call, check the answer and hand the result message to
 * a presenter. cmd_org and cmd_unit_tree (cmd_org.c) and cmd_reorg_plan are
 * this with different presenters; cmd_reorg_apply chains the pieces.
 */
#ifndef BRANCHCTL_ORG_CALL_H
#define BRANCHCTL_ORG_CALL_H

#include "args.h"
#include "blclient.h"
#include "commands.h"
#include "session.h"

/* Prints a successful result of req; returns the exit code. */
typedef int (*org_present_fn)(const cli_t *cli, const Branchline__V1__Request *req,
                              const ProtobufCMessage *result);

/*
 * Parses the arguments against cmd's row, builds cmd->op's request, connects,
 * calls and presents the result. The row's default columns stand in for
 * --columns when it was not given.
 */
int org_run(const cli_t *cli, const command_t *cmd, int argc, char **argv, org_present_fn present);

/* Prints any result through its descriptor (output_result): the usual presenter. */
int org_present_result(const cli_t *cli, const Branchline__V1__Request *req,
                       const ProtobufCMessage *result);

/* The request for op from cmd's row and args. 0, or the printed error's exit code. */
int org_build(const cli_t *cli, const command_t *cmd, const char *op, const args_t *args,
              Branchline__V1__Request **req) __attribute__((warn_unused_result));

/* 0 when --columns fits op's result, else the usage error's exit code. */
int org_check_columns(const cli_t *cli, const char *op) __attribute__((warn_unused_result));

/*
 * Sends req on s and waits for its answer. 0 with the response in *resp
 * (free it) and its result message in *result; or the printed error's exit
 * code, with nothing to free. phase, unless NULL, labels a spinner on a
 * terminal while the daemon works (org_call_progress).
 */
int org_exchange(const cli_t *cli, session_t *s, Branchline__V1__Request *req, const char *phase,
                 Branchline__V1__Response **resp, const ProtobufCMessage **result)
    __attribute__((warn_unused_result));

/*
 * blc_call that shows, when stderr is a terminal, the Progress the daemon
 * sends as a bar, and until the first one (or when it sends none) a spinner
 * labelled phase with the seconds elapsed; erased before it returns.
 * phase NULL: no progress at all, exactly blc_call.
 */
Branchline__V1__Response *org_call_progress(session_t *s, Branchline__V1__Request *req,
                                            const char *phase) __attribute__((warn_unused_result));

/* An "out of memory" error's exit code. */
int org_no_memory(const cli_t *cli);

#endif
