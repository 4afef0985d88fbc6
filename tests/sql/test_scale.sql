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
