/*
 * The pieces of branchctl report's HTML page: escaped text, tables of JSON
 * rows, and charts drawn as inline SVG (no script, no font or image from
 * elsewhere, so the file is self-contained and prints as it shows). Rows
 * are the JSON of operation results (pbjson.h): arrays of objects keyed by
 * the proto field names.
 */
#ifndef BRANCHCTL_REPORT_HTML_H
#define BRANCHCTL_REPORT_HTML_H

#include <stdio.h>

#include <jansson.h>

/* Text with &, <, >, " and ' escaped. */
void report_text(FILE *out, const char *s);

/* The page's head (title, inline CSS) and the end of the page. */
void report_begin(FILE *out, const char *title, const char *subtitle);
void report_end(FILE *out);

/* <section id="id"><h2>title</h2>; report_section_end closes it. */
void report_section(FILE *out, const char *id, const char *title);
void report_section_end(FILE *out);

/*
 * A table of rows: one column per "field:Heading" of cols (NULL-ended);
 * numbers that are fractions show as percentages when the field name
 * contains "rate", "share", "band", "compliance" or "conversion". id names
 * the <table> for tests and style.
 */
void report_table(FILE *out, const char *id, const json_t *rows, const char *const *cols);

/*
 * Horizontal bars, two per row (a and b, e.g. actual and expected share),
 * labelled by the row's label field; values are fractions of 1.
 */
void report_bars(FILE *out, const char *id, const json_t *rows, const char *label, const char *a,
                 const char *a_name, const char *b, const char *b_name);

/*
 * A line chart: one line per distinct value of series over the distinct
 * values of x (sorted), plotting field y of each row, scaled by factor
 * (e.g. 1/60 for minutes); unit labels the axis.
 */
void report_lines(FILE *out, const char *id, const json_t *rows, const char *series, const char *x,
                  const char *y, double factor, const char *unit);

/*
 * The organization chart: units (unit_list's rows, parents before children,
 * as the daemon orders them) as nested boxes, each with its departments and
 * their active headcount (dept_list's rows).
 */
void report_org(FILE *out, const json_t *units, const json_t *depts);

#endif
