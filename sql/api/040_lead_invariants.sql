-- The organization x lead invariants (README, Leads: I1-I3), enforced in
-- the transaction of every organization change, whatever operation made it
-- (the deferred triggers of schema/040_lead_invariants.sql call
-- settle_leads at commit).
--
-- I1 (placement): an open lead (allocated or contacted) is held by the unit
-- whose customer-service department, at an active unit, serves its origin
-- now, and sits at a branch of that holder's pool (active, handles the
-- project with capacity > 0, served for sales) – caps aside: a cap stops
-- new leads, it does not take leads away.
-- I2 (queues drain): a waiting or unroutable lead whose pool has room now
-- is allocated.

-- A sales department at an active unit on the branch's path up to the root
-- (the rule pool_members applies inline, 013).
CREATE FUNCTION branchline.sales_served(p_branch branchline.units) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT FROM branchline.departments d
                     JOIN branchline.units du ON du.tenant_id = d.tenant_id AND du.id = d.unit_id AND du.status = 'active'
                    WHERE d.tenant_id = p_branch.tenant_id AND d.unit_id = ANY (p_branch.ancestors || p_branch.id)
                      AND d.function = 'sales')
$$;

-- Why branch p_branch cannot work leads of p_project held by p_holder, or
-- NULL when it can: the pool's rule (013: pool_members) without caps, as
-- one sentence for lead explain, reassign and the model test.
CREATE FUNCTION branchline.branch_unfit(p_holder bigint, p_project bigint, p_branch bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    h units;
    b units;
    cap integer;
BEGIN
    SELECT * INTO h FROM units WHERE tenant_id = current_tenant() AND id = p_holder;
    SELECT * INTO b FROM units WHERE tenant_id = current_tenant() AND id = p_branch;
    IF h.id IS NULL THEN
        RETURN 'no customer service serves the lead''s origin';
    ELSIF b.kind IS DISTINCT FROM 'branch' THEN
        RETURN 'not a branch';
    ELSIF NOT (b.path >= h.path AND b.path < h.path_end) THEN
        RETURN 'not under the holder ' || show_path(h.path);
    ELSIF b.status <> 'active' THEN
        RETURN b.status;
    END IF;
    SELECT coalesce(bp.capacity, derived_capacity(b.id)) INTO cap
      FROM branch_projects bp WHERE bp.tenant_id = b.tenant_id AND bp.branch_id = b.id AND bp.project_id = p_project;
    IF NOT FOUND THEN
        RETURN 'does not handle the project';
    ELSIF cap = 0 THEN
        RETURN 'capacity 0';
    ELSIF NOT sales_served(b) THEN
        RETURN 'no sales department serves it';
    END IF;
    RETURN NULL;
END
$$;

-- One lead the organization left where it may not stay, in the caller's
-- transaction (settle_leads holds the lead, the unit guard and the pool
-- locks). Its branch still fits under the holder serving its origin now:
-- it stays there (a contacted lead keeps its contact), only its holder
-- changes, with its open count. Otherwise it is allocated again in the
-- pool of that holder, as a new lead would be, and starts over as
-- allocated; or, if that pool cannot take it, it is queued. The history
-- names the operation that moved it.
CREATE FUNCTION branchline.replace_lead(INOUT p_pools branchline.pool[], l branchline.leads, p_holder bigint,
                                        p_now timestamptz, p_why text)
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    slot integer;
    d decision;
BEGIN
    PERFORM release_open(l);
    IF p_holder IS NOT NULL AND branch_unfit(p_holder, l.project_id, l.branch_id) IS NULL THEN
        UPDATE leads SET holder_id = p_holder WHERE tenant_id = l.tenant_id AND id = l.id;
        INSERT INTO lead_pool_state AS s (tenant_id, holder_id, project_id, branch_id, open_leads)
        VALUES (l.tenant_id, p_holder, l.project_id, l.branch_id, 1)
        ON CONFLICT (tenant_id, holder_id, project_id, branch_id) DO UPDATE SET open_leads = s.open_leads + 1;
        INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, to_branch_id, reason, principal)
        VALUES (l.tenant_id, l.id, p_now, 'reassigned', l.branch_id, l.branch_id,
                p_why || ': now held by ' || (SELECT show_path(u.path) FROM units u
                                               WHERE u.tenant_id = l.tenant_id AND u.id = p_holder),
                coalesce(nullif(current_setting('branchline.subject', true), ''), 'system'));
        RETURN;
    END IF;
    IF p_holder IS NULL THEN
        d := unrouted_decision('no_customer_service', NULL);
    ELSE
        SELECT * INTO p_pools, slot FROM pool_slot(p_pools, p_holder, l.project_id, p_now);
        d := decide(p_pools[slot], ARRAY[l.branch_id], NULL, NULL);
        p_pools[slot] := d.pool;
        IF d.status = 'allocated' THEN
            d.kind := 'reallocated';
        END IF;
    END IF;
    UPDATE leads
       SET status = d.status, branch_id = d.branch_id, policy = d.policy,
           holder_id = coalesce(p_holder, (SELECT u.id FROM units u WHERE u.tenant_id = l.tenant_id AND u.path = '/')),
           reason = CASE WHEN d.status <> 'allocated' THEN d.reason END,
           allocated_at = CASE WHEN d.status = 'allocated' THEN p_now ELSE allocated_at END,
           contacted_at = NULL,
           due_at = due_after(d, p_now)
     WHERE tenant_id = l.tenant_id AND id = l.id;
    PERFORM record_decision(l.id, d, l.branch_id,
                            concat_ws(': ', p_why, branch_unfit(coalesce(p_holder, l.holder_id), l.project_id, l.branch_id)),
                            coalesce(nullif(current_setting('branchline.subject', true), ''), 'system'), p_now);
END
$$;

-- Whether a pool could take a lead now: a member below its caps.
CREATE FUNCTION branchline.pool_has_room(p_holder bigint, p_project bigint, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN EXISTS (SELECT FROM unnest((load_pool(p_holder, p_project, p_now)).members) m
                    WHERE m.day_count < coalesce(m.per_day, m.day_count + 1)
                      AND m.week_count < coalesce(m.per_week, m.week_count + 1));
END
$$;

-- Restores I1 and I2 for the current tenant after an organization change.
-- Finds the open leads that lost their place (their holder is no longer the
-- one serving their origin, or their branch no longer fits), the queued
-- leads whose holder changed and those whose pool has room now (but for
-- sla_exhausted leads out of reallocations under the policy serving them
-- now: they wait for a person, 014: sla_spent); locks them (waiting: lead rows come first
-- in the lock order of 013), then the unit guard and every pool they touch,
-- and moves them. Queued leads beyond p_limit are made due now for the
-- sweep (within one sweep interval); open leads are all moved here.
CREATE FUNCTION branchline.settle_leads(p_now timestamptz, p_limit integer) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    t bigint := current_tenant();
    why text := 'organization change (' || coalesce(nullif(current_setting('branchline.operation', true), ''), 'sql') || ')';
    who text := coalesce(nullif(current_setting('branchline.subject', true), ''), 'system');
    ids bigint[];
    holders bigint[];
    old_holders bigint[];
    projects bigint[];
    pools pool[] := '{}';
    l leads;
    i integer;
    outcome text;
BEGIN
    WITH origin AS MATERIALIZED (
        SELECT o.id, holder_of(o) AS holder
          FROM (SELECT DISTINCT q.origin_id FROM leads q
                 WHERE q.tenant_id = t AND q.status IN ('allocated', 'contacted', 'waiting', 'unroutable')) x
          JOIN units o ON o.tenant_id = t AND o.id = x.origin_id
    ), x AS MATERIALIZED (
        SELECT q.id, q.status, q.reason, q.holder_id, q.project_id, q.branch_id, origin.holder,
               CASE WHEN q.reason = 'sla_exhausted' AND origin.holder IS NOT NULL
                    THEN sla_spent(q, policy_for(origin.holder, q.project_id)) ELSE false END AS spent
          FROM leads q JOIN origin ON origin.id = q.origin_id
         WHERE q.tenant_id = t AND q.status IN ('allocated', 'contacted', 'waiting', 'unroutable')
    ), placed AS MATERIALIZED (
        SELECT DISTINCT x.holder, x.project_id, x.branch_id FROM x WHERE x.branch_id IS NOT NULL AND x.holder = x.holder_id
    ), unfit AS MATERIALIZED (
        SELECT p.* FROM placed p WHERE branch_unfit(p.holder, p.project_id, p.branch_id) IS NOT NULL
    ), queued AS MATERIALIZED (
        SELECT DISTINCT x.holder, x.project_id FROM x WHERE x.branch_id IS NULL AND x.holder IS NOT NULL
    ), roomy AS MATERIALIZED (
        SELECT q.* FROM queued q WHERE pool_has_room(q.holder, q.project_id, p_now)
    ), todo AS (
        SELECT x.id, x.holder, x.branch_id IS NOT NULL AS open,
               row_number() OVER (PARTITION BY x.branch_id IS NULL ORDER BY x.id) AS n
          FROM x
         WHERE (x.branch_id IS NOT NULL
                AND (x.holder IS DISTINCT FROM x.holder_id
                     OR EXISTS (SELECT FROM unfit u WHERE u.holder = x.holder AND u.project_id = x.project_id
                                                      AND u.branch_id = x.branch_id)))
            OR (x.branch_id IS NULL AND (x.holder IS NULL) <> (x.reason IS NOT DISTINCT FROM 'no_customer_service'))
            OR (x.branch_id IS NULL AND x.holder IS DISTINCT FROM x.holder_id AND x.holder IS NOT NULL)
            OR (x.branch_id IS NULL AND NOT x.spent
                AND EXISTS (SELECT FROM roomy r WHERE r.holder = x.holder AND r.project_id = x.project_id))
    ), later AS (
        UPDATE leads q SET due_at = p_now FROM todo
         WHERE NOT todo.open AND todo.n > p_limit AND q.tenant_id = t AND q.id = todo.id
    )
    SELECT coalesce(array_agg(todo.id ORDER BY todo.id), '{}'), coalesce(array_agg(todo.holder ORDER BY todo.id), '{}')
      INTO ids, holders
      FROM todo WHERE todo.open OR todo.n <= p_limit;
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM FROM leads q WHERE q.tenant_id = t AND q.id = ANY (ids) ORDER BY q.id FOR UPDATE;
    PERFORM guard_units();
    SELECT array_agg(q.holder_id ORDER BY q.id), array_agg(q.project_id ORDER BY q.id) INTO old_holders, projects
      FROM leads q WHERE q.tenant_id = t AND q.id = ANY (ids);
    PERFORM lock_keys(pool_lock_keys(holders || old_holders, projects || projects));
    FOR i IN 1 .. cardinality(ids) LOOP
        SELECT * INTO l FROM leads q WHERE q.tenant_id = t AND q.id = ids[i];
        IF l.status IN ('allocated', 'contacted') THEN
            pools := replace_lead(pools, l, holders[i], p_now, why);
        ELSIF l.status IN ('waiting', 'unroutable') THEN
            SELECT * INTO pools, outcome FROM handle_due(pools, l, holders[i], p_now, who);
        END IF;
    END LOOP;
    PERFORM save_pools(pools);
END
$$;

-- Settles every tenant once: `branchd migrate` calls it after the api is
-- re-created, in its transaction, so that a database upgraded from a
-- release that did not keep I1/I2 (or whose rules changed) is settled at
-- once rather than at its next organization change. The migrating owner is
-- bound by row-level security like anyone: it lists the tenants as an
-- operator, then settles each as that tenant. History names the operation
-- "organization change (migrate)". Returns how many tenants it settled.
CREATE FUNCTION branchline.settle_all_tenants() RETURNS integer
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    ids bigint[];
    tn bigint;
BEGIN
    PERFORM set_config('branchline.role', 'operator', true);
    ids := ARRAY(SELECT t.id FROM tenants t ORDER BY t.id);
    PERFORM set_config('branchline.role', '', true);
    PERFORM set_config('branchline.operation', 'migrate', true);
    FOREACH tn IN ARRAY ids LOOP
        PERFORM set_config('branchline.tenant', tn::text, true);
        PERFORM settle_leads(now(), 1000);
    END LOOP;
    PERFORM set_config('branchline.tenant', '', true);
    PERFORM set_config('branchline.operation', '', true);
    RETURN cardinality(ids);
END
$$;
