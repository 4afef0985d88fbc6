-- lead_import is lead_add one lead at a time, in file order (sql/api/017),
-- run by tests/sql/run.sh as the daemon's role after test_leads.sql.
--
-- Tenant im: customer service at regions r1 and r2 (two holders), none at
-- the group (origin r3 has no customer service: unroutable); four
-- projects with the weighted, least_loaded, project_lead and performance
-- policies and one nobody handles; branches in several pools, one capped
-- per day and one per week across their pools (caps count a branch's leads
-- over every pool); phones and e-mails repeated (duplicates of stored
-- leads and of leads earlier in the file, of allocated and unroutable
-- ones), external_ids repeated, bad rows.
--
-- In one transaction: the rows are imported, everything they wrote is
-- summed up (every lead's branch, status, reason, duplicate, event and
-- explain; the pool state; the day counts; the result of every row), the
-- transaction goes back to its savepoint, the same rows are added one by
-- one with lead_add, and the two summaries must be equal. The same
-- transaction is a twin tenant with the same clock: same organization,
-- same stored leads, same now().
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
\o /dev/null
\ir helpers.sql
\ir lead_helpers.sql

SELECT api.tenant_create('CN=operator', 'im', 'IM', 'CN=im-admin', 'Europe/Paris') IS NOT NULL;
DO $$
DECLARE
    b text;
BEGIN
    PERFORM api.unit_add('CN=im-admin', r, 'region', r, NULL) FROM unnest(ARRAY['r1', 'r2', 'r3']) r;
    PERFORM api.dept_add('CN=im-admin', 'r1', 'customer_service', NULL), api.dept_add('CN=im-admin', 'r2', 'customer_service', NULL);
    FOREACH b IN ARRAY ARRAY['r1/b1', 'r1/b2', 'r1/b3', 'r1/b4', 'r2/b5', 'r2/b6', 'r2/b7', 'r3/b8'] LOOP
        PERFORM api.unit_add('CN=im-admin', b, 'branch', b, NULL);
        PERFORM api.dept_add('CN=im-admin', b, 'sales', NULL);
    END LOOP;
    PERFORM api.project_add('CN=im-admin', j, j) FROM unnest(ARRAY['pw', 'pl', 'pj', 'pf', 'none']) j;
    PERFORM api.project_assign('CN=im-admin', x.b, x.j, x.c)
       FROM (VALUES ('r1/b1', 'pw', 1), ('r1/b2', 'pw', 2), ('r1/b3', 'pw', 3), ('r2/b5', 'pw', 1), ('r2/b6', 'pw', 2),
                    ('r2/b7', 'pw', 1), ('r3/b8', 'pw', 1),
                    ('r1/b1', 'pl', 2), ('r1/b4', 'pl', 1), ('r2/b5', 'pl', 3), ('r2/b7', 'pl', 1),
                    ('r1/b1', 'pj', 1), ('r1/b2', 'pj', 1), ('r1/b3', 'pj', 2), ('r2/b5', 'pj', 1), ('r2/b6', 'pj', 1),
                    ('r1/b2', 'pf', 2), ('r1/b4', 'pf', 1), ('r2/b6', 'pf', 1), ('r2/b7', 'pf', 3)) x (b, j, c);
    PERFORM api.policy_set('CN=im-admin', NULL, 'pl', 'least_loaded', NULL, NULL, NULL),
            api.policy_set('CN=im-admin', 'r1', 'pj', 'project_lead', 'r1/b3', NULL, NULL),
            api.policy_set('CN=im-admin', NULL, 'pf', 'performance', NULL, NULL, NULL);
    PERFORM api.cap_set('CN=im-admin', 'r1/b1', 4, NULL), api.cap_set('CN=im-admin', 'r2/b5', NULL, 6),
            api.cap_set('CN=im-admin', 'r2/b7', 3, NULL);
    -- stored leads: some to duplicate, one of them closed
    PERFORM api.lead_add('CN=im-admin', 'old-' || i, 'pw', 'search', 'r' || (1 + i % 2), NULL,
                         '+33 1 00 00 00 0' || i, NULL, NULL)
       FROM generate_series(1, 4) i;
    PERFORM api.lead_lose('CN=im-admin', pg_temp.lead('im', 'old-4'), NULL);
END
$$;

-- The rows: 400 leads over the projects and origins; phones and e-mails
-- from small sets; every 37th external_id again; every 53rd phone bad.
CREATE FUNCTION pg_temp.im_rows() RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object(
               'external_id', CASE WHEN i % 37 = 0 THEN 'im-' || (i / 3) ELSE 'im-' || i END,
               'project', (ARRAY['pw', 'pl', 'pj', 'pf', 'none', 'pw', 'pj'])[1 + (i * 13 + i / 5) % 7],
               'channel', 'search',
               'origin', (ARRAY['r1', 'r2', 'r1/b2', 'r3', 'r2/b6', ''])[1 + (i * 7 + i / 3) % 6],
               'name', 'Lead ' || i,
               'phone', CASE WHEN i % 53 = 0 THEN '12'
                             WHEN i % 3 = 0 THEN '+33 1 00 00 00 0' || (i % 9)
                             WHEN i % 3 = 1 THEN '' ELSE '06 11 22 33 ' || (10 + i % 41) END,
               'email', CASE WHEN i % 4 = 0 THEN 'Lead' || (i % 23) || '@example.com' ELSE '' END,
               'note', '')
           ORDER BY i)
      FROM generate_series(1, 400) i
$$;

-- What the leads of the tenant are and what they did, with lead ids named
-- by external_id (the two runs draw different ids).
CREATE FUNCTION pg_temp.im_summary() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ids jsonb;
BEGIN
    PERFORM pg_temp.use_tenant('im');
    SELECT jsonb_object_agg(id::text, external_id) INTO ids FROM branchline.leads;
    RETURN (SELECT string_agg(format('%s %s %s %s %s %s', l.external_id, coalesce(b.path, '-'), l.status,
                                     coalesce(regexp_replace(l.reason, 'lead ([0-9]+)', 'lead #'), '-'),
                                     coalesce(ids ->> l.duplicate_of::text, '-'), l.policy), E'\n' ORDER BY l.external_id)
              FROM branchline.leads l LEFT JOIN branchline.units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id)
        || E'\n--\n'
        || (SELECT string_agg(format('%s %s %s %s %s', l.external_id, e.kind, coalesce(e.to_branch_id::text, '-'),
                                     coalesce(regexp_replace(e.reason, 'lead ([0-9]+)', 'lead #'), '-'),
                                     regexp_replace(e.explain::text, 'lead ([0-9]+)', 'lead #', 'g')),
                              E'\n' ORDER BY l.external_id, e.id)
              FROM branchline.lead_events e JOIN branchline.leads l ON l.tenant_id = e.tenant_id AND l.id = e.lead_id)
        || E'\n--\n'
        || (SELECT string_agg(format('%s', s), E'\n' ORDER BY s::text)
              FROM (SELECT x.holder_id, x.project_id, x.branch_id, x.credit, x.credit_scale, x.allocated, x.open_leads
                      FROM branchline.lead_pool_state x) s)
        || E'\n--\n'
        || (SELECT string_agg(format('%s', s), E'\n' ORDER BY s::text)
              FROM (SELECT x.branch_id, x.day, x.project_id, x.holder_id, x.received FROM branchline.lead_day_counts x) s);
END
$$;

BEGIN;
SAVEPOINT twin;
SELECT string_agg(format('%s %s %s %s', line, result, field, regexp_replace(reason, 'lead ([0-9]+)', 'lead #')),
                  E'\n' ORDER BY line) AS import_rows
  FROM api.lead_import('CN=im-admin', pg_temp.im_rows(), 1) \gset
SELECT pg_temp.im_summary() AS import_summary \gset
ROLLBACK TO SAVEPOINT twin;
CREATE TEMP TABLE im_added (line integer, result text, field text, reason text) ON COMMIT DROP;
DO $$
DECLARE
    e jsonb;
    n integer := 0;
    w api.lead;
    col text;
    msg text;
BEGIN
    FOR e IN SELECT x FROM jsonb_array_elements(pg_temp.im_rows()) x LOOP
        n := n + 1;
        BEGIN
            SELECT * INTO STRICT w FROM api.lead_add('CN=im-admin', e ->> 'external_id', e ->> 'project', e ->> 'channel',
                              nullif(e ->> 'origin', ''), nullif(e ->> 'name', ''), nullif(e ->> 'phone', ''),
                              nullif(e ->> 'email', ''), nullif(e ->> 'note', ''));
            INSERT INTO im_added VALUES (n, CASE WHEN w.created THEN 'created' ELSE 'duplicate' END, '',
                                         CASE WHEN w.created THEN concat_ws('; ', 'duplicate of lead ' || nullif(w.duplicate_of, 0),
                                                                            nullif(w.reason, '')) ELSE '' END);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS col = COLUMN_NAME, msg = MESSAGE_TEXT;
            INSERT INTO im_added VALUES (n, 'rejected', col, msg);
        END;
    END LOOP;
END
$$;
SELECT pg_temp.eq((SELECT string_agg(format('%s %s %s %s', line, result, field, regexp_replace(reason, 'lead ([0-9]+)', 'lead #')),
                                     E'\n' ORDER BY line) FROM im_added),
                  :'import_rows', 'import: every row''s result as one by one');
SELECT pg_temp.eq(pg_temp.im_summary(), :'import_summary', 'import: leads, events, pool state and day counts as one by one');
-- the rows exercise what they should
SELECT pg_temp.use_tenant('im');
SELECT pg_temp.eq((SELECT count(*) FILTER (WHERE status = 'allocated') > 100 AND count(*) FILTER (WHERE status = 'waiting') > 0
                      AND count(*) FILTER (WHERE reason = 'no_customer_service') > 0
                      AND count(*) FILTER (WHERE reason = 'no_branch_handles_project') > 0
                      AND count(*) FILTER (WHERE duplicate_of IS NOT NULL AND external_id LIKE 'im-%'
                                             AND duplicate_of IN (SELECT id FROM branchline.leads WHERE external_id LIKE 'im-%')) > 0
                      AND count(*) FILTER (WHERE duplicate_of IS NOT NULL AND external_id LIKE 'im-%'
                                             AND duplicate_of IN (SELECT id FROM branchline.leads WHERE external_id LIKE 'old-%')) > 0
                    FROM branchline.leads),
                  true, 'import: allocated, waiting, unroutable and duplicate leads');
SELECT pg_temp.eq((SELECT count(*) FROM regexp_matches(:'import_rows', 'rejected phone', 'g')) > 0
                  AND (SELECT count(*) FROM regexp_matches(:'import_rows', ' duplicate ', 'g')) > 0, true,
                  'import: rejected and repeated rows');
COMMIT;
