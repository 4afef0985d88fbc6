-- Leads after intake, without a caller: SLA reallocation, draining of
-- waiting and unroutable leads, the sweep every daemon runs, and what the
-- organization calls into: unit_lead_blockers (unit_delete refuses units
-- with lead history, 006), defined there as doing nothing until leads exist.

-- ---- one lead at a time ------------------------------------------------------------------

-- The branches that have had the lead: allocations, reallocations,
-- duplicates and reassignments all name their branch in to_branch_id.
CREATE FUNCTION branchline.had_branches(p_lead branchline.leads) RETURNS bigint[]
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(DISTINCT e.to_branch_id), '{}') FROM lead_events e
             WHERE e.tenant_id = p_lead.tenant_id AND e.lead_id = p_lead.id AND e.to_branch_id IS NOT NULL);
END
$$;

-- Whether a lead queued as sla_exhausted has used the reallocations the
-- policy p_rule allows: then no change of the organization routes it again,
-- only a person (lead reassign) or a policy allowing more.
CREATE FUNCTION branchline.sla_spent(l branchline.leads, p_rule branchline.lead_rule) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT l.status = 'unroutable' AND l.reason IS NOT DISTINCT FROM 'sla_exhausted'
       AND l.reallocations >= p_rule.max_reallocations
$$;

-- What handling one lead did, and its pool's value after it.
CREATE TYPE branchline.pool_outcome AS (outcome text, pool branchline.pool);

-- An allocated lead not contacted by its deadline, in its pool p (the
-- caller holds the lock and saves p). Under the pool's policy as it is now:
-- with max_reallocations reallocations behind it, it goes to its holder's
-- queue as unroutable (sla_exhausted); otherwise to the next branch of the
-- pool that has not had it yet (event "reallocated"), or, if none is left,
-- to the queue as well; if the ones left are at their caps it waits
-- (all_capped) and is drained later, still excluding them. A policy that
-- no longer has an SLA just clears the deadline. Outcome: reallocated,
-- unroutable, waiting or none.
CREATE FUNCTION branchline.sla_miss(l branchline.leads, p branchline.pool, p_now timestamptz, p_principal text)
RETURNS branchline.pool_outcome LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    pol lead_rule := p.rule;
    d decision;
    why text;
BEGIN
    IF pol.sla_minutes = 0 THEN
        UPDATE leads SET due_at = NULL WHERE tenant_id = l.tenant_id AND id = l.id;
        RETURN ROW('none', p);
    END IF;
    p := pool_release(p, l);
    why := format('not contacted within %s minutes', pol.sla_minutes);
    IF l.reallocations >= pol.max_reallocations THEN
        d := unrouted_decision('sla_exhausted', p);
        why := format('sla_exhausted: %s after %s reallocation(s)', why, l.reallocations);
    ELSE
        d := decide(p, had_branches(l), NULL, NULL);
        IF d.status = 'allocated' THEN
            d.kind := 'reallocated';
        ELSE
            why := d.reason || ': ' || why;
        END IF;
    END IF;
    UPDATE leads
       SET status = d.status, branch_id = d.branch_id, policy = d.policy,
           reason = CASE WHEN d.status <> 'allocated' THEN d.reason END,
           allocated_at = CASE WHEN d.status = 'allocated' THEN p_now ELSE allocated_at END,
           reallocations = reallocations + (d.status = 'allocated')::integer,
           due_at = due_after(d, p_now)
     WHERE tenant_id = l.tenant_id AND id = l.id;
    PERFORM record_decision(l.id, d, l.branch_id, why, p_principal, p_now);
    RETURN ROW(CASE WHEN d.status = 'allocated' THEN 'reallocated' ELSE d.status END, d.pool);
END
$$;

-- Tries again to allocate a waiting or unroutable lead in pool p, the pool
-- of the holder serving its origin now (NULL: still none), excluding the
-- branches that had it. An sla_exhausted lead that has had as many
-- reallocations as the pool's policy allows stays in the holder's queue for
-- a person (README, Leads: I2): only its holder follows the organization.
-- Writes an event when it is allocated or its status or reason changes,
-- not for every failed retry. Outcome: allocated, waiting or unroutable.
CREATE FUNCTION branchline.retry_unrouted(l branchline.leads, p branchline.pool, p_now timestamptz, p_principal text)
RETURNS branchline.pool_outcome LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    holder bigint;
    d decision;
BEGIN
    IF p IS NULL THEN
        holder := (SELECT u.id FROM units u WHERE u.tenant_id = l.tenant_id AND u.path = '/');
        d := unrouted_decision('no_customer_service', p);
    ELSIF sla_spent(l, p.rule) THEN
        holder := (p.holder).id;
        d := unrouted_decision('sla_exhausted', p);
    ELSE
        holder := (p.holder).id;
        d := decide(p, had_branches(l), NULL, NULL);
    END IF;
    UPDATE leads
       SET status = d.status, branch_id = d.branch_id, holder_id = holder, policy = d.policy,
           reason = CASE WHEN d.status <> 'allocated' THEN d.reason END,
           allocated_at = CASE WHEN d.status = 'allocated' THEN p_now ELSE allocated_at END,
           due_at = due_after(d, p_now)
     WHERE tenant_id = l.tenant_id AND id = l.id;
    IF d.status = 'allocated' THEN
        PERFORM record_decision(l.id, d, NULL, format('was %s: %s', l.status, l.reason),
                                p_principal, p_now);
    ELSIF d.status IS DISTINCT FROM l.status OR d.reason IS DISTINCT FROM l.reason THEN
        PERFORM record_decision(l.id, d, NULL, NULL, p_principal, p_now);
    END IF;
    RETURN ROW(d.status, d.pool);
END
$$;

-- Handles one due lead with the transaction's pools (the pool is loaded
-- into p_pools when needed): an allocated lead missed its SLA, any other
-- is retried. p_holder: for a lead without a branch, the holder serving its
-- origin now.
CREATE FUNCTION branchline.handle_due(INOUT p_pools branchline.pool[], l branchline.leads, p_holder bigint,
                                      p_now timestamptz, p_principal text, OUT outcome text)
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    slot integer;
    o pool_outcome;
BEGIN
    IF l.status = 'allocated' THEN
        SELECT * INTO p_pools, slot FROM pool_slot(p_pools, l.holder_id, l.project_id, p_now);
        o := sla_miss(l, p_pools[slot], p_now, p_principal);
    ELSIF p_holder IS NULL THEN
        o := retry_unrouted(l, NULL, p_now, p_principal);
    ELSE
        SELECT * INTO p_pools, slot FROM pool_slot(p_pools, p_holder, l.project_id, p_now);
        o := retry_unrouted(l, p_pools[slot], p_now, p_principal);
    END IF;
    IF slot IS NOT NULL THEN
        p_pools[slot] := o.pool;
    END IF;
    outcome := o.outcome;
END
$$;

-- ---- the sweep ----------------------------------------------------------------------------

-- Every daemon calls api.sweep every few seconds. One call handles at most
-- p_limit due leads of all tenants, soonest first: allocated leads past
-- their SLA deadline (sla_miss) and waiting or unroutable leads due for a
-- retry (retry_unrouted, with the holder serving their origin now).
--
-- Finding the work needs every tenant's leads, so the owner's sweep_scan
-- policy (012) is switched on for that one query, which locks the leads it
-- takes FOR UPDATE SKIP LOCKED: two daemons sweeping at once take
-- different leads (the second the next p_limit, not none), never the same
-- one twice, and a lead handled by the other sweep in the meantime is no
-- longer due when its lock is granted. Then, tenant by tenant, the pools of
-- the locked leads are found, all locked at once in key order (013), and
-- each lead is handled in a subtransaction, so that one lead failing (a
-- bug) does not stop the others: it is logged by SQLSTATE only (messages
-- could quote data) and retried in 10 minutes. reallocated counts the SLA
-- misses handled (moved on or queued), drained the waiting and unroutable
-- leads allocated.
--
-- p_now is the sweep's clock; api.sweep passes now(). Tests call this
-- function as the owner with a later time to see SLAs expire and days end
-- without waiting; branchline_app cannot call it (016).
CREATE FUNCTION branchline.sweep_at(p_limit integer, p_now timestamptz)
RETURNS SETOF api.sweep_result LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    tenant_ids bigint[];
    tn bigint;
    l leads;
    locked leads[] := '{}';
    holders bigint[];
    keys bigint[] := '{}';
    pools pool[];
    i integer;
    outcome text;
    reallocated integer := 0;
    drained integer := 0;
    state text;
BEGIN
    PERFORM set_config('branchline.sweep', 'on', true);
    FOR l IN SELECT q.* FROM leads q WHERE q.due_at <= p_now
              ORDER BY q.due_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        locked[cardinality(locked) + 1] := l;
    END LOOP;
    PERFORM set_config('branchline.sweep', '', true);
    locked := ARRAY(SELECT x FROM unnest(locked) x ORDER BY x.tenant_id, x.id);
    tenant_ids := ARRAY(SELECT DISTINCT x.tenant_id FROM unnest(locked) x ORDER BY 1);
    holders := array_fill(NULL::bigint, ARRAY[cardinality(locked)]);

    FOREACH tn IN ARRAY tenant_ids LOOP
        PERFORM set_config('branchline.tenant', tn::text, true);
        PERFORM guard_units();
        FOR i IN 1 .. cardinality(locked) LOOP
            CONTINUE WHEN (locked[i]).tenant_id <> tn;
            l := locked[i];
            holders[i] := CASE WHEN l.branch_id IS NOT NULL THEN l.holder_id
                               ELSE (SELECT holder_of(o) FROM units o WHERE o.tenant_id = tn AND o.id = l.origin_id) END;
            keys := keys || pool_lock_keys(ARRAY[holders[i]], ARRAY[l.project_id]);
        END LOOP;
    END LOOP;
    PERFORM lock_keys(keys);

    FOREACH tn IN ARRAY tenant_ids LOOP
        PERFORM set_config('branchline.tenant', tn::text, true);
        pools := '{}';
        FOR i IN 1 .. cardinality(locked) LOOP
            CONTINUE WHEN (locked[i]).tenant_id <> tn;
            l := locked[i];
            BEGIN
                SELECT * INTO pools, outcome FROM handle_due(pools, l, holders[i], p_now, 'sweep');
                reallocated := reallocated + (l.status = 'allocated' AND outcome <> 'none')::integer;
                drained := drained + (l.status <> 'allocated' AND outcome = 'allocated')::integer;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
                RAISE WARNING 'sweep: lead % of tenant % failed with SQLSTATE %; retrying in 10 minutes',
                    l.id, l.tenant_id, state;
                UPDATE leads SET due_at = p_now + interval '10 minutes' WHERE tenant_id = l.tenant_id AND id = l.id;
            END;
        END LOOP;
        PERFORM save_pools(pools);
    END LOOP;
    PERFORM set_config('branchline.tenant', '', true);
    RETURN NEXT ROW(reallocated, drained)::api.sweep_result;
END
$$;

-- ---- hooks into the organization -------------------------------------------------------------

-- unit_delete (006: unit_blockers) refuses units that still have
-- something; lead history joins the list. The exclusive unit guard first
-- waits for lead writers that may have resolved this unit and keeps new
-- ones out until the deletion commits (they then find it gone). The check
-- reads leads by origin and holder without an index of its own: deleting
-- units is rare, and an index more on leads would cost every intake.
CREATE OR REPLACE FUNCTION branchline.unit_lead_blockers(p_unit branchline.units) RETURNS text
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key('units', p_unit.tenant_id));
    RETURN (SELECT 'lead history'
             WHERE EXISTS (SELECT FROM lead_pool_state s WHERE s.tenant_id = p_unit.tenant_id AND s.branch_id = p_unit.id)
                OR EXISTS (SELECT FROM leads l WHERE l.tenant_id = p_unit.tenant_id
                              AND (l.origin_id = p_unit.id OR l.holder_id = p_unit.id OR l.branch_id = p_unit.id)));
END
$$;
