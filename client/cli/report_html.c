#include "report_html.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W 640
#define CHART_H 240
#define MARGIN_L 56
#define MARGIN_B 28
#define MARGIN_T 12
#define SERIES_MAX 12
#define XS_MAX 64

static const char *const PALETTE[] = {"#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#e67700", "#0c8599",
                                      "#c2255c", "#5c940d", "#364fc7", "#862e9c", "#a61e4d", "#495057"};

/* System fonts only: CJK names render with whatever CJK font the reader has. */
static const char CSS[] =
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','PingFang SC','Microsoft YaHei',"
    "'DejaVu Sans',sans-serif;margin:2em;color:#212529;max-width:72em}"
    "h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.25em;border-bottom:2px solid #1f6feb;"
    "padding-bottom:.2em;margin-top:1.6em}.sub{color:#495057;margin-top:.2em}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}"
    "th,td{border:1px solid #ced4da;padding:.25em .5em;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f1f3f5}"
    "ul.org,ul.org ul{list-style:none;padding-left:1.4em;margin:0}"
    "ul.org li{margin:.3em 0}.unit{display:inline-block;border:1px solid #868e96;border-radius:4px;"
    "padding:.2em .5em;background:#f8f9fa}.kind{color:#868e96;font-size:.8em}"
    ".dept{display:inline-block;margin-left:.4em;font-size:.8em;background:#e7f5ff;"
    "border-radius:3px;padding:0 .3em}.empty{color:#868e96;font-style:italic}"
    "svg text{font-size:11px;fill:#343a40}"
    "@media print{body{margin:0;max-width:none}section{break-inside:avoid}"
    "h2{break-after:avoid}}";

void report_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

void report_begin(FILE *out, const char *title, const char *subtitle)
{
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\"><title>", out);
    report_text(out, title);
    fprintf(out, "</title><style>%s</style></head>\n<body>\n<h1>", CSS);
    report_text(out, title);
    fputs("</h1><p class=\"sub\">", out);
    report_text(out, subtitle);
    fputs("</p>\n", out);
}

void report_end(FILE *out)
{
    fputs("</body></html>\n", out);
}

void report_section(FILE *out, const char *id, const char *title)
{
    fprintf(out, "<section id=\"%s\"><h2>", id);
    report_text(out, title);
    fputs("</h2>\n", out);
}

void report_section_end(FILE *out)
{
    fputs("</section>\n", out);
}

static bool is_fraction_field(const char *name)
{
    static const char *const words[] = {"rate", "share", "band", "compliance", "conversion", "q1"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(name, words[i]))
            return true;
    return false;
}

static void cell(FILE *out, const char *field, const json_t *v)
{
    if (json_is_integer(v)) {
        fprintf(out, "<td class=\"n\">%lld</td>", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (is_fraction_field(field))
            fprintf(out, "<td class=\"n\">%.1f%%</td>", d * 100);
        else
            fprintf(out, "<td class=\"n\">%.1f</td>", d);
    } else if (json_is_boolean(v)) {
        fprintf(out, "<td>%s</td>", json_is_true(v) ? "yes" : "no");
    } else {
        const char *s = json_string_value(v);
        fputs("<td>", out);
        report_text(out, s && s[0] ? s : "-");
        fputs("</td>", out);
    }
}

void report_table(FILE *out, const char *id, const json_t *rows, const char *const *cols)
{
    if (json_array_size(rows) == 0) {
        fprintf(out, "<p class=\"empty\" id=\"%s\">none</p>\n", id);
        return;
    }
    fprintf(out, "<table id=\"%s\"><tr>", id);
    for (const char *const *c = cols; *c; c++) {
        fputs("<th>", out);
        report_text(out, strchr(*c, ':') + 1);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        fputs("<tr>", out);
        for (const char *const *c = cols; *c; c++) {
            char field[64];
            size_t len = (size_t)(strchr(*c, ':') - *c);
            snprintf(field, sizeof field, "%.*s", (int)len, *c);
            cell(out, field, json_object_get(row, field));
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static double number(const json_t *row, const char *field)
{
    return json_number_value(json_object_get(row, field));
}

static const char *text(const json_t *row, const char *field)
{
    const char *s = json_string_value(json_object_get(row, field));
    return s && s[0] ? s : "(queue)";
}

void report_bars(FILE *out, const char *id, const json_t *rows, const char *label, const char *a,
                 const char *a_name, const char *b, const char *b_name)
{
    size_t n = json_array_size(rows);
    if (n == 0) {
        fprintf(out, "<p class=\"empty\" id=\"%s\">no leads in the period</p>\n", id);
        return;
    }
    int row_h = 30, width = CHART_W, bar_x = 180, bar_w = width - bar_x - 60;
    int height = (int)n * row_h + 24;
    fprintf(out, "<svg id=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id,
            width, height, width, height);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        int y = (int)i * row_h;
        double va = number(row, a), vb = number(row, b);
        fprintf(out, "<text x=\"0\" y=\"%d\">", y + 16);
        report_text(out, text(row, label));
        fprintf(out, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"11\" fill=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%d\">%.1f%%</text>",
                bar_x, y + 4, va * bar_w, PALETTE[0], bar_x + va * bar_w + 4, y + 13, va * 100);
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"11\" fill=\"#adb5bd\"/>"
                     "<text x=\"%.1f\" y=\"%d\">%.1f%%</text>\n",
                bar_x, y + 16, vb * bar_w, bar_x + vb * bar_w + 4, y + 25, vb * 100);
    }
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
            bar_x, height - 12, PALETTE[0], bar_x + 14, height - 3);
    report_text(out, a_name);
    fprintf(out, "</text><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#adb5bd\"/>"
                 "<text x=\"%d\" y=\"%d\">", bar_x + 160, height - 12, bar_x + 174, height - 3);
    report_text(out, b_name);
    fputs("</text></svg>\n", out);
}

/* The distinct values of field over rows, sorted, at most max. */
static size_t distinct(const json_t *rows, const char *field, const char **vals, size_t max)
{
    size_t n = 0, i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        const char *v = text(row, field);
        size_t k = 0;
        while (k < n && strcmp(vals[k], v) < 0)
            k++;
        if ((k < n && strcmp(vals[k], v) == 0) || n == max)
            continue;
        memmove(vals + k + 1, vals + k, (n - k) * sizeof *vals);
        vals[k] = v;
        n++;
    }
    return n;
}

static size_t index_of(const char **vals, size_t n, const char *v)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(vals[k], v) == 0)
            return k;
    return n;
}

static double point_x(size_t k, size_t nx, int plot_w)
{
    return MARGIN_L + (nx > 1 ? (double)k * plot_w / (double)(nx - 1) : plot_w / 2.0);
}

static void axes(FILE *out, const char **xs, size_t nx, double top, const char *unit)
{
    int plot_w = CHART_W - MARGIN_L - 10, plot_h = CHART_H - MARGIN_T - MARGIN_B;
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#868e96\"/>"
                 "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#868e96\"/>",
            MARGIN_L, MARGIN_T, MARGIN_L, MARGIN_T + plot_h, MARGIN_L, MARGIN_T + plot_h,
            MARGIN_L + plot_w, MARGIN_T + plot_h);
    fprintf(out, "<text x=\"0\" y=\"%d\">%.4g</text><text x=\"0\" y=\"%d\">0</text>"
                 "<text x=\"0\" y=\"%d\">", MARGIN_T + 10, top, MARGIN_T + plot_h, MARGIN_T + 24);
    report_text(out, unit);
    fputs("</text>\n", out);
    for (size_t k = 0; k < nx; k++) {
        double x = point_x(k, nx, plot_w);
        if (nx <= 8 || k % ((nx + 7) / 8) == 0) {
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, CHART_H - 8);
            report_text(out, xs[k]);
            fputs("</text>", out);
        }
    }
}

void report_lines(FILE *out, const char *id, const json_t *rows, const char *series, const char *x,
                  const char *y, double factor, const char *unit)
{
    const char *ss[SERIES_MAX], *xs[XS_MAX];
    size_t ns = distinct(rows, series, ss, SERIES_MAX), nx = distinct(rows, x, xs, XS_MAX);
    if (ns == 0) {
        fprintf(out, "<p class=\"empty\" id=\"%s\">no leads in the period</p>\n", id);
        return;
    }
    double top = 0, v[SERIES_MAX][XS_MAX];
    bool has[SERIES_MAX][XS_MAX] = {{false}};
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        size_t s = index_of(ss, ns, text(row, series)), k = index_of(xs, nx, text(row, x));
        if (s == ns || k == nx)
            continue;
        v[s][k] = number(row, y) * factor;
        has[s][k] = true;
        top = fmax(top, v[s][k]);
    }
    top = top > 0 ? top * 1.1 : 1;
    int legend_h = (int)ns * 14 + 6;
    fprintf(out, "<svg id=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id,
            CHART_W, CHART_H + legend_h, CHART_W, CHART_H + legend_h);
    axes(out, xs, nx, top, unit);
    int plot_w = CHART_W - MARGIN_L - 10, plot_h = CHART_H - MARGIN_T - MARGIN_B;
    for (size_t s = 0; s < ns; s++) {
        fprintf(out, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"", PALETTE[s]);
        for (size_t k = 0; k < nx; k++)
            if (has[s][k])
                fprintf(out, "%.1f,%.1f ", point_x(k, nx, plot_w), MARGIN_T + plot_h - v[s][k] / top * plot_h);
        fputs("\"/>", out);
        /* a dot per value: a period of its own shows, as a line of one point would not */
        for (size_t k = 0; k < nx; k++)
            if (has[s][k])
                fprintf(out, "<circle r=\"3\" cx=\"%.1f\" cy=\"%.1f\" fill=\"%s\"/>", point_x(k, nx, plot_w),
                        MARGIN_T + plot_h - v[s][k] / top * plot_h, PALETTE[s]);
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                     "<text x=\"%d\" y=\"%d\">", MARGIN_L, CHART_H + (int)s * 14, PALETTE[s],
                MARGIN_L + 14, CHART_H + (int)s * 14 + 9);
        report_text(out, ss[s]);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n", out);
}

static int depth_of(const char *path)
{
    if (strcmp(path, "/") == 0)
        return 0;
    int d = 1;
    for (; *path; path++)
        d += *path == '/';
    return d;
}

/* The departments hosted at unit path, as badges: "sales · 4 people". */
static void unit_depts(FILE *out, const json_t *depts, const char *path)
{
    size_t i;
    const json_t *d;
    json_array_foreach(depts, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "unit_path")), path) != 0)
            continue;
        fputs("<span class=\"dept\">", out);
        report_text(out, json_string_value(json_object_get(d, "function")));
        fprintf(out, " · %lld</span>", (long long)json_integer_value(json_object_get(d, "staff")));
    }
}

void report_org(FILE *out, const json_t *units, const json_t *depts)
{
    int open = 0, base = -1;
    size_t i;
    const json_t *u;
    fputs("<ul class=\"org\" id=\"org-chart\">", out);
    json_array_foreach(units, i, u) {
        const char *path = json_string_value(json_object_get(u, "path"));
        int depth = depth_of(path);
        if (base < 0)
            base = depth;
        int level = depth - base;
        if (i > 0 && level > open) {
            fputs("<ul>", out);
            open++;
        } else if (i > 0) {
            fputs("</li>", out);
            for (; open > level; open--)
                fputs("</ul></li>", out);
        }
        fputs("<li><span class=\"unit\">", out);
        report_text(out, json_string_value(json_object_get(u, "name")));
        fputs(" <span class=\"kind\">", out);
        report_text(out, json_string_value(json_object_get(u, "kind")));
        fputs(" ", out);
        report_text(out, path);
        fputs("</span></span>", out);
        unit_depts(out, depts, path);
        fputs("\n", out);
    }
    if (json_array_size(units) > 0)
        fputs("</li>", out);
    for (; open > 0; open--)
        fputs("</ul></li>", out);
    fputs("</ul>\n", out);
}
