-- Lead import (api.lead_import): up to 5,000 leads in one transaction,
-- taken in as if they had been added one by one with lead_add in the order
-- given (file order), but set-based: the statements run once per request,
-- not once per lead.
--
--   1. check every lead: each project and origin named once (not once per
--      lead: resolving them is most of check_lead's cost), then all leads
--      in one statement when every lead is good, else one by one, each in
--      a subtransaction that catches our own errors only, so that a bad
--      lead is "rejected" with its field and reason and the others go in;
--   2. the locks of 013's order: the pool and cap locks of every good lead
--      at once, then every contact lock;
--   3. one statement plans the request: which leads exist (by external_id,
--      stored or earlier in the request: "duplicate"), each remaining
--      lead's pool, its contact keys numbered, and the oldest open stored
--      lead with the same phone or e-mail (013: find_duplicate);
--   4. every pool once (load_pool), then each lead decided in file order in
--      memory (decide), the duplicate being the stored one or else the
--      first lead of the request with the same phone or e-mail that was
--      allocated (lead ids are drawn in file order, so "oldest" is the
--      same as for single adds);
--   5. the leads, their events and their notifications, one statement
--      each, and every pool saved once (save_pools; the day counts go with
--      it). Lead rows are inserted in external_id order (013's lock order:
--      two imports with the same ids in any order cannot deadlock on the
--      unique index).
--
-- Exactly once: a lead another transaction inserted after step 3 (same
-- external_id, another pool) makes the insert fail on the unique index
-- after that transaction committed; the request's work is rolled back to
-- step 3 and planned again, now seeing that lead.
--
-- Caps count a branch's leads over all its pools. A capped branch in more
-- than one pool of the request: when one of them gives it a lead, every
-- loaded pool holding it is saved and loaded again when next needed, so
-- that each sees the count as a single add would.

CREATE TYPE branchline.import_plan AS (
    n integer,              -- the lead's position in the request, from 1
    lead_id bigint,         -- the stored lead with its external_id, if any
    first_n integer,        -- the first position in the request with its external_id
    slot integer,           -- its pool, when it is to be decided and a customer service serves it
    holder_id bigint, project_id bigint,
    phone_no integer, email_no integer,  -- its contact keys, numbered within the request
    dup_of bigint, dup_branch bigint);   -- the oldest open stored lead with its phone or e-mail

-- Step 1. A project or origin named in the request, resolved once for all
-- its leads: the project or unit, or the error resolving it gave (raised
-- again at the field of each lead naming it, in check_lead's order).
CREATE TYPE branchline.import_name AS (
    name text, id bigint, holder_id bigint, state text, field text, message text);

CREATE FUNCTION branchline.import_names(c branchline.caller, p_leads jsonb, p_key text)
RETURNS SETOF branchline.import_name LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    r import_name;
    u units;
BEGIN
    FOR r.name IN SELECT DISTINCT nullif(e ->> p_key, '') FROM jsonb_array_elements(p_leads) e LOOP
        BEGIN
            IF p_key = 'project' THEN
                r.id := (project_at(r.name, 'project')).id;
                r.holder_id := NULL;
            ELSE
                u := scoped_unit(c, r.name, 'origin');
                r.id := u.id;
                r.holder_id := holder_of(u);
            END IF;
            r.state := NULL;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS r.state = RETURNED_SQLSTATE, r.field = COLUMN_NAME, r.message = MESSAGE_TEXT;
            IF r.state NOT LIKE 'BL%' THEN
                RAISE;
            END IF;
        END;
        RETURN NEXT r;
    END LOOP;
END
$$;

CREATE FUNCTION branchline.raise_name(p branchline.import_name) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p.state IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = p.state, COLUMN = coalesce(p.field, ''), MESSAGE = p.message;
    END IF;
END
$$;

-- check_lead (013) with the project and origin resolved: the same checks,
-- in the same order, with the same results.
CREATE FUNCTION branchline.check_lead_named(p_external_id text, p_project branchline.import_name, p_channel text,
                                            p_origin branchline.import_name, p_name text, p_phone text,
                                            p_email text, p_note text, p_channels text[])
RETURNS branchline.lead_input LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    r lead_input;
BEGIN
    r.external_id := check_external_id(p_external_id, 'external_id');
    PERFORM raise_name(p_project);
    r.project_id := p_project.id;
    r.channel := check_choice(p_channel, 'channel', p_channels);
    PERFORM raise_name(p_origin);
    r.origin_id := p_origin.id;
    r := check_contact(r, p_name, p_phone, p_email, p_note);
    r.holder_id := p_origin.holder_id;
    RETURN r;
END
$$;

-- Every lead checked (check_lead_named), in request order; p_strict:
-- raise the first error, else NULL for a bad lead and its error in p_bad.
CREATE FUNCTION branchline.check_leads(c branchline.caller, p_leads jsonb, p_first_line integer, p_strict boolean,
                                       OUT inputs branchline.lead_input[], OUT bad api.lead_import_row[])
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    projects import_name[] := ARRAY(SELECT x FROM import_names(c, p_leads, 'project') x);
    origins import_name[] := ARRAY(SELECT x FROM import_names(c, p_leads, 'origin') x);
    channels text[] := lead_channels();
    e jsonb;
    i integer;
    st text;
    col text;
    msg text;
BEGIN
    IF p_strict THEN
        inputs := ARRAY(
            SELECT check_lead_named(nullif(x.e ->> 'external_id', ''), pj, nullif(x.e ->> 'channel', ''), og,
                                    nullif(x.e ->> 'name', ''), nullif(x.e ->> 'phone', ''),
                                    nullif(x.e ->> 'email', ''), nullif(x.e ->> 'note', ''), channels)
              FROM jsonb_array_elements(p_leads) WITH ORDINALITY AS x (e, n)
              JOIN unnest(projects) pj ON coalesce(pj.name, '') = coalesce(x.e ->> 'project', '')
              JOIN unnest(origins) og ON coalesce(og.name, '') = coalesce(x.e ->> 'origin', '')
             ORDER BY x.n);
        bad := '{}';
        RETURN;
    END IF;
    -- one slot per lead, so that positions match whichever are rejected
    inputs := array_fill(NULL::lead_input, ARRAY[jsonb_array_length(p_leads)]);
    bad := '{}';
    FOR i IN 1 .. jsonb_array_length(p_leads) LOOP
        e := p_leads -> (i - 1);
        BEGIN
            inputs[i] := check_lead_named(nullif(e ->> 'external_id', ''),
                                          (SELECT pj FROM unnest(projects) pj
                                            WHERE pj.name IS NOT DISTINCT FROM nullif(e ->> 'project', '')),
                                          nullif(e ->> 'channel', ''),
                                          (SELECT og FROM unnest(origins) og
                                            WHERE og.name IS NOT DISTINCT FROM nullif(e ->> 'origin', '')),
                                          nullif(e ->> 'name', ''), nullif(e ->> 'phone', ''),
                                          nullif(e ->> 'email', ''), nullif(e ->> 'note', ''), channels);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, msg = MESSAGE_TEXT;
            IF st NOT LIKE 'BL%' THEN
                RAISE;
            END IF;
            bad := bad || ROW(p_first_line + i - 1, coalesce(e ->> 'external_id', ''), 'rejected', 0,
                              '', '', coalesce(col, ''), msg)::api.lead_import_row;
        END;
    END LOOP;
END
$$;

-- Step 3. p_dups: whether the tenant's duplicate window is open (> 0 days).
CREATE FUNCTION branchline.import_plan(p_inputs branchline.lead_input[], p_dups boolean, p_now timestamptz)
RETURNS SETOF branchline.import_plan LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    t bigint := current_tenant();
    since timestamptz := p_now - make_interval(days => (SELECT x.duplicate_window_days FROM tenants x WHERE x.id = t));
BEGIN
    RETURN QUERY
    WITH x AS (
        SELECT i.ordinality::integer AS n, i.external_id, i.holder_id, i.project_id, i.phone_key, i.email_key,
               s.id AS lead_id, min(i.ordinality) OVER (PARTITION BY i.external_id)::integer AS first_n
          FROM unnest(p_inputs) WITH ORDINALITY AS i
          LEFT JOIN LATERAL (SELECT l.id FROM leads l WHERE l.tenant_id = t AND l.external_id = i.external_id
                             OFFSET 0) s ON true
         WHERE i.external_id IS NOT NULL
    ), todo AS (
        SELECT x.*, x.lead_id IS NULL AND x.n = x.first_n AND x.holder_id IS NOT NULL AS pooled FROM x
    ), pools AS (
        SELECT todo.holder_id, todo.project_id, dense_rank() OVER (ORDER BY min(todo.n))::integer AS slot
          FROM todo WHERE todo.pooled GROUP BY todo.holder_id, todo.project_id
    )
    SELECT todo.n, todo.lead_id, todo.first_n, pools.slot, todo.holder_id, todo.project_id,
           CASE WHEN todo.pooled AND todo.phone_key IS NOT NULL
                THEN dense_rank() OVER (PARTITION BY todo.pooled AND todo.phone_key IS NOT NULL ORDER BY todo.phone_key)::integer END,
           CASE WHEN todo.pooled AND todo.email_key IS NOT NULL
                THEN dense_rank() OVER (PARTITION BY todo.pooled AND todo.email_key IS NOT NULL ORDER BY todo.email_key)::integer END,
           d.id, d.branch_id
      FROM todo
      LEFT JOIN pools ON todo.pooled AND pools.holder_id = todo.holder_id AND pools.project_id = todo.project_id
      LEFT JOIN LATERAL (
            SELECT y.id, y.branch_id FROM (
                SELECT l.id, l.branch_id, l.created_at FROM leads l
                 WHERE p_dups AND todo.pooled
                   AND l.tenant_id = t AND l.phone_key = todo.phone_key AND l.status IN ('allocated', 'contacted')
                UNION ALL
                SELECT l.id, l.branch_id, l.created_at FROM leads l
                 WHERE p_dups AND todo.pooled
                   AND l.tenant_id = t AND l.email_key = todo.email_key AND l.status IN ('allocated', 'contacted')) y
             WHERE y.created_at >= since
             ORDER BY y.id LIMIT 1) d ON true
     ORDER BY todo.n;
END
$$;

-- Steps 3 to 5 for the checked leads (NULL where rejected); returns whether
-- each lead was created (NULL where rejected). Raises unique_violation when
-- another transaction took one of the external_ids meanwhile.
CREATE FUNCTION branchline.import_take(p_inputs branchline.lead_input[], p_principal text, p_now timestamptz)
RETURNS boolean[] LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    t bigint := current_tenant();
    n_all integer := cardinality(p_inputs);
    dups boolean := (SELECT x.duplicate_window_days > 0 FROM tenants x WHERE x.id = t);
    root bigint := (SELECT u.id FROM units u WHERE u.tenant_id = t AND u.path = '/');
    plan import_plan[];
    pl import_plan;
    pools pool[];
    pool_holder bigint[];
    pool_project bigint[];
    created boolean[] := array_fill(NULL::boolean, ARRAY[n_all]);
    ids bigint[] := array_fill(NULL::bigint, ARRAY[n_all]);
    holders bigint[] := array_fill(NULL::bigint, ARRAY[n_all]);
    dup_ofs bigint[] := array_fill(NULL::bigint, ARRAY[n_all]);
    notes text[] := array_fill(NULL::text, ARRAY[n_all]);
    decisions decision[] := array_fill(NULL::decision, ARRAY[n_all]);
    branches bigint[] := array_fill(NULL::bigint, ARRAY[n_all]);
    by_phone integer[];      -- phone_no -> position of the first allocated lead with it
    by_email integer[];
    capped bigint[];         -- capped branches in more than one pool of the request
    new_ids bigint[];
    d decision;
    dup_of bigint;
    dup_branch bigint;
    k integer;
    sl integer;
    i integer;
    inserted bigint;
BEGIN
    plan := ARRAY(SELECT x FROM import_plan(p_inputs, dups, p_now) x);
    -- ids in file order, so that the oldest of two leads is the earlier one
    new_ids := ARRAY(SELECT x.id FROM (SELECT nextval(pg_get_serial_sequence('branchline.leads', 'id')) AS id
                                         FROM unnest(plan) p WHERE p.lead_id IS NULL AND p.n = p.first_n) x
                      ORDER BY x.id);
    SELECT coalesce(array_agg(x.holder_id ORDER BY x.slot), '{}'), coalesce(array_agg(x.project_id ORDER BY x.slot), '{}')
      INTO pool_holder, pool_project
      FROM (SELECT DISTINCT p.slot, p.holder_id, p.project_id FROM unnest(plan) p WHERE p.slot IS NOT NULL) x;
    pools := ARRAY(SELECT load_pool(h, j, p_now) FROM unnest(pool_holder, pool_project) WITH ORDINALITY AS x (h, j, s)
                    ORDER BY x.s);
    capped := ARRAY(SELECT m.branch_id FROM unnest(pools) p CROSS JOIN LATERAL unnest(p.members) m
                     WHERE m.per_day IS NOT NULL OR m.per_week IS NOT NULL
                     GROUP BY m.branch_id HAVING count(*) > 1);
    by_phone := array_fill(NULL::integer, ARRAY[greatest(1, (SELECT max(p.phone_no) FROM unnest(plan) p))]);
    by_email := array_fill(NULL::integer, ARRAY[greatest(1, (SELECT max(p.email_no) FROM unnest(plan) p))]);

    k := 0;
    FOREACH pl IN ARRAY plan LOOP
        IF pl.lead_id IS NOT NULL OR pl.n <> pl.first_n THEN
            created[pl.n] := false;
            CONTINUE;
        END IF;
        k := k + 1;
        ids[pl.n] := new_ids[k];
        created[pl.n] := true;
        dup_of := NULL;
        dup_branch := NULL;
        IF pl.slot IS NULL THEN
            holders[pl.n] := root;
            d := unrouted_decision('no_customer_service', NULL);
        ELSE
            holders[pl.n] := pl.holder_id;
            IF (pools[pl.slot]).project_id IS NULL THEN  -- saved for a cap: load it again
                pools[pl.slot] := load_pool(pl.holder_id, pl.project_id, p_now);
            END IF;
            IF pl.dup_of IS NOT NULL THEN
                dup_of := pl.dup_of;
                dup_branch := pl.dup_branch;
            ELSIF dups THEN
                i := least(by_phone[pl.phone_no], by_email[pl.email_no]);
                IF i IS NOT NULL THEN
                    dup_of := ids[i];
                    dup_branch := branches[i];
                END IF;
            END IF;
            d := decide(pools[pl.slot], '{}', dup_of, dup_branch);
            pools[pl.slot] := d.pool;
            IF d.status = 'allocated' THEN
                branches[pl.n] := d.branch_id;
                IF pl.phone_no IS NOT NULL AND by_phone[pl.phone_no] IS NULL THEN
                    by_phone[pl.phone_no] := pl.n;
                END IF;
                IF pl.email_no IS NOT NULL AND by_email[pl.email_no] IS NULL THEN
                    by_email[pl.email_no] := pl.n;
                END IF;
                IF d.branch_id = ANY (capped) THEN
                    FOR sl IN SELECT x.ordinality FROM unnest(pools) WITH ORDINALITY AS x
                              WHERE d.branch_id IN (SELECT y.branch_id FROM unnest(x.members) y) LOOP
                        PERFORM save_pool(pools[sl]);
                        pools[sl] := NULL;
                    END LOOP;
                END IF;
            END IF;
            d.pool := NULL;
        END IF;
        dup_ofs[pl.n] := dup_of;
        notes[pl.n] := CASE WHEN dup_of IS NOT NULL AND d.kind <> 'duplicate'
                            THEN concat_ws('; ', 'duplicate of lead ' || dup_of || ', whose branch cannot take it', d.reason) END;
        decisions[pl.n] := d;
    END LOOP;

    INSERT INTO leads (id, tenant_id, external_id, project_id, channel, origin_id, holder_id, branch_id, status,
                       reason, policy, name, phone, email, note, phone_key, email_key, duplicate_of,
                       created_at, allocated_at, due_at)
    OVERRIDING SYSTEM VALUE
    SELECT x.id, t, (x.r).external_id, (x.r).project_id, (x.r).channel, (x.r).origin_id, x.holder, (x.d).branch_id,
           (x.d).status, CASE WHEN (x.d).status <> 'allocated' THEN (x.d).reason END, (x.d).policy,
           (x.r).name, (x.r).phone, (x.r).email, (x.r).note, (x.r).phone_key, (x.r).email_key, x.dup_of,
           p_now, CASE WHEN (x.d).status = 'allocated' THEN p_now END, due_after(x.d, p_now)
      FROM (SELECT ids[n] AS id, p_inputs[n] AS r, holders[n] AS holder, dup_ofs[n] AS dup_of, decisions[n] AS d
              FROM generate_subscripts(ids, 1) AS n WHERE ids[n] IS NOT NULL OFFSET 0) x
     ORDER BY (x.r).external_id;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    INSERT INTO lead_events (tenant_id, lead_id, at, kind, from_branch_id, to_branch_id, reason, principal,
                             policy, explain)
    SELECT t, x.id, p_now, (x.d).kind, NULL, (x.d).branch_id, coalesce(x.note, (x.d).reason), p_principal,
           (x.d).policy, (x.d).explain
      FROM (SELECT n, ids[n] AS id, notes[n] AS note, decisions[n] AS d
              FROM generate_subscripts(ids, 1) AS n WHERE ids[n] IS NOT NULL OFFSET 0) x
     ORDER BY x.n;

    PERFORM pg_notify('branchline_leads', lead_notice(x.lead, 'allocated', x.code, x.branch_key))
       FROM (SELECT to_jsonb(v.wire) - 'created' AS lead, j.code, v.branch_key
               FROM generate_subscripts(ids, 1) AS n
               JOIN lead_view v ON v.tenant_id = t AND v.id = ids[n]
               JOIN projects j ON j.tenant_id = t AND j.id = (p_inputs[n]).project_id
              WHERE ids[n] IS NOT NULL AND (decisions[n]).status = 'allocated'
              ORDER BY n) x;

    PERFORM save_pools(ARRAY(SELECT pools[s] FROM generate_subscripts(pools, 1) AS s
                              WHERE (pools[s]).project_id IS NOT NULL));
    RETURN created;
END
$$;

-- Up to 5,000 leads (LeadInput objects, "" for fields not given) in one
-- transaction, with one result per lead in the order given; line is
-- first_line (default 1) + the lead's index. A bad lead is "rejected" with
-- the field and the reason and the others go in; a lead whose external_id
-- exists, or came earlier in the same request, is a "duplicate".
CREATE FUNCTION api.lead_import(p_subject text, p_leads jsonb, p_first_line integer)
RETURNS SETOF api.lead_import_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'lead_import', '{admin,unit_admin}');
    leads_in jsonb := coalesce(p_leads, '[]');
    first_line integer := coalesce(p_first_line, 1);
    inputs lead_input[];
    rejected api.lead_import_row[] := '{}';
    created boolean[];
    tries integer := 0;
    st text;
BEGIN
    PERFORM check_range(p_first_line, 'first_line', 1, 'first_line'); -- line numbers stay integers
    IF jsonb_typeof(leads_in) <> 'array' THEN
        PERFORM fail('INVALID_ARGUMENT', 'leads', 'leads must be a list of leads');
    ELSIF jsonb_array_length(leads_in) > 5000 THEN
        PERFORM fail('INVALID_ARGUMENT', 'leads', 'at most 5000 leads per request (got %s): send them in parts',
                     jsonb_array_length(leads_in)::text);
    END IF;
    PERFORM guard_units();
    BEGIN
        SELECT x.inputs INTO inputs FROM check_leads(c, leads_in, first_line, true) x;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
        IF st NOT LIKE 'BL%' THEN
            RAISE;
        END IF;
        SELECT x.inputs, x.bad INTO inputs, rejected FROM check_leads(c, leads_in, first_line, false) x;
    END;

    PERFORM lock_keys(pool_lock_keys(ARRAY(SELECT x.holder_id FROM unnest(inputs) x),
                                     ARRAY(SELECT x.project_id FROM unnest(inputs) x)));
    PERFORM lock_contacts(inputs);
    LOOP
        BEGIN
            created := import_take(inputs, c.subject, now());
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            -- another transaction committed one of these external_ids after
            -- the plan looked: plan again, seeing it (a few times at most:
            -- each retry sees every id committed before it)
            tries := tries + 1;
            IF tries >= 5 THEN
                RAISE;
            END IF;
        END;
    END LOOP;

    RETURN QUERY
    SELECT * FROM (
        SELECT r.* FROM unnest(rejected) r
        UNION ALL
        SELECT first_line + x.n::integer - 1, l.external_id, CASE WHEN x.created THEN 'created' ELSE 'duplicate' END,
               l.id, coalesce(show_path(b.path), ''), l.status, '',
               CASE WHEN NOT x.created THEN ''
                    ELSE concat_ws('; ', 'duplicate of lead ' || l.duplicate_of, l.reason) END
          FROM (SELECT n, (inputs[n]).external_id, created[n] AS created
                  FROM generate_subscripts(inputs, 1) AS n WHERE (inputs[n]).external_id IS NOT NULL OFFSET 0) x
          JOIN leads l ON l.tenant_id = current_tenant() AND l.external_id = x.external_id
          LEFT JOIN units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id) y
     ORDER BY y.line;
END
$$;
