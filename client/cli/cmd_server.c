#include <stdlib.h>

#include "commands.h"
#include "session.h"

int cmd_server_info(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    if (argc > 0)
        return cli_usage_error(cli, cmd, "unexpected argument '%s'", argv[0]);
    session_t s;
    int rc = session_open(cli, &s);
    if (rc != 0)
        return rc;
    Branchline__V1__ServerInfoRequest info = BRANCHLINE__V1__SERVER_INFO_REQUEST__INIT;
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_SERVER_INFO;
    req.server_info = &info;
    Branchline__V1__Response *r = blc_call(s.conn, &req);
    rc = session_check(cli, &s, r, BRANCHLINE__V1__RESPONSE__RESULT_SERVER_INFO);
    if (rc == 0 && output_server_info(cli->format, r->server_info) < 0)
        rc = cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    session_close(&s);
    return rc;
}
