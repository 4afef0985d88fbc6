#include "progress.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "blclient.h"

#define BAR_WIDTH 24
#define LINE_MAX_LEN 160

FILE *progress_terminal(void)
{
    return isatty(STDERR_FILENO) ? stderr : NULL;
}

/* The label comes from the daemon too: only letters, digits and a few marks reach the terminal. */
static void set_phase(progress_t *p, const char *phase)
{
    size_t n = 0;
    for (; phase[n] && n + 1 < sizeof p->phase; n++) {
        char ch = phase[n];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || strchr(" ._-", ch);
        p->phase[n] = plain ? ch : '?';
    }
    p->phase[n] = '\0';
}

void progress_start(progress_t *p, FILE *out, const char *phase)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->started_ms = blc_now_ms();
    set_phase(p, phase ? phase : "");
}

/* "42s", "3m07s", "2h05m". */
static void put_duration(char *buf, size_t len, int64_t seconds)
{
    if (seconds < 60)
        snprintf(buf, len, "%llds", (long long)seconds);
    else if (seconds < 3600)
        snprintf(buf, len, "%lldm%02llds", (long long)(seconds / 60), (long long)(seconds % 60));
    else
        snprintf(buf, len, "%lldh%02lldm", (long long)(seconds / 3600),
                 (long long)(seconds % 3600 / 60));
}

static void format_bar(const progress_t *p, int64_t elapsed_ms, char *buf, size_t len)
{
    char bar[BAR_WIDTH + 1], eta[48] = "", rate[32] = "";
    uint64_t done = p->done < p->total ? p->done : p->total;
    size_t full = (size_t)(done * BAR_WIDTH / p->total);
    memset(bar, '#', full);
    memset(bar + full, '.', BAR_WIDTH - full);
    bar[BAR_WIDTH] = '\0';
    if (done > 0 && elapsed_ms > 0) {
        double per_s = (double)done * 1000.0 / (double)elapsed_ms;
        char left[32];
        put_duration(left, sizeof left, (int64_t)((double)(p->total - done) / per_s + 0.5));
        snprintf(rate, sizeof rate, " %.0f/s", per_s);
        snprintf(eta, sizeof eta, " ETA %s", left);
    }
    snprintf(buf, len, "[%s] %llu/%llu %3u%%%s%s%s%s", bar, (unsigned long long)done,
             (unsigned long long)p->total, (unsigned)(done * 100 / p->total), rate, eta,
             p->phase[0] ? " " : "", p->phase);
}

void progress_format(const progress_t *p, int64_t now, int width, char *buf, size_t len)
{
    static const char spinner[] = "|/-\\";
    int64_t elapsed_ms = now > p->started_ms ? now - p->started_ms : 0;
    if (p->total > 0) {
        format_bar(p, elapsed_ms, buf, len);
    } else {
        char took[32];
        put_duration(took, sizeof took, elapsed_ms / 1000);
        snprintf(buf, len, "%c %s%s%s", spinner[p->frame % 4], p->phase,
                 p->phase[0] ? "... " : "", took);
    }
    if (width > 0 && strlen(buf) > (size_t)width)
        buf[width] = '\0';
}

static int terminal_width(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        return ws.ws_col - 1;  /* the last column would wrap on some terminals */
    return 0;
}

static void draw(progress_t *p)
{
    char line[LINE_MAX_LEN];
    int64_t now = blc_now_ms();
    if (!p->out || (p->drawn && now - p->drawn_ms < 1000 / PROGRESS_HZ))
        return;
    progress_format(p, now, terminal_width(p->out), line, sizeof line);
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->drawn = true;
    p->drawn_ms = now;
    p->frame++;
}

void progress_update(progress_t *p, uint64_t done, uint64_t total, const char *phase)
{
    if (!p->out)
        return;
    p->done = done;
    p->total = total;
    if (phase)
        set_phase(p, phase);
    draw(p);
}

void progress_tick(progress_t *p)
{
    draw(p);
}

void progress_end(progress_t *p)
{
    if (p->out && p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->drawn = false;
}
