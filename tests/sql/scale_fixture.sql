-- A tenant of 100,000 branches for test_scale.sql, run by tests/sql/run.sh
-- as the superuser: 10 regions of 10 cities of 1,000 branches, promotion
-- and customer service at each region, sales at each branch, 50 projects
-- p1..p50 with each branch handling one (capacity 1 to 4), so that a pool
-- (region, project) has 200 branches. Rows are
-- written directly (through the api this would take minutes), with path and
-- ancestors as unit_add computes them.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT api.tenant_create('CN=operator', 'big', 'Big', 'CN=big-admin', NULL) IS NOT NULL AS big_tenant \gset
DO $$
DECLARE
    t bigint := (SELECT id FROM branchline.tenants WHERE code = 'big');
    root bigint := (SELECT id FROM branchline.units WHERE tenant_id = t AND path = '/');
    region bigint;
    city bigint;
BEGIN
    FOR r IN 1..10 LOOP
        INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
        VALUES (t, root, 'r' || r, 'Region ' || r, 'region', '2024-01-01', '/r' || r || '/', ARRAY[root])
        RETURNING id INTO region;
        INSERT INTO branchline.departments (tenant_id, unit_id, function, name)
        VALUES (t, region, 'promotion', 'P' || r), (t, region, 'customer_service', 'C' || r);
        FOR c IN 1..10 LOOP
            INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
            VALUES (t, region, 'c' || c, 'City ' || c, 'city', '2024-01-01', '/r' || r || '/c' || c || '/',
                    ARRAY[root, region])
            RETURNING id INTO city;
            INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
            SELECT t, city, 'b' || b, 'Branch ' || b, 'branch', '2024-01-01',
                   '/r' || r || '/c' || c || '/b' || b || '/', ARRAY[root, region, city]
              FROM generate_series(1, 1000) b;
        END LOOP;
    END LOOP;
    INSERT INTO branchline.departments (tenant_id, unit_id, function, name)
    SELECT t, id, 'sales', name || ' sales' FROM branchline.units WHERE tenant_id = t AND kind = 'branch';
    INSERT INTO branchline.projects (tenant_id, code, name)
    SELECT t, 'p' || i, 'Project ' || i FROM generate_series(1, 50) i;
    INSERT INTO branchline.branch_projects (tenant_id, branch_id, project_id, capacity)
    SELECT t, u.id, p.id, 1 + u.id % 4
      FROM branchline.units u JOIN branchline.projects p ON p.tenant_id = t AND p.code = 'p' || (1 + u.id % 50)
     WHERE u.tenant_id = t AND u.kind = 'branch';
END
$$;
VACUUM ANALYZE;
