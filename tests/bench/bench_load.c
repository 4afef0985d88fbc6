#include "bench_load.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cpu.h"
#include "status.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name
#define SLOT_BITS 16
#define POLL_MS 10

enum { PHASE_CONNECT, PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

typedef struct {
    uint64_t start_ns;
    int items;
    bool busy;
    bool in_window;      /* sent during the measured window */
} slot_t;

typedef struct {
    blc_t *c;
    int index;
    int outstanding;
    uint64_t seq;
    bool check;          /* read it: answers may wait in the library's buffer */
    slot_t *slots;
    int *free_slots;
    int nfree;
} bconn_t;

typedef struct {
    const load_config_t *cfg;
    int wake_fd;                    /* always readable: blc_recv never waits */
    atomic_int phase;
    atomic_llong budget;            /* requests left to send (requests mode) */
    atomic_bool failed;
    atomic_int connected;           /* workers done connecting */
} shared_t;

typedef struct {
    shared_t *sh;
    int index;
    bconn_t *conns;
    int n;
    int live;
    struct pollfd *pfds;
    int *pfd_conn;
    scen_scratch_t *scratch;
    uint64_t rng;
    uint64_t last_answer_ns;
    uint64_t drain_deadline_ns;      /* set once sending has ended */
    load_result_t res;
    pthread_t tid;
} worker_t;

uint64_t load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int phase(const worker_t *w)
{
    return atomic_load_explicit(&w->sh->phase, memory_order_acquire);
}

static void conn_close(worker_t *w, bconn_t *bc, const char *why)
{
    if (!bc->c)
        return;
    if (why && !w->res.conn_error[0])
        snprintf(w->res.conn_error, sizeof w->res.conn_error, "connection %d: %s", bc->index, why);
    w->res.lost += (uint64_t)bc->outstanding;
    bc->outstanding = 0;
    blc_free(bc->c);
    bc->c = NULL;
    w->live--;
}

static bool may_send(worker_t *w)
{
    int ph = phase(w);
    if (ph == PHASE_STOP)
        return false;
    if (w->sh->cfg->requests == 0 || ph == PHASE_WARMUP)
        return true;
    return atomic_fetch_sub(&w->sh->budget, 1) > 0;
}

/* Queues one request; now: the send time of the batch it leaves in. */
static void send_one(worker_t *w, bconn_t *bc, uint64_t now)
{
    const load_config_t *cfg = w->sh->cfg;
    char uid[64] = "";
    int items, slot = bc->free_slots[--bc->nfree];
    bc->seq++;
    if (scen_uses_uid(cfg->kind))
        snprintf(uid, sizeof uid, "%d-%d-%llu", w->index, bc->index, (unsigned long long)bc->seq);
    Branchline__V1__Request *req = scen_build(w->scratch, cfg->kind, cfg->params, &w->rng, uid, &items);
    req->id = (bc->seq << SLOT_BITS) | (uint64_t)(slot + 1);
    bc->slots[slot] = (slot_t){now, items, true, phase(w) == PHASE_MEASURE};
    bc->outstanding++;
    bc->check = true;
    if (blc_queue(bc->c, req) < 0)
        conn_close(w, bc, blc_error(bc->c));
}

/* Fills each connection's pipeline; the new requests leave in one write. */
static void top_up(worker_t *w)
{
    for (int i = 0; i < w->n; i++) {
        bconn_t *bc = &w->conns[i];
        uint64_t now = 0;
        while (bc->c && bc->outstanding < w->sh->cfg->depth && may_send(w)) {
            if (!now)
                now = load_now_ns();
            send_one(w, bc, now);
        }
        if (now && bc->c && blc_flush(bc->c) < 0)
            conn_close(w, bc, blc_error(bc->c));
    }
}

static uint64_t rejected_rows(const Branchline__V1__Response *r)
{
    uint64_t n = 0;
    if (r->result_case != BRANCHLINE__V1__RESPONSE__RESULT_LEAD_IMPORT || !r->lead_import)
        return 0;
    for (size_t i = 0; i < r->lead_import->n_items; i++)
        n += strcmp(r->lead_import->items[i]->result, "rejected") == 0;
    return n;
}

static void account(worker_t *w, const Branchline__V1__Response *r, const slot_t *s, uint64_t now)
{
    load_result_t *res = &w->res;
    int code = r->status ? (int)r->status->code : 0;
    if (code < 0 || code >= LOAD_CODES)
        code = CODE(UNKNOWN);
    hist_record(&res->hist, now - s->start_ns);
    res->answered++;
    res->by_code[code]++;
    if (code == CODE(OK)) {
        res->ok++;
        res->items += (uint64_t)s->items;
        res->rejected_rows += rejected_rows(r);
    } else if (!res->first_error[code][0]) {
        snprintf(res->first_error[code], sizeof res->first_error[code], "%s%s%s",
                 r->status->message, r->status->field[0] ? " field=" : "", r->status->field);
    }
}

/* One answer: frees its slot. In a timed window the answers that arrive
 * inside it are counted (a rate); with --requests N, the answers to the N
 * requests sent inside it, not those to warm-up requests still in flight
 * when it opened. The latency of an answer to a request sent inside the
 * window that arrives later is recorded too, lest the slowest requests
 * escape the percentiles. */
static bool complete(worker_t *w, bconn_t *bc, const Branchline__V1__Response *r)
{
    uint64_t slot = (r->id & ((1u << SLOT_BITS) - 1)) - 1;
    if (r->id == 0 || slot >= (uint64_t)w->sh->cfg->depth || !bc->slots[slot].busy)
        return false;
    uint64_t now = load_now_ns();
    w->last_answer_ns = now;
    bool counted = phase(w) == PHASE_MEASURE && (w->sh->cfg->requests == 0 || bc->slots[slot].in_window);
    if (counted)
        account(w, r, &bc->slots[slot], now);
    else if (bc->slots[slot].in_window)
        hist_record(&w->res.hist, now - bc->slots[slot].start_ns);
    bc->slots[slot].busy = false;
    bc->free_slots[bc->nfree++] = (int)slot;
    bc->outstanding--;
    return true;
}

/* Reads every answer that has arrived on bc without waiting; how many. */
static int drain(worker_t *w, bconn_t *bc)
{
    int got = 0;
    bc->check = false;
    while (bc->c) {
        Branchline__V1__Response *r = blc_recv(bc->c);
        if (!r) {
            if (blc_error_code(bc->c) != CODE(CANCELLED))
                conn_close(w, bc, blc_error(bc->c));
            break;
        }
        bool known = complete(w, bc, r);
        branchline__v1__response__free_unpacked(r, NULL);
        if (!known) {
            conn_close(w, bc, "answer with an unknown or zero id");
            break;
        }
        got++;
    }
    return got;
}

static int drain_marked(worker_t *w)
{
    int got = 0;
    for (int i = 0; i < w->n; i++)
        if (w->conns[i].c && w->conns[i].check)
            got += drain(w, &w->conns[i]);
    return got;
}

static void wait_readable(worker_t *w)
{
    int n = 0;
    for (int i = 0; i < w->n; i++) {
        if (!w->conns[i].c || w->conns[i].outstanding == 0)
            continue;
        w->pfds[n] = (struct pollfd){.fd = blc_fd(w->conns[i].c), .events = POLLIN};
        w->pfd_conn[n++] = i;
    }
    if (n == 0) {
        struct timespec pause = {0, POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
        return;
    }
    if (poll(w->pfds, (nfds_t)n, POLL_MS) <= 0)
        return;
    for (int k = 0; k < n; k++)
        if (w->pfds[k].revents)
            w->conns[w->pfd_conn[k]].check = true;
}

static int outstanding(const worker_t *w)
{
    int n = 0;
    for (int i = 0; i < w->n; i++)
        n += w->conns[i].c ? w->conns[i].outstanding : 0;
    return n;
}

/* Done when nothing more may be sent and every answer is in, or the last
 * ones are overdue (then they count as lost). */
static bool finished(worker_t *w)
{
    if (w->live == 0)
        return true;
    bool sending = phase(w) != PHASE_STOP &&
                   (w->sh->cfg->requests == 0 || phase(w) == PHASE_WARMUP ||
                    atomic_load(&w->sh->budget) > 0);
    if (sending)
        return false;
    uint64_t now = load_now_ns();
    if (!w->drain_deadline_ns)
        w->drain_deadline_ns = now + (uint64_t)w->sh->cfg->conn.timeout_ms * 1000000ull;
    return outstanding(w) == 0 || now > w->drain_deadline_ns;
}

static int conn_open(worker_t *w, bconn_t *bc, int index)
{
    char err[300];
    int depth = w->sh->cfg->depth;
    bc->index = index;
    bc->slots = calloc((size_t)depth, sizeof *bc->slots);
    bc->free_slots = calloc((size_t)depth, sizeof *bc->free_slots);
    if (!bc->slots || !bc->free_slots) {
        snprintf(w->res.conn_error, sizeof w->res.conn_error, "out of memory");
        return -1;
    }
    for (int s = 0; s < depth; s++)
        bc->free_slots[bc->nfree++] = depth - 1 - s;
    bc->c = blc_connect(&w->sh->cfg->conn, err, sizeof err);
    if (!bc->c) {
        snprintf(w->res.conn_error, sizeof w->res.conn_error, "connection %d: %s", index, err);
        return -1;
    }
    blc_set_wake_fd(bc->c, w->sh->wake_fd);
    w->live++;
    return 0;
}

static int worker_open(worker_t *w)
{
    for (int i = 0; i < w->n; i++)
        if (conn_open(w, &w->conns[i], w->index + i * w->sh->cfg->threads) < 0)
            return -1;
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    if (worker_open(w) < 0)
        atomic_store(&w->sh->failed, true);
    atomic_fetch_add(&w->sh->connected, 1);
    while (phase(w) == PHASE_CONNECT) {
        struct timespec pause = {0, 1000000L};
        nanosleep(&pause, NULL);
    }
    while (!atomic_load(&w->sh->failed) && !finished(w)) {
        top_up(w);
        if (drain_marked(w) == 0)
            wait_readable(w);
    }
    for (int i = 0; i < w->n; i++)
        conn_close(w, &w->conns[i], NULL);
    return NULL;
}

static void worker_free(worker_t *w)
{
    for (int i = 0; w->conns && i < w->n; i++) {
        free(w->conns[i].slots);
        free(w->conns[i].free_slots);
    }
    free(w->conns);
    free(w->pfds);
    free(w->pfd_conn);
    scen_scratch_free(w->scratch);
}

static int worker_init(worker_t *w, shared_t *sh, int index)
{
    const load_config_t *cfg = sh->cfg;
    w->sh = sh;
    w->index = index;
    w->n = cfg->connections / cfg->threads + (index < cfg->connections % cfg->threads);
    w->conns = calloc((size_t)w->n + 1, sizeof *w->conns);
    w->pfds = calloc((size_t)w->n + 1, sizeof *w->pfds);
    w->pfd_conn = calloc((size_t)w->n + 1, sizeof *w->pfd_conn);
    w->scratch = scen_scratch_new();
    w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(index + 1) ^ load_now_ns();
    hist_init(&w->res.hist);
    return w->conns && w->pfds && w->pfd_conn && w->scratch ? 0 : -1;
}

void load_result_merge(load_result_t *into, const load_result_t *from)
{
    hist_merge(&into->hist, &from->hist);
    into->answered += from->answered;
    into->ok += from->ok;
    into->items += from->items;
    into->rejected_rows += from->rejected_rows;
    into->lost += from->lost;
    for (int c = 0; c < LOAD_CODES; c++) {
        into->by_code[c] += from->by_code[c];
        if (!into->first_error[c][0])
            memcpy(into->first_error[c], from->first_error[c], sizeof into->first_error[c]);
    }
    if (!into->conn_error[0])
        memcpy(into->conn_error, from->conn_error, sizeof into->conn_error);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Warm-up, then the measured window; returns its length in seconds. */
static double drive(shared_t *sh, worker_t *workers, int n, double *daemon_cpu_s)
{
    const load_config_t *cfg = sh->cfg;
    sleep_s(cfg->warmup_s);
    double cpu0 = cfg->daemon_pid ? bench_cpu_s(cfg->daemon_pid) : -1;
    uint64_t t0 = load_now_ns();
    atomic_store(&sh->phase, PHASE_MEASURE);
    if (cfg->requests == 0) {
        sleep_s(cfg->duration_s);
        uint64_t t1 = load_now_ns();
        atomic_store(&sh->phase, PHASE_STOP);
        double cpu1 = cpu0 >= 0 ? bench_cpu_s(cfg->daemon_pid) : -1;
        *daemon_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
        return (double)(t1 - t0) / 1e9;
    }
    uint64_t last = t0;
    for (int i = 0; i < n; i++) {
        pthread_join(workers[i].tid, NULL);
        workers[i].tid = 0;
        if (workers[i].last_answer_ns > last)
            last = workers[i].last_answer_ns;
    }
    double cpu1 = cpu0 >= 0 ? bench_cpu_s(cfg->daemon_pid) : -1;
    *daemon_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    return (double)(last - t0) / 1e9;
}

/* Starts the workers; how many started. */
static int start_workers(shared_t *sh, worker_t *workers, int n)
{
    for (int i = 0; i < n; i++)
        if (worker_init(&workers[i], sh, i) < 0 ||
            pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            workers[i].tid = 0;
            return i;
        }
    return n;
}

static int wake_pipe(int *fd)
{
    if (pipe(fd) < 0)
        return -1;
    if (write(fd[1], "x", 1) == 1)
        return 0;
    close(fd[0]);
    close(fd[1]);
    fd[0] = fd[1] = -1;
    return -1;
}

/* Waits for the started workers to connect, then runs the load. */
static void run_started(shared_t *sh, worker_t *workers, int started, load_result_t *out)
{
    while (atomic_load(&sh->connected) < started)
        sleep_s(0.001);
    if (started < sh->cfg->threads || atomic_load(&sh->failed)) {
        atomic_store(&sh->failed, true);
        atomic_store(&sh->phase, PHASE_STOP);
        return;
    }
    atomic_store(&sh->phase, PHASE_WARMUP);
    out->window_s = drive(sh, workers, started, &out->daemon_cpu_s);
}

int load_run(const load_config_t *cfg, load_result_t *out, char *err, size_t errlen)
{
    int n = cfg->threads, pipe_fd[2] = {-1, -1};
    shared_t sh = {.cfg = cfg};
    worker_t *workers = calloc((size_t)n, sizeof *workers);
    memset(out, 0, sizeof *out);
    out->daemon_cpu_s = -1;
    hist_init(&out->hist);
    atomic_init(&sh.budget, (long long)cfg->requests);
    if (!workers || wake_pipe(pipe_fd) < 0) {
        snprintf(err, errlen, "out of memory or descriptors");
        free(workers);
        return -1;
    }
    sh.wake_fd = pipe_fd[0];
    run_started(&sh, workers, start_workers(&sh, workers, n), out);
    for (int i = 0; i < n; i++) {
        if (workers[i].tid)
            pthread_join(workers[i].tid, NULL);
        load_result_merge(out, &workers[i].res);
        worker_free(&workers[i]);
    }
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    free(workers);
    if (!atomic_load(&sh.failed))
        return 0;
    snprintf(err, errlen, "%s", out->conn_error[0] ? out->conn_error : "cannot start the load threads");
    return -1;
}
