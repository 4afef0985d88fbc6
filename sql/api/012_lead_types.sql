-- Leads: the data model of intake, allocation and working of consultation
-- leads (issue #4). The allocation itself is 013, the operations 014-015.
--
-- Volume shapes this file. Leads and their events are written on every
-- intake (millions of rows), so:
--   - they carry no foreign keys: an FK check takes a KEY SHARE row lock on
--     the parent (the tenant, the root unit, a popular branch), and every
--     concurrent intake locking the same parent row turns its xmax into a
--     growing MultiXact. Units they name cannot disappear under them anyway:
--     lead writers hold the tenant's unit guard (013: guard_units) in shared
--     mode and unit_delete takes it exclusively before it looks for leads
--     (unit_lead_blockers, 014);
--   - nothing is counted over them on the hot path: per-(pool, branch) and
--     per-(branch, day) counters (lead_pool_state, lead_day_counts) are kept
--     in the same transaction as the change they count.

-- ---- wire types ----------------------------------------------------------------------

CREATE TYPE api.lead AS (
    id bigint, external_id text, project text, channel text, origin_path text, holder_path text,
    branch_path text, status text, reason text, name text, phone text, email text, note text,
    duplicate_of bigint, created boolean, created_at text, allocated_at text, contacted_at text,
    closed_at text, reallocations integer, policy text);
CREATE TYPE api.lead_import_row AS (
    line integer, external_id text, result text, lead_id bigint, branch_path text, status text,
    field text, reason text);
CREATE TYPE api.lead_event AS (
    id bigint, at text, kind text, from_branch text, to_branch text, reason text, principal text, policy text);
CREATE TYPE api.explain_row AS (
    at text, policy text, branch_path text, weight double precision, allocated_before bigint,
    score double precision, chosen boolean, note text);
CREATE TYPE api.lead_stats_row AS (
    branch_path text, period_start text, received bigint, contacted bigint, contacted_in_sla bigint,
    won bigint, lost bigint, conversion double precision, expected_share double precision,
    actual_share double precision);
CREATE TYPE api.lead_purge_result AS (purged bigint, dry_run boolean);
CREATE TYPE api.policy AS (
    at_path text, project text, policy text, lead_branch text, sla_minutes integer, max_reallocations integer);
CREATE TYPE api.branch_cap AS (branch_path text, per_day integer, per_week integer);
-- not protocol messages: what the daemon itself reads
CREATE TYPE api.lead_watch_scope AS (tenant_id bigint, scope_path text);
CREATE TYPE api.sweep_result AS (reallocated integer, drained integer);

-- A lead in its wire form, personal data included (lead_masked removes it
-- for callers who may not see it), next to the keys the api filters on.
-- tid: where the row is, for a lookup of a row the same statement found
-- (lead_list: a TID scan, whatever the statistics say).
CREATE VIEW branchline.lead_view WITH (security_invoker = true) AS
SELECT l.tenant_id, l.id, l.ctid AS tid, l.branch_id, b.path AS branch_key, h.path AS holder_key,
       ROW(l.id, l.external_id, p.code, l.channel, branchline.show_path(o.path), branchline.show_path(h.path),
           coalesce(branchline.show_path(b.path), ''), l.status, coalesce(l.reason, ''),
           coalesce(l.name, ''), coalesce(l.phone, ''), coalesce(l.email, ''), coalesce(l.note, ''),
           coalesce(l.duplicate_of, 0), false, branchline.iso(l.created_at),
           coalesce(branchline.iso(l.allocated_at), ''), coalesce(branchline.iso(l.contacted_at), ''),
           coalesce(branchline.iso(l.closed_at), ''), l.reallocations, coalesce(l.policy, ''))::api.lead AS wire
  FROM branchline.leads l
  JOIN branchline.projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
  JOIN branchline.units o ON o.tenant_id = l.tenant_id AND o.id = l.origin_id
  JOIN branchline.units h ON h.tenant_id = l.tenant_id AND h.id = l.holder_id
  LEFT JOIN branchline.units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id;
GRANT SELECT ON branchline.lead_view TO branchline_app;
