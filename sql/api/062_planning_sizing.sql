-- Planning (issue #16), continued: staffing recommendations from lead
-- volume bounded by the seed rules, and branch support candidates. The KPI
-- figures and Erlang C are 060_planning.sql's; the tenant's settings are
-- columns of tenants (schema/061_planning_settings.sql).

CREATE TYPE api.staffing_recommendation AS (
    dept_path text, function text, role text, current integer, recommended integer, difference integer,
    reason text);
CREATE TYPE api.support_candidate AS (
    branch_path text, holder_path text, reason text, start_date text, received bigint,
    conversion double precision, sla_compliance double precision, peer_conversion_q1 double precision,
    peer_sla_q1 double precision, peers integer, supported boolean);

-- ---- staffing recommendations -------------------------------------------------------

-- The people a department's work needs, before the seed rules: role, count
-- and the figure behind it. Customer service: Erlang C on the lead arrivals
-- of its busiest hour of the day (the leads its unit held over the last
-- p_days days, in that hour, per day), with the tenant's handling time,
-- service level, shrinkage and occupancy; at least 1 (seed 000: 1-10
-- consultants). Sales: the leads received per day by the branches it
-- serves over the same days, over what a salesperson works a day; at least
-- 1. Promotion: at least one content creator and one promoter (seed 000),
-- platform work (technicians and editors) at least 2, else as staffed.
-- Support: as staffed (no seed rule sizes it).
CREATE FUNCTION branchline.dept_workload(p_dept branchline.departments, p_days integer, p_active jsonb)
RETURNS TABLE (role text, needed integer, reason text, main boolean)
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    t tenants;
    since timestamptz := now() - make_interval(days => p_days);
    peak_hour integer;
    peak double precision := 0;
    e api.erlang_result;
    per_day double precision;
    have integer;
BEGIN
    SELECT * INTO t FROM tenants WHERE id = current_tenant();
    IF p_dept.function = 'customer_service' THEN
        SELECT h.hour, h.n::double precision / p_days INTO peak_hour, peak
          FROM (SELECT extract(hour FROM l.created_at AT TIME ZONE t.timezone)::integer AS hour, count(*) AS n
                  FROM leads l
                 WHERE l.tenant_id = t.id AND l.holder_id = p_dept.unit_id AND l.created_at >= since
                 GROUP BY 1) h
         ORDER BY h.n DESC, h.hour LIMIT 1;
        e := erlang_staff(coalesce(peak, 0), t.handle_minutes * 60, t.answer_within_seconds, t.service_level,
                          t.shrinkage, t.max_occupancy);
        RETURN QUERY SELECT 'consultant', greatest(e.staffed, 1),
            CASE WHEN peak_hour IS NULL THEN format('no leads held in the last %s days: the seed minimum of 1 consultant', p_days)
                 ELSE format('Erlang C: %s leads/hour in the busiest hour (%s:00), %s min each, %s%% answered within %s s, '
                             'occupancy at most %s%%: %s agents, %s staffed with %s%% shrinkage',
                             round(peak::numeric, 2), peak_hour, t.handle_minutes, round(t.service_level::numeric * 100),
                             t.answer_within_seconds, round(t.max_occupancy::numeric * 100), e.agents, e.staffed,
                             round(t.shrinkage::numeric * 100)) END, true;
    ELSIF p_dept.function = 'sales' THEN
        SELECT count(*)::double precision / p_days INTO per_day
          FROM serving_map((SELECT u.path FROM units u WHERE u.tenant_id = t.id AND u.id = p_dept.unit_id)) m
          JOIN leads l ON l.tenant_id = t.id AND l.branch_id = m.branch_id AND l.created_at >= since
         WHERE m.function = 'sales' AND m.unit_id = p_dept.unit_id;
        RETURN QUERY SELECT 'salesperson', greatest(ceil(per_day / t.leads_per_salesperson_day)::integer, 1),
            format('%s leads a day over the last %s days, %s per salesperson a day', round(per_day::numeric, 2), p_days,
                   t.leads_per_salesperson_day), true;
    ELSIF p_dept.function = 'promotion' THEN
        RETURN QUERY VALUES
            ('content_creator', greatest(coalesce((p_active->>'content_creator')::integer, 0), 1),
             'promotion: at least one content creator (seed 000)', false),
            ('promoter', greatest(coalesce((p_active->>'promoter')::integer, 0), 1),
             'promotion: at least one promoter (seed 000)', true);
        have := coalesce((p_active->>'editor')::integer, 0);
        RETURN QUERY SELECT 'technician', greatest(coalesce((p_active->>'technician')::integer, 0), 2 - have),
            format('platform work (technicians and editors) at least 2 (seed 000); %s editor(s)', have), false;
    END IF;
END
$$;

-- Per department at or under `path` (support departments excepted: no rule
-- sizes them) and role: active people now, the recommendation, and why.
-- The workload (dept_workload) gives the working roles; then the seed
-- rules bound the department: one manager; a manager leads up to 5 people
-- directly, beyond that a supervisor for every 2-5 of them (ceil(people /
-- 5)); at least 3 people in all (the main working role makes up the
-- difference). Roles no rule sizes keep their headcount. A last row per
-- department, role "total", sums them.
CREATE FUNCTION api.staffing_recommend(p_subject text, p_path text, p_period text)
RETURNS SETOF api.staffing_recommendation LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staffing_recommend', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, p_path, 'path');
    days integer := parse_days(p_period, 'period', 30);
BEGIN
    RETURN QUERY
    WITH dept AS (
        SELECT d, u.path AS key
          FROM departments d JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
         WHERE u.path >= r.path AND u.path < r.path_end AND d.function <> 'support'
    ), active AS (
        SELECT x.key, (x.d).id AS dept_id,
               coalesce((SELECT jsonb_object_agg(s.role, s.n) FROM (
                   SELECT st.role, count(*) AS n FROM staff st
                    WHERE st.tenant_id = (x.d).tenant_id AND st.dept_id = (x.d).id AND st.status = 'active'
                    GROUP BY st.role) s), '{}') AS people, x.d
          FROM dept x
    ), work AS (
        SELECT a.dept_id, w.role, w.needed, w.reason, w.main
          FROM active a CROSS JOIN LATERAL dept_workload(a.d, days, a.people) w
    ), other AS (
        -- roles no rule sizes: kept as staffed
        SELECT a.dept_id, p.key AS role, p.value::integer AS needed, 'no rule sizes this role: kept as staffed' AS reason,
               false AS main
          FROM active a CROSS JOIN LATERAL jsonb_each_text(a.people) p
         WHERE p.key NOT IN ('manager', 'supervisor') AND NOT EXISTS (
               SELECT FROM work w WHERE w.dept_id = a.dept_id AND w.role = p.key)
    ), sized AS (
        SELECT x.dept_id, sum(x.needed)::integer AS people FROM (SELECT * FROM work UNION ALL SELECT * FROM other) x
         GROUP BY x.dept_id
    ), bounded AS (
        -- at least 3 in all: up to 5 people need no supervisor, so 1 manager + 2
        SELECT s.dept_id, s.people AS before_min,
               greatest(s.people, 2) AS people
          FROM sized s
    ), lines AS (
        SELECT x.dept_id, x.role, x.needed + CASE WHEN x.main THEN b.people - b.before_min ELSE 0 END AS needed,
               x.reason || CASE WHEN x.main AND b.people > b.before_min
                                THEN format('; %s more to make the smallest department of 3 (seed 000)', b.people - b.before_min)
                                ELSE '' END AS reason
          FROM (SELECT * FROM work UNION ALL SELECT * FROM other) x JOIN bounded b ON b.dept_id = x.dept_id
        UNION ALL
        SELECT b.dept_id, 'manager', 1, 'one manager heads each department (seeds 000, 001)' FROM bounded b
        UNION ALL
        SELECT b.dept_id, 'supervisor', CASE WHEN b.people > 5 THEN ceil(b.people / 5.0)::integer ELSE 0 END,
               format('%s people besides the manager: %s', b.people,
                      CASE WHEN b.people > 5 THEN 'a supervisor for every 2-5 of them (seed 000)'
                           ELSE 'the manager leads up to 5 directly' END)
          FROM bounded b
    ), result AS (
        SELECT a.key, (a.d).function AS function, l.role,
               coalesce((a.people->>l.role)::integer, 0) AS current, l.needed AS recommended, l.reason
          FROM lines l JOIN active a ON a.dept_id = l.dept_id
    )
    SELECT show_path(x.key), x.function, x.role, x.current, x.recommended, x.recommended - x.current, x.reason
      FROM (SELECT q.*, array_position(staff_roles(), q.role) AS rank FROM result q
            UNION ALL
            SELECT q.key, q.function, 'total', sum(q.current)::integer, sum(q.recommended)::integer,
                   'the department in all', 1000 FROM result q GROUP BY q.key, q.function) x
     ORDER BY x.key, function_rank(x.function), x.rank;
END
$$;

-- ---- support candidates --------------------------------------------------------------

-- Active branches under the caller's scope that are new (opened within
-- new_within days) or under-perform their peers: the branches served by the
-- same customer service (the same holder) that received at least min_leads
-- leads in the period. A branch under-performs when its conversion (won /
-- received) or its SLA compliance is below the bottom quartile (25th
-- percentile, interpolated) of its judged peers; a branch with fewer leads
-- is not judged. The figures are kpi's (060) over the period, by branch.
CREATE FUNCTION api.support_suggest(p_subject text, p_period text, p_new_within text, p_min_leads integer)
RETURNS SETOF api.support_candidate LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'support_suggest', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, NULL, 'path');
    days integer := parse_days(p_period, 'period', 90);
    new_days integer := parse_days(p_new_within, 'new_within', 180);
    min_leads integer := coalesce(p_min_leads, 20);
BEGIN
    IF min_leads < 1 THEN
        PERFORM fail('INVALID_ARGUMENT', 'min_leads', 'min_leads must be at least 1');
    END IF;
    RETURN QUERY
    WITH k AS (
        SELECT * FROM kpi_figures(c, r, '{branch}', now() - make_interval(days => days), now())
    ), b AS (
        SELECT u.path, u.opened_on AS start_date, u.id, coalesce(show_path(h.path), '') AS holder,
               coalesce(k.received, 0) AS received, coalesce(k.win_rate_received, 0) AS conversion,
               coalesce(k.sla_compliance, 0) AS sla, coalesce(k.received, 0) >= min_leads AS judged
          FROM units u
          LEFT JOIN serving_map(r.path) m ON m.branch_id = u.id AND m.function = 'customer_service'
          LEFT JOIN units h ON h.tenant_id = u.tenant_id AND h.id = m.unit_id
          LEFT JOIN k ON k.branch_path = show_path(u.path)
         WHERE u.tenant_id = r.tenant_id AND u.kind = 'branch' AND u.status = 'active'
           AND u.path >= r.path AND u.path < r.path_end
    ), peers AS (
        SELECT b.holder, count(*)::integer AS n,
               percentile_cont(0.25) WITHIN GROUP (ORDER BY b.conversion) AS conv_q1,
               percentile_cont(0.25) WITHIN GROUP (ORDER BY b.sla) AS sla_q1
          FROM b WHERE b.judged GROUP BY b.holder
    ), judged AS (
        SELECT b.*, coalesce(p.n, 0) AS n, coalesce(p.conv_q1, 0) AS conv_q1, coalesce(p.sla_q1, 0) AS sla_q1,
               concat_ws(',',
                   CASE WHEN b.start_date > current_date - new_days THEN 'new' END,
                   CASE WHEN b.judged AND b.conversion < p.conv_q1 THEN 'low_conversion' END,
                   CASE WHEN b.judged AND b.sla < p.sla_q1 THEN 'low_sla' END) AS why
          FROM b LEFT JOIN peers p ON p.holder = b.holder
    )
    SELECT show_path(j.path), j.holder, j.why, ymd(j.start_date), j.received::bigint, j.conversion, j.sla,
           j.conv_q1, j.sla_q1, j.n,
           EXISTS (SELECT FROM support_assignments s WHERE s.tenant_id = r.tenant_id AND s.branch_id = j.id
                                                        AND s.ended_on IS NULL)
      FROM judged j WHERE j.why <> ''
     ORDER BY j.path;
END
$$;
