/*
 * Progress of a long operation, for a person at a terminal: a bar with
 * done/total, the rate and the time left when the total is known, else a
 * spinner with the seconds elapsed; either with a short phase label
 * ("units", "computing stats"). It is drawn on one line of stderr only when
 * stderr is a terminal (progress_terminal), redrawn at most PROGRESS_HZ
 * times a second, and erased by progress_end, so a pipe or a file never
 * receives a byte of it and the terminal keeps only the real output.
 */
#ifndef BRANCHCTL_PROGRESS_H
#define BRANCHCTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_HZ 10
#define PROGRESS_PHASE_MAX 32

typedef struct {
    FILE *out;        /* where it is drawn; NULL: nowhere */
    bool drawn;       /* something of it is on the current line */
    uint64_t done;
    uint64_t total;   /* 0: not known (a spinner) */
    char phase[PROGRESS_PHASE_MAX];
    int64_t started_ms;
    int64_t drawn_ms;
    unsigned frame;   /* the spinner's */
} progress_t;

/* stderr when it is a terminal, else NULL: what progress_start takes. */
FILE *progress_terminal(void);

/* Starts timing; draws nothing yet. out NULL: every call below does nothing. */
void progress_start(progress_t *p, FILE *out, const char *phase);

/* New counts (total 0: unknown) and, unless NULL, a new phase; redrawn when due. */
void progress_update(progress_t *p, uint64_t done, uint64_t total, const char *phase);

/* Redraws when due: the spinner turns and the elapsed time moves on. */
void progress_tick(progress_t *p);

/* Erases what was drawn; before anything else is written to stderr. */
void progress_end(progress_t *p);

/*
 * The line as it would be drawn at now_ms (without the leading '\r'),
 * cut to width columns when width > 0. Only printable ASCII.
 */
void progress_format(const progress_t *p, int64_t now_ms, int width, char *buf, size_t len);

#endif
