-- Planning and evaluation (issue #16): lead KPIs, the Erlang C staffing
-- calculation, staffing recommendations, what-if shapes and branch support
-- candidates. Every operation here reads; none changes the organization or
-- a lead (whatif makes its changes inside a subtransaction it rolls back).
-- The definitions of the figures are in the README ("Planning and
-- evaluation"); the comments here say how they are computed.

CREATE TYPE api.kpi_row AS (
    branch_path text, channel text, project text, holder_path text, period_start text,
    received bigint, allocated bigint, allocation_median_seconds double precision,
    speed_median_seconds double precision, speed_p90_seconds double precision,
    band_0_5m double precision, band_5_15m double precision, band_15_60m double precision,
    band_1_24h double precision, band_over_24h double precision, band_never double precision,
    contacted bigint, contact_rate double precision, sla_due bigint, sla_met bigint,
    sla_compliance double precision, reallocations_sla bigint, reallocations_manual bigint,
    won bigint, lost bigint, win_rate_contacted double precision, win_rate_received double precision,
    open bigint, open_age_median_seconds double precision, open_age_oldest_seconds double precision,
    unroutable bigint, unroutable_oldest_seconds double precision, waiting bigint,
    waiting_oldest_seconds double precision);
CREATE TYPE api.erlang_result AS (
    traffic double precision, agents integer, staffed integer, service_level double precision,
    occupancy double precision, probability_waiting double precision, average_wait_seconds double precision);

-- ---- helpers -----------------------------------------------------------------------

-- x / y, 0 when y is 0: rates of empty groups read 0, not NULL.
CREATE FUNCTION branchline.ratio(x numeric, y numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce((x / nullif(y, 0))::double precision, 0) $$;

CREATE FUNCTION branchline.seconds(p interval) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT extract(epoch FROM p)::double precision $$;

-- "30d": a number of days (1 to 3660), or the default when not given.
CREATE FUNCTION branchline.parse_days(p_value text, p_field text, p_default integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN p_default;
    END IF;
    IF p_value !~ '^\d{1,4}d$' OR left(p_value, -1)::integer NOT BETWEEN 1 AND 3660 THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be a number of days such as 30d (1d to 3660d)', p_field);
    END IF;
    RETURN left(p_value, -1)::integer;
END
$$;

-- The KPI grouping keys of a comma-separated `by`: each at most once, at
-- most one of day, week and month.
CREATE FUNCTION branchline.kpi_dims(p_by text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    dims text[] := '{}';
    d text;
BEGIN
    FOREACH d IN ARRAY coalesce(string_to_array(p_by, ','), '{}') LOOP
        d := check_choice(trim(d), 'by', '{branch,channel,project,holder,day,week,month}');
        IF d = ANY (dims) THEN
            PERFORM fail('INVALID_ARGUMENT', 'by', 'by names %s twice', d);
        END IF;
        dims := dims || d;
    END LOOP;
    IF cardinality(ARRAY(SELECT x FROM unnest(dims) x WHERE x IN ('day', 'week', 'month'))) > 1 THEN
        PERFORM fail('INVALID_ARGUMENT', 'by', 'by takes one of day, week and month');
    END IF;
    RETURN dims;
END
$$;

-- ---- kpi ------------------------------------------------------------------------------

-- The leads received in [since, until) under `under` (a lead counts where
-- it is worked: its branch; a lead in a queue, where it is held: its
-- holder, except for branch principals), grouped by the `by` keys (a key
-- not asked for is '' in every row, so it groups nothing). Statuses are as
-- they are now; ages are measured at `until` (default now), so a report on
-- a past period reads the same whenever it is made. One query: the lead
-- rows, their events (first allocation, reallocations) and the SLA of each
-- pool's policy in force.
CREATE FUNCTION branchline.kpi_figures(c branchline.caller, r branchline.units, dims text[], since timestamptz,
                                        as_of timestamptz)
RETURNS SETOF api.kpi_row LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    tz text := tenant_timezone();
    grain text := (SELECT d FROM unnest(dims) d WHERE d IN ('day', 'week', 'month'));
BEGIN
    RETURN QUERY
    WITH base AS (
        SELECT l.id, l.status, l.holder_id, l.project_id, l.created_at, l.allocated_at, l.contacted_at,
               CASE WHEN 'branch' = ANY (dims) THEN coalesce(show_path(b.path), '') ELSE '' END AS k_branch,
               CASE WHEN 'channel' = ANY (dims) THEN l.channel ELSE '' END AS k_channel,
               CASE WHEN 'project' = ANY (dims) THEN p.code ELSE '' END AS k_project,
               CASE WHEN 'holder' = ANY (dims) THEN show_path(h.path) ELSE '' END AS k_holder,
               CASE WHEN grain IS NULL THEN ''
                    ELSE ymd(period_start(grain, (l.created_at AT TIME ZONE tz)::date, NULL)) END AS k_period
          FROM leads l
          JOIN projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
          JOIN units h ON h.tenant_id = l.tenant_id AND h.id = l.holder_id
          LEFT JOIN units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id
         WHERE l.tenant_id = r.tenant_id AND l.created_at >= since AND l.created_at < as_of
           AND (b.path >= r.path AND b.path < r.path_end
                OR (l.branch_id IS NULL AND c.role <> 'branch' AND h.path >= r.path AND h.path < r.path_end))
    ), pools AS (
        SELECT q.holder_id, q.project_id, (policy_for(q.holder_id, q.project_id)).sla_minutes AS sla
          FROM (SELECT DISTINCT x.holder_id, x.project_id FROM base x) q
    ), leads_x AS (
        SELECT x.*, ev.first_allocation, ev.sla_moves, ev.manual_moves,
               x.contacted_at - x.created_at AS speed,
               CASE WHEN po.sla > 0 THEN x.allocated_at + make_interval(mins => po.sla) END AS deadline
          FROM base x
          JOIN pools po ON po.holder_id = x.holder_id AND po.project_id = x.project_id
          CROSS JOIN LATERAL (
              SELECT min(e.at) FILTER (WHERE e.kind IN ('allocated', 'duplicate')) AS first_allocation,
                     count(*) FILTER (WHERE e.kind = 'reallocated') AS sla_moves,
                     count(*) FILTER (WHERE e.kind = 'reassigned') AS manual_moves
                FROM lead_events e WHERE e.tenant_id = r.tenant_id AND e.lead_id = x.id) ev
    )
    SELECT x.k_branch, x.k_channel, x.k_project, x.k_holder, x.k_period,
           count(*), count(x.first_allocation),
           coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds(x.first_allocation - x.created_at)), 0),
           coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds(x.speed)), 0),
           coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds(x.speed)), 0),
           ratio(count(*) FILTER (WHERE x.speed < interval '5 minutes'), count(*)),
           ratio(count(*) FILTER (WHERE x.speed >= interval '5 minutes' AND x.speed < interval '15 minutes'), count(*)),
           ratio(count(*) FILTER (WHERE x.speed >= interval '15 minutes' AND x.speed < interval '1 hour'), count(*)),
           ratio(count(*) FILTER (WHERE x.speed >= interval '1 hour' AND x.speed < interval '24 hours'), count(*)),
           ratio(count(*) FILTER (WHERE x.speed >= interval '24 hours'), count(*)),
           ratio(count(*) FILTER (WHERE x.contacted_at IS NULL), count(*)),
           count(x.contacted_at), ratio(count(x.contacted_at), count(*)),
           count(*) FILTER (WHERE x.deadline IS NOT NULL AND (x.contacted_at IS NOT NULL OR x.deadline <= as_of)),
           count(*) FILTER (WHERE x.contacted_at <= x.deadline),
           ratio(count(*) FILTER (WHERE x.contacted_at <= x.deadline),
                 count(*) FILTER (WHERE x.deadline IS NOT NULL AND (x.contacted_at IS NOT NULL OR x.deadline <= as_of))),
           sum(x.sla_moves)::bigint, sum(x.manual_moves)::bigint,
           count(*) FILTER (WHERE x.status = 'won'), count(*) FILTER (WHERE x.status = 'lost'),
           ratio(count(*) FILTER (WHERE x.status = 'won'), count(x.contacted_at)),
           ratio(count(*) FILTER (WHERE x.status = 'won'), count(*)),
           count(*) FILTER (WHERE x.status IN ('allocated', 'contacted')),
           coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds(as_of - x.created_at))
                    FILTER (WHERE x.status IN ('allocated', 'contacted')), 0),
           coalesce(max(seconds(as_of - x.created_at)) FILTER (WHERE x.status IN ('allocated', 'contacted')), 0),
           count(*) FILTER (WHERE x.status = 'unroutable'),
           coalesce(max(seconds(as_of - x.created_at)) FILTER (WHERE x.status = 'unroutable'), 0),
           count(*) FILTER (WHERE x.status = 'waiting'),
           coalesce(max(seconds(as_of - x.created_at)) FILTER (WHERE x.status = 'waiting'), 0)
      FROM leads_x x
     GROUP BY x.k_period, x.k_holder, x.k_branch, x.k_project, x.k_channel
     ORDER BY x.k_period, x.k_holder, x.k_branch, x.k_project, x.k_channel;
END
$$;

CREATE FUNCTION api.kpi(p_subject text, p_under text, p_by text, p_since text, p_until text)
RETURNS SETOF api.kpi_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'kpi', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_under, 'under');
    dims text[] := kpi_dims(p_by);
    since timestamptz := coalesce(parse_instant(p_since, 'since'), '-infinity');
    as_of timestamptz := coalesce(parse_instant(p_until, 'until'), now());
BEGIN
    IF since >= as_of THEN
        PERFORM fail('INVALID_ARGUMENT', 'until', 'until must be later than since');
    END IF;
    RETURN QUERY SELECT * FROM kpi_figures(c, r, dims, since, as_of);
END
$$;

-- ---- Erlang C ---------------------------------------------------------------------------

-- Erlang C lives here, not in branchctl, because the sizing of departments
-- needs it inside its one query; staffing_erlang exposes the same
-- function, so the figures can never disagree.
--
-- Erlang B for traffic a on n servers, continued from B(n0) = b0 (start
-- with n0 = 0, b0 = 1): B(k) = a B(k-1) / (k + a B(k-1)). Every term stays
-- in [0, 1]: no factorial or power of a, so traffic in the hundreds or
-- thousands is as exact as in the units.
CREATE FUNCTION branchline.erlang_b_step(a double precision, k integer, b double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT a * b / (k + a * b) $$;

-- Erlang C's probability of waiting from Erlang B on n > a servers:
-- C = n B / (n - a (1 - B)).
CREATE FUNCTION branchline.erlang_c_from_b(a double precision, n integer, b double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT n * b / (n - a * (1 - b)) $$;

-- The fewest agents N > A = arrivals x handling time whose service level
-- 1 - P_wait e^(-(N - A) t / AHT) reaches p_level and whose occupancy A / N
-- is at most p_occupancy; staffed = ceil(N / (1 - shrinkage)); average wait
-- = P_wait AHT / (N - A). No arrivals: no agents.
CREATE FUNCTION branchline.erlang_staff(p_per_hour double precision, p_handle_seconds double precision,
                                        p_within_seconds double precision, p_level double precision,
                                        p_shrinkage double precision, p_occupancy double precision)
RETURNS api.erlang_result LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    a double precision := p_per_hour * p_handle_seconds / 3600;
    n integer := floor(a)::integer + 1;
    b double precision := 1;
    pw double precision;
    sl double precision;
BEGIN
    IF a <= 0 THEN
        RETURN ROW(0, 0, 0, 1, 0, 0, 0)::api.erlang_result;
    END IF;
    FOR k IN 1..n LOOP
        b := erlang_b_step(a, k, b);
    END LOOP;
    LOOP
        pw := erlang_c_from_b(a, n, b);
        sl := 1 - pw * exp(-(n - a) * p_within_seconds / p_handle_seconds);
        EXIT WHEN sl >= p_level AND a / n <= p_occupancy;
        n := n + 1;
        b := erlang_b_step(a, n, b);
    END LOOP;
    RETURN ROW(a, n, ceil(n / (1 - p_shrinkage))::integer, sl, a / n, pw,
               pw * p_handle_seconds / (n - a))::api.erlang_result;
END
$$;

CREATE FUNCTION branchline.check_fraction(p_value double precision, p_field text, p_low double precision,
                                          p_high double precision, p_text text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF p_value IS NULL OR p_value = 'NaN' OR p_value < p_low OR p_value > p_high THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be %s', p_field, p_text);
    END IF;
    RETURN p_value;
END
$$;

CREATE FUNCTION api.staffing_erlang(p_subject text, p_leads_per_hour double precision,
                                    p_handle_minutes double precision, p_answer_within integer,
                                    p_service_level double precision, p_shrinkage double precision,
                                    p_max_occupancy double precision)
RETURNS SETOF api.erlang_result LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    c caller := auth(p_subject, 'staffing_erlang', '{admin,unit_admin,viewer}');
    per_hour double precision := check_fraction(required(p_leads_per_hour::text, 'leads_per_hour')::double precision,
                                                'leads_per_hour', 1e-9, 1e6, 'above 0 and at most 1000000');
    handle double precision := check_fraction(required(p_handle_minutes::text, 'handle_minutes')::double precision,
                                              'handle_minutes', 1e-9, 1440, 'above 0 and at most 1440');
    within integer := required(p_answer_within::text, 'answer_within')::integer;
    level double precision := check_fraction(required(p_service_level::text, 'service_level')::double precision,
                                             'service_level', 1e-9, 0.999999, 'a fraction above 0 and below 1');
    shrinkage double precision := check_fraction(coalesce(p_shrinkage, 0), 'shrinkage', 0, 0.95,
                                                 'a fraction from 0 to 0.95');
    occupancy double precision := check_fraction(coalesce(p_max_occupancy, 0.85), 'max_occupancy', 0.01, 1,
                                                 'a fraction above 0 and at most 1');
BEGIN
    IF within NOT BETWEEN 1 AND 86400 THEN
        PERFORM fail('INVALID_ARGUMENT', 'answer_within', 'answer_within must be 1 to 86400 seconds');
    END IF;
    IF per_hour * handle / 60 > 100000 THEN
        PERFORM fail('INVALID_ARGUMENT', 'leads_per_hour', 'the traffic (leads per hour x handling time) '
                     'must be at most 100000 erlangs');
    END IF;
    RETURN NEXT erlang_staff(per_hour, handle * 60, within, level, shrinkage, occupancy);
END
$$;
