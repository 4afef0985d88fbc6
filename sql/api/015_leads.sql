-- Lead operations: lead_add, lead_import, lead_list, lead_show, lead_contact,
-- lead_win, lead_lose, lead_reassign, lead_history, lead_explain.
--
-- Who sees a lead: a branch principal the leads its branch has now; a
-- unit_admin or viewer the leads whose current branch or holder lies in its
-- subtree; an admin every lead of the tenant. The contact fields (name,
-- phone, email, note) go only to principals whose scope covers the lead's
-- current branch or its holder, and are empty strings for anyone else (a
-- unit_admin adding a lead that is routed out of its subtree, say).

-- ---- visibility ------------------------------------------------------------------------

-- Whether a unit path (stored key) lies in the caller's scope. Compared in
-- "C" whatever the database's collation: the subtree is a key range in "C".
CREATE FUNCTION branchline.covers(c branchline.caller, p_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_key COLLATE "C" >= c.scope_path AND p_key COLLATE "C" < c.scope_end
$$;

CREATE FUNCTION branchline.lead_visible(c branchline.caller, p_branch_id bigint, p_branch_key text,
                                        p_holder_key text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN c.role = 'branch' THEN coalesce(p_branch_id = c.scope_id, false)
                ELSE coalesce(branchline.covers(c, p_branch_key), false)
                     OR coalesce(branchline.covers(c, p_holder_key), false) END
$$;

CREATE FUNCTION branchline.lead_masked(c branchline.caller, w api.lead, p_branch_key text, p_holder_key text,
                                       p_created boolean)
RETURNS api.lead LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    w.created := p_created;
    IF NOT (coalesce(covers(c, p_branch_key), false) OR coalesce(covers(c, p_holder_key), false)) THEN
        w.name := '';
        w.phone := '';
        w.email := '';
        w.note := '';
    END IF;
    RETURN w;
END
$$;

CREATE FUNCTION branchline.lead_wire(c branchline.caller, p_id bigint, p_created boolean) RETURNS api.lead
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN (SELECT lead_masked(c, v.wire, v.branch_key, v.holder_key, p_created)
              FROM lead_view v WHERE v.tenant_id = current_tenant() AND v.id = p_id);
END
$$;

-- The lead a request names, if the caller may see it; locked FOR UPDATE
-- when p_lock (a change follows). Another tenant's lead does not exist.
CREATE FUNCTION branchline.lead_at(c branchline.caller, p_id bigint, p_lock boolean) RETURNS branchline.leads
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    l leads;
    branch_key text;
    holder_key text;
BEGIN
    PERFORM required(p_id::text, 'id');
    IF p_lock THEN
        SELECT * INTO l FROM leads WHERE tenant_id = current_tenant() AND id = p_id FOR UPDATE;
    ELSE
        SELECT * INTO l FROM leads WHERE tenant_id = current_tenant() AND id = p_id;
    END IF;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'id', 'lead %s does not exist', p_id::text);
    END IF;
    SELECT b.path, h.path INTO branch_key, holder_key
      FROM units h LEFT JOIN units b ON b.tenant_id = h.tenant_id AND b.id = l.branch_id
     WHERE h.tenant_id = l.tenant_id AND h.id = l.holder_id;
    IF NOT lead_visible(c, l.branch_id, branch_key, holder_key) THEN
        PERFORM fail('PERMISSION_DENIED', 'id', 'lead %s is outside the scope of this principal (%s of %s)',
                     p_id::text, c.role, show_path(c.scope_path));
    END IF;
    RETURN l;
END
$$;

-- ---- intake -------------------------------------------------------------------------------

-- One lead, allocated at once: the result carries the chosen branch (or
-- the status waiting or unroutable with the reason). origin defaults to the
-- caller's scope unit. An external_id that exists returns that lead with
-- created = false and changes nothing.
CREATE FUNCTION api.lead_add(p_subject text, p_external_id text, p_project text, p_channel text, p_origin text,
                             p_name text, p_phone text, p_email text, p_note text)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_add', '{admin,unit_admin}');
    r lead_input;
    p pool;
    res intake_result;
BEGIN
    PERFORM guard_units();
    r := check_lead(c, p_external_id, p_project, p_channel, p_origin, p_name, p_phone, p_email, p_note);
    PERFORM lock_keys(pool_lock_keys(ARRAY[r.holder_id], ARRAY[r.project_id]));
    PERFORM lock_contacts(ARRAY[r]);
    IF r.holder_id IS NOT NULL THEN
        p := load_pool(r.holder_id, r.project_id, now());
    END IF;
    res := intake(r, p, c.subject, now());
    IF res.created AND res.pool IS NOT NULL THEN
        PERFORM save_pool(res.pool);
    END IF;
    IF res.created AND (res.wire).id IS NOT NULL THEN
        RETURN NEXT lead_masked(c, res.wire, res.branch_key, res.holder_key, true);
    ELSE
        RETURN NEXT lead_wire(c, res.lead_id, res.created);
    END IF;
END
$$;

-- api.lead_import: 017_lead_import.sql.

-- ---- reading ------------------------------------------------------------------------------------

-- Leads newest first, a page at a time: after = the id of the last lead of
-- the previous page (ids only grow, so pages stay stable while leads come
-- in). branch: a unit whose leads to list, the leads of the branches in
-- its subtree and the waiting and unroutable leads its units hold; default
-- the caller's scope (a branch principal's own branch, which is also all it
-- may name). since: created at or after (a date or a time). limit: 1 to
-- 1000, default 50.
--
-- Allocated leads come per branch from leads_branch (one short index scan
-- per branch of the subtree, merged), held ones from leads_unrouted; for
-- the whole tenant the primary key is walked backwards instead.
--
-- No plan may depend on the estimates for one tenant (issue 13, item 7).
-- PL/pgSQL plans the first five calls of a session with the call's values;
-- with statistics older than the tenant's growth (a burst of imports, or
-- an immediate restart, which forgets what autovacuum had counted) those
-- plans take a tenant of 111,000 leads for one of a lead or two, and then
-- every index whose first column is tenant_id costs the same as the key.
-- Fetching the page's leads by (tenant_id, id) may then run as a scan of
-- the tenant by (tenant_id, external_id) with id as a filter, once for each
-- lead of the page (the nested loop of the issue): 8-15 s for `lead list
-- --limit 1000` in each new session, 74 s in our reproduction. So:
-- the page carries each lead's ctid and its rows are fetched by TID (a TID
-- scan costs less than any index scan, whatever the estimates), and a held
-- lead's holder is checked by a scalar subquery on units' key, never by a
-- join that could loop over the units for each lead. At worst a call
-- reads the tenant's leads once (sorting them all for the newest page, or
-- passing held leads that are all outside the subtree asked for);
-- tests/integration/lead_list_plan.sh checks the plans of fresh sessions
-- on such a tenant.
CREATE FUNCTION api.lead_list(p_subject text, p_branch text, p_status text, p_project text, p_since text,
                              p_limit integer, p_after bigint)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_list', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_branch, 'branch');
    t bigint := current_tenant();
    project bigint;
    since_at timestamptz := parse_instant(p_since, 'since');
    lim integer := coalesce(nullif(p_limit, 0), 50);
    after_id bigint := coalesce(p_after, 9223372036854775807);
    routed boolean := p_status IS NULL OR p_status IN ('allocated', 'contacted', 'won', 'lost');
    held boolean := c.role <> 'branch' AND (p_status IS NULL OR p_status IN ('waiting', 'unroutable'));
BEGIN
    IF p_status IS NOT NULL THEN
        PERFORM check_choice(p_status, 'status', lead_statuses());
    END IF;
    IF p_project IS NOT NULL THEN
        project := (project_at(p_project, 'project')).id;
    END IF;
    IF lim NOT BETWEEN 1 AND 1000 THEN
        PERFORM fail('INVALID_ARGUMENT', 'limit', 'limit must be 1 to 1000 (0: the default, 50)');
    END IF;
    RETURN QUERY
    WITH page AS (
        (SELECT l.id, l.ctid AS tid FROM leads l
          WHERE routed AND r.path = '/' AND l.tenant_id = t AND l.branch_id IS NOT NULL AND l.id < after_id
            AND (p_status IS NULL OR l.status = p_status) AND (project IS NULL OR l.project_id = project)
            AND (since_at IS NULL OR l.created_at >= since_at)
          ORDER BY l.id DESC LIMIT lim)
        UNION ALL
        (SELECT x.id, x.tid FROM units b
          CROSS JOIN LATERAL (
                SELECT l.id, l.ctid AS tid FROM leads l
                 WHERE l.tenant_id = b.tenant_id AND l.branch_id = b.id AND l.id < after_id
                   AND (p_status IS NULL OR l.status = p_status) AND (project IS NULL OR l.project_id = project)
                   AND (since_at IS NULL OR l.created_at >= since_at)
                 ORDER BY l.id DESC LIMIT lim) x
          WHERE routed AND r.path <> '/' AND b.tenant_id = t AND b.kind = 'branch'
            AND b.path >= r.path AND b.path < r.path_end
          ORDER BY x.id DESC LIMIT lim)
        UNION ALL
        (SELECT l.id, l.ctid AS tid FROM leads l
          WHERE held AND l.tenant_id = t AND l.branch_id IS NULL AND l.id < after_id
            AND (SELECT h.path >= r.path AND h.path < r.path_end
                   FROM units h WHERE h.tenant_id = l.tenant_id AND h.id = l.holder_id)
            AND (p_status IS NULL OR l.status = p_status) AND (project IS NULL OR l.project_id = project)
            AND (since_at IS NULL OR l.created_at >= since_at)
          ORDER BY l.id DESC LIMIT lim)
        ORDER BY 1 DESC LIMIT lim
    )
    SELECT (m.w).* FROM (
        SELECT lead_masked(c, v.wire, v.branch_key, v.holder_key, false) AS w, v.id
          FROM page
         CROSS JOIN LATERAL (SELECT * FROM lead_view v WHERE v.tid = page.tid AND v.tenant_id = t OFFSET 0) v
         ORDER BY v.id DESC OFFSET 0) m
     ORDER BY m.id DESC;
END
$$;

CREATE FUNCTION api.lead_show(p_subject text, p_id bigint)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_show', '{admin,unit_admin,viewer,branch}');
BEGIN
    RETURN NEXT lead_wire(c, (lead_at(c, p_id, false)).id, false);
END
$$;

-- Every owner of the lead with times and reasons, oldest first. reason is
-- the event's reason, or the note given with a transition.
CREATE FUNCTION api.lead_history(p_subject text, p_id bigint)
RETURNS SETOF api.lead_event LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_history', '{admin,unit_admin,viewer,branch}');
    l leads := lead_at(c, p_id, false);
BEGIN
    RETURN QUERY
    SELECT e.id, iso(e.at), e.kind, coalesce(show_path(fb.path), ''), coalesce(show_path(tb.path), ''),
           coalesce(e.reason, e.note, ''), e.principal, coalesce(e.policy, '')
      FROM lead_events e
      LEFT JOIN units fb ON fb.tenant_id = e.tenant_id AND fb.id = e.from_branch_id
      LEFT JOIN units tb ON tb.tenant_id = e.tenant_id AND tb.id = e.to_branch_id
     WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.id
     ORDER BY e.id;
END
$$;

-- Why the lead went where it went: the pool at its latest allocation (or
-- latest attempt, for a waiting lead), one row per branch with its weight,
-- its allocations in the pool before this lead, the policy's score (smooth
-- round-robin: the branch's deficit in leads after this round's credit;
-- least_loaded: open leads per unit of capacity), whether it was chosen,
-- and why it could not be ("at daily cap (20)", "excluded: had it before").
-- Branch paths are today's. Then the branches under the lead's holder that
-- were left out of the pool, each with the reason (branch_unfit, 040: not
-- active, no project, capacity 0, no sales), at most 100 by path, with
-- weight 0 and not chosen.
CREATE FUNCTION api.lead_explain(p_subject text, p_id bigint)
RETURNS SETOF api.explain_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_explain', '{admin,unit_admin,viewer,branch}');
    l leads := lead_at(c, p_id, false);
BEGIN
    RETURN QUERY
    SELECT iso(e.at), coalesce(e.policy, ''), coalesce(show_path(b.path), ''), (a.x ->> 1)::double precision,
           (a.x ->> 2)::bigint, (a.x ->> 3)::double precision, (a.x ->> 4)::boolean, a.x ->> 5
      FROM (SELECT * FROM lead_events q
             WHERE q.tenant_id = l.tenant_id AND q.lead_id = l.id AND q.explain IS NOT NULL
             ORDER BY q.id DESC LIMIT 1) e
     CROSS JOIN LATERAL jsonb_array_elements(e.explain) WITH ORDINALITY AS a (x, n)
      LEFT JOIN units b ON b.tenant_id = l.tenant_id AND b.id = (a.x ->> 0)::bigint
     ORDER BY a.n;
    RETURN QUERY
    SELECT '', '', show_path(b.path), 0::double precision, 0::bigint, 0::double precision, false, 'left out: ' || x.why
      FROM units h
      JOIN units b ON b.tenant_id = h.tenant_id AND b.kind = 'branch' AND b.path >= h.path AND b.path < h.path_end
     CROSS JOIN LATERAL (SELECT branch_unfit(h.id, l.project_id, b.id) AS why) x
     WHERE h.tenant_id = l.tenant_id AND h.id = l.holder_id AND x.why IS NOT NULL
     ORDER BY b.path LIMIT 100;
END
$$;

-- ---- working a lead ---------------------------------------------------------------------------

-- The lead's life: allocated -> contacted -> won or lost, and allocated ->
-- lost directly ("never reached"). A lead is won only once contacted;
-- won and lost are final; a waiting or unroutable lead has no branch to
-- work it (reassign it first). Anything else is FAILED_PRECONDITION. The
-- note goes into the history (personal data: purge clears it). Contacting
-- counts towards contacted_in_sla when it happens by the SLA deadline (or
-- there is none). Every state change of a lead after intake goes through
-- here, sla_miss or retry_unrouted (014), or lead_reassign.
CREATE FUNCTION branchline.transition(c branchline.caller, p_id bigint, p_note text, p_to text)
RETURNS api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    l leads := lead_at(c, p_id, true);
    note text := check_note(p_note, 'note');
    day date := local_day(now());
    in_sla integer;
BEGIN
    IF l.status IN ('won', 'lost') THEN
        PERFORM fail('FAILED_PRECONDITION', 'id', 'lead %s is already %s', l.id::text, l.status);
    ELSIF l.status IN ('waiting', 'unroutable') THEN
        PERFORM fail('FAILED_PRECONDITION', 'id', 'lead %s is %s: no branch works it (reassign it first)',
                     l.id::text, l.status);
    ELSIF p_to = 'contacted' AND l.status = 'contacted' THEN
        PERFORM fail('FAILED_PRECONDITION', 'id', 'lead %s is already contacted', l.id::text);
    ELSIF p_to = 'won' AND l.status <> 'contacted' THEN
        PERFORM fail('FAILED_PRECONDITION', 'id', 'lead %s must be contacted before it is won', l.id::text);
    END IF;
    PERFORM lock_keys(ARRAY[lock_key('pool', l.tenant_id, l.holder_id, l.project_id)]);
    IF p_to = 'contacted' THEN
        in_sla := (l.due_at IS NULL OR now() <= l.due_at)::integer;
        UPDATE leads SET status = p_to, contacted_at = now(), due_at = NULL WHERE tenant_id = l.tenant_id AND id = l.id;
        PERFORM count_day(l.branch_id, day, l.project_id, l.holder_id, 0, 1, in_sla, 0, 0);
    ELSE
        UPDATE leads SET status = p_to, closed_at = now(), due_at = NULL WHERE tenant_id = l.tenant_id AND id = l.id;
        PERFORM release_open(l);
        PERFORM count_day(l.branch_id, day, l.project_id, l.holder_id, 0, 0, 0,
                          (p_to = 'won')::integer, (p_to = 'lost')::integer);
    END IF;
    INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, note, principal)
    VALUES (l.tenant_id, l.id, now(), p_to, l.branch_id, note, c.subject);
    RETURN lead_wire(c, l.id, false);
END
$$;

CREATE FUNCTION api.lead_contact(p_subject text, p_id bigint, p_note text)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
BEGIN
    RETURN NEXT transition(auth(p_subject, 'lead_contact', '{admin,unit_admin,branch}'), p_id, p_note, 'contacted');
END
$$;

CREATE FUNCTION api.lead_win(p_subject text, p_id bigint, p_note text)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
BEGIN
    RETURN NEXT transition(auth(p_subject, 'lead_win', '{admin,unit_admin,branch}'), p_id, p_note, 'won');
END
$$;

CREATE FUNCTION api.lead_lose(p_subject text, p_id bigint, p_note text)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
BEGIN
    RETURN NEXT transition(auth(p_subject, 'lead_lose', '{admin,unit_admin,branch}'), p_id, p_note, 'lost');
END
$$;

-- A manual override: the lead goes to branch `to` (any branch the caller's
-- scope covers that could work it: in the pool of the holder serving its
-- origin, caps aside, I1), with a reason. An admin, or
-- a unit_admin whose subtree covers both the lead's current branch (its
-- holder, for a waiting or unroutable lead) and the target. A contacted
-- lead stays contacted; otherwise it is allocated again with a fresh SLA
-- deadline. Closed leads stay where they are. Counted like an allocation
-- of the pool to the target (its caps and stats see it), audited, and
-- notified to watchers.
CREATE FUNCTION api.lead_reassign(p_subject text, p_id bigint, p_to text, p_reason text)
RETURNS SETOF api.lead LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_reassign', '{admin,unit_admin}');
    l leads;
    target units;
    why text;
    new_status text;
    holder bigint;
    unfit text;
    pol lead_rule;
    before api.lead;
    w api.lead;
BEGIN
    PERFORM guard_units();
    l := lead_at(c, p_id, true);
    target := scoped_branch(c, required(p_to, 'to'), 'to');
    why := check_text(p_reason, 'reason', 500);
    IF l.status IN ('won', 'lost') THEN
        PERFORM fail('FAILED_PRECONDITION', 'id', 'lead %s is already %s', l.id::text, l.status);
    ELSIF target.status <> 'active' THEN
        PERFORM fail('FAILED_PRECONDITION', 'to', '%s is %s', show_path(target.path), target.status);
    ELSIF target.id = l.branch_id THEN
        PERFORM fail('FAILED_PRECONDITION', 'to', 'lead %s is already at %s', l.id::text, show_path(target.path));
    END IF;
    holder := CASE WHEN l.branch_id IS NOT NULL THEN l.holder_id
                   ELSE (SELECT holder_of(o) FROM units o WHERE o.tenant_id = l.tenant_id AND o.id = l.origin_id) END;
    unfit := branch_unfit(holder, l.project_id, target.id);
    IF unfit IS NOT NULL THEN
        PERFORM fail('FAILED_PRECONDITION', 'to', '%s cannot work lead %s: %s', show_path(target.path), l.id::text, unfit);
    END IF;
    PERFORM lock_keys(ARRAY[lock_key('pool', l.tenant_id, holder, l.project_id)]);
    before := lead_wire(c, l.id, false);
    new_status := CASE WHEN l.status = 'contacted' THEN 'contacted' ELSE 'allocated' END;
    pol := policy_for(holder, l.project_id);
    IF l.branch_id IS NOT NULL THEN
        PERFORM release_open(l);
    END IF;
    INSERT INTO lead_pool_state AS s (tenant_id, holder_id, project_id, branch_id, allocated, open_leads)
    VALUES (l.tenant_id, holder, l.project_id, target.id, 1, 1)
    ON CONFLICT (tenant_id, holder_id, project_id, branch_id) DO UPDATE
       SET allocated = s.allocated + 1, open_leads = s.open_leads + 1;
    PERFORM count_day(target.id, local_day(now()), l.project_id, holder, 1, 0, 0, 0, 0);
    UPDATE leads
       SET branch_id = target.id, holder_id = holder, status = new_status, reason = why, allocated_at = now(),
           due_at = CASE WHEN new_status = 'allocated' AND pol.sla_minutes > 0
                         THEN now() + make_interval(mins => pol.sla_minutes) END
     WHERE tenant_id = l.tenant_id AND id = l.id;
    INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, to_branch_id, reason, principal)
    VALUES (l.tenant_id, l.id, now(), 'reassigned', l.branch_id, target.id, why, c.subject);
    PERFORM notify_lead(l.id, new_status, (SELECT j.code FROM projects j WHERE j.tenant_id = l.tenant_id AND j.id = l.project_id),
                        target.path);
    w := lead_wire(c, l.id, false);
    PERFORM audit('lead:' || l.id,
                  jsonb_build_object('branch_path', before.branch_path, 'status', before.status),
                  jsonb_build_object('branch_path', w.branch_path, 'status', w.status, 'reason', why));
    RETURN NEXT w;
END
$$;
