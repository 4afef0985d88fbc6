/*
 * Unit tests for lead import's file reading (client/cli/leadfile.c): the
 * header, rows into LeadImportRequest batches by count and size, each
 * batch's first_line and the mapping of the daemon's line numbers back to
 * file lines, and rows rejected locally without stopping the import.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leadfile.h"

#define HEADER "external_id,project,channel\n"

static leadfile_rc_t read_text(const char *text, size_t len, size_t max_rows, size_t max_bytes,
                               leadfile_t *lf, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, len, "r");
    assert_non_null(f);
    leadfile_rc_t rc = leadfile_read(f, max_rows, max_bytes, lf, err, errlen);
    fclose(f);
    return rc;
}

#define READ(literal, rows, bytes, lf, err) \
    read_text((literal), sizeof(literal) - 1, (rows), (bytes), (lf), (err), sizeof(err))

/* The header must be refused with exactly this message. */
static void expect_unusable(const char *text, const char *want)
{
    char err[512];
    leadfile_t lf;
    assert_int_equal(read_text(text, strlen(text), 10, 1 << 20, &lf, err, sizeof err),
                     LEADFILE_UNUSABLE);
    assert_string_equal(err, want);
    assert_int_equal(lf.n_batches, 0);
    leadfile_release(&lf);
}

static void test_header(void **state)
{
    (void)state;
    expect_unusable("", "the file is empty: it needs a header line naming the columns");
    expect_unusable("\n\n", "the file is empty: it needs a header line naming the columns");
    expect_unusable("external_id,project,chanel\n1,p,c\n",
                    "line 1: unknown column 'chanel' (columns: external_id, project, channel, "
                    "origin, name, phone, email, note)");
    expect_unusable("external_id,project,note\n",
                    "line 1: the header has no column 'channel' (required: external_id, "
                    "project, channel)");
    expect_unusable("\n\nexternal_id,project,channel,Project\n",
                    "line 3: column 'project' is named twice");
    expect_unusable("external_id,\"project\"x,channel\n",
                    "line 1: header: text after a closing quote");

    /* Any order and case, spaces around names, a byte order mark. */
    char err[256];
    leadfile_t lf;
    assert_int_equal(READ("\xef\xbb\xbf Note ,CHANNEL,\"external_id\",project\r\n"
                          "\"hi, there\",search,w-1,loans\r\n", 10, 1 << 20, &lf, err),
                     LEADFILE_OK);
    assert_int_equal(lf.rows, 1);
    assert_int_equal(lf.n_batches, 1);
    const Branchline__V1__LeadInput *in = lf.batches[0].req->leads[0];
    assert_string_equal(in->external_id, "w-1");
    assert_string_equal(in->project, "loans");
    assert_string_equal(in->channel, "search");
    assert_string_equal(in->note, "hi, there");
    assert_string_equal(in->origin, "");
    leadfile_release(&lf);
}

static void test_every_column(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    assert_int_equal(READ("external_id,project,channel,origin,name,phone,email,note\n"
                          "e1,loans,forum,east/shanghai,张伟,13800138000,zw@example.cn,\"a\nb\"\n"
                          "e2,loans,forum,,,,,\n",
                          10, 1 << 20, &lf, err),
                     LEADFILE_OK);
    assert_int_equal(lf.n_rejected, 0);
    Branchline__V1__LeadImportRequest *req = lf.batches[0].req;
    assert_int_equal(req->n_leads, 2);
    assert_int_equal(req->first_line, 2);
    assert_string_equal(req->leads[0]->origin, "east/shanghai");
    assert_string_equal(req->leads[0]->name, "张伟");
    assert_string_equal(req->leads[0]->phone, "13800138000");
    assert_string_equal(req->leads[0]->email, "zw@example.cn");
    assert_string_equal(req->leads[0]->note, "a\nb");
    assert_string_equal(req->leads[1]->name, "");
    assert_int_equal(lf.batches[0].lines[1], 4);  /* after a two-line row */
    leadfile_release(&lf);
}

static char *generated(size_t rows, size_t *len)
{
    char *text = malloc(64 + rows * 48);
    assert_non_null(text);
    *len = (size_t)sprintf(text, HEADER);
    for (size_t i = 0; i < rows; i++)
        *len += (size_t)sprintf(text + *len, "ext-%zu,loans,search\n", i);
    return text;
}

static void test_batches_of_1000(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    size_t len;
    char *text = generated(2500, &len);
    assert_int_equal(read_text(text, len, 1000, LEADFILE_BATCH_BYTES, &lf, err,
                               sizeof err),
                     LEADFILE_OK);
    assert_int_equal(lf.rows, 2500);
    assert_int_equal(lf.n_batches, 3);
    assert_int_equal(leadfile_sent_rows(&lf), 2500);
    const size_t sizes[] = {1000, 1000, 500};
    const int32_t firsts[] = {2, 1002, 2002};
    for (size_t b = 0; b < 3; b++) {
        assert_int_equal(lf.batches[b].req->n_leads, sizes[b]);
        assert_int_equal(lf.batches[b].req->first_line, firsts[b]);
        assert_string_equal(lf.batches[b].req->leads[0]->external_id,
                            b == 0 ? "ext-0" : b == 1 ? "ext-1000" : "ext-2000");
        /* Consecutive lines: the daemon's numbers are the file's already. */
        for (int32_t i = 0; i < (int32_t)sizes[b]; i++)
            assert_int_equal(leadfile_line(&lf.batches[b], firsts[b] + i), firsts[b] + i);
    }
    leadfile_release(&lf);
    free(text);
}

/* Rows spanning lines, empty lines and locally rejected rows leave gaps:
 * the daemon counts rows from first_line, leadfile_line maps them back. */
static void test_lines_map_back(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    assert_int_equal(READ(HEADER
                          "a,p,c\n"             /* 2 */
                          "b,p,\"multi\nline\"\n" /* 3-4 */
                          "\n"                  /* 5 */
                          "bad,p\n"             /* 6: rejected here */
                          "c,p,c\n"             /* 7 */
                          "d,p,c\n"             /* 8 */
                          "e,p,c\n",            /* 9 */
                          3, 1 << 20, &lf, err),
                     LEADFILE_OK);
    assert_int_equal(lf.rows, 6);
    assert_int_equal(lf.n_batches, 2);
    const leadfile_batch_t *b0 = &lf.batches[0], *b1 = &lf.batches[1];
    assert_int_equal(b0->req->n_leads, 3);
    assert_int_equal(b0->req->first_line, 2);
    assert_int_equal(leadfile_line(b0, 2), 2);
    assert_int_equal(leadfile_line(b0, 3), 3);
    assert_int_equal(leadfile_line(b0, 4), 7);  /* the third row sent: c */
    assert_int_equal(b1->req->first_line, 8);
    assert_int_equal(leadfile_line(b1, 8), 8);
    assert_int_equal(leadfile_line(b1, 9), 9);
    /* Outside the batch: left as the daemon said. */
    assert_int_equal(leadfile_line(b1, 10), 10);
    assert_int_equal(leadfile_line(b1, 1), 1);
    assert_int_equal(lf.n_rejected, 1);
    assert_int_equal(lf.rejected[0]->line, 6);
    leadfile_release(&lf);
}

static void expect_rejected(const leadfile_t *lf, size_t i, int32_t line, const char *external_id,
                            const char *field, const char *reason)
{
    const Branchline__V1__LeadImportRow *row = lf->rejected[i];
    assert_int_equal(row->line, line);
    assert_string_equal(row->external_id, external_id);
    assert_string_equal(row->result, "rejected");
    assert_string_equal(row->field, field);
    assert_string_equal(row->reason, reason);
}

static void test_rejected_here(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    static const char text[] = HEADER
        "ok1,p,c\n"                    /* 2 */
        "short,p\n"                    /* 3 */
        "long,p,c,x\n"                 /* 4 */
        "q\"x,\"p\"junk,c\n"           /* 5 */
        "utf8,p,\xe4\xb8\n"            /* 6 */
        "nul,p,c\0d\n"                 /* 7 */
        "ok2,p,c\n";                   /* 8 */
    assert_int_equal(read_text(text, sizeof text - 1, 10, 1 << 20, &lf, err, sizeof err),
                     LEADFILE_OK);
    assert_int_equal(lf.rows, 7);
    assert_int_equal(lf.n_batches, 1);
    assert_int_equal(lf.batches[0].req->n_leads, 2);
    assert_int_equal(lf.batches[0].lines[0], 2);
    assert_int_equal(lf.batches[0].lines[1], 8);
    assert_int_equal(lf.n_rejected, 5);
    expect_rejected(&lf, 0, 3, "short", "", "2 fields, expected 3");
    expect_rejected(&lf, 1, 4, "long", "", "4 fields, expected 3");
    expect_rejected(&lf, 2, 5, "", "", "text after a closing quote");
    expect_rejected(&lf, 3, 6, "utf8", "channel", "is not valid UTF-8");
    expect_rejected(&lf, 4, 7, "nul", "channel", "contains a NUL byte");
    leadfile_release(&lf);
}

static void test_batches_by_size(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    /* Each row packs to 12 bytes plus 4 of overhead: three fit in 60, not four. */
    assert_int_equal(READ(HEADER "e1,p1,c1\ne2,p2,c2\ne3,p3,c3\ne4,p4,c4\n"
                          "toolong,ppppppppppppppppppppppppppppppppppppppppppppp,c\n",
                          1000, 60, &lf, err),
                     LEADFILE_OK);
    assert_int_equal(lf.n_batches, 2);
    assert_int_equal(lf.batches[0].req->n_leads, 3);
    assert_int_equal(lf.batches[1].req->n_leads, 1);
    assert_int_equal(lf.batches[1].req->first_line, 5);
    assert_int_equal(lf.n_rejected, 1);
    expect_rejected(&lf, 0, 6, "toolong", "", "a row of 63 bytes; a request takes at most 60");
    leadfile_release(&lf);
}

static void test_header_only(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    assert_int_equal(READ(HEADER, 10, 1 << 20, &lf, err), LEADFILE_OK);
    assert_int_equal(lf.rows, 0);
    assert_int_equal(lf.n_batches, 0);
    assert_int_equal(leadfile_sent_rows(&lf), 0);
    leadfile_release(&lf);
    leadfile_release(&lf);  /* released twice: nothing left to free */
}

/* What is sent is what was read: a batch packs and unpacks unchanged. */
static void test_batch_packs(void **state)
{
    (void)state;
    char err[256];
    leadfile_t lf;
    assert_int_equal(READ(HEADER "\"a,1\",loans,search\nb,loans,email\n", 10, 1 << 20, &lf, err),
                     LEADFILE_OK);
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    req.id = 7;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_IMPORT;
    req.lead_import = lf.batches[0].req;
    size_t len = branchline__v1__request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    branchline__v1__request__pack(&req, buf);
    Branchline__V1__Request *back = branchline__v1__request__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->lead_import->first_line, 2);
    assert_int_equal(back->lead_import->n_leads, 2);
    assert_string_equal(back->lead_import->leads[0]->external_id, "a,1");
    assert_string_equal(back->lead_import->leads[1]->channel, "email");
    branchline__v1__request__free_unpacked(back, NULL);
    free(buf);
    leadfile_release(&lf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_every_column),
        cmocka_unit_test(test_batches_of_1000),
        cmocka_unit_test(test_lines_map_back),
        cmocka_unit_test(test_rejected_here),
        cmocka_unit_test(test_batches_by_size),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_batch_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
