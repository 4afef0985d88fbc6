-- Lead statistics, purge, policies, caps, the watch scope and the sweep
-- entry point; then the function privileges of everything since 011.

-- ---- stats -------------------------------------------------------------------------------

CREATE FUNCTION branchline.period_start(p_period text, p_day date, p_since date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_period WHEN 'day' THEN p_day
                         WHEN 'week' THEN date_trunc('week', p_day)::date
                         WHEN 'month' THEN date_trunc('month', p_day)::date
                         ELSE coalesce(p_since, '-infinity') END
$$;

-- The current policy's weight of every branch of a pool, in lead_stats'
-- subtree: what its share should be. project_lead: 1 for the lead branch,
-- 0 for the others (when the lead branch is in the pool; caps aside);
-- otherwise the weights allocation uses (013: load_pool).
CREATE FUNCTION branchline.pool_weights(p_holder bigint, p_project bigint, p_root branchline.units)
RETURNS TABLE (branch_id bigint, weight double precision)
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    p pool := load_pool(p_holder, p_project, now());
BEGIN
    RETURN QUERY
    WITH m AS (
        SELECT x.branch_id, x.path, x.weight,
               (p.rule).policy = 'project_lead' AND x.branch_id IS NOT DISTINCT FROM (p.rule).lead_branch_id AS is_lead
          FROM unnest(p.members) x
    )
    SELECT m.branch_id, CASE WHEN bool_or(m.is_lead) OVER () THEN m.is_lead::integer ELSE m.weight END
      FROM m
     WHERE m.path >= p_root.path AND m.path < p_root.path_end;
END
$$;

-- Per branch under `under` (default the caller's scope; a branch principal
-- sees its own branch only) and period (day, week or month in the tenant's
-- time zone; none: one row for everything since `since`, which counts in
-- whole tenant days): leads received (allocations, reallocations,
-- duplicates and reassignments to the branch), contacted, contacted within
-- the SLA, won, lost, conversion = won / (won + lost). The fairness check:
-- actual_share = the branch's received / all received by the listed
-- branches in the period; expected_share = what the current policy's
-- weights give for the same leads: for each pool, the leads the listed
-- branches received from it, shared by the weights of its current members
-- among the listed branches (caps and past membership changes aside).
-- Rows: branches that received leads in the period, or should have. A
-- branch principal sees its own row as an admin sees it: its shares among
-- its peers, not 1 of its own.
-- Read from the day counters: the cost does not grow with stored leads.
CREATE FUNCTION api.lead_stats(p_subject text, p_under text, p_period text, p_since text)
RETURNS SETOF api.lead_stats_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_stats', '{admin,unit_admin,viewer,branch}');
    own units := scoped_unit(c, p_under, 'under');
    r units := CASE WHEN c.role = 'branch' THEN unit_at('/', 'under') ELSE own END;
    since_day date := local_day(parse_instant(p_since, 'since'));
BEGIN
    IF p_period IS NOT NULL THEN
        PERFORM check_choice(p_period, 'period', '{day,week,month}');
    END IF;
    RETURN QUERY
    WITH counts AS (
        SELECT d.branch_id, d.project_id, d.holder_id, period_start(p_period, d.day, since_day) AS ps,
               sum(d.received) AS received, sum(d.contacted) AS contacted, sum(d.contacted_in_sla) AS in_sla,
               sum(d.won) AS won, sum(d.lost) AS lost
          FROM lead_day_counts d JOIN units b ON b.tenant_id = d.tenant_id AND b.id = d.branch_id
         WHERE d.tenant_id = r.tenant_id AND b.path >= r.path AND b.path < r.path_end
           AND (since_day IS NULL OR d.day >= since_day)
         GROUP BY 1, 2, 3, 4
    ), pools AS (
        SELECT x.ps, x.holder_id, x.project_id, sum(x.received) AS n FROM counts x GROUP BY 1, 2, 3
    ), shares AS (
        SELECT q.holder_id, q.project_id, w.branch_id,
               w.weight / nullif(sum(w.weight) OVER (PARTITION BY q.holder_id, q.project_id), 0) AS share
          FROM (SELECT DISTINCT x.holder_id, x.project_id FROM counts x) q
         CROSS JOIN LATERAL pool_weights(q.holder_id, q.project_id, r) w
    ), expected AS (
        SELECT p.ps, s.branch_id, sum(p.n * s.share) AS e
          FROM pools p JOIN shares s ON s.holder_id = p.holder_id AND s.project_id = p.project_id
         GROUP BY 1, 2
    ), per_branch AS (
        SELECT x.branch_id, x.ps, sum(x.received) AS received, sum(x.contacted) AS contacted,
               sum(x.in_sla) AS in_sla, sum(x.won) AS won, sum(x.lost) AS lost
          FROM counts x GROUP BY 1, 2
    ), totals AS (
        SELECT x.ps, sum(x.received) AS n FROM counts x GROUP BY 1
    ), result_rows AS (
        SELECT coalesce(pb.branch_id, e.branch_id) AS branch_id, coalesce(pb.ps, e.ps) AS ps,
               coalesce(pb.received, 0) AS received, coalesce(pb.contacted, 0) AS contacted,
               coalesce(pb.in_sla, 0) AS in_sla, coalesce(pb.won, 0) AS won, coalesce(pb.lost, 0) AS lost,
               coalesce(e.e, 0) AS e
          FROM per_branch pb FULL JOIN expected e ON e.branch_id = pb.branch_id AND e.ps = pb.ps
    )
    SELECT show_path(b.path), CASE WHEN x.ps = '-infinity' THEN '' ELSE ymd(x.ps) END,
           x.received::bigint, x.contacted::bigint, x.in_sla::bigint, x.won::bigint, x.lost::bigint,
           coalesce(x.won::double precision / nullif(x.won + x.lost, 0), 0),
           coalesce(x.e::double precision / nullif(tot.n, 0), 0),
           coalesce(x.received::double precision / nullif(tot.n, 0), 0)
      FROM result_rows x
      JOIN totals tot ON tot.ps = x.ps
      JOIN units b ON b.tenant_id = r.tenant_id AND b.id = x.branch_id
     WHERE (x.received > 0 OR x.e > 0) AND b.path >= own.path AND b.path < own.path_end
     ORDER BY x.ps, b.path;
END
$$;

-- ---- purge -----------------------------------------------------------------------------------

-- Anonymises closed (won or lost) leads created before `before` (a date in
-- the tenant's time zone, or a time): name, phone, email, note and the
-- notes of their history are cleared, the duplicate keys too, and a
-- "purged" event is added. The leads, their statuses, events and every
-- counter stay, so stats and fairness are unchanged. Purges of one tenant
-- run one at a time. p_dry_run: only counts the leads it would purge.
CREATE FUNCTION api.lead_purge(p_subject text, p_before text, p_dry_run boolean DEFAULT false)
RETURNS SETOF api.lead_purge_result LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_purge', '{admin}');
    before timestamptz := parse_instant(required(p_before, 'before'), 'before');
    n bigint;
BEGIN
    IF coalesce(p_dry_run, false) THEN
        SELECT count(*) INTO n FROM leads
         WHERE tenant_id = c.tenant_id AND status IN ('won', 'lost') AND created_at < before AND purged_at IS NULL;
        RETURN NEXT ROW(n, true)::api.lead_purge_result;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key('purge', c.tenant_id));
    WITH p AS (
        UPDATE leads SET name = NULL, phone = NULL, email = NULL, note = NULL, phone_key = NULL, email_key = NULL,
                         purged_at = now()
         WHERE tenant_id = c.tenant_id AND status IN ('won', 'lost') AND created_at < before AND purged_at IS NULL
        RETURNING id
    ), notes AS (
        UPDATE lead_events e SET note = NULL FROM p
         WHERE e.tenant_id = c.tenant_id AND e.lead_id = p.id AND e.note IS NOT NULL
    ), events AS (
        INSERT INTO lead_events (tenant_id, lead_id, at, kind, reason, principal)
        SELECT c.tenant_id, p.id, now(), 'purged', 'contact fields anonymised', c.subject FROM p
    )
    SELECT count(*) INTO n FROM p;
    PERFORM audit('leads', NULL, jsonb_build_object('before', iso(before), 'purged', n));
    RETURN NEXT ROW(n, false)::api.lead_purge_result;
END
$$;

-- ---- policies -------------------------------------------------------------------------------

CREATE VIEW branchline.policy_view WITH (security_invoker = true) AS
SELECT lp.tenant_id, lp.id, lp.holder_id, lp.project_id, h.path AS holder_key,
       ROW(coalesce(branchline.show_path(h.path), ''), coalesce(p.code, ''), lp.policy,
           coalesce(branchline.show_path(lb.path), ''), lp.sla_minutes, lp.max_reallocations)::api.policy AS wire
  FROM branchline.lead_policies lp
  LEFT JOIN branchline.units h ON h.tenant_id = lp.tenant_id AND h.id = lp.holder_id
  LEFT JOIN branchline.projects p ON p.tenant_id = lp.tenant_id AND p.id = lp.project_id
  LEFT JOIN branchline.units lb ON lb.tenant_id = lp.tenant_id AND lb.id = lp.lead_branch_id;
GRANT SELECT ON branchline.policy_view TO branchline_app;

CREATE FUNCTION branchline.policy_wire(p_holder bigint, p_project bigint) RETURNS api.policy
LANGUAGE sql STABLE AS $$
    SELECT v.wire FROM branchline.policy_view v
     WHERE v.tenant_id = branchline.current_tenant()
       AND v.holder_id IS NOT DISTINCT FROM p_holder AND v.project_id IS NOT DISTINCT FROM p_project
$$;

-- Where a policy call points: the holder unit (`at`; none: the tenant's
-- default, or a unit_admin's scope unit) and the project (none: every
-- project), checked against the caller's scope.
CREATE FUNCTION branchline.policy_key(c branchline.caller, p_at text, p_project text,
                                      OUT at_unit branchline.units, OUT project bigint)
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF p_at IS NOT NULL OR c.role <> 'admin' THEN
        at_unit := scoped_unit(c, p_at, 'at');
    END IF;
    IF at_unit.kind = 'branch' AND p_at IS NOT NULL THEN
        PERFORM fail('INVALID_ARGUMENT', 'at', 'a policy applies to the leads a unit holds: %s is a branch, set it at the unit above',
                     show_path(at_unit.path));
    END IF;
    IF p_project IS NOT NULL THEN
        project := (project_at(p_project, 'project')).id;
    END IF;
END
$$;

-- Sets the policy of a holder unit (`at`; none: the tenant's default, or a
-- unit_admin's scope unit) for one project (none: every project), creating
-- or replacing it. project_lead needs a project and a lead branch under the
-- unit. sla_minutes: contact within, 0 = no SLA; max_reallocations: SLA
-- reallocations before the lead goes to the holder's queue (0: none, the
-- first overdue lead goes there), not given: 3. Leads already allocated keep
-- the deadline they got.
CREATE FUNCTION api.policy_set(p_subject text, p_at text, p_project text, p_policy text, p_lead_branch text,
                               p_sla_minutes integer, p_max_reallocations integer)
RETURNS SETOF api.policy LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'policy_set', '{admin,unit_admin}');
    key record := policy_key(c, p_at, p_project);
    at_unit units := key.at_unit;
    project bigint := key.project;
    lead_branch units;
    before api.policy;
    w api.policy;
BEGIN
    PERFORM check_choice(p_policy, 'policy', lead_policy_names());
    IF p_policy = 'project_lead' THEN
        IF project IS NULL THEN
            PERFORM fail('INVALID_ARGUMENT', 'project', 'project_lead designates a lead branch per project: give the project');
        END IF;
        lead_branch := scoped_branch(c, required(p_lead_branch, 'lead_branch'), 'lead_branch');
        IF at_unit.id IS NOT NULL AND NOT (lead_branch.path >= at_unit.path AND lead_branch.path < at_unit.path_end) THEN
            PERFORM fail('INVALID_ARGUMENT', 'lead_branch', '%s is not under %s', show_path(lead_branch.path),
                         show_path(at_unit.path));
        END IF;
    ELSIF p_lead_branch IS NOT NULL THEN
        PERFORM fail('INVALID_ARGUMENT', 'lead_branch', 'lead_branch is for the project_lead policy');
    END IF;
    PERFORM check_range(p_sla_minutes, 'sla_minutes', 0, 'sla_minutes'),
            check_range(p_max_reallocations, 'max_reallocations', 0, 'max_reallocations');

    before := policy_wire(at_unit.id, project);
    INSERT INTO lead_policies AS lp (tenant_id, holder_id, project_id, policy, lead_branch_id, sla_minutes,
                                     max_reallocations)
    VALUES (c.tenant_id, at_unit.id, project, p_policy, lead_branch.id, coalesce(p_sla_minutes, 0),
            coalesce(p_max_reallocations, 3))
    ON CONFLICT (tenant_id, holder_id, project_id) DO UPDATE
       SET policy = excluded.policy, lead_branch_id = excluded.lead_branch_id, sla_minutes = excluded.sla_minutes,
           max_reallocations = excluded.max_reallocations;
    w := policy_wire(at_unit.id, project);
    PERFORM audit(coalesce(show_path(at_unit.path), 'policy:*'), to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Removes the policy set at a holder unit (`at`; none: the tenant's default,
-- or a unit_admin's scope unit) for one project (none: the one for every
-- project), so that the policy above it applies there again (for the
-- tenant's default: weighted without SLA). NOT_FOUND when none is set there.
-- Returns the policy removed. Leads already allocated keep their deadline.
CREATE FUNCTION api.policy_unset(p_subject text, p_at text, p_project text)
RETURNS SETOF api.policy LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'policy_unset', '{admin,unit_admin}');
    key record := policy_key(c, p_at, p_project);
    at_unit units := key.at_unit;
    project bigint := key.project;
    before api.policy;
BEGIN
    before := policy_wire(at_unit.id, project);
    DELETE FROM lead_policies
     WHERE tenant_id = c.tenant_id AND holder_id IS NOT DISTINCT FROM at_unit.id
       AND project_id IS NOT DISTINCT FROM project;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', CASE WHEN p_project IS NOT NULL THEN 'project' ELSE 'at' END,
                     'no policy is set at %s for %s', coalesce(show_path(at_unit.path), 'the tenant'),
                     coalesce('project ' || p_project, 'every project'));
    END IF;
    PERFORM audit(coalesce(show_path(at_unit.path), 'policy:*'), to_jsonb(before), NULL);
    RETURN NEXT before;
END
$$;

-- The policies that can apply in the caller's scope: the tenant's default
-- (shown as weighted without SLA when none was set), those at units above
-- the scope unit and those within its subtree. Default first, then by unit
-- path and project.
CREATE FUNCTION api.policy_show(p_subject text)
RETURNS SETOF api.policy LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'policy_show', '{admin,unit_admin,viewer,branch}');
    scope units := unit_at(show_path(c.scope_path), NULL);
BEGIN
    IF NOT EXISTS (SELECT FROM lead_policies WHERE tenant_id = c.tenant_id AND holder_id IS NULL AND project_id IS NULL) THEN
        RETURN NEXT ROW('', '', 'weighted', '', 0, 3)::api.policy;
    END IF;
    RETURN QUERY
    SELECT (v.wire).* FROM policy_view v
     WHERE v.holder_id IS NULL OR v.holder_id = ANY (scope.ancestors || scope.id)
        OR (v.holder_key >= scope.path AND v.holder_key < scope.path_end)
     ORDER BY v.holder_key NULLS FIRST, (v.wire).project;
END
$$;

-- ---- caps ------------------------------------------------------------------------------------

-- Sets a branch's caps over all projects: each period given gets that cap
-- (0: no leads at all that period), a period not given has none; one at
-- least must be given (cap_unset removes them). Waiting leads are made due:
-- the sweep retries them at once, a higher cap may take them (a removed or
-- raised cap drains them at commit anyway, 040: settle_leads).
CREATE FUNCTION api.cap_set(p_subject text, p_branch text, p_per_day integer, p_per_week integer)
RETURNS SETOF api.branch_cap LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'cap_set', '{admin,unit_admin}');
    b units := scoped_branch(c, p_branch, 'branch');
    before jsonb;
    w api.branch_cap;
BEGIN
    PERFORM check_range(p_per_day, 'per_day', 0, 'cap'), check_range(p_per_week, 'per_week', 0, 'cap');
    IF p_per_day IS NULL AND p_per_week IS NULL THEN
        PERFORM fail('INVALID_ARGUMENT', 'per_day',
                     'give per_day or per_week (0: no leads that period); cap unset removes the caps');
    END IF;
    SELECT to_jsonb(x) INTO before FROM lead_caps x WHERE x.tenant_id = b.tenant_id AND x.branch_id = b.id;
    INSERT INTO lead_caps (tenant_id, branch_id, per_day, per_week)
    VALUES (b.tenant_id, b.id, p_per_day, p_per_week)
    ON CONFLICT (tenant_id, branch_id) DO UPDATE SET per_day = excluded.per_day, per_week = excluded.per_week;
    UPDATE leads SET due_at = now()
     WHERE tenant_id = b.tenant_id AND branch_id IS NULL AND status = 'waiting' AND due_at > now();
    w := ROW(show_path(b.path), p_per_day, p_per_week);
    PERFORM audit(w.branch_path, before - 'tenant_id', to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Removes a branch's caps (both periods); a branch without caps is left
-- as it is (scripts may unset twice). Leads waiting for it drain at commit
-- (040: settle_leads).
CREATE FUNCTION api.cap_unset(p_subject text, p_branch text)
RETURNS SETOF api.branch_cap LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'cap_unset', '{admin,unit_admin}');
    b units := scoped_branch(c, p_branch, 'branch');
    old lead_caps;
BEGIN
    DELETE FROM lead_caps WHERE tenant_id = b.tenant_id AND branch_id = b.id RETURNING * INTO old;
    IF old.branch_id IS NOT NULL THEN
        PERFORM audit(show_path(b.path), to_jsonb(old) - 'tenant_id', NULL);
    END IF;
    RETURN NEXT ROW(show_path(b.path), NULL, NULL)::api.branch_cap;
END
$$;

-- The caps of the branches under a unit (default: the caller's scope), by path.
CREATE FUNCTION api.cap_list(p_subject text, p_under text)
RETURNS SETOF api.branch_cap LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'cap_list', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_under, 'under');
BEGIN
    RETURN QUERY SELECT show_path(b.path), x.per_day, x.per_week
                   FROM lead_caps x JOIN units b ON b.tenant_id = x.tenant_id AND b.id = x.branch_id
                  WHERE x.tenant_id = c.tenant_id AND b.path >= r.path AND b.path < r.path_end
                  ORDER BY b.path;
END
$$;

-- ---- watch and sweep --------------------------------------------------------------------------

-- Authorizes a lead_watch stream and says what it covers: the tenant and a
-- unit path ('' = the whole tenant); the daemon then forwards the
-- allocations NOTIFY reports there (013: notify_lead). A branch principal
-- watches its own branch; a unit_admin or viewer a unit of its subtree,
-- by default its scope unit; an admin any unit, by default the tenant.
CREATE FUNCTION api.lead_watch(p_subject text, p_branch text)
RETURNS SETOF api.lead_watch_scope LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_watch', '{admin,unit_admin,viewer,branch}');
    u units := scoped_unit(c, p_branch, 'branch');
BEGIN
    RETURN NEXT ROW(c.tenant_id, CASE WHEN u.path = '/' THEN '' ELSE show_path(u.path) END)::api.lead_watch_scope;
END
$$;

-- Run by every daemon every few seconds as its own role, without a
-- subject: handles up to p_limit (default 100, at most 10,000) due leads of
-- every tenant (014: sweep_at). SECURITY DEFINER: the sweep must find work
-- in all tenants, which only the owner's sweep_scan policy allows.
CREATE FUNCTION api.sweep(p_limit integer)
RETURNS SETOF api.sweep_result LANGUAGE sql SECURITY DEFINER SET search_path = branchline, pg_temp SET jit = off AS $$
    SELECT * FROM branchline.sweep_at(least(greatest(coalesce(nullif(p_limit, 0), 100), 1), 10000), now())
$$;
