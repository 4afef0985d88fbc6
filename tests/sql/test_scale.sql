-- The hierarchy at 100,000 units (scale_fixture.sql), as the daemon's role:
-- the lookups behind every operation must be index scans under row-level
-- security, and a few operations are timed (printed, not asserted: machines
-- differ).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Fails unless the plan of p_sql uses an index matching p_index (a regular
-- expression) and scans no table whole.
CREATE FUNCTION pg_temp.indexed(p_sql text, p_index text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || p_sql LOOP
        plan := plan || line || E'\n';
    END LOOP;
    IF plan !~ p_index OR plan ~ 'Seq Scan' THEN
        RAISE EXCEPTION E'% does not use %:\n%', p_sql, p_index, plan;
    END IF;
END
$$;

SELECT id AS big_id FROM api.tenant_list('CN=operator') WHERE code = 'big' \gset
\o /dev/null
BEGIN;
SELECT set_config('branchline.tenant', :'big_id', true) IS NOT NULL AS tenant_set;
-- a unit by its path
SELECT pg_temp.indexed($$SELECT * FROM branchline.units WHERE path = '/r3/c4/b500/'$$, 'units_tenant_id_path_key');
-- a subtree: all branches under a city
SELECT pg_temp.indexed($$SELECT * FROM branchline.units WHERE path >= '/r3/c4/' AND path < '/r3/c40' AND kind = 'branch'$$,
                       'units_kind|units_tenant_id_path_key');
-- ancestors of a branch
SELECT pg_temp.indexed($$SELECT a.* FROM branchline.units b JOIN branchline.units a
                           ON a.tenant_id = b.tenant_id AND a.id = ANY (b.ancestors) WHERE b.path = '/r3/c4/b500/'$$,
                       'units_pkey');
-- children of a unit
SELECT pg_temp.indexed($$SELECT count(*) FROM branchline.units WHERE parent_id = 42$$, 'units_children');
-- the serving rule for the branches of a city
SELECT pg_temp.indexed($$SELECT * FROM branchline.serving_map('/r3/c4/')$$, 'departments_tenant_id_unit_id_function_key');
-- the unit rows the api returns
SELECT pg_temp.indexed($$SELECT (v.wire).* FROM branchline.unit_view v WHERE v.path >= '/r3/c4/' AND v.path < '/r3/c40'$$,
                       'units_children');
COMMIT;
\o

\pset tuples_only on
\pset format unaligned
\timing on
SELECT 'unit_show: ' || path FROM api.unit_show('CN=big-admin', 'r3/c4/b500');
SELECT 'unit_list of a city: ' || count(*) FROM api.unit_list('CN=big-admin', 'branch', 'r3/c4', NULL);
SELECT 'serving of a city: ' || count(*) FROM api.serving('CN=big-admin', 'r3/c4');
SELECT 'serving of a region: ' || count(*) FROM api.serving('CN=big-admin', 'r3');
SELECT 'shape of a region: ' || shape FROM api.shape('CN=big-admin', 'r3');
SELECT 'unit_move of a city with 1000 branches: ' || path FROM api.unit_move('CN=big-admin', 'r3/c4', '/');
SELECT 'unit_add: ' || path FROM api.unit_add('CN=big-admin', 'c4/new', 'branch', 'New', NULL);
SELECT 'reorg_plan: ' || summary FROM api.reorg_plan('CN=big-admin', 'centralize', 'promotion,customer_service', NULL, NULL);
\timing off

-- ---- lead allocation at 100,000 branches ---------------------------------------------------

-- PL/pgSQL plans a statement for the values of its parameters five times,
-- then may keep one generic plan for every later call of the session. The
-- statements of allocation (sql/013) must be cheap in that generic plan:
-- this runs p_sql prepared with its generic plan and the arguments p_args,
-- and returns the rows its plan nodes produced in all (rows x loops).
CREATE FUNCTION pg_temp.generic_rows(p_sql text, p_types text, p_args text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    m text[];
    n bigint := 0;
BEGIN
    EXECUTE format('PREPARE generic_rows_q (%s) AS %s', p_types, p_sql);
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE generic_rows_q (%s)', p_args) LOOP
        FOR m IN SELECT regexp_matches(line, 'rows=(\d+) loops=(\d+)', 'g') LOOP
            n := n + m[1]::bigint * m[2]::bigint;
        END LOOP;
    END LOOP;
    PERFORM set_config('plan_cache_mode', 'auto', true);
    EXECUTE 'DEALLOCATE generic_rows_q';
    RETURN n;
END
$$;

-- One lead of pool (r5, p7) through the api, its time kept in
-- pg_temp.add_times.
CREATE TEMP TABLE add_times (n integer, ms double precision);
CREATE FUNCTION pg_temp.timed_add(p_n integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    PERFORM * FROM api.lead_add('CN=big-admin', 'scale-' || p_n, 'p7', 'search', 'r5', NULL, NULL, NULL, NULL);
    INSERT INTO pg_temp.add_times VALUES (p_n, extract(epoch FROM clock_timestamp() - t0) * 1000);
END
$$;

\o /dev/null
\ir helpers.sql
\ir pool_reference.sql
BEGIN;
SELECT set_config('branchline.tenant', :'big_id', true) IS NOT NULL AS tenant_set;
-- A region's pool reads its subtree (10,101 units and their 10,000
-- project rows) and probes its 200 members; the group's pool reads the
-- project's 2,000 rows and probes them: about 35,000 and 48,000 rows in
-- all. sql/013's definition produced 11 million for the region (every
-- sales department of the tenant for each member).
SELECT pg_temp.eq(pg_temp.generic_rows('SELECT * FROM branchline.pool_members($1, $2, $3, $4)',
                                       'branchline.units, bigint, date, boolean',
                                       format('%L, %s, current_date, true', u, j.id))
                  < 60000, true, 'rows of the pool of ' || u.path || ' in its generic plan')
  FROM branchline.units u, branchline.projects j
 WHERE u.path IN ('/', '/r5/') AND j.code = 'p7';
-- the same members as sql/013's definition (which takes too long here
-- for the group's pool: test_leads.sql compares every pool of its
-- tenants, the groups' included)
SELECT pg_temp.eq((SELECT string_agg(m::text, ',' ORDER BY m.path)
                     FROM branchline.pool_members(u, j.id, current_date, false) m),
                  (SELECT string_agg(m::text, ',' ORDER BY m.path)
                     FROM pg_temp.pool_members_013(u, j.id, current_date, false) m),
                  'pool of ' || u.path)
  FROM branchline.units u, branchline.projects j
 WHERE u.path IN ('/r5/', '/r5/c5/') AND j.code = 'p7';
COMMIT;
-- 25 leads, one statement each in this one session, like the daemon's
-- long-lived connections: printed, the later calls run generic plans
SELECT format('SELECT pg_temp.timed_add(%s)', i) FROM generate_series(1, 25) i \gexec
\o
SELECT format('lead_add, 25 calls in one session: median of calls 1-5 %s ms, of calls 21-25 %s ms',
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE n <= 5))::numeric, 1),
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE n > 20))::numeric, 1))
  FROM pg_temp.add_times;
