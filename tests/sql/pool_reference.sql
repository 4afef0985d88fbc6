-- The pool of a (holder, project) as sql/013 first defined it, kept here
-- as the reference that branchline.pool_members (redefined for speed in
-- sql/013) must agree with; and the check that it does. \ir after
-- helpers.sql. Slow on large tenants (it reads every department of the
-- tenant): the definition, not the plan, is the point.

CREATE FUNCTION pg_temp.pool_members_013(p_holder branchline.units, p_project bigint, p_day date,
                                         p_with_outcomes boolean)
RETURNS TABLE (branch_id bigint, path text, capacity integer, won bigint, lost bigint,
               per_day integer, per_week integer, day_count bigint, week_count bigint)
LANGUAGE sql STABLE AS $$
    SELECT b.id, b.path, cap.capacity, coalesce(o.won, 0), coalesce(o.lost, 0),
           c.per_day, c.per_week, coalesce(dc.n, 0), coalesce(wc.n, 0)
      FROM branchline.branch_projects bp
      JOIN branchline.units b ON b.tenant_id = bp.tenant_id AND b.id = bp.branch_id
     CROSS JOIN LATERAL (SELECT coalesce(bp.capacity, branchline.derived_capacity(b.id)) AS capacity) cap
      LEFT JOIN branchline.lead_caps c ON c.tenant_id = b.tenant_id AND c.branch_id = b.id
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
     WHERE bp.tenant_id = p_holder.tenant_id AND bp.project_id = p_project
       AND b.path >= p_holder.path AND b.path < p_holder.path_end AND b.status = 'active'
       AND cap.capacity > 0
       AND EXISTS (SELECT FROM branchline.departments d
                     JOIN branchline.units du ON du.tenant_id = d.tenant_id AND du.id = d.unit_id AND du.status = 'active'
                    WHERE d.tenant_id = b.tenant_id AND d.unit_id = ANY (b.ancestors || b.id) AND d.function = 'sales')
$$;

-- For the current tenant, every unit as holder and every project:
-- pool_members and the reference return the same rows in the same order
-- (by path, as load_pool reads them), with and without outcomes, on
-- p_day. Returns how many of the pools compared had members.
CREATE FUNCTION pg_temp.check_pools(p_day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    h branchline.units;
    pr bigint;
    outcomes boolean;
    got text;
    want text;
    n bigint := 0;
BEGIN
    FOR h IN SELECT * FROM branchline.units u WHERE u.tenant_id = branchline.current_tenant() ORDER BY u.path LOOP
        FOR pr IN SELECT j.id FROM branchline.projects j WHERE j.tenant_id = h.tenant_id ORDER BY j.id LOOP
            FOREACH outcomes IN ARRAY ARRAY[false, true] LOOP
                SELECT string_agg(m::text, E'\n' ORDER BY m.path) INTO got
                  FROM branchline.pool_members(h, pr, p_day, outcomes) m;
                SELECT string_agg(m::text, E'\n' ORDER BY m.path) INTO want
                  FROM pg_temp.pool_members_013(h, pr, p_day, outcomes) m;
                PERFORM pg_temp.eq(got, want, format('pool of %s, project %s, outcomes %s', h.path, pr, outcomes));
                n := n + (got IS NOT NULL)::integer;
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN n;
END
$$;

-- For the current tenant, every unit as holder and every project:
-- load_pool's members (which read the caps, counts and state of the whole
-- pool at once, kept or not) carry the facts pool_members gives per member,
-- the weight of the pool's policy, and their own lead_pool_state row. Returns
-- how many of the pools compared had members.
CREATE FUNCTION pg_temp.check_loaded_pools(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    h branchline.units;
    pr bigint;
    perf boolean;
    got text;
    want text;
    n bigint := 0;
BEGIN
    FOR h IN SELECT * FROM branchline.units u WHERE u.tenant_id = branchline.current_tenant() ORDER BY u.path LOOP
        FOR pr IN SELECT j.id FROM branchline.projects j WHERE j.tenant_id = h.tenant_id ORDER BY j.id LOOP
            perf := (branchline.policy_for(h.id, pr)).policy = 'performance';
            SELECT string_agg(format('%s %s %s %s %s %s %s %s | %s %s %s %s %s', m.branch_id, m.path, m.capacity, m.weight,
                                     m.per_day, m.per_week, m.day_count, m.week_count,
                                     m.allocated, m.open_leads, m.round_weight, m.base, m.picks), E'\n' ORDER BY m.ordinality)
              INTO got
              FROM unnest((branchline.load_pool(h.id, pr, p_now)).members) WITH ORDINALITY m;
            SELECT string_agg(format('%s %s %s %s %s %s %s %s | %s %s %s %s %s', m.branch_id, m.path, m.capacity,
                                     CASE WHEN perf THEN m.capacity * (m.won + 1)::double precision / (m.won + m.lost + 2)
                                          ELSE m.capacity END,
                                     m.per_day, m.per_week, m.day_count, m.week_count,
                                     coalesce(s.allocated, 0), coalesce(s.open_leads, 0), s.round_weight,
                                     coalesce(s.credit, 0), coalesce(s.picks, 0)), E'\n' ORDER BY m.path)
              INTO want
              FROM branchline.pool_members(h, pr, branchline.local_day(p_now), perf) m
              LEFT JOIN branchline.lead_pool_state s
                     ON s.tenant_id = h.tenant_id AND s.holder_id = h.id AND s.project_id = pr AND s.branch_id = m.branch_id;
            PERFORM pg_temp.eq(got, want, format('loaded pool of %s, project %s', h.path, pr));
            n := n + (got IS NOT NULL)::integer;
        END LOOP;
    END LOOP;
    RETURN n;
END
$$;
