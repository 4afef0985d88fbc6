-- Allocation at the speed of its pool, on long-lived connections.
--
-- Two findings of the benchmark (tests/bench/RESULTS.md) on a tenant of
-- 10,000 branches, where api.lead_add took about 98 ms:
--
--   1. pool_members (013) checked "a sales department on the branch's path"
--      with d.unit_id = ANY (b.ancestors || b.id), which the planner turned
--      into a semi join over every department of the tenant: 77 of the
--      98 ms, growing with the tenant.
--   2. PL/pgSQL keeps one plan per statement and session. After five calls
--      it switches to a generic plan, planned without the parameters'
--      values, if that looks no dearer. Generic estimates of conditions on
--      several key columns whose values are unknown collapse to one row,
--      and at one row a plan that rescans a whole index range for every
--      outer row costs the same as a probe by key: several hot statements
--      flipped to such plans, and lead_add became 3 to 9 times slower after
--      its fifth call on the daemon's connections, which live for hours.
--
-- Forcing custom plans (plan_cache_mode = force_custom_plan) would fix 2
-- but plans every statement of every call again: lead_add measured about
-- twice as slow as with good generic plans. Instead the statements below
-- are written so that their generic plans are the right ones whatever the
-- estimates say: per-row lookups are LATERAL subqueries with OFFSET 0 (not
-- flattened into the join, so the planner never weighs an index range
-- rescanned for every outer row against the probe), whose conditions fill
-- the leading columns of a key and of no index that would read a range of
-- the tenant. The pool's cost is then one index range (the holder's
-- subtree, or for the group the project's branches) plus a few key
-- lookups per row of it and per member: nothing reads the tenant.
-- tests/sql/test_scale.sql checks the rows the generic plans read at
-- 100,000 branches and compares the pools with 013's definition, as
-- test_leads.sql does for every pool of its tenants.
--
-- Behaviour is unchanged: same members, same order, same values.

-- ---- the pool ----------------------------------------------------------------------

-- As in 013: every active branch under the holder (the holder itself if it
-- is a branch) that handles the project with a capacity above 0 and has a
-- sales department on its path up to the root, with its capacity, outcomes
-- (p_with_outcomes), caps and day and week counts.
--
-- The candidates (branches of the subtree that handle the project) come
-- from one of two index ranges:
--   - below the group, the holder's subtree in path order from
--     (tenant_id, path), and for each unit its project rows by the primary
--     key's prefix (tenant_id, branch_id); the project is filtered after,
--     since a condition on project_id would make (tenant_id, project_id)
--     look as good as the key at one estimated row, and that index lists
--     every branch of the project;
--   - for the group (a centralized tenant), whose subtree is the whole
--     tenant, the project's rows from (tenant_id, project_id): never more
--     than the subtree.
-- Then, per candidate: its unit by key (path, status), the sales
-- department probed by (tenant_id, unit_id, function) for each unit of its
-- path, its caps by key, and its counts from lead_day_counts' key.
CREATE OR REPLACE FUNCTION branchline.pool_members(p_holder branchline.units, p_project bigint, p_day date,
                                                   p_with_outcomes boolean)
RETURNS TABLE (branch_id bigint, path text, capacity integer, won bigint, lost bigint,
               per_day integer, per_week integer, day_count bigint, week_count bigint)
LANGUAGE sql STABLE AS $$
    SELECT b.id, b.path, cap.capacity, coalesce(o.won, 0), coalesce(o.lost, 0),
           c.per_day, c.per_week, coalesce(dc.n, 0), coalesce(wc.n, 0)
      FROM (SELECT x.branch_id, x.capacity FROM branchline.branch_projects x
             WHERE cardinality(p_holder.ancestors) = 0
               AND x.tenant_id = p_holder.tenant_id AND x.project_id = p_project
            UNION ALL
            SELECT x.branch_id, x.capacity
              FROM branchline.units u
             CROSS JOIN LATERAL (
                   SELECT y.branch_id, y.project_id, y.capacity FROM branchline.branch_projects y
                    WHERE y.tenant_id = u.tenant_id AND y.branch_id = u.id
                   OFFSET 0) x
             WHERE cardinality(p_holder.ancestors) > 0
               AND u.tenant_id = p_holder.tenant_id AND u.path >= p_holder.path AND u.path < p_holder.path_end
               AND x.project_id = p_project) bp
     CROSS JOIN LATERAL (
            SELECT x.id, x.tenant_id, x.path, x.status, x.ancestors FROM branchline.units x
             WHERE x.tenant_id = p_holder.tenant_id AND x.id = bp.branch_id
            OFFSET 0) b
     CROSS JOIN LATERAL (SELECT coalesce(bp.capacity, branchline.derived_capacity(b.id)) AS capacity) cap
      LEFT JOIN LATERAL (
            SELECT x.per_day, x.per_week FROM branchline.lead_caps x
             WHERE x.tenant_id = b.tenant_id AND x.branch_id = b.id
            OFFSET 0) c ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.received) AS n FROM branchline.lead_day_counts d
             WHERE c.per_day IS NOT NULL AND d.tenant_id = b.tenant_id AND d.branch_id = b.id AND d.day = p_day) dc ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.received) AS n FROM branchline.lead_day_counts d
             WHERE c.per_week IS NOT NULL AND d.tenant_id = b.tenant_id AND d.branch_id = b.id
               AND d.day BETWEEN date_trunc('week', p_day)::date AND p_day) wc ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.won) AS won, sum(d.lost) AS lost FROM branchline.lead_day_counts d
             WHERE p_with_outcomes AND d.tenant_id = b.tenant_id AND d.branch_id = b.id
               AND d.day > p_day - 30 AND d.day <= p_day AND d.project_id = p_project) o ON true
     WHERE b.path >= p_holder.path AND b.path < p_holder.path_end AND b.status = 'active'
       AND cap.capacity > 0
       AND EXISTS (SELECT FROM unnest(b.ancestors || b.id) a (unit_id)
                    CROSS JOIN LATERAL (
                          SELECT FROM branchline.departments d
                           WHERE d.tenant_id = b.tenant_id AND d.unit_id = a.unit_id AND d.function = 'sales'
                          OFFSET 0) d)
$$;

-- As in 013, with the pool state of each member read by its key.
CREATE OR REPLACE FUNCTION branchline.load_pool(p_holder bigint, p_project bigint, p_now timestamptz)
RETURNS branchline.pool LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    p pool;
    pol lead_rule := policy_for(p_holder, p_project);
    holder units;
BEGIN
    SELECT * INTO holder FROM units WHERE tenant_id = current_tenant() AND id = p_holder;
    p.holder := holder;
    p.project_id := p_project;
    p.project_code := (SELECT j.code FROM projects j WHERE j.tenant_id = current_tenant() AND j.id = p_project);
    p.rule := pol;
    p.day := local_day(p_now);
    p.members := ARRAY(
        SELECT ROW(m.branch_id, m.path, m.capacity,
                   CASE WHEN pol.policy = 'performance' THEN m.capacity * (m.won + 1)::double precision / (m.won + m.lost + 2)
                        ELSE m.capacity END,
                   m.per_day, m.per_week, m.day_count, m.week_count,
                   coalesce(s.credit, 0), coalesce(s.credit_scale, 0), coalesce(s.allocated, 0),
                   coalesce(s.open_leads, 0), 0, 0, 0, false)::pool_member
          FROM pool_members(holder, p_project, p.day, pol.policy = 'performance') m
          LEFT JOIN LATERAL (
                SELECT x.credit, x.credit_scale, x.allocated, x.open_leads FROM lead_pool_state x
                 WHERE x.tenant_id = holder.tenant_id AND x.holder_id = p_holder AND x.project_id = p_project
                   AND x.branch_id = m.branch_id
                OFFSET 0) s ON true
         ORDER BY m.path);
    RETURN p;
END
$$;

-- ---- the holder and the caller ---------------------------------------------------------

-- As in 013: the unit of the nearest customer service department on the
-- unit's path up to the root. One probe by (tenant_id, unit_id, function)
-- per unit of the path, nearest first; the generic plan of the join in 013
-- read every customer service department of the tenant instead.
CREATE OR REPLACE FUNCTION branchline.holder_of(p_unit branchline.units) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN (SELECT x.unit_id
              FROM unnest(p_unit.ancestors || p_unit.id) WITH ORDINALITY AS a (unit_id, n)
             CROSS JOIN LATERAL (
                   SELECT d.unit_id FROM departments d
                    WHERE d.tenant_id = p_unit.tenant_id AND d.unit_id = a.unit_id AND d.function = 'customer_service'
                   OFFSET 0) x
             ORDER BY a.n DESC LIMIT 1);
END
$$;

-- As in 004, but the scope unit is read by its key (or the group by its
-- path) in a statement of its own: as one statement with coalesce(), its
-- generic plan scanned the tenant's units.
CREATE OR REPLACE FUNCTION branchline.auth(p_subject text, p_operation text, p_roles text[])
RETURNS branchline.caller LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    p record;
    c caller;
BEGIN
    SELECT * INTO p FROM principal_by_subject(p_subject);
    IF NOT FOUND OR NOT p.enabled THEN
        PERFORM fail('UNAUTHENTICATED', NULL, 'this certificate maps to no enabled principal');
    END IF;
    PERFORM set_config('branchline.tenant', coalesce(p.tenant_id::text, ''), true),
            set_config('branchline.role', p.role, true),
            set_config('branchline.principal', p.id::text, true),
            set_config('branchline.subject', p_subject, true),
            set_config('branchline.operation', p_operation, true),
            set_config('branchline.version', '', true);
    IF NOT p.role = ANY (p_roles) THEN
        PERFORM fail('PERMISSION_DENIED', NULL, '%s needs the role %s; this principal is %s',
                     p_operation, array_to_string(p_roles, ' or '), p.role);
    END IF;
    c := ROW(p.id, p_subject, p.role, p.tenant_id, p.created_at, NULL, NULL, NULL);
    IF p.tenant_id IS NOT NULL AND p.scope_unit_id IS NOT NULL THEN
        SELECT u.id, u.path, u.path_end INTO c.scope_id, c.scope_path, c.scope_end
          FROM units u WHERE u.tenant_id = p.tenant_id AND u.id = p.scope_unit_id;
    ELSIF p.tenant_id IS NOT NULL THEN
        SELECT u.id, u.path, u.path_end INTO c.scope_id, c.scope_path, c.scope_end
          FROM units u WHERE u.tenant_id = p.tenant_id AND u.path = '/';
    END IF;
    RETURN c;
END
$$;

-- ---- privileges ------------------------------------------------------------------------------

-- As in 016 and 030 for the functions above.
REVOKE ALL ON ALL ROUTINES IN SCHEMA branchline, api FROM PUBLIC;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA branchline, api TO branchline_app;
REVOKE EXECUTE ON FUNCTION api.bootstrap_operator(text) FROM branchline_app;
REVOKE EXECUTE ON PROCEDURE branchline.isolate(regclass) FROM branchline_app;
REVOKE EXECUTE ON FUNCTION branchline.sweep_at(integer, timestamptz) FROM branchline_app;
