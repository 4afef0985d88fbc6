#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "session.h"

#define PING_COUNT_MAX 1000000L
#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

typedef struct {
    int64_t sent_ns;
    bool answered;
} ping_slot_t;

typedef struct {
    ping_slot_t *slots;
    long count;
    uint64_t first_id;  /* pings carry ids first_id, first_id + 1, ... */
    int64_t start_ns;
    double rtt_sum_ms;
    uint32_t delay_ms;
    ping_summary_t summary;
} ping_run_t;

/* Each ping carries its id, so a mixed-up answer is noticed. */
static void put_payload(uint8_t out[8], uint64_t id)
{
    for (int i = 7; i >= 0; i--, id >>= 8)
        out[i] = (uint8_t)id;
}

static int parse_args(const cli_t *cli, const command_t *cmd, int argc, char **argv,
                      long long *count, long long *delay_ms)
{
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = args_get_integer(cli, cmd, &args, "--count", 1, PING_COUNT_MAX, 1, count);
    /* The daemon enforces its own limit (10000) and names the field. */
    if (rc == 0)
        rc = args_get_integer(cli, cmd, &args, "--delay", 0, UINT32_MAX, 0, delay_ms);
    return rc;
}

static int send_all(const cli_t *cli, session_t *s, ping_run_t *run)
{
    run->start_ns = blc_now_ns();
    for (long i = 0; i < run->count; i++) {
        uint8_t payload[8];
        Branchline__V1__PingRequest ping = BRANCHLINE__V1__PING_REQUEST__INIT;
        Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
        req.id = blc_next_id(s->conn);
        if (i == 0)
            run->first_id = req.id;
        put_payload(payload, req.id);
        ping.payload.data = payload;
        ping.payload.len = sizeof payload;
        ping.delay_ms = run->delay_ms;
        req.op_case = BRANCHLINE__V1__REQUEST__OP_PING;
        req.ping = &ping;
        run->slots[i].sent_ns = blc_now_ns();
        if (blc_send(s->conn, &req) < 0)
            return session_check(cli, s, NULL, BRANCHLINE__V1__RESPONSE__RESULT_PING);
    }
    return 0;
}

static int record(const cli_t *cli, const session_t *s, ping_run_t *run,
                  const Branchline__V1__Response *r)
{
    uint64_t index = r->id - run->first_id;
    uint8_t expect[8];
    if (r->id < run->first_id || index >= (uint64_t)run->count || run->slots[index].answered)
        return cli_fail(cli, CODE(INTERNAL), "%s sent an unexpected answer for id %llu",
                        s->settings.server, (unsigned long long)r->id);
    put_payload(expect, r->id);
    if (r->ping->payload.len != sizeof expect || memcmp(r->ping->payload.data, expect, 8) != 0)
        return cli_fail(cli, CODE(INTERNAL), "%s echoed a wrong payload for ping %llu",
                        s->settings.server, (unsigned long long)r->id);
    int64_t now = blc_now_ns();
    double rtt = (double)(now - run->slots[index].sent_ns) / 1e6;
    ping_summary_t *sum = &run->summary;
    run->slots[index].answered = true;
    if (sum->answered == 0 || rtt < sum->rtt_min_ms)
        sum->rtt_min_ms = rtt;
    if (rtt > sum->rtt_max_ms)
        sum->rtt_max_ms = rtt;
    run->rtt_sum_ms += rtt;
    sum->answered++;
    sum->rtt_avg_ms = run->rtt_sum_ms / (double)sum->answered;
    sum->total_ms = (double)(now - run->start_ns) / 1e6;
    sum->server_time_unix_ms = r->ping->server_time_unix_ms;
    return 0;
}

static int receive_all(const cli_t *cli, session_t *s, ping_run_t *run)
{
    while (run->summary.answered < run->summary.sent) {
        Branchline__V1__Response *r = blc_recv(s->conn);
        int rc = session_check(cli, s, r, BRANCHLINE__V1__RESPONSE__RESULT_PING);
        if (rc == 0)
            rc = record(cli, s, run, r);
        if (r)
            branchline__v1__response__free_unpacked(r, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cmd_ping(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    ping_run_t run = {0};
    session_t s = {0};
    long long count, delay_ms;
    int rc = parse_args(cli, cmd, argc, argv, &count, &delay_ms);
    if (rc != 0)
        return rc;
    run.count = (long)count;
    run.delay_ms = (uint32_t)delay_ms;
    run.slots = calloc((size_t)run.count, sizeof *run.slots);
    if (!run.slots)
        return cli_fail(cli, CODE(RESOURCE_EXHAUSTED), "out of memory");
    rc = session_open(cli, &s);
    if (rc != 0)
        goto out;
    run.summary.server = s.settings.server;
    run.summary.sent = (uint64_t)run.count;
    rc = send_all(cli, &s, &run);
    if (rc == 0)
        rc = receive_all(cli, &s, &run);
    if (rc == 0 && output_ping(cli->out.format, &run.summary) < 0)
        rc = cli_fail(cli, CODE(RESOURCE_EXHAUSTED), "out of memory");
    session_close(&s);
out:
    free(run.slots);
    return rc;
}
