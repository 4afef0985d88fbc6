#include "bench_report.h"

#include "status.h"

typedef struct {
    double rps;
    double items_per_s;
    double p50_ms, p99_ms, p999_ms, max_ms;
} figures_t;

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static figures_t figures(const load_result_t *r)
{
    figures_t f = {0};
    if (r->window_s > 0) {
        f.rps = (double)r->ok / r->window_s;
        f.items_per_s = (double)r->items / r->window_s;
    }
    f.p50_ms = ms(hist_percentile(&r->hist, 50));
    f.p99_ms = ms(hist_percentile(&r->hist, 99));
    f.p999_ms = ms(hist_percentile(&r->hist, 99.9));
    f.max_ms = ms(r->hist.total ? r->hist.max : 0);
    return f;
}

unsigned long long report_failures(const load_result_t *r)
{
    return (unsigned long long)(r->answered - r->ok + r->lost);
}

void report_text(FILE *out, const load_config_t *cfg, const load_result_t *r,
                 const report_extra_t *extra, int n_extra)
{
    figures_t f = figures(r);
    for (int i = 0; i < n_extra; i++)
        fprintf(out, "%s=%lld ", extra[i].key, extra[i].value);
    fprintf(out,
            "scenario=%s connections=%d depth=%d threads=%d window_s=%.2f answered=%llu ok=%llu "
            "rps=%.1f items_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
            "errors=%llu lost=%llu rejected_rows=%llu\n",
            scen_defs[cfg->kind].name, cfg->connections, cfg->depth, cfg->threads, r->window_s,
            (unsigned long long)r->answered, (unsigned long long)r->ok, f.rps, f.items_per_s,
            f.p50_ms, f.p99_ms, f.p999_ms, f.max_ms, (unsigned long long)(r->answered - r->ok),
            (unsigned long long)r->lost, (unsigned long long)r->rejected_rows);
    /* The daemon's CPU per answer in the window (--pid): a regression shows
     * even where the throughput is bound by the client or the database. */
    if (r->daemon_cpu_s >= 0 && r->answered > 0)
        fprintf(out, "daemon_cpu scenario=%s daemon_cpu_s=%.2f daemon_cpu_us_per_req=%.1f\n",
                scen_defs[cfg->kind].name, r->daemon_cpu_s, r->daemon_cpu_s * 1e6 / (double)r->answered);
    for (int c = 1; c < LOAD_CODES; c++)
        if (r->by_code[c])
            fprintf(out, "error code=%s count=%llu first=\"%s\"\n", status_code_name(c),
                    (unsigned long long)r->by_code[c], r->first_error[c]);
    if (r->conn_error[0])
        fprintf(out, "error connection=\"%s\"\n", r->conn_error);
}

/* Writes s as a JSON string (messages come from the server: escape them). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_errors(FILE *f, const load_result_t *r)
{
    fprintf(f, "\"errors\":{");
    const char *sep = "";
    for (int c = 1; c < LOAD_CODES; c++) {
        if (!r->by_code[c])
            continue;
        fprintf(f, "%s\"%s\":{\"count\":%llu,\"first\":", sep, status_code_name(c),
                (unsigned long long)r->by_code[c]);
        json_string(f, r->first_error[c]);
        fputc('}', f);
        sep = ",";
    }
    fprintf(f, "},\"connection_error\":");
    json_string(f, r->conn_error);
}

int report_json(const char *path, const load_config_t *cfg, const load_result_t *r,
                const report_extra_t *extra, int n_extra)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    figures_t fg = figures(r);
    fprintf(f, "{");
    for (int i = 0; i < n_extra; i++)
        fprintf(f, "\"%s\":%lld,", extra[i].key, extra[i].value);
    fprintf(f,
            "\"scenario\":\"%s\",\"connections\":%d,\"depth\":%d,\"threads\":%d,\"window_s\":%.3f,"
            "\"answered\":%llu,\"ok\":%llu,\"rps\":%.1f,\"items_per_s\":%.1f,\"p50_ms\":%.3f,"
            "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"lost\":%llu,\"rejected_rows\":%llu,",
            scen_defs[cfg->kind].name, cfg->connections, cfg->depth, cfg->threads, r->window_s,
            (unsigned long long)r->answered, (unsigned long long)r->ok, fg.rps, fg.items_per_s,
            fg.p50_ms, fg.p99_ms, fg.p999_ms, fg.max_ms, (unsigned long long)r->lost,
            (unsigned long long)r->rejected_rows);
    json_errors(f, r);
    fprintf(f, "}\n");
    return fclose(f) == 0 ? 0 : -1;
}
