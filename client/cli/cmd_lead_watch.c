/*
 * lead watch: one request answered by a server stream (PROTOCOL.md, "Server
 * streams"). The first answer only says the stream is open; every later one
 * carries a Lead and is printed at once. The wait has no time limit. SIGINT
 * and SIGTERM write to a pipe that ends the library's wait
 * (blc_set_wake_fd), without the race of a flag checked before blocking;
 * the watch is then cancelled (Request.cancel) and read to its last answer,
 * which must come within the usual timeout, with the signals' own actions
 * back, so a second Ctrl-C ends branchctl at once. A signal ignored when
 * branchctl started (a background job of a script) stays ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "org_call.h"
#include "output.h"
#include "reqbuild.h"
#include "session.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

/* Shared with the signal handler (a process runs one watch). */
static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = {-1, -1};

typedef struct {
    session_t s;
    uint64_t watch_id;
    uint64_t cancel_id;          /* 0 until the cancel is sent */
    int stop_timeout_ms;         /* how long the last answer may take after the cancel */
    int64_t cancel_deadline_ms;  /* when that time is up (CLOCK_MONOTONIC) */
    output_stream_t *out;
    struct sigaction old_int, old_term;
    bool catching;               /* the pipe is open, our handlers installed */
} watch_t;

static void on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    stop_requested = 1;
    if (write(wake_pipe[1], "", 1) < 0) {
        /* Full: a wake-up is pending already. */
    }
    errno = saved;
}

/* Catches sig unless it is ignored; *old is its action until then. */
static void catch_one(int sig, const struct sigaction *sa, struct sigaction *old)
{
    sigaction(sig, NULL, old);
    if (old->sa_handler != SIG_IGN)
        sigaction(sig, sa, NULL);
}

static int catch_signals(watch_t *w)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    catch_one(SIGINT, &sa, &w->old_int);
    catch_one(SIGTERM, &sa, &w->old_term);
    w->catching = true;
    blc_set_wake_fd(w->s.conn, wake_pipe[0]);
    return 0;
}

/* The signals' earlier actions back. */
static void release_signals(watch_t *w)
{
    if (!w->catching)
        return;
    sigaction(SIGINT, &w->old_int, NULL);
    sigaction(SIGTERM, &w->old_term, NULL);
    w->catching = false;
    blc_set_wake_fd(w->s.conn, -1);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
}

/* 0 when r is a successful answer, else the printed error's exit code. */
static int check(const cli_t *cli, const watch_t *w, const Branchline__V1__Response *r)
{
    if (!r || (r->status && r->status->code != CODE(OK)))
        return session_check(cli, &w->s, r, BRANCHLINE__V1__RESPONSE__RESULT_LEAD_WATCH);
    return 0;
}

/* Prints the lead r carries, if any (the first answer carries none). */
static int print_lead(const cli_t *cli, watch_t *w, const Branchline__V1__Response *r)
{
    if (r->result_case != BRANCHLINE__V1__RESPONSE__RESULT_LEAD_WATCH || !r->lead_watch)
        return 0;
    if (output_stream_row(stdout, w->out, &r->lead_watch->base) < 0)
        return org_no_memory(cli);
    if (fflush(stdout) != 0)
        return cli_fail(cli, CODE(INTERNAL), "cannot write the output: %s", strerror(errno));
    return 0;
}

/* Sends the watch and waits, with the usual timeout, for the answer that opens it. */
static int open_stream(const cli_t *cli, watch_t *w, Branchline__V1__Request *req, bool *ended)
{
    Branchline__V1__Response *r = blc_call(w->s.conn, req);
    int rc = check(cli, w, r);
    w->watch_id = req->id;
    if (rc == 0)
        rc = print_lead(cli, w, r);
    *ended = rc != 0 || !r->more;
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    return rc;
}

static int send_cancel(const cli_t *cli, watch_t *w)
{
    Branchline__V1__CancelRequest cancel = BRANCHLINE__V1__CANCEL_REQUEST__INIT;
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    w->stop_timeout_ms = w->s.settings.timeout_ms ? w->s.settings.timeout_ms
                                                  : BLC_DEFAULT_TIMEOUT_MS;
    w->cancel_deadline_ms = blc_now_ms() + w->stop_timeout_ms;
    release_signals(w);
    blc_set_timeout(w->s.conn, w->stop_timeout_ms);
    cancel.target_id = w->watch_id;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_CANCEL;
    req.cancel = &cancel;
    if (blc_send(w->s.conn, &req) < 0)
        return session_check(cli, &w->s, NULL, BRANCHLINE__V1__RESPONSE__RESULT_CANCEL);
    w->cancel_id = req.id;
    return 0;
}

/* Handles one answer of the stream; *ended once it was the last. */
static int take_answer(const cli_t *cli, watch_t *w, const Branchline__V1__Response *r,
                       bool *ended)
{
    if (r->id == w->cancel_id && w->cancel_id)
        return 0;  /* found or not, the stream's own last answer follows or came */
    if (r->id != w->watch_id && r->id != 0)
        return cli_fail(cli, CODE(INTERNAL), "%s sent an unexpected answer for id %llu",
                        w->s.settings.server, (unsigned long long)r->id);
    *ended = !r->more || r->id == 0;
    /* Our own cancel ends the stream with CANCELLED: that is success. */
    if (w->cancel_id && r->status && r->status->code == CODE(CANCELLED))
        return 0;
    int rc = check(cli, w, r);
    return rc ? rc : print_lead(cli, w, r);
}

/* After the cancel, each wait may take what is left of the time for the stream's last answer. */
static int limit_stop(const cli_t *cli, watch_t *w)
{
    int64_t left = w->cancel_deadline_ms - blc_now_ms();
    if (left <= 0)
        return cli_fail(cli, CODE(DEADLINE_EXCEEDED), "%s did not end the watch within %d ms "
                        "of its cancel", w->s.settings.server, w->stop_timeout_ms);
    blc_set_timeout(w->s.conn, (int)left);
    return 0;
}

static int follow(const cli_t *cli, watch_t *w)
{
    bool ended = false;
    int rc = 0;
    while (rc == 0 && !ended) {
        if (stop_requested && !w->cancel_id) {
            rc = send_cancel(cli, w);
            continue;
        }
        if (w->cancel_id && (rc = limit_stop(cli, w)) != 0)
            break;
        Branchline__V1__Response *r = blc_recv(w->s.conn);
        if (!r && blc_error_code(w->s.conn) == CODE(CANCELLED))
            continue;  /* woken by a signal */
        if (!r && w->cancel_id && blc_error_code(w->s.conn) == CODE(DEADLINE_EXCEEDED))
            continue;  /* limit_stop reports it */
        rc = r ? take_answer(cli, w, r, &ended) : check(cli, w, NULL);
        if (r)
            branchline__v1__response__free_unpacked(r, NULL);
    }
    return rc;
}

static void say_watching(const char *branch)
{
    if (!isatty(STDERR_FILENO))
        return;
    if (branch)
        fprintf(stderr, "watching leads of %s (Ctrl-C to stop)...\n", branch);
    else
        fprintf(stderr, "watching the leads in your scope (Ctrl-C to stop)...\n");
}

int cmd_lead_watch(const cli_t *given, const command_t *cmd, int argc, char **argv)
{
    cli_t view = command_cli(given, cmd);
    const cli_t *cli = &view;
    watch_t w = {0};
    Branchline__V1__Request *req = NULL;
    args_t args;
    bool ended = false;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = org_check_columns(cli, cmd->op);
    if (rc == 0)
        rc = org_build(cli, cmd, cmd->op, &args, &req);
    if (rc == 0 && !(w.out = output_stream_new(&cli->out, reqbuild_result_descriptor(cmd->op))))
        rc = org_no_memory(cli);
    if (rc == 0 && (rc = session_open(cli, &w.s)) == 0) {
        rc = open_stream(cli, &w, req, &ended);
        if (rc == 0 && !ended && catch_signals(&w) < 0)
            rc = cli_fail(cli, CODE(INTERNAL), "cannot make a pipe: %s", strerror(errno));
        if (rc == 0 && !ended) {
            say_watching(args_get(cmd, &args, "--branch"));
            blc_set_timeout(w.s.conn, BLC_NO_TIMEOUT);
            rc = follow(cli, &w);
        }
        release_signals(&w);
        session_close(&w.s);
    }
    output_stream_free(w.out);
    reqbuild_free(req);
    return rc;
}
