-- The select50 reference of issue 18: the plain SELECT of what `lead list`
-- of a branch returns (blbench --scenario leads, sql/leads.sql): the 50
-- newest leads of a random branch, with the same columns (lead_view's wire
-- row), through the same index (leads_branch, scanned backwards), as the
-- daemon's role with the tenant set (PGOPTIONS -c branchline.tenant=...) so
-- that row-level security binds it. The branch is named by path, as the
-- request names it: one probe of units (tenant_id, path).
-- Variables: regions, cities, branches, leads_limit. (Not under sql/: that
-- holds the daemon's own statements, which bench.sql_sync checks.)
\set r random(1, :regions)
\set c random(1, :cities)
\set b random(1, :branches)
SELECT (v.wire).* FROM branchline.lead_view v WHERE v.tenant_id = branchline.current_tenant() AND v.branch_id = (SELECT u.id FROM branchline.units u WHERE u.tenant_id = branchline.current_tenant() AND u.path = '/r' || :r || '/c' || :c || '/b' || :b || '/') ORDER BY v.id DESC LIMIT :leads_limit;
