-- Writing an allocation and intake: the day counters, the notification
-- and history event of a decision, the contact locks, duplicate detection,
-- and intake itself (one checked lead into its pool). The pool, the
-- policies and the choice they write are 013_lead_allocation.sql, whose
-- header explains the lock order and why hot helpers are plpgsql; this
-- file comes right after it (the api files run in name order).

-- ---- writing an allocation ------------------------------------------------------------------

-- The day's counters of a lead's work (transitions, reassignment); intake
-- counts through save_pool.
CREATE FUNCTION branchline.count_day(p_branch bigint, p_day date, p_project bigint, p_holder bigint,
                                     p_received integer, p_contacted integer, p_in_sla integer,
                                     p_won integer, p_lost integer)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    INSERT INTO lead_day_counts AS x (tenant_id, branch_id, day, project_id, holder_id,
                                      received, contacted, contacted_in_sla, won, lost)
    VALUES (current_tenant(), p_branch, p_day, p_project, p_holder, p_received, p_contacted, p_in_sla, p_won, p_lost)
    ON CONFLICT (tenant_id, branch_id, day, project_id, holder_id) DO UPDATE
       SET received = x.received + excluded.received, contacted = x.contacted + excluded.contacted,
           contacted_in_sla = x.contacted_in_sla + excluded.contacted_in_sla,
           won = x.won + excluded.won, lost = x.lost + excluded.lost;
END
$$;

-- Tells every daemon (LISTEN branchline_leads) that a lead went to a
-- branch; delivered at commit, so watchers only hear committed allocations.
-- Payload: tenant, branch path and the lead as JSON as lead show has it
-- (015: lead_view; without "created", which only intake can say),
-- tab-separated. The daemon sends it to the watchers of that branch, who
-- all cover it and so see its contact fields. NOTIFY takes under 8000
-- bytes: a lead whose note would pass that goes without its note (lead
-- show has it).
CREATE FUNCTION branchline.notify_lead(p_lead bigint, p_status text, p_project_code text, p_branch_key text)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    lead jsonb;
BEGIN
    SELECT to_jsonb(v.wire) - 'created' INTO lead FROM lead_view v WHERE v.tenant_id = current_tenant() AND v.id = p_lead;
    PERFORM pg_notify('branchline_leads',
                      lead_notice(coalesce(lead, jsonb_build_object('id', p_lead)), p_status, p_project_code, p_branch_key));
END
$$;

-- notify_lead's payload for a lead as JSON (lead_view's wire without
-- "created"); api.lead_import (017) sends many at once.
CREATE FUNCTION branchline.lead_notice(p_lead jsonb, p_status text, p_project_code text, p_branch_key text)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    head text := current_tenant() || E'\t' || show_path(p_branch_key) || E'\t';
    lead jsonb := p_lead || jsonb_build_object('status', p_status, 'project', p_project_code,
                                               'branch_path', show_path(p_branch_key));
BEGIN
    IF octet_length(head || lead::text) > 7900 THEN
        lead := lead || '{"note": ""}';
    END IF;
    RETURN head || lead::text;
END
$$;

-- The history event of a decision, and the notification of an allocation;
-- the caller has written the lead row, the pool value carries the counts.
CREATE FUNCTION branchline.record_decision(p_lead bigint, d branchline.decision,
                                           p_from bigint, p_reason text, p_principal text, p_now timestamptz)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, to_branch_id, reason, principal,
                             policy, explain)
    VALUES (current_tenant(), p_lead, p_now, d.kind, p_from, d.branch_id, coalesce(p_reason, d.reason),
            p_principal, d.policy, d.explain);
    IF d.status = 'allocated' THEN
        PERFORM notify_lead(p_lead, d.status, (d.pool).project_code, d.branch_key);
    END IF;
END
$$;

-- Duplicate detection (find_duplicate) must see every lead of the tenant
-- with the same phone or e-mail taken in before it, whatever its pool, and
-- the pool locks serialize intake within a pool only. So intake also holds
-- a lock per contact key of its leads (tenant and phone_key, tenant and
-- email_key), from before find_duplicate looks until it commits: of leads
-- sharing a key, the first finds no duplicate and commits before the next
-- one looks (a statement of its own, so with a newer snapshot), which finds
-- it, as if they had come one after the other.
--
-- These are advisory locks of the two-int4 form: a key space apart from
-- the bigint keys of lock_key (and of branchd migrate), so a contact key
-- can only collide with another contact key (the 64-bit hash of the
-- tenant, the kind and the key, split in two), which costs some needless
-- waiting, never a deadlock. The transactions that take them (lead_add,
-- lead_import) take them after their pool and cap locks, all at once in
-- ascending key order, and then no advisory lock: with the lock order at
-- the top of this file, no cycle of waits. Leads that no customer service
-- serves are not checked for duplicates and need none.
CREATE FUNCTION branchline.lock_contacts(p_leads branchline.lead_input[]) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    t bigint := current_tenant();
    k bigint;
BEGIN
    FOR k IN SELECT DISTINCT x.k
               FROM unnest(p_leads) l
              CROSS JOIN LATERAL (VALUES (hashtextextended(t || '/phone/' || l.phone_key, 0)),
                                         (hashtextextended(t || '/email/' || l.email_key, 0))) x (k)
              WHERE l.holder_id IS NOT NULL AND x.k IS NOT NULL
              ORDER BY x.k LOOP
        PERFORM pg_advisory_xact_lock((k >> 32)::integer, ((k & 4294967295) - 2147483648)::integer);
    END LOOP;
END
$$;

-- The oldest open lead of the tenant with the same phone or e-mail,
-- created within the tenant's duplicate window.
CREATE FUNCTION branchline.find_duplicate(p_phone_key text, p_email_key text, p_now timestamptz,
                                          OUT lead_id bigint, OUT branch_id bigint)
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    since timestamptz := p_now - make_interval(days => (SELECT t.duplicate_window_days FROM tenants t
                                                          WHERE t.id = current_tenant()));
BEGIN
    IF since = p_now THEN
        RETURN;
    END IF;
    SELECT x.id, x.branch_id INTO lead_id, branch_id FROM (
        SELECT l.id, l.branch_id, l.created_at FROM leads l
         WHERE l.tenant_id = current_tenant() AND l.phone_key = p_phone_key AND l.status IN ('allocated', 'contacted')
        UNION ALL
        SELECT l.id, l.branch_id, l.created_at FROM leads l
         WHERE l.tenant_id = current_tenant() AND l.email_key = p_email_key AND l.status IN ('allocated', 'contacted')) x
     WHERE x.created_at >= since
     ORDER BY x.id LIMIT 1;
END
$$;

-- ---- intake ---------------------------------------------------------------------------------

-- wire, branch_key, holder_key: the created lead as lead_view has it (all
-- NULL when intake created nothing), read once for both the notification
-- and the caller's answer (lead_add) instead of once for each.
CREATE TYPE branchline.intake_result AS (lead_id bigint, created boolean, pool branchline.pool,
                                         wire api.lead, branch_key text, holder_key text);

-- Takes in one checked lead and allocates it in pool p (NULL when no
-- customer service serves its origin), in the caller's transaction; the
-- caller holds the unit guard, the pool's locks and the lead's contact
-- locks (lock_contacts), and saves the returned pool. The same external_id
-- again returns the existing lead, changing nothing: the check before
-- deciding is the fast path, ON CONFLICT the race (a concurrent intake of
-- the same id in another pool, which committed first).
CREATE FUNCTION branchline.intake(r branchline.lead_input, p branchline.pool, p_principal text, p_now timestamptz)
RETURNS branchline.intake_result LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    t bigint := current_tenant();
    holder bigint;
    dup_of bigint;
    dup_branch bigint;
    d decision;
    lead bigint;
    w api.lead;
    branch_key text;
    holder_key text;
    read_back record;
    notice jsonb;
BEGIN
    SELECT l.id INTO lead FROM leads l WHERE l.tenant_id = t AND l.external_id = r.external_id;
    IF FOUND THEN
        RETURN ROW(lead, false, p, NULL::api.lead, NULL::text, NULL::text);
    END IF;
    IF p IS NULL THEN
        holder := (SELECT u.id FROM units u WHERE u.tenant_id = t AND u.path = '/');
        d := unrouted_decision('no_customer_service', p);
    ELSE
        holder := (p.holder).id;
        IF r.phone_key IS NOT NULL OR r.email_key IS NOT NULL THEN
            SELECT f.lead_id, f.branch_id INTO dup_of, dup_branch FROM find_duplicate(r.phone_key, r.email_key, p_now) f;
        END IF;
        d := decide(p, '{}', dup_of, dup_branch);
    END IF;

    -- the lead and its history event (record_decision's) in one statement:
    -- no event when the external_id turned out to be taken
    WITH ins AS (
        INSERT INTO leads (tenant_id, external_id, project_id, channel, origin_id, holder_id, branch_id, status,
                           reason, policy, name, phone, email, note, phone_key, email_key, duplicate_of,
                           created_at, allocated_at, due_at)
        VALUES (t, r.external_id, r.project_id, r.channel, r.origin_id, holder, d.branch_id, d.status,
                CASE WHEN d.status <> 'allocated' THEN d.reason END, d.policy,
                r.name, r.phone, r.email, r.note, r.phone_key, r.email_key, dup_of,
                p_now, CASE WHEN d.status = 'allocated' THEN p_now END, due_after(d, p_now))
        ON CONFLICT (tenant_id, external_id) DO NOTHING
        RETURNING id
    ), ev AS (
        INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, to_branch_id, reason, principal,
                                 policy, explain)
        SELECT t, ins.id, p_now, d.kind, NULL, d.branch_id,
               coalesce(CASE WHEN dup_of IS NOT NULL AND d.kind <> 'duplicate'
                             THEN concat_ws('; ', 'duplicate of lead ' || dup_of || ', whose branch cannot take it',
                                            d.reason) END,
                        d.reason),
               p_principal, d.policy, d.explain
          FROM ins
    )
    SELECT ins.id INTO lead FROM ins;
    IF lead IS NULL THEN
        SELECT l.id INTO lead FROM leads l WHERE l.tenant_id = t AND l.external_id = r.external_id;
        RETURN ROW(lead, false, p, NULL::api.lead, NULL::text, NULL::text);
    END IF;
    -- record_decision's notification (notify_lead's payload), from the one
    -- read of the lead that also gives the caller its answer
    SELECT v.wire, v.branch_key, v.holder_key INTO read_back FROM lead_view v WHERE v.tenant_id = t AND v.id = lead;
    IF FOUND THEN
        w := read_back.wire;
        branch_key := read_back.branch_key;
        holder_key := read_back.holder_key;
    END IF;
    IF d.status = 'allocated' THEN
        notice := CASE WHEN w.id IS NOT NULL THEN to_jsonb(w) - 'created' ELSE jsonb_build_object('id', lead) END;
        PERFORM pg_notify('branchline_leads', lead_notice(notice, d.status, (d.pool).project_code, d.branch_key));
    END IF;
    RETURN ROW(lead, true, d.pool, w, branch_key, holder_key);
END
$$;
