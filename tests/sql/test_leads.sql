-- Lead tests (sql/012-016), run by tests/sql/run.sh as the daemon's role
-- after test_org.sql. Every top-level statement is its own transaction,
-- like one request of branchd; any failure stops psql with a non-zero exit
-- status. The sweep with a faked clock (branchline.sweep_at) is the
-- owner's: the file reconnects to :super (a superuser connection that SETs
-- ROLE :owner) and back to :app; run.sh passes the three as variables.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
\o /dev/null
\ir helpers.sql
\ir lead_helpers.sql

-- =================================================================================================
-- lc: centralized (domain shape 3b), Asia/Shanghai
-- =================================================================================================
--
-- Customer service at the group; regions r1 and r2; sales at every branch.
-- Never receive: paused, closed, noproj (no project), zero (its own sales
-- department has nobody: derived capacity 0), nosales (no sales department
-- on its path). capped receives at most its daily cap.

SELECT api.tenant_create('CN=operator', 'lc', 'LC', 'CN=lc-admin', 'Asia/Shanghai') IS NOT NULL;
DO $$
DECLARE
    b text;
BEGIN
    PERFORM api.unit_add('CN=lc-admin', 'r1', 'region', 'R1', NULL), api.unit_add('CN=lc-admin', 'r2', 'region', 'R2', NULL);
    PERFORM api.dept_add('CN=lc-admin', '/', 'customer_service', NULL), api.dept_add('CN=lc-admin', '/', 'promotion', NULL);
    FOREACH b IN ARRAY ARRAY['r1/b1', 'r1/b2', 'r2/b3', 'r2/b4', 'r1/paused', 'r2/closed', 'r2/capped', 'r1/noproj',
                             'r1/zero', 'r2/nosales'] LOOP
        PERFORM api.unit_add('CN=lc-admin', b, 'branch', b, NULL);
        IF b <> 'r2/nosales' THEN
            PERFORM api.dept_add('CN=lc-admin', b, 'sales', NULL);
        END IF;
    END LOOP;
    PERFORM api.project_add('CN=lc-admin', 'p', 'P'), api.project_add('CN=lc-admin', 'empty', 'Nobody yet'),
            api.project_add('CN=lc-admin', 'none', 'Nobody'), api.project_add('CN=lc-admin', 'pii', 'PII');
    PERFORM api.project_assign('CN=lc-admin', 'r1/b1', 'p', 1), api.project_assign('CN=lc-admin', 'r1/b2', 'p', 2),
            api.project_assign('CN=lc-admin', 'r2/b3', 'p', 1), api.project_assign('CN=lc-admin', 'r2/b4', 'p', 2),
            api.project_assign('CN=lc-admin', 'r1/paused', 'p', 5), api.project_assign('CN=lc-admin', 'r2/closed', 'p', 5),
            api.project_assign('CN=lc-admin', 'r2/capped', 'p', 5), api.project_assign('CN=lc-admin', 'r2/nosales', 'p', 5),
            api.project_assign('CN=lc-admin', 'r1/b1', 'pii', 1);
    PERFORM api.unit_set_status('CN=lc-admin', 'r1/paused', 'paused'), api.unit_set_status('CN=lc-admin', 'r2/closed', 'closed');
    PERFORM api.principal_add('CN=lc-admin', 'CN=lc-b1', 'branch', 'r1/b1'),
            api.principal_add('CN=lc-admin', 'CN=lc-b2', 'branch', 'r1/b2'),
            api.principal_add('CN=lc-admin', 'CN=lc-r1', 'unit_admin', 'r1'),
            api.principal_add('CN=lc-admin', 'CN=lc-r2', 'unit_admin', 'r2'),
            api.principal_add('CN=lc-admin', 'CN=lc-v1', 'viewer', 'r1');
END
$$;
SELECT pg_temp.eq((SELECT capacity FROM api.project_assign('CN=lc-admin', 'r1/zero', 'p', NULL)), 0, 'derived capacity 0');

-- ---- caps ------------------------------------------------------------------------------------

SELECT pg_temp.eq((SELECT format('%s %s %s', branch_path, per_day, per_week) FROM api.cap_set('CN=lc-admin', 'r2/capped', 3, NULL)),
                  'r2/capped 3 ', 'cap set');
SELECT pg_temp.fails($$SELECT * FROM api.cap_set('CN=lc-admin', 'r2', 3, NULL)$$, 'BL003', 'branch');
SELECT pg_temp.fails($$SELECT * FROM api.cap_set('CN=lc-admin', 'r2/capped', -1, NULL)$$, 'BL003', 'per_day');
SELECT pg_temp.fails($$SELECT * FROM api.cap_set('CN=lc-admin', 'r2/capped', NULL, -1)$$, 'BL003', 'per_week');
SELECT pg_temp.fails($$SELECT * FROM api.cap_set('CN=lc-r1', 'r2/capped', 3, NULL)$$, 'BL007', 'branch');
SELECT pg_temp.fails($$SELECT * FROM api.cap_set('CN=lc-b1', 'r1/b1', 3, NULL)$$, 'BL007', '');
SELECT pg_temp.eq((SELECT count(*) FROM api.audit_list('CN=lc-admin', NULL, 'r2/capped', NULL, NULL) WHERE operation = 'cap_set'),
                  1::bigint, 'cap_set audited');

-- ---- intake --------------------------------------------------------------------------------------

-- The pool of p is b1 (1), b2 (2), b3 (1), b4 (2), capped (5): the first
-- lead goes to the largest weight. Everything is in the answer.
SELECT id AS first_id FROM api.lead_add('CN=lc-admin', 'first', 'p', 'search', NULL, ' 王小明 ', '+86 (138) 0000-1111',
                                        ' Wang@Example.cn ', 'called twice') \gset
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', external_id, project, channel, origin_path,
                                 holder_path, branch_path, status, name, phone, email, note, duplicate_of, reallocations, policy)
                     FROM api.lead_show('CN=lc-admin', :first_id)),
                  'first|p|search|/|/|r2/capped|allocated|王小明|+86 (138) 0000-1111|Wang@Example.cn|called twice|0|0|weighted',
                  'lead add: the largest weight first');
SELECT pg_temp.eq((SELECT allocated_at = created_at AND contacted_at = '' AND closed_at = '' AND NOT created
                     FROM api.lead_show('CN=lc-admin', :first_id)), true, 'lead times');
-- the same external_id again returns the lead and changes nothing
SELECT pg_temp.eq((SELECT format('%s %s %s %s', id = :first_id, created, branch_path, channel)
                     FROM api.lead_add('CN=lc-admin', 'first', 'p', 'other', 'r1', NULL, NULL, NULL, NULL)),
                  't f r2/capped search', 'idempotent intake');
SELECT pg_temp.eq(pg_temp.history('CN=lc-admin', :first_id), 'allocated', 'one allocation only');

-- bad input names its field; messages never repeat personal data
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', NULL, 'p', 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL003', 'external_id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_add(%L, %L, %L, %L, NULL, NULL, NULL, NULL, NULL)', 'CN=lc-admin',
                            repeat('x', 129), 'p', 'search'), 'BL003', 'external_id');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', E'x\ty', 'p', 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL003', 'external_id');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'nope', 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL005', 'project');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', NULL, 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL003', 'project');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'tv', NULL, NULL, NULL, NULL, NULL)$$, 'BL003', 'channel');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', NULL, NULL, NULL, NULL, NULL, NULL)$$, 'BL003', 'channel');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', 'r9', NULL, NULL, NULL, NULL)$$, 'BL005', 'origin');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_add(%L, %L, %L, %L, NULL, %L, NULL, NULL, NULL)', 'CN=lc-admin', 'x', 'p',
                            'search', repeat('名', 201)), 'BL003', 'name');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, '   ', NULL, NULL, NULL)$$, 'BL003', 'name');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, '12-345', NULL, NULL)$$, 'BL003', 'phone');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, '138.0000.1111', NULL, NULL)$$, 'BL003', 'phone');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, '123456789012345678901', NULL, NULL)$$, 'BL003', 'phone');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, NULL, 'wang.example.cn', NULL)$$, 'BL003', 'email');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, NULL, 'wang@example', NULL)$$, 'BL003', 'email');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_add(%L, %L, %L, %L, NULL, NULL, NULL, %L, NULL)', 'CN=lc-admin', 'x', 'p',
                            'search', repeat('a', 250) || '@b.cn'), 'BL003', 'email');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_add(%L, %L, %L, %L, NULL, NULL, NULL, NULL, %L)', 'CN=lc-admin', 'x', 'p',
                            'search', repeat('n', 2001)), 'BL003', 'note');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, NULL, NULL, E'a\x01b')$$, 'BL003', 'note');
SELECT pg_temp.eq(position('9876' IN pg_temp.error_of(
                      $$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, '98-76', NULL, NULL)$$)),
                  0, 'no phone in messages');
SELECT pg_temp.eq(position('secret' IN pg_temp.error_of(
                      $$SELECT * FROM api.lead_add('CN=lc-admin', 'x', 'p', 'search', NULL, NULL, NULL, 'secret@', NULL)$$)),
                  0, 'no e-mail in messages');
-- roles and scopes
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-b1', 'x', 'p', 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL007', '');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-v1', 'x', 'p', 'search', NULL, NULL, NULL, NULL, NULL)$$, 'BL007', '');
SELECT pg_temp.fails($$SELECT * FROM api.lead_add('CN=lc-r1', 'x', 'p', 'search', 'r2', NULL, NULL, NULL, NULL)$$, 'BL007', 'origin');
-- notes keep their line breaks
SELECT pg_temp.eq((SELECT note FROM api.lead_add('CN=lc-admin', 'notes', 'p', 'forum', NULL, NULL, NULL, NULL, E'line 1\nline 2\n')),
                  E'line 1\nline 2', 'multi-line note');

-- ---- import ---------------------------------------------------------------------------------------

SELECT pg_temp.eq((SELECT string_agg(format('%s:%s:%s:%s:%s', line, external_id, result, field, lead_id > 0), ' ' ORDER BY line)
                     FROM api.lead_import('CN=lc-admin', $$[
                        {"external_id": "imp-1", "project": "p", "channel": "search", "origin": "", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "imp-2", "project": "p", "channel": "search", "origin": "", "name": "", "phone": "12", "email": "", "note": ""},
                        {"external_id": "first", "project": "p", "channel": "search", "origin": "", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "imp-3", "project": "nope", "channel": "search", "origin": "", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "imp-4", "project": "p", "channel": "tv", "origin": "", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "imp-1", "project": "p", "channel": "social", "origin": "r1", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "", "project": "p", "channel": "search", "origin": "", "name": "", "phone": "", "email": "", "note": ""},
                        {"external_id": "imp-5", "project": "p", "channel": "email", "origin": "r9", "name": "", "phone": "", "email": "x@", "note": ""},
                        {"external_id": "imp-6", "project": "p", "channel": "referral", "origin": "r2", "name": "N", "phone": "", "email": "", "note": ""}
                     ]$$, 41)),
                  '41:imp-1:created::t 42:imp-2:rejected:phone:f 43:first:duplicate::t 44:imp-3:rejected:project:f '
                  '45:imp-4:rejected:channel:f 46:imp-1:duplicate::t 47::rejected:external_id:f '
                  '48:imp-5:rejected:origin:f 49:imp-6:created::t',
                  'import: good rows in, bad rows reported by line');
SELECT pg_temp.eq((SELECT string_agg(reason, ' | ') FROM api.lead_import('CN=lc-admin',
                     '[{"external_id": "imp-7", "project": "p", "channel": "search", "phone": "(0) 55"}]', NULL)),
                  'phone must have 6 to 20 digits (spaces, dashes, parentheses and a leading + are ignored)', 'import reason');
SELECT pg_temp.eq((SELECT line FROM api.lead_import('CN=lc-admin', '[{"external_id": "imp-8", "project": "nope"}]', NULL)), 1,
                  'first line defaults to 1');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_import('CN=lc-admin', '[]', NULL)), 0::bigint, 'empty import');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_import(%L, %L, 1)', 'CN=lc-admin',
                            (SELECT jsonb_agg(jsonb_build_object('external_id', 'big-' || i)) FROM generate_series(1, 5001) i)),
                     'BL003', 'leads');
SELECT pg_temp.fails($$SELECT * FROM api.lead_import('CN=lc-admin', '{"external_id": "x"}', 1)$$, 'BL003', 'leads');
SELECT pg_temp.fails($$SELECT * FROM api.lead_import('CN=lc-b1', '[]', 1)$$, 'BL007', '');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s', result, field), ' ') FROM api.lead_import('CN=lc-r1',
                     '[{"external_id": "imp-9", "project": "p", "channel": "search", "origin": "r2"}]', 1)),
                  'rejected:origin', 'import: origin outside the scope');

-- ---- the pool ----------------------------------------------------------------------------------------

SELECT pg_temp.eq(pg_temp.import('CN=lc-admin', 'c-', 1, 300, 'p'), 300::bigint, '300 leads');
SELECT pg_temp.eq((SELECT string_agg(split_part(x, '=', 1), ' ') FROM regexp_split_to_table(pg_temp.branch_counts('lc', 'p'), ' ') x),
                  'r1/b1 r1/b2 r2/b3 r2/b4 r2/capped', 'paused, closed, zero, no-project and unserved branches never receive');
SELECT pg_temp.eq(pg_temp.branch_counts('lc', 'p') ~ 'r2/capped=3$', true, 'capped: 3 a day');
SELECT pg_temp.eq((SELECT bool_and(abs(x.n - x.w * x.total / 6.0) <= 2)
                     FROM (SELECT split_part(y, '=', 2)::numeric AS n, CASE WHEN y ~ '^r1/b1|^r2/b3' THEN 1 ELSE 2 END AS w,
                                  sum(split_part(y, '=', 2)::numeric) OVER () AS total
                             FROM regexp_split_to_table(pg_temp.branch_counts('lc', 'p', 'c-'), ' ') y
                            WHERE y NOT LIKE 'r2/capped%') x),
                  true, 'the others by capacity');
-- the newest lead was allocated last: 303 allocations of the pool before it
SELECT id AS last_c FROM api.lead_list('CN=lc-admin', NULL, NULL, 'p', NULL, 1, NULL) \gset
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s:%s', branch_path, weight, note), ' ' ORDER BY branch_path)
                     FROM api.lead_explain('CN=lc-admin', :last_c)),
                  'r1/b1:1: r1/b2:2: r1/noproj:0:left out: does not handle the project r1/paused:0:left out: paused '
                  'r1/zero:0:left out: capacity 0 r2/b3:1: r2/b4:2: r2/capped:5:at daily cap (3) '
                  'r2/closed:0:left out: closed r2/nosales:0:left out: no sales department serves it',
                  'explain: the pool, the cap and the branches left out, with why');
SELECT pg_temp.eq((SELECT count(*) FILTER (WHERE chosen) FROM api.lead_explain('CN=lc-admin', :last_c)), 1::bigint, 'one chosen');
SELECT pg_temp.eq((SELECT sum(allocated_before) FROM api.lead_explain('CN=lc-admin', :last_c)), 303::numeric,
                  'explain: allocations before this one');
-- centralized: the group holds every lead and shares it across both regions
SELECT pg_temp.eq(pg_temp.import('CN=lc-admin', 'o2-', 1, 12, 'p', 'r2'), 12::bigint, 'leads from region r2');
SELECT pg_temp.eq((SELECT string_agg(DISTINCT holder_path || ' ' || split_part(branch_path, '/', 1), ',')
                     FROM api.lead_list('CN=lc-admin', NULL, NULL, 'p', NULL, 12, NULL)),
                  '/ r1,/ r2', 'centralized: held by the group, allocated to both regions');

-- ---- empty pool, then a project assignment drains ----------------------------------------------------

SELECT id AS e1 FROM api.lead_add('CN=lc-admin', 'e-1', 'empty', 'website', 'r2', NULL, NULL, NULL, NULL) \gset
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s', status, reason, branch_path, holder_path) FROM api.lead_show('CN=lc-admin', :e1)),
                  'unroutable|no_branch_handles_project||/', 'empty pool: unroutable');
SELECT pg_temp.eq((SELECT string_agg(id::text, ',') FROM api.lead_list('CN=lc-admin', NULL, 'unroutable', 'empty', NULL, NULL, NULL)),
                  :'e1', 'listed as unroutable');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, 'waiting', NULL, NULL, NULL, NULL)), 0::bigint, 'none waiting');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-admin', :e1), 'BL009', 'id');
SELECT api.project_assign('CN=lc-admin', 'r1/b2', 'empty', 1) IS NOT NULL;
SELECT pg_temp.eq((SELECT format('%s|%s|%s', status, reason, branch_path) FROM api.lead_show('CN=lc-admin', :e1)),
                  'allocated||r1/b2', 'project assignment drained it');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s:%s', kind, to_branch, reason), ' ' ORDER BY id) FROM api.lead_history('CN=lc-admin', :e1)),
                  'unroutable::no_branch_handles_project allocated:r1/b2:was unroutable: no_branch_handles_project',
                  'drain history');
SELECT id AS u1 FROM api.lead_add('CN=lc-admin', 'u-1', 'none', 'search', NULL, NULL, NULL, NULL, NULL) \gset

-- ---- duplicates -------------------------------------------------------------------------------------------

SELECT id AS d1, branch_path AS d1_branch FROM api.lead_add('CN=lc-admin', 'd-1', 'p', 'search', NULL, NULL, '+86 138 5555 0000', NULL, NULL) \gset
SELECT pg_temp.eq((SELECT format('%s %s', duplicate_of = :d1, branch_path)
                     FROM api.lead_add('CN=lc-admin', 'd-2', 'p', 'social', NULL, NULL, '13855550000', NULL, NULL)),
                  't ' || :'d1_branch', 'same phone: duplicate, same branch');
SELECT pg_temp.lead('lc', 'd-2') AS d2 \gset
SELECT pg_temp.eq((SELECT format('%s %s', kind, reason) FROM api.lead_history('CN=lc-admin', :d2)),
                  'duplicate duplicate of lead ' || :d1, 'duplicate event');
SELECT pg_temp.eq((SELECT note FROM api.lead_explain('CN=lc-admin', :d2) WHERE chosen), 'duplicate of lead ' || :d1, 'duplicate explained');
SELECT id AS d3, branch_path AS d3_branch FROM api.lead_add('CN=lc-admin', 'd-3', 'p', 'email', NULL, NULL, NULL, 'Sales@Shop.CN', NULL) \gset
SELECT pg_temp.eq((SELECT format('%s %s', s.duplicate_of = :d3, s.branch_path)
                     FROM api.lead_import('CN=lc-admin', '[{"external_id": "d-4", "project": "p", "channel": "email", "email": " sales@shop.cn"}]', 1) i
                     JOIN api.lead_show('CN=lc-admin', i.lead_id) s ON true),
                  't ' || :'d3_branch', 'same e-mail, any case: duplicate');
SELECT pg_temp.eq((SELECT reason FROM api.lead_import('CN=lc-admin', '[{"external_id": "d-4b", "project": "p", "channel": "email", "email": "SALES@shop.cn"}]', 1)),
                  'duplicate of lead ' || :d3, 'import shows the duplicate');
-- only open leads count: d-1 lost, d-2 (open) is now the one to match; then none
SELECT api.lead_lose('CN=lc-admin', :d1, NULL) IS NOT NULL;
SELECT pg_temp.eq((SELECT duplicate_of FROM api.lead_add('CN=lc-admin', 'd-5', 'p', 'search', NULL, NULL, '+8613855550000', NULL, NULL)),
                  :d2::bigint, 'the oldest open lead');
SELECT api.lead_lose('CN=lc-admin', :d2, NULL) IS NOT NULL, api.lead_lose('CN=lc-admin', pg_temp.lead('lc', 'd-5'), NULL) IS NOT NULL;
SELECT pg_temp.eq((SELECT duplicate_of FROM api.lead_add('CN=lc-admin', 'd-6', 'p', 'search', NULL, NULL, '138 5555 0000', NULL, NULL)),
                  0::bigint, 'closed leads are not duplicated');
-- the duplicate's branch is paused: the open lead moves at once (I1), and
-- its duplicate goes to where it is now
SELECT id AS d7, branch_path AS d7_branch FROM api.lead_add('CN=lc-admin', 'd-7', 'p', 'search', NULL, NULL, '021 5555 7777', NULL, NULL) \gset
SELECT api.unit_set_status('CN=lc-admin', :'d7_branch', 'paused') IS NOT NULL;
SELECT branch_path AS d7_moved FROM api.lead_show('CN=lc-admin', :d7) \gset
SELECT id AS d8 FROM api.lead_add('CN=lc-admin', 'd-8', 'p', 'search', NULL, NULL, '+86 21 5555 7777', NULL, NULL) \gset
SELECT api.unit_set_status('CN=lc-admin', :'d7_branch', 'active') IS NOT NULL;
SELECT pg_temp.eq((SELECT duplicate_of = :d7 AND branch_path = :'d7_moved' AND branch_path <> :'d7_branch'
                     FROM api.lead_show('CN=lc-admin', :d8)), true,
                  'duplicate of a lead whose branch was paused');
SELECT pg_temp.eq((SELECT format('%s %s', kind, reason) FROM api.lead_history('CN=lc-admin', :d8)),
                  'duplicate duplicate of lead ' || :d7, 'duplicate follows the moved lead');
-- the paused branch's open leads went elsewhere for good: some new ones for the tests below
SELECT count(*) = 8 FROM (SELECT api.lead_add('CN=lc-admin', 'refill-' || i, 'p', 'search', NULL, NULL, NULL, NULL, NULL)
                            FROM generate_series(1, 8) i) x;

-- ---- working leads ---------------------------------------------------------------------------------------

SELECT id AS t1 FROM api.lead_list('CN=lc-b1', NULL, 'allocated', 'p', NULL, 1, NULL) \gset
SELECT id AS t2 FROM api.lead_list('CN=lc-b1', NULL, 'allocated', 'p', NULL, 1, :t1) \gset
SELECT id AS t3 FROM api.lead_list('CN=lc-b2', NULL, 'allocated', 'p', NULL, 1, NULL) \gset
SELECT pg_temp.eq((SELECT format('%s %s', status, contacted_at <> '') FROM api.lead_contact('CN=lc-b1', :t1, 'spoke to him')),
                  'contacted t', 'contact');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-b1', :t1), 'BL009', 'id');
SELECT pg_temp.eq((SELECT format('%s %s', status, closed_at <> '') FROM api.lead_win('CN=lc-b1', :t1, 'signed')), 'won t', 'win');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_lose(%L, %s, NULL)', 'CN=lc-b1', :t1), 'BL009', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_win(%L, %s, NULL)', 'CN=lc-b1', :t1), 'BL009', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-b1', :t1), 'BL009', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_win(%L, %s, NULL)', 'CN=lc-b1', :t2), 'BL009', 'id');
SELECT pg_temp.eq((SELECT status FROM api.lead_lose('CN=lc-b1', :t2, 'never reached')), 'lost', 'lost without contact');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-b1', :t3), 'BL007', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-v1', :t3), 'BL007', '');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, %L)', 'CN=lc-b2', :t3, repeat('n', 2001)), 'BL003', 'note');
SELECT pg_temp.eq((SELECT status FROM api.lead_contact('CN=lc-r1', :t3, NULL)), 'contacted', 'unit_admin works its subtree');
SELECT pg_temp.fails($$SELECT * FROM api.lead_contact('CN=lc-admin', 999999999, NULL)$$, 'BL005', 'id');
SELECT pg_temp.fails($$SELECT * FROM api.lead_contact('CN=lc-admin', NULL, NULL)$$, 'BL003', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=lc-admin', :u1), 'BL009', 'id');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s:%s:%s', kind, from_branch, reason, principal), ' ' ORDER BY id)
                     FROM api.lead_history('CN=lc-b1', :t1) WHERE kind IN ('contacted', 'won')),
                  'contacted:r1/b1:spoke to him:CN=lc-b1 won:r1/b1:signed:CN=lc-b1', 'transitions in the history');

-- ---- reassignment ------------------------------------------------------------------------------------------

SELECT id AS t4 FROM api.lead_list('CN=lc-admin', 'r2/b3', 'allocated', 'p', NULL, 1, NULL) \gset
SELECT id AS t5 FROM api.lead_list('CN=lc-admin', 'r1/b1', 'allocated', 'p', NULL, 1, NULL) \gset
SELECT pg_temp.eq((SELECT format('%s|%s|%s', branch_path, status, reason)
                     FROM api.lead_reassign('CN=lc-admin', :t4, 'r1/b2', 'customer moved')),
                  'r1/b2|allocated|customer moved', 'reassign');
SELECT pg_temp.eq((SELECT format('%s:%s>%s:%s:%s', kind, from_branch, to_branch, reason, principal)
                     FROM api.lead_history('CN=lc-admin', :t4) ORDER BY id DESC LIMIT 1),
                  'reassigned:r2/b3>r1/b2:customer moved:CN=lc-admin', 'reassignment in the history');
SELECT pg_temp.eq((SELECT after_json::jsonb ->> 'branch_path' FROM api.audit_list('CN=lc-admin', NULL, 'lead:' || :t4, NULL, NULL)),
                  'r1/b2', 'reassignment audited');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-r1', :t5, 'r2/b4', 'x'), 'BL007', 'to');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-r2', :t5, 'r2/b4', 'x'), 'BL007', 'id');
SELECT pg_temp.eq((SELECT branch_path FROM api.lead_reassign('CN=lc-r1', :t5, 'r1/b2', 'balance')), 'r1/b2', 'unit_admin within its subtree');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-admin', :t5, 'r1/paused', 'x'), 'BL009', 'to');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-admin', :t5, 'r1/b2', 'x'), 'BL009', 'to');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-admin', :t5, 'r1', 'x'), 'BL003', 'to');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, NULL)', 'CN=lc-admin', :t5, 'r1/b1'), 'BL003', 'reason');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-admin', :t1, 'r1/b2', 'x'), 'BL009', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-b1', :t5, 'r1/b1', 'x'), 'BL007', '');
-- by hand only to a branch that could work it (I1): r2/b4 does not handle "none"
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=lc-admin', :u1, 'r2/b4', 'manual'), 'BL009', 'to');
SELECT pg_temp.eq((SELECT format('%s|%s|%s', branch_path, status, reason) FROM api.lead_reassign('CN=lc-admin', :t5, 'r2/b4', 'manual')),
                  'r2/b4|allocated|manual', 'a lead reassigned by hand');

-- ---- who sees what -------------------------------------------------------------------------------------------

-- a branch principal: its own branch's leads, nothing else
SELECT pg_temp.eq((SELECT string_agg(DISTINCT branch_path, ',') FROM api.lead_list('CN=lc-b1', NULL, NULL, NULL, NULL, 1000, NULL)),
                  'r1/b1', 'branch lists its own leads');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-b1', NULL, NULL, NULL, NULL, 1000, NULL)),
                  (SELECT count(*) FROM api.lead_list('CN=lc-admin', 'r1/b1', NULL, NULL, NULL, 1000, NULL)), 'all of them');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-b1', 'r1/b2', NULL, NULL, NULL, NULL, NULL)$$, 'BL007', 'branch');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-b1', 'r1', NULL, NULL, NULL, NULL, NULL)$$, 'BL007', 'branch');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_show(%L, %s)', 'CN=lc-b1', :t3), 'BL007', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_explain(%L, %s)', 'CN=lc-b1', :t3), 'BL007', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_history(%L, %s)', 'CN=lc-b1', :t3), 'BL007', 'id');
-- t5 was at r1/b1 and moved away: gone for r1/b1 too
SELECT pg_temp.fails(format('SELECT * FROM api.lead_show(%L, %s)', 'CN=lc-b1', :t5), 'BL007', 'id');
SELECT pg_temp.eq((SELECT string_agg(DISTINCT branch_path, ',') FROM api.lead_stats('CN=lc-b1', NULL, 'day', NULL)),
                  'r1/b1', 'branch stats: its own row');
SELECT pg_temp.fails($$SELECT * FROM api.lead_stats('CN=lc-b1', 'r1', NULL, NULL)$$, 'BL007', 'under');
SELECT pg_temp.eq((SELECT format('%s %s', tenant_id = pg_temp.use_tenant('lc'), scope_path) FROM api.lead_watch('CN=lc-b1', NULL)),
                  't r1/b1', 'branch watch');
SELECT pg_temp.fails($$SELECT * FROM api.lead_watch('CN=lc-b1', 'r1/b2')$$, 'BL007', 'branch');
SELECT pg_temp.eq((SELECT scope_path FROM api.lead_watch('CN=lc-r1', NULL)), 'r1', 'unit_admin watch');
SELECT pg_temp.eq((SELECT scope_path FROM api.lead_watch('CN=lc-v1', 'r1/b2')), 'r1/b2', 'viewer watch of a branch');
SELECT pg_temp.fails($$SELECT * FROM api.lead_watch('CN=lc-r1', 'r2')$$, 'BL007', 'branch');
SELECT pg_temp.eq((SELECT scope_path FROM api.lead_watch('CN=lc-admin', NULL)), '', 'admin watch: the tenant');
SELECT pg_temp.eq((SELECT scope_path FROM api.lead_watch('CN=lc-admin', 'r2')), 'r2', 'admin watch of a region');
-- a unit_admin: its subtree's branches; held leads only if their holder is inside
SELECT pg_temp.eq((SELECT string_agg(DISTINCT split_part(branch_path, '/', 1), ',') FROM api.lead_list('CN=lc-r1', NULL, NULL, NULL, NULL, 1000, NULL)),
                  'r1', 'unit_admin lists its subtree');
SELECT api.lead_add('CN=lc-admin', 'u-2', 'none', 'search', NULL, NULL, NULL, NULL, NULL) IS NOT NULL;
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-r1', NULL, 'unroutable', NULL, NULL, NULL, NULL)), 0::bigint,
                  'the group holds it, not r1');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, 'unroutable', NULL, NULL, NULL, NULL)
                    WHERE external_id = 'u-2'), 1::bigint,
                  'the admin sees the group''s queue');
-- personal data: only for scopes covering the lead's branch or holder
SELECT id AS s1, name AS s1_name, phone AS s1_phone, branch_path AS s1_branch
  FROM api.lead_add('CN=lc-r2', 'secret-1', 'pii', 'search', 'r2', 'Secret Name', '13912345678', 's@x.cn', 'private') \gset
SELECT pg_temp.eq(format('%s|%s|%s', :'s1_name', :'s1_phone', :'s1_branch'), '||r1/b1', 'routed out of the adder''s scope: no contact fields');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_show(%L, %s)', 'CN=lc-r2', :s1), 'BL007', 'id');
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s', name, phone, email, note) FROM api.lead_show('CN=lc-admin', :s1)),
                  'Secret Name|13912345678|s@x.cn|private', 'admin sees them');
SELECT pg_temp.eq((SELECT name FROM api.lead_show('CN=lc-v1', :s1)), 'Secret Name', 'viewer of the branch''s region');
SELECT pg_temp.eq((SELECT name FROM api.lead_show('CN=lc-b1', :s1)), 'Secret Name', 'the branch');
SELECT pg_temp.eq((SELECT format('%s %s', created, name) FROM api.lead_add('CN=lc-r2', 'secret-1', 'pii', 'search', 'r2', NULL, NULL, NULL, NULL)),
                  'f ', 'retry by the same adder');

-- ---- paging and filters ------------------------------------------------------------------------------------------

SELECT min(id) AS page1_last, count(*) AS page1_n FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 7, NULL) \gset
SELECT pg_temp.eq(:page1_n, 7, 'page of 7');
SELECT pg_temp.eq((SELECT bool_and(id < :page1_last) AND count(*) = 7 FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 7, :page1_last)),
                  true, 'next page after the cursor');
SELECT pg_temp.eq((SELECT array_agg(id) FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 1000, NULL)),
                  (SELECT array_agg(id ORDER BY id DESC) FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 1000, NULL)),
                  'newest first');
SELECT min(id) AS r1_last FROM api.lead_list('CN=lc-r1', NULL, NULL, NULL, NULL, 10, NULL) \gset
SELECT pg_temp.eq((SELECT array_agg(id) FROM api.lead_list('CN=lc-r1', NULL, NULL, NULL, NULL, 10, :r1_last)),
                  (SELECT array_agg(id) FROM (SELECT id FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 1000, NULL)
                                               WHERE branch_path LIKE 'r1/%' AND id < :r1_last ORDER BY id DESC LIMIT 10) x),
                  'subtree pages agree with the whole list');
SELECT pg_temp.eq((SELECT string_agg(DISTINCT status, ',') FROM api.lead_list('CN=lc-admin', NULL, 'lost', NULL, NULL, 1000, NULL)),
                  'lost', 'status filter');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, NULL, 'pii', NULL, 1000, NULL)), 1::bigint, 'project filter');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, '2999-01-01', 1000, NULL)), 0::bigint, 'since filter');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, NULL, NULL)), 50::bigint, 'default limit');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, NULL, 1001, NULL)$$, 'BL003', 'limit');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-admin', NULL, 'done', NULL, NULL, NULL, NULL)$$, 'BL003', 'status');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-admin', NULL, NULL, 'nope', NULL, NULL, NULL)$$, 'BL005', 'project');
SELECT pg_temp.fails($$SELECT * FROM api.lead_list('CN=lc-admin', NULL, NULL, NULL, 'soon', NULL, NULL)$$, 'BL003', 'since');

-- ---- stats ---------------------------------------------------------------------------------------------------------

SELECT pg_temp.eq(pg_temp.counter_mismatches('lc'), '', 'lc counters match the rows');
SELECT count(*) FILTER (WHERE status = 'won') AS b1_won, count(*) FILTER (WHERE status = 'lost') AS b1_lost,
       count(*) FILTER (WHERE status IN ('won', 'contacted')) AS b1_contacted
  FROM api.lead_list('CN=lc-admin', 'r1/b1', NULL, NULL, NULL, 1000, NULL) \gset
SELECT pg_temp.eq((SELECT format('%s %s %s %s', contacted, won, lost, conversion)
                     FROM api.lead_stats('CN=lc-admin', 'r1/b1', NULL, NULL)),
                  format('%s %s %s %s', :b1_contacted, :b1_won, :b1_lost, :b1_won::double precision / (:b1_won + :b1_lost)),
                  'stats of r1/b1');
SELECT pg_temp.eq((SELECT received FROM api.lead_stats('CN=lc-admin', 'r1/b1', NULL, NULL)),
                  (SELECT count(*) FROM api.lead_list('CN=lc-admin', 'r1/b1', NULL, NULL, NULL, 1000, NULL))
                  + 1 /* t5 moved away */, 'received counts every lead given');
SELECT pg_temp.eq((SELECT string_agg(period_start, ',') FROM api.lead_stats('CN=lc-admin', 'r1/b1', 'day', NULL)),
                  to_char((now() AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD'), 'days are the tenant''s');
SELECT pg_temp.eq((SELECT string_agg(period_start, ',') FROM api.lead_stats('CN=lc-admin', 'r1/b1', 'month', NULL)),
                  to_char(date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai'), 'YYYY-MM-DD'), 'months');
SELECT pg_temp.eq((SELECT round(sum(actual_share)::numeric, 9) FROM api.lead_stats('CN=lc-admin', NULL, 'week', NULL)), 1.0, 'shares add up');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_stats('CN=lc-admin', NULL, NULL, '2999-01-01')), 0::bigint, 'stats since');
SELECT pg_temp.fails($$SELECT * FROM api.lead_stats('CN=lc-admin', NULL, 'year', NULL)$$, 'BL003', 'period');

-- ---- purge -------------------------------------------------------------------------------------------------------------

SELECT string_agg(format('%s %s %s %s %s', branch_path, received, contacted, won, lost), ',') AS stats_before
  FROM api.lead_stats('CN=lc-admin', NULL, NULL, NULL) \gset
SELECT (SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, 'won', NULL, NULL, 1000, NULL))
     + (SELECT count(*) FROM api.lead_list('CN=lc-admin', NULL, 'lost', NULL, NULL, 1000, NULL)) AS closed_n \gset
SELECT pg_temp.fails($$SELECT * FROM api.lead_purge('CN=lc-r1', '2999-01-01')$$, 'BL007', '');
SELECT pg_temp.fails($$SELECT * FROM api.lead_purge('CN=lc-admin', NULL)$$, 'BL003', 'before');
SELECT pg_temp.eq((SELECT purged FROM api.lead_purge('CN=lc-admin', '2000-01-01')), 0::bigint, 'nothing that old');
SELECT pg_temp.eq((SELECT purged FROM api.lead_purge('CN=lc-admin', to_char(now() + interval '2 days', 'YYYY-MM-DD'))),
                  :closed_n::bigint, 'closed leads purged');
SELECT pg_temp.eq((SELECT purged FROM api.lead_purge('CN=lc-admin', to_char(now() + interval '2 days', 'YYYY-MM-DD'))),
                  0::bigint, 'once');
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s|%s', name, phone, email, note, status) FROM api.lead_show('CN=lc-admin', :d1)),
                  '||||lost', 'contact fields gone, status kept');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s', kind, reason), ' ' ORDER BY id) FROM api.lead_history('CN=lc-admin', :t1)
                    WHERE kind IN ('contacted', 'won', 'purged')),
                  'contacted: won: purged:contact fields anonymised', 'notes purged, event added');
SELECT pg_temp.eq((SELECT name FROM api.lead_show('CN=lc-admin', :first_id)), '王小明', 'open leads keep theirs');
SELECT pg_temp.eq((SELECT string_agg(format('%s %s %s %s %s', branch_path, received, contacted, won, lost), ',')
                     FROM api.lead_stats('CN=lc-admin', NULL, NULL, NULL)), :'stats_before', 'stats unchanged by purge');
SELECT pg_temp.eq((SELECT count(*) FROM api.audit_list('CN=lc-admin', NULL, 'leads', NULL, NULL) WHERE operation = 'lead_purge'),
                  3::bigint, 'purges audited');

-- ---- deleting units with lead history -----------------------------------------------------------------------------------

SELECT api.lead_add('CN=lc-admin', 'from-nosales', 'p', 'search', 'r2/nosales', NULL, NULL, NULL, NULL) IS NOT NULL;
SELECT pg_temp.fails($$SELECT * FROM api.unit_delete('CN=lc-admin', 'r2/nosales')$$, 'BL009', 'path');
SELECT pg_temp.eq(pg_temp.error_of($$SELECT * FROM api.unit_delete('CN=lc-admin', 'r2/nosales')$$),
                  'r2/nosales cannot be deleted: it has lead history', 'the origin of a lead stays');
SELECT pg_temp.eq(pg_temp.error_of($$SELECT * FROM api.unit_delete('CN=lc-admin', 'r2/b3')$$),
                  'r2/b3 cannot be deleted: it has 1 department(s) with 0 staff, lead history', 'a branch that had leads stays');
SELECT api.unit_add('CN=lc-admin', 'r2/spare', 'branch', 'Spare', NULL) IS NOT NULL;
SELECT pg_temp.eq((SELECT path FROM api.unit_delete('CN=lc-admin', 'r2/spare')), 'r2/spare', 'a unit without leads goes');

-- =================================================================================================
-- ld: decentralized (domain shape 3a); policies per tenant, holder and project
-- =================================================================================================

SELECT api.tenant_create('CN=operator', 'ld', 'LD', 'CN=ld-admin', NULL) IS NOT NULL;
DO $$
DECLARE
    b text;
BEGIN
    PERFORM api.unit_add('CN=ld-admin', 'east', 'region', 'East', NULL), api.unit_add('CN=ld-admin', 'west', 'region', 'West', NULL);
    PERFORM api.dept_add('CN=ld-admin', 'east', 'customer_service', NULL), api.dept_add('CN=ld-admin', 'west', 'customer_service', NULL);
    PERFORM api.project_add('CN=ld-admin', 'p', 'P'), api.project_add('CN=ld-admin', 'q', 'Q');
    FOREACH b IN ARRAY ARRAY['east/e1', 'east/e2', 'west/w1', 'west/w2'] LOOP
        PERFORM api.unit_add('CN=ld-admin', b, 'branch', b, NULL), api.dept_add('CN=ld-admin', b, 'sales', NULL),
                api.project_assign('CN=ld-admin', b, 'p', 1), api.project_assign('CN=ld-admin', b, 'q', 1);
    END LOOP;
    PERFORM api.principal_add('CN=ld-admin', 'CN=ld-east', 'unit_admin', 'east'),
            api.principal_add('CN=ld-admin', 'CN=ld-viewer', 'viewer', 'west');
END
$$;
SELECT pg_temp.eq(pg_temp.import('CN=ld-admin', 'east-', 1, 20, 'p', 'east'), 20::bigint, 'leads from east');
SELECT pg_temp.eq(pg_temp.import('CN=ld-admin', 'west-', 1, 20, 'p', 'west/w1'), 20::bigint, 'leads from a west branch');
SELECT pg_temp.eq(pg_temp.branch_counts('ld', 'p', 'east-'), 'east/e1=10 east/e2=10', 'decentralized: east keeps east''s leads');
SELECT pg_temp.eq(pg_temp.branch_counts('ld', 'p', 'west-'), 'west/w1=10 west/w2=10', 'west keeps west''s');
SELECT pg_temp.eq((SELECT string_agg(DISTINCT holder_path, ',') FROM api.lead_list('CN=ld-admin', NULL, NULL, NULL, NULL, 1000, NULL)),
                  'east,west', 'held by the regions');
SELECT pg_temp.eq((SELECT format('%s|%s|%s', status, reason, holder_path)
                     FROM api.lead_add('CN=ld-admin', 'nowhere', 'p', 'search', NULL, NULL, NULL, NULL, NULL)),
                  'unroutable|no_customer_service|/', 'no customer service above the origin');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=ld-east', NULL, 'unroutable', NULL, NULL, NULL, NULL)), 0::bigint,
                  'not in east''s queue');
-- customer service opens at the group: the sweep retries the lead within minutes
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=ld-viewer', NULL, NULL, NULL, NULL, 1000, NULL)), 20::bigint, 'viewer of west');

-- policies: (holder, project) > (holder, *) > (*, project) > (*, *) > weighted
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s|%s|%s', at_path, project, policy, lead_branch, sla_minutes, max_reallocations)
                     FROM api.policy_set('CN=ld-admin', NULL, 'p', 'performance', NULL, NULL, NULL)),
                  '|p|performance||0|3', 'policy for a project');
SELECT pg_temp.eq((SELECT format('%s|%s|%s', at_path, project, policy) FROM api.policy_set('CN=ld-east', NULL, NULL, 'least_loaded', NULL, NULL, 2)),
                  'east||least_loaded', 'a unit_admin sets its scope unit''s policy');
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s', at_path, project, policy, lead_branch)
                     FROM api.policy_set('CN=ld-admin', 'east', 'p', 'project_lead', 'east/e2', NULL, NULL)),
                  'east|p|project_lead|east/e2', 'project lead');
SELECT pg_temp.eq((SELECT format('%s %s', policy, branch_path) FROM api.lead_add('CN=ld-admin', 'pol-1', 'p', 'search', 'east', NULL, NULL, NULL, NULL)),
                  'project_lead east/e2', '(east, p)');
SELECT pg_temp.eq((SELECT policy FROM api.lead_add('CN=ld-admin', 'pol-2', 'q', 'search', 'east', NULL, NULL, NULL, NULL)),
                  'least_loaded', '(east, *)');
SELECT pg_temp.eq((SELECT policy FROM api.lead_add('CN=ld-admin', 'pol-3', 'p', 'search', 'west', NULL, NULL, NULL, NULL)),
                  'performance', '(*, p)');
SELECT pg_temp.eq((SELECT policy FROM api.lead_add('CN=ld-admin', 'pol-4', 'q', 'search', 'west', NULL, NULL, NULL, NULL)),
                  'weighted', 'the default');
SELECT pg_temp.eq((SELECT string_agg(format('%s|%s|%s|%s|%s', at_path, project, policy, sla_minutes, max_reallocations), ' ')
                     FROM api.policy_show('CN=ld-admin')),
                  '||weighted|0|3 |p|performance|0|3 east||least_loaded|0|2 east|p|project_lead|0|3', 'policy show');
SELECT pg_temp.eq((SELECT string_agg(at_path || '/' || project, ' ') FROM api.policy_show('CN=ld-viewer')), '/ /p',
                  'policies that can apply in west');
SELECT pg_temp.eq((SELECT policy FROM api.policy_set('CN=ld-admin', NULL, NULL, 'weighted', NULL, 15, NULL)), 'weighted', 'tenant default');
SELECT pg_temp.eq((SELECT string_agg(format('%s|%s', at_path, sla_minutes), ' ') FROM api.policy_show('CN=ld-viewer')), '|15 |0',
                  'the stored default replaces the implicit one');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, NULL, 'project_lead', 'east/e1', NULL, NULL)$$, 'BL003', 'project');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, 'p', 'project_lead', NULL, NULL, NULL)$$, 'BL003', 'lead_branch');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', 'west', 'p', 'project_lead', 'east/e1', NULL, NULL)$$, 'BL003', 'lead_branch');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, 'p', 'weighted', 'east/e1', NULL, NULL)$$, 'BL003', 'lead_branch');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, NULL, 'random', NULL, NULL, NULL)$$, 'BL003', 'policy');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, NULL, 'weighted', NULL, -5, NULL)$$, 'BL003', 'sla_minutes');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, NULL, 'weighted', NULL, NULL, -1)$$, 'BL003', 'max_reallocations');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-admin', NULL, 'nope', 'weighted', NULL, NULL, NULL)$$, 'BL005', 'project');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-east', 'west', NULL, 'weighted', NULL, NULL, NULL)$$, 'BL007', 'at');
SELECT pg_temp.fails($$SELECT * FROM api.policy_set('CN=ld-viewer', NULL, NULL, 'weighted', NULL, NULL, NULL)$$, 'BL007', '');
SELECT pg_temp.eq((SELECT count(*) FROM api.audit_list('CN=ld-admin', NULL, NULL, NULL, NULL) WHERE operation = 'policy_set'),
                  4::bigint, 'policy changes audited');

-- ---- tenants never see each other's leads -----------------------------------------------------------------------------------

SELECT pg_temp.fails(format('SELECT * FROM api.lead_show(%L, %s)', 'CN=ld-admin', :first_id), 'BL005', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_history(%L, %s)', 'CN=ld-admin', :first_id), 'BL005', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_explain(%L, %s)', 'CN=ld-admin', :first_id), 'BL005', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_contact(%L, %s, NULL)', 'CN=ld-admin', :first_id), 'BL005', 'id');
SELECT pg_temp.fails(format('SELECT * FROM api.lead_reassign(%L, %s, %L, %L)', 'CN=ld-admin', :first_id, 'east/e1', 'x'), 'BL005', 'id');
SELECT pg_temp.eq((SELECT count(*) FROM api.lead_list('CN=ld-admin', NULL, NULL, NULL, NULL, 1000, NULL) WHERE id = :first_id),
                  0::bigint, 'not listed');
SELECT pg_temp.eq((SELECT string_agg(DISTINCT split_part(branch_path, '/', 1), ',') FROM api.lead_stats('CN=ld-admin', NULL, NULL, NULL)),
                  'east,west', 'stats of its own branches only');
-- the same external_id in another tenant is another lead
SELECT pg_temp.eq((SELECT created AND id <> :first_id FROM api.lead_add('CN=ld-admin', 'first', 'p', 'search', 'east', NULL, NULL, NULL, NULL)),
                  true, 'external ids are per tenant');

-- =================================================================================================
-- lp: each policy over 10,000 allocations
-- =================================================================================================
--
-- Customer service at the group, and at region pk (the performance policy's
-- outcomes are made through pk's pool, then measured through the group's).

SELECT api.tenant_create('CN=operator', 'lp', 'LP', 'CN=lp-admin', NULL) IS NOT NULL;
DO $$
DECLARE
    b record;
BEGIN
    PERFORM api.dept_add('CN=lp-admin', '/', 'customer_service', NULL);
    PERFORM api.unit_add('CN=lp-admin', 'pk', 'region', 'PK', NULL), api.dept_add('CN=lp-admin', 'pk', 'customer_service', NULL);
    PERFORM api.project_add('CN=lp-admin', p, p) FROM unnest(ARRAY['w', 'll', 'pl', 'pf']) p;
    FOR b IN SELECT * FROM (VALUES
            ('w1', 'w', 29), ('w2', 'w', 29), ('w3', 'w', 3), ('w4', 'w', 3), ('w5', 'w', 3), ('w6', 'w', 3), ('w7', 'w', 2), ('w8', 'w', 1),
            ('ll1', 'll', 1), ('ll2', 'll', 2), ('ll3', 'll', 3),
            ('l1', 'pl', 1), ('l2', 'pl', 1), ('l3', 'pl', 3),
            ('pk/a', 'pf', 1), ('pk/b', 'pf', 1), ('pk/c', 'pf', 2)) AS x (path, project, capacity) LOOP
        PERFORM api.unit_add('CN=lp-admin', b.path, 'branch', b.path, NULL), api.dept_add('CN=lp-admin', b.path, 'sales', NULL),
                api.project_assign('CN=lp-admin', b.path, b.project, b.capacity);
    END LOOP;
    PERFORM api.policy_set('CN=lp-admin', NULL, 'll', 'least_loaded', NULL, NULL, NULL),
            api.policy_set('CN=lp-admin', NULL, 'pl', 'project_lead', 'l1', NULL, NULL),
            api.policy_set('CN=lp-admin', '/', 'pf', 'performance', NULL, NULL, NULL),
            api.cap_set('CN=lp-admin', 'l1', 100, NULL);
END
$$;

-- weighted: capacities 29, 29, 3, 3, 3, 3, 2, 1, where picking the largest
-- credit (nginx) strays beyond one lead; every prefix within one here
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'w-', 1, 5000, 'w') + pg_temp.import('CN=lp-admin', 'w-', 5001, 10000, 'w'),
                  10000::bigint, '10,000 weighted');
SELECT pg_temp.prefix_deviation('lp', 'w-', '{"w1": 29, "w2": 29, "w3": 3, "w4": 3, "w5": 3, "w6": 3, "w7": 2, "w8": 1}') AS dev_w \gset
SELECT pg_temp.eq(:dev_w < 1, true, format('weighted: every branch within one lead of its share at every prefix (%s)', :dev_w));
SELECT pg_temp.eq(pg_temp.branch_counts('lp', 'w'), 'w1=3973 w2=3972 w3=411 w4=411 w5=411 w6=411 w7=274 w8=137',
                  'weighted: 10,000 x 29/73 ...');
SELECT pg_temp.eq((SELECT max(abs(expected_share - actual_share) * 10000) < 1
                     FROM api.lead_stats('CN=lp-admin', NULL, NULL, NULL) WHERE branch_path LIKE 'w%'),
                  true, 'stats: expected and actual shares agree');

-- O(1) writes (issue 18, sql/schema/090): while a pool's candidates stay
-- the same, one allocation writes the chosen branch's state row and the
-- pool's round, not every member; a cap that takes a branch out starts a
-- new round, which writes the pool once (the 7 candidates and the capped
-- branch leaving the round), and then single rows again. Rows a
-- transaction wrote: those whose xmin is its id.
CREATE FUNCTION pg_temp.add_writes(p_external_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    b text;
BEGIN
    SELECT l.branch_path INTO b FROM api.lead_add('CN=lp-admin', p_external_id, 'w', 'search', NULL, NULL, NULL, NULL, NULL) l;
    RETURN format('%s state rows, %s round',
                  (SELECT count(*) FROM branchline.lead_pool_state s WHERE s.xmin = pg_current_xact_id()::xid),
                  (SELECT count(*) FROM branchline.lead_pool_rounds r WHERE r.xmin = pg_current_xact_id()::xid));
END
$$;
SELECT pg_temp.eq(pg_temp.add_writes('ws-1'), '1 state rows, 1 round', 'an allocation in a stable pool writes two rows');
SELECT pg_temp.eq(pg_temp.add_writes('ws-2'), '1 state rows, 1 round', 'and the next one too');
SELECT count(*) FROM api.cap_set('CN=lp-admin', 'w8', 0, NULL);
SELECT pg_temp.eq(pg_temp.add_writes('ws-3'), '8 state rows, 1 round', 'a branch capped: a new round writes the pool once');
SELECT pg_temp.eq(pg_temp.add_writes('ws-4'), '1 state rows, 1 round', 'then one row again');
SELECT count(*) FROM api.cap_unset('CN=lp-admin', 'w8');
SELECT pg_temp.eq(pg_temp.add_writes('ws-5'), '8 state rows, 1 round', 'the branch back: a new round');
SELECT pg_temp.eq(pg_temp.add_writes('ws-6'), '1 state rows, 1 round', 'then one row again');
-- the pool's members are kept at the organization's version (091); an
-- organization change makes the next allocation read them again (a new
-- weight: a new round) and keep them at the new version
CREATE FUNCTION pg_temp.kept_w() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.use_tenant('lp');
    RETURN (SELECT format('%s %s', k.org_version = o.version, k.capacities)
              FROM branchline.lead_pool_members k
              JOIN branchline.org_state o ON o.tenant_id = k.tenant_id
              JOIN branchline.projects j ON j.tenant_id = k.tenant_id AND j.id = k.project_id
             WHERE j.code = 'w');
END
$$;
SELECT pg_temp.eq(pg_temp.kept_w(), 't {29,29,3,3,3,3,2,1}', 'members kept at the current version');
SELECT count(*) FROM api.project_assign('CN=lp-admin', 'w8', 'w', 4);
SELECT pg_temp.eq(pg_temp.kept_w(), 'f {29,29,3,3,3,3,2,1}', 'an organization change: the kept members are old');
SELECT pg_temp.eq(pg_temp.add_writes('ws-7'), '8 state rows, 1 round', 'read again: a new weight, a new round');
SELECT pg_temp.eq(pg_temp.kept_w(), 't {29,29,3,3,3,3,2,4}', 'and kept at the new version');
SELECT pg_temp.eq((SELECT weight FROM api.lead_explain('CN=lp-admin', pg_temp.lead('lp', 'ws-7')) WHERE branch_path = 'w8'),
                  4::double precision, 'the new weight decides');
SELECT pg_temp.eq(pg_temp.add_writes('ws-8'), '1 state rows, 1 round', 'then one row again');

-- least_loaded: fewest open leads per capacity, ties to the lowest id, also
-- after 500 of ll3's leads are lost
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'll-', 1, 5000, 'll'), 5000::bigint, '5,000 least loaded');
DO $$
DECLARE
    id bigint;
BEGIN
    FOR id IN SELECT l.id FROM api.lead_list('CN=lp-admin', 'll3', 'allocated', 'll', NULL, 500, NULL) l LOOP
        PERFORM api.lead_lose('CN=lp-admin', id, NULL);
    END LOOP;
END
$$;
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'll-', 5001, 10000, 'll'), 5000::bigint, '5,000 more');
SELECT pg_temp.eq(pg_temp.least_loaded_violations('lp', 'll-'), 0::bigint, 'least_loaded: every choice the least loaded');
SELECT pg_temp.eq(pg_temp.branch_counts('lp', 'll'), 'll1=1584 ll2=3167 ll3=5249', 'least_loaded: 9,500 open by capacity, 500 lost');

-- project_lead: the lead branch up to its cap (100 a day), the others by weight after
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'pl-', 1, 5000, 'pl') + pg_temp.import('CN=lp-admin', 'pl-', 5001, 10000, 'pl'),
                  10000::bigint, '10,000 project lead');
SELECT pg_temp.eq(pg_temp.branch_counts('lp', 'pl'), 'l1=100 l2=2475 l3=7425', 'project_lead: 100, then 1:3');
SELECT pg_temp.prefix_deviation('lp', 'pl-', '{"l2": 1, "l3": 3}', 100) AS dev_pl \gset
SELECT pg_temp.eq(:dev_pl < 1, true, format('project_lead: the rest within one lead at every prefix (%s)', :dev_pl));

-- performance: outcomes through pk's pool (weighted 1:1:2 over 40 leads),
-- then 10,000 through the group's: a won 6 lost 2 -> 1 x 7/10; b lost 8 ->
-- 1 x 1/10; c won 2 lost 2 -> 2 x 3/6
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'warm-', 1, 40, 'pf', 'pk'), 40::bigint, 'warm-up');
SELECT pg_temp.eq(pg_temp.branch_counts('lp', 'pf'), 'pk/a=10 pk/b=10 pk/c=20', 'warm-up by capacity');
DO $$
DECLARE
    x record;
BEGIN
    FOR x IN SELECT l.id, row_number() OVER (PARTITION BY l.branch_path ORDER BY l.id) AS n, l.branch_path
               FROM api.lead_list('CN=lp-admin', 'pk', NULL, 'pf', NULL, 1000, NULL) l LOOP
        IF x.branch_path = 'pk/a' AND x.n <= 8 OR x.branch_path = 'pk/c' AND x.n <= 4 THEN
            PERFORM api.lead_contact('CN=lp-admin', x.id, NULL);
        END IF;
        IF x.branch_path = 'pk/a' AND x.n <= 6 OR x.branch_path = 'pk/c' AND x.n <= 2 THEN
            PERFORM api.lead_win('CN=lp-admin', x.id, NULL);
        ELSIF x.branch_path = 'pk/a' AND x.n <= 8 OR x.branch_path = 'pk/b' AND x.n <= 8 OR x.branch_path = 'pk/c' AND x.n <= 4 THEN
            PERFORM api.lead_lose('CN=lp-admin', x.id, NULL);
        END IF;
    END LOOP;
END
$$;
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s/%s', branch_path, won, lost), ' ' ORDER BY branch_path)
                     FROM api.lead_stats('CN=lp-admin', 'pk', NULL, NULL)),
                  'pk/a:6/2 pk/b:0/8 pk/c:2/2', 'outcomes');
SELECT pg_temp.eq(pg_temp.import('CN=lp-admin', 'pf-', 1, 5000, 'pf') + pg_temp.import('CN=lp-admin', 'pf-', 5001, 10000, 'pf'),
                  10000::bigint, '10,000 performance');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s', branch_path, weight), ' ' ORDER BY branch_path)
                     FROM api.lead_explain('CN=lp-admin', pg_temp.lead('lp', 'pf-1')) WHERE note NOT LIKE 'left out: %'),
                  'pk/a:0.7 pk/b:0.1 pk/c:1', 'performance weights: capacity x (won + 1) / (won + lost + 2)');
SELECT pg_temp.prefix_deviation('lp', 'pf-', '{"pk/a": 0.7, "pk/b": 0.1, "pk/c": 1.0}') AS dev_pf \gset
SELECT pg_temp.eq(:dev_pf < 1, true, format('performance: within one lead at every prefix (%s)', :dev_pf));
SELECT pg_temp.eq(pg_temp.counter_mismatches('lp'), '', 'lp counters match the rows');

-- =================================================================================================
-- ls: SLA reallocation with a faked clock
-- =================================================================================================

SELECT api.tenant_create('CN=operator', 'ls', 'LS', 'CN=ls-admin', NULL) IS NOT NULL;
DO $$
DECLARE
    b text;
BEGIN
    PERFORM api.dept_add('CN=ls-admin', '/', 'customer_service', NULL);
    PERFORM api.project_add('CN=ls-admin', 'sla', 'SLA'), api.project_add('CN=ls-admin', 'sla2', 'SLA 2');
    FOREACH b IN ARRAY ARRAY['s1', 's2', 's3'] LOOP
        PERFORM api.unit_add('CN=ls-admin', b, 'branch', b, NULL), api.dept_add('CN=ls-admin', b, 'sales', NULL),
                api.project_assign('CN=ls-admin', b, 'sla', 1);
    END LOOP;
    PERFORM api.project_assign('CN=ls-admin', 's1', 'sla2', 1), api.project_assign('CN=ls-admin', 's2', 'sla2', 1);
    PERFORM api.policy_set('CN=ls-admin', NULL, 'sla', 'weighted', NULL, 30, 2),
            api.policy_set('CN=ls-admin', NULL, 'sla2', 'weighted', NULL, 30, 5);
END
$$;
SELECT id AS sla1 FROM api.lead_add('CN=ls-admin', 'sla-1', 'sla', 'search', NULL, NULL, NULL, NULL, NULL) \gset
SELECT id AS slac FROM api.lead_add('CN=ls-admin', 'sla-c', 'sla', 'search', NULL, NULL, NULL, NULL, NULL) \gset
SELECT id AS sla21 FROM api.lead_add('CN=ls-admin', 'sla2-1', 'sla2', 'search', NULL, NULL, NULL, NULL, NULL) \gset
SELECT pg_temp.eq((SELECT string_agg(branch_path, ' ' ORDER BY id) FROM api.lead_list('CN=ls-admin', NULL, NULL, NULL, NULL, NULL, NULL)),
                  's1 s2 s1', 'equal weights: lowest id first');
SELECT pg_temp.eq((SELECT status FROM api.lead_contact('CN=ls-admin', :slac, NULL)), 'contacted', 'contacted in time');
DO $$
BEGIN
    PERFORM pg_temp.use_tenant('ls');
    PERFORM pg_temp.eq((SELECT due_at - created_at FROM branchline.leads WHERE external_id = 'sla-1'), interval '30 minutes', 'SLA deadline');
    PERFORM pg_temp.eq((SELECT due_at FROM branchline.leads WHERE external_id = 'sla-c'), NULL::timestamptz, 'no deadline once contacted');
END
$$;
SELECT pg_temp.eq((SELECT format('%s %s', reallocated, drained) FROM api.sweep(100)), '0 0', 'nothing due yet');
SELECT pg_temp.fails($$SELECT * FROM branchline.sweep_at(100, now() + interval '1 day')$$, '42501', '');

\c :super
\o /dev/null
SET ROLE :owner;
SELECT reallocated AS sw1 FROM branchline.sweep_at(100, now() + interval '31 minutes') \gset
SELECT reallocated AS sw2 FROM branchline.sweep_at(100, now() + interval '62 minutes') \gset
SELECT reallocated AS sw3 FROM branchline.sweep_at(100, now() + interval '93 minutes') \gset
SELECT reallocated + drained AS sw4 FROM branchline.sweep_at(100, now() + interval '1 day') \gset
\c :app
\o /dev/null
\ir helpers.sql
\ir lead_helpers.sql
SELECT pg_temp.eq(format('%s %s %s %s', :sw1, :sw2, :sw3, :sw4), '2 2 1 0', 'sweeps: 2 missed, 2 missed, 1 exhausted, nothing left');
SELECT pg_temp.eq((SELECT format('%s|%s|%s|%s', status, reason, branch_path, reallocations) FROM api.lead_show('CN=ls-admin', :sla1)),
                  'unroutable|sla_exhausted||2', 'after max_reallocations: the holder''s queue');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s>%s', kind, from_branch, to_branch), ' ' ORDER BY id) FROM api.lead_history('CN=ls-admin', :sla1)),
                  'allocated:>s1 reallocated:s1>s3 reallocated:s3>s2 unroutable:s2>', 'every owner in the history');
SELECT pg_temp.eq((SELECT reason FROM api.lead_history('CN=ls-admin', :sla1) WHERE kind = 'unroutable'),
                  'sla_exhausted: not contacted within 30 minutes after 2 reallocation(s)', 'why');
SELECT pg_temp.eq((SELECT string_agg(format('%s:%s:%s', branch_path, chosen, note), ' ') FROM api.lead_explain('CN=ls-admin', :sla1)
                    WHERE note NOT LIKE 'left out: %'),
                  's1:f:excluded: had it before s2:t: s3:f:excluded: had it before', 'explain: the branches that had it');
SELECT pg_temp.eq((SELECT format('%s|%s|%s', status, reason, reallocations) FROM api.lead_show('CN=ls-admin', :sla21)),
                  'unroutable|sla_exhausted|1', 'no branch left');
SELECT pg_temp.eq(pg_temp.history('CN=ls-admin', :sla21), 'allocated>reallocated>unroutable', 'sla2 history');
SELECT pg_temp.eq((SELECT format('%s %s', contacted, contacted_in_sla) FROM api.lead_stats('CN=ls-admin', 's2', NULL, NULL)),
                  '1 1', 'contacted within the SLA');
SELECT pg_temp.eq(pg_temp.counter_mismatches('ls'), '', 'ls counters match the rows');
SELECT pg_temp.eq((SELECT branch_path FROM api.lead_reassign('CN=ls-admin', :sla1, 's1', 'picked up by hand')), 's1',
                  'an exhausted lead reassigned');

-- =================================================================================================
-- lz: caps in the tenant's time zone (Asia/Shanghai)
-- =================================================================================================

SELECT api.tenant_create('CN=operator', 'lz', 'LZ', 'CN=lz-admin', 'Asia/Shanghai') IS NOT NULL;
DO $$
BEGIN
    PERFORM api.dept_add('CN=lz-admin', '/', 'customer_service', NULL);
    PERFORM api.project_add('CN=lz-admin', 'c', 'C'), api.project_add('CN=lz-admin', 'c2', 'C2');
    PERFORM api.unit_add('CN=lz-admin', 'z1', 'branch', 'Z1', NULL), api.dept_add('CN=lz-admin', 'z1', 'sales', NULL),
            api.project_assign('CN=lz-admin', 'z1', 'c', 1), api.cap_set('CN=lz-admin', 'z1', 2, NULL);
    PERFORM api.unit_add('CN=lz-admin', 'z2', 'branch', 'Z2', NULL), api.dept_add('CN=lz-admin', 'z2', 'sales', NULL),
            api.project_assign('CN=lz-admin', 'z2', 'c2', 1), api.cap_set('CN=lz-admin', 'z2', NULL, 2);
END
$$;
SELECT pg_temp.eq(pg_temp.import('CN=lz-admin', 'cz-', 1, 3, 'c') + pg_temp.import('CN=lz-admin', 'cw-', 1, 3, 'c2'), 6::bigint, 'capped leads');
SELECT pg_temp.lead('lz', 'cz-3') AS cz3 \gset
SELECT pg_temp.lead('lz', 'cw-3') AS cw3 \gset
SELECT pg_temp.eq((SELECT format('%s|%s|%s', status, reason, branch_path) FROM api.lead_show('CN=lz-admin', :cz3)),
                  'waiting|all_capped|', 'at the daily cap: waiting');
SELECT pg_temp.eq((SELECT note FROM api.lead_explain('CN=lz-admin', :cz3) WHERE note NOT LIKE 'left out: %'),
                  'at daily cap (2)', 'daily cap explained');
SELECT pg_temp.eq((SELECT note FROM api.lead_explain('CN=lz-admin', :cw3) WHERE note NOT LIKE 'left out: %'),
                  'at weekly cap (2)', 'weekly cap explained');
SELECT pg_temp.eq((SELECT string_agg(external_id, ' ' ORDER BY id) FROM api.lead_list('CN=lz-admin', NULL, 'waiting', NULL, NULL, NULL, NULL)),
                  'cz-3 cw-3', 'listed as waiting');
DO $$
BEGIN
    PERFORM pg_temp.use_tenant('lz');
    PERFORM pg_temp.eq((SELECT due_at FROM branchline.leads WHERE external_id = 'cz-3'),
                       ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai',
                       'retried at the next midnight in Shanghai');
    PERFORM pg_temp.eq((SELECT string_agg(format('%s %s', day, received), ',') FROM branchline.lead_day_counts d
                          JOIN branchline.units b ON b.tenant_id = d.tenant_id AND b.id = d.branch_id WHERE b.code = 'z1'),
                       format('%s 2', (now() AT TIME ZONE 'Asia/Shanghai')::date), 'counted on the Shanghai day');
END
$$;
SELECT ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' AS midnight,
       1 + (extract(isodow FROM (now() AT TIME ZONE 'Asia/Shanghai')::date + 1) = 1)::integer AS drains_at_midnight \gset

\c :super
\o /dev/null
SET ROLE :owner;
SELECT drained AS before_midnight FROM branchline.sweep_at(100, :'midnight'::timestamptz - interval '1 second') \gset
SELECT drained AS after_midnight FROM branchline.sweep_at(100, :'midnight'::timestamptz + interval '1 second') \gset
\c :app
\o /dev/null
\ir helpers.sql
\ir lead_helpers.sql
SELECT pg_temp.eq(format('%s %s', :before_midnight, :after_midnight), '0 ' || :drains_at_midnight,
                  'a new Shanghai day frees the daily cap (the weekly one only on Mondays)');
SELECT pg_temp.eq((SELECT format('%s %s', status, branch_path) FROM api.lead_show('CN=lz-admin', :cz3)), 'allocated z1', 'drained');
SELECT pg_temp.eq(pg_temp.history('CN=lz-admin', :cz3), 'waiting>allocated', 'drain history');
DO $$
BEGIN
    PERFORM pg_temp.use_tenant('lz');
    PERFORM pg_temp.eq((SELECT received FROM branchline.lead_day_counts d JOIN branchline.units b ON b.tenant_id = d.tenant_id AND b.id = d.branch_id
                         WHERE b.code = 'z1' AND day = (now() AT TIME ZONE 'Asia/Shanghai')::date + 1), 1, 'counted on the next Shanghai day');
END
$$;
-- a higher cap: waiting leads are retried at the next sweep
SELECT api.cap_set('CN=lz-admin', 'z2', NULL, 5) IS NOT NULL;
SELECT api.sweep(100) IS NOT NULL;
SELECT pg_temp.eq((SELECT format('%s %s', status, branch_path) FROM api.lead_show('CN=lz-admin', :cw3)), 'allocated z2', 'weekly cap raised');
SELECT pg_temp.eq(pg_temp.counter_mismatches('lz'), '', 'lz counters match the rows');

-- ld's lead without customer service, once the group has it: drained in
-- the transaction that gave the group customer service (I2)
SELECT api.dept_add('CN=ld-admin', '/', 'customer_service', NULL) IS NOT NULL;
SELECT pg_temp.eq((SELECT format('%s %s', status, holder_path) FROM api.lead_show('CN=ld-admin', pg_temp.lead('ld', 'nowhere'))),
                  'allocated /', 'held by the group now');

-- =================================================================================================
-- fixtures of run.sh's concurrency tests
-- =================================================================================================

-- lsw: 2,000 leads whose 5-minute SLA two concurrent sweeps expire
SELECT api.tenant_create('CN=operator', 'lsw', 'LSW', 'CN=lsw-admin', NULL) IS NOT NULL;
DO $$
BEGIN
    PERFORM api.dept_add('CN=lsw-admin', '/', 'customer_service', NULL), api.project_add('CN=lsw-admin', 'sw', 'SW');
    FOR i IN 1 .. 5 LOOP
        PERFORM api.unit_add('CN=lsw-admin', 'q' || i, 'branch', 'Q', NULL), api.dept_add('CN=lsw-admin', 'q' || i, 'sales', NULL),
                api.project_assign('CN=lsw-admin', 'q' || i, 'sw', 1);
    END LOOP;
    PERFORM api.policy_set('CN=lsw-admin', NULL, NULL, 'weighted', NULL, 5, 3);
END
$$;
SELECT pg_temp.eq(pg_temp.import('CN=lsw-admin', 'sw-', 1, 2000, 'sw'), 2000::bigint, 'lsw leads');

-- lconc: 16 clients adding leads at once
SELECT api.tenant_create('CN=operator', 'lconc', 'LConc', 'CN=lconc-admin', NULL) IS NOT NULL;
DO $$
BEGIN
    PERFORM api.dept_add('CN=lconc-admin', '/', 'customer_service', NULL), api.project_add('CN=lconc-admin', 'k', 'K');
    FOR i IN 1 .. 5 LOOP
        PERFORM api.unit_add('CN=lconc-admin', 'k' || i, 'branch', 'K', NULL), api.dept_add('CN=lconc-admin', 'k' || i, 'sales', NULL),
                api.project_assign('CN=lconc-admin', 'k' || i, 'k', i);
    END LOOP;
END
$$;

-- ldup: same phones and e-mails in different pools at once; customer
-- service at each of four regions, four projects: 16 pools of 2 branches
SELECT api.tenant_create('CN=operator', 'ldup', 'LDup', 'CN=ldup-admin', NULL) IS NOT NULL;
DO $$
BEGIN
    FOR i IN 1 .. 4 LOOP
        PERFORM api.project_add('CN=ldup-admin', 'p' || i, 'P'), api.unit_add('CN=ldup-admin', 'r' || i, 'region', 'R', NULL),
                api.dept_add('CN=ldup-admin', 'r' || i, 'customer_service', NULL);
    END LOOP;
    FOR i IN 1 .. 4 LOOP
        FOR j IN 1 .. 2 LOOP
            PERFORM api.unit_add('CN=ldup-admin', format('r%s/b%s', i, j), 'branch', 'B', NULL),
                    api.dept_add('CN=ldup-admin', format('r%s/b%s', i, j), 'sales', NULL);
            FOR k IN 1 .. 4 LOOP
                PERFORM api.project_assign('CN=ldup-admin', format('r%s/b%s', i, j), 'p' || k, 1);
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;

-- pool_members, redefined for speed (sql/013), against its first
-- definition (sql/013): every unit of every tenant as holder, every
-- project, with and without outcomes, after all the allocations, caps,
-- pauses and moves above; and load_pool's members, caps, counts and state
-- against them, kept members or not (every pool allocated into above has
-- them kept)
\ir pool_reference.sql
DO $$
DECLARE
    t text;
    n bigint := 0;
    loaded bigint := 0;
BEGIN
    FOR t IN SELECT code FROM api.tenant_list('CN=operator') ORDER BY code LOOP
        PERFORM pg_temp.use_tenant(t);
        n := n + pg_temp.check_pools(branchline.local_day(now()));
        loaded := loaded + pg_temp.check_loaded_pools(now());
    END LOOP;
    PERFORM pg_temp.eq(n > 20, true, 'pools with members compared');
    PERFORM pg_temp.eq(loaded > 20, true, 'loaded pools with members compared');
END
$$;

-- without a tenant, no lead row is visible to the daemon's role
DO $$
DECLARE
    t text;
    n bigint;
BEGIN
    FOREACH t IN ARRAY ARRAY['leads', 'lead_events', 'lead_pool_state', 'lead_pool_rounds', 'lead_day_counts', 'lead_caps', 'lead_policies',
                             'lead_view', 'policy_view'] LOOP
        EXECUTE format('SELECT count(*) FROM branchline.%I', t) INTO n;
        PERFORM pg_temp.eq(n, 0::bigint, t || ' without a tenant');
    END LOOP;
END
$$;

\o
\echo test_leads.sql: all assertions passed
