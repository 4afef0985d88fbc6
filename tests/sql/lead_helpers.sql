-- Helpers of the lead tests (\ir lead_helpers.sql after helpers.sql). Some
-- read the lead tables directly: they set the tenant for their own
-- transaction, as the api functions do after authentication.

-- Pins the current transaction to a tenant, by code.
CREATE FUNCTION pg_temp.use_tenant(p_code text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    SELECT id INTO t FROM api.tenant_list('CN=operator') WHERE code = p_code;
    PERFORM set_config('branchline.tenant', t::text, true);
    RETURN t;
END
$$;

-- Imports leads prefix || i for i in p_from..p_to; returns how many were created.
CREATE FUNCTION pg_temp.import(p_subject text, p_prefix text, p_from integer, p_to integer, p_project text,
                               p_origin text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE result = 'created')
      FROM api.lead_import(p_subject,
                           (SELECT jsonb_agg(jsonb_build_object('external_id', p_prefix || i, 'project', p_project,
                                                                'channel', 'search', 'origin', coalesce(p_origin, '')))
                              FROM generate_series(p_from, p_to) i),
                           p_from)
$$;

-- The lead with this external_id (direct read).
CREATE FUNCTION pg_temp.lead(p_code text, p_external_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.use_tenant(p_code);
    RETURN (SELECT id FROM branchline.leads WHERE external_id = p_external_id);
END
$$;

-- "branch=n ..." for the leads of a project whose external_id starts with p_prefix.
CREATE FUNCTION pg_temp.branch_counts(p_code text, p_project text, p_prefix text DEFAULT '') RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.use_tenant(p_code);
    RETURN (SELECT string_agg(format('%s=%s', coalesce(branchline.show_path(b.path), '-'), x.n), ' '
                              ORDER BY b.path NULLS FIRST)
              FROM (SELECT l.branch_id, count(*) AS n FROM branchline.leads l
                      JOIN branchline.projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
                     WHERE p.code = p_project AND l.external_id LIKE p_prefix || '%'
                     GROUP BY l.branch_id) x
              LEFT JOIN branchline.units b ON b.tenant_id = branchline.current_tenant() AND b.id = x.branch_id);
END
$$;

-- The fairness check: over the allocation events of the leads whose
-- external_id starts with p_prefix, in allocation order, skipping the
-- first p_skip, the largest |count of branch i among the first n - n w_i / W|
-- for every prefix n and every branch of p_weights ({"path": weight}).
-- An allocation to any other branch fails.
CREATE FUNCTION pg_temp.prefix_deviation(p_code text, p_prefix text, p_weights jsonb, p_skip integer DEFAULT 0)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    dev double precision;
    stray bigint;
BEGIN
    PERFORM pg_temp.use_tenant(p_code);
    CREATE TEMP TABLE ev ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY e.id) - p_skip AS n, branchline.show_path(b.path) AS path
      FROM branchline.lead_events e
      JOIN branchline.leads l ON l.tenant_id = e.tenant_id AND l.id = e.lead_id
      JOIN branchline.units b ON b.tenant_id = e.tenant_id AND b.id = e.to_branch_id
     WHERE e.kind = 'allocated' AND l.external_id LIKE p_prefix || '%';
    DELETE FROM ev WHERE n <= 0;
    SELECT count(*) INTO stray FROM ev WHERE NOT p_weights ? path;
    IF stray > 0 THEN
        RAISE EXCEPTION '% allocation(s) of % went outside %', stray, p_prefix, p_weights;
    END IF;
    WITH w AS (
        SELECT key AS path, value::double precision / sum(value::double precision) OVER () AS share
          FROM jsonb_each_text(p_weights)
    ), grid AS (
        SELECT ev.n, w.share,
               count(*) FILTER (WHERE ev.path = w.path) OVER (PARTITION BY w.path ORDER BY ev.n) AS cnt
          FROM ev CROSS JOIN w
    )
    SELECT max(abs(grid.cnt - grid.n * grid.share)) INTO dev FROM grid;
    DROP TABLE ev;
    RETURN dev;
END
$$;

-- least_loaded by definition: allocation events of leads with the prefix
-- whose chosen branch is not the one with the lowest (score, branch id)
-- among the branches not blocked by a cap or an exclusion. 0 = all right.
CREATE FUNCTION pg_temp.least_loaded_violations(p_code text, p_prefix text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.use_tenant(p_code);
    RETURN (
        SELECT count(*) FROM branchline.lead_events e
          JOIN branchline.leads l ON l.tenant_id = e.tenant_id AND l.id = e.lead_id
         WHERE e.kind = 'allocated' AND l.external_id LIKE p_prefix || '%'
           AND (SELECT (x ->> 0)::bigint FROM jsonb_array_elements(e.explain) x
                 WHERE x ->> 5 = '' OR (x ->> 4)::boolean
                 ORDER BY (x ->> 3)::double precision, (x ->> 0)::bigint LIMIT 1)
               IS DISTINCT FROM e.to_branch_id);
END
$$;

-- The stored counters against the rows they count, for one tenant: per
-- (holder, project, branch), allocated = the events that gave the branch a
-- lead of that pool, open_leads = its allocated or contacted leads; per
-- branch and project, lead_day_counts' received, won and lost = those
-- events. Returns the mismatches, '' when there are none.
CREATE FUNCTION pg_temp.counter_mismatches(p_code text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.use_tenant(p_code);
    RETURN coalesce((
        WITH given AS (
            SELECT l.holder_id, l.project_id, e.to_branch_id AS branch_id, count(*) AS n
              FROM branchline.lead_events e JOIN branchline.leads l ON l.tenant_id = e.tenant_id AND l.id = e.lead_id
             WHERE e.kind IN ('allocated', 'reallocated', 'duplicate', 'reassigned')
             GROUP BY 1, 2, 3
        ), open_now AS (
            SELECT holder_id, project_id, branch_id, count(*) AS n FROM branchline.leads
             WHERE status IN ('allocated', 'contacted') GROUP BY 1, 2, 3
        ), closed AS (
            SELECT e.from_branch_id AS branch_id, l.project_id, count(*) FILTER (WHERE e.kind = 'won') AS won,
                   count(*) FILTER (WHERE e.kind = 'lost') AS lost
              FROM branchline.lead_events e JOIN branchline.leads l ON l.tenant_id = e.tenant_id AND l.id = e.lead_id
             WHERE e.kind IN ('won', 'lost') GROUP BY 1, 2
        ), days AS (
            SELECT branch_id, project_id, sum(received) AS received, sum(won) AS won, sum(lost) AS lost
              FROM branchline.lead_day_counts GROUP BY 1, 2
        ), bad AS (
            SELECT format('pool state %s/%s/%s: allocated %s for %s events, open %s for %s leads',
                          coalesce(s.holder_id, g.holder_id), coalesce(s.project_id, g.project_id),
                          coalesce(s.branch_id, g.branch_id), s.allocated, g.n, s.open_leads, o.n) AS m
              FROM branchline.lead_pool_state s
              FULL JOIN given g USING (holder_id, project_id, branch_id)
              LEFT JOIN open_now o USING (holder_id, project_id, branch_id)
             WHERE s.allocated IS DISTINCT FROM coalesce(g.n, 0) AND NOT (s.allocated = 0 AND g.n IS NULL)
                OR coalesce(s.open_leads, 0) <> coalesce(o.n, 0)
            UNION ALL
            SELECT format('day counts %s/%s: received %s for %s, won %s for %s, lost %s for %s',
                          d.branch_id, d.project_id, d.received, r.n, d.won, c.won, d.lost, c.lost)
              FROM days d
              LEFT JOIN (SELECT branch_id, project_id, sum(n) AS n FROM given GROUP BY 1, 2) r USING (branch_id, project_id)
              LEFT JOIN closed c USING (branch_id, project_id)
             WHERE d.received <> coalesce(r.n, 0) OR d.won <> coalesce(c.won, 0) OR d.lost <> coalesce(c.lost, 0)
        )
        SELECT string_agg(m, '; ') FROM bad), '');
END
$$;

-- The kinds of a lead's history, "allocated>reallocated>...".
CREATE FUNCTION pg_temp.history(p_subject text, p_id bigint) RETURNS text
LANGUAGE sql AS $$ SELECT string_agg(kind, '>' ORDER BY id) FROM api.lead_history(p_subject, p_id) $$;

-- The message of the error p_sql raises.
CREATE FUNCTION pg_temp.error_of(p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$$;
