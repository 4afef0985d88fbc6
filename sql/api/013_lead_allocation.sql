-- Lead allocation: who holds a lead, the pool, the policies, the choice.
-- Writing it and intake are 013_lead_intake.sql; the sweep, draining and reallocation are 014.
--
-- Exactly once, under any number of clients and daemons. Every allocation
-- decision of a pool (holder, project) is made and written while holding
-- the pool's transaction-level advisory lock, and intake is one transaction
-- from the idempotency check to the counters. Locks are always taken in one
-- order, so that transactions allocating many leads (imports, sweeps) cannot
-- deadlock with each other or with single-lead operations:
--   1. the lead row, when working on one existing lead the caller named
--      (transitions, reassign); many existing leads only ever with SKIP
--      LOCKED, which never waits;
--   2. the tenant's unit guard in shared mode (guard_units), by anything
--      that writes unit ids into lead tables;
--   3. every pool lock and cap lock the transaction will need, all at once,
--      in ascending key order (lock_keys);
--   4. intake only: the contact locks (phone, e-mail) of every lead it
--      takes in, all at once, in ascending key order (lock_contacts);
--   5. rows of the counter tables (keyed by pool, so only pool holders write
--      them) and new lead rows, whose external_id uniqueness is checked in
--      ascending external_id order when there are several.
-- Transitions (contact, win, lose) take their lead's pool lock too: imports
-- hold counter rows of their pools until they commit.
--
-- A pool's state is read once per transaction into a branchline.pool
-- value (load_pool), every decision works on that value (decide), and it is
-- written back once (save_pool). Updating the same state rows for every
-- lead of a 5,000-lead import would leave 5,000 versions of each row that
-- nothing can prune before the transaction ends, and every later read
-- would walk them: quadratic.
--
-- Hot helpers are plpgsql rather than SQL: a SQL function that cannot be
-- inlined is parsed and planned again on every call (with row-level
-- security, planning is most of its cost); plpgsql keeps its plans for the
-- session.
--
-- How the pool is read, and why its statements look the way they do:
-- Two findings of the benchmark (tests/bench/RESULTS.md) on a tenant of
-- 10,000 branches, where api.lead_add took about 98 ms:
--
--   1. pool_members first checked "a sales department on the branch's path"
--      with d.unit_id = ANY (b.ancestors || b.id), which the planner turned
--      into a semi join over every department of the tenant: 77 of the
--      98 ms, growing with the tenant.
--   2. PL/pgSQL keeps one plan per statement and session. After five calls
--      it switches to a generic plan, planned without the parameters'
--      values, if that looks no dearer. Generic estimates of conditions on
--      several key columns whose values are unknown collapse to one row,
--      and at one row a plan that rescans a whole index range for every
--      outer row costs the same as a probe by key: several hot statements
--      flipped to such plans, and lead_add became 3 to 9 times slower after
--      its fifth call on the daemon's connections, which live for hours.
--
-- Forcing custom plans (plan_cache_mode = force_custom_plan) would fix 2
-- but plans every statement of every call again: lead_add measured about
-- twice as slow as with good generic plans. Instead the statements below
-- are written so that their generic plans are the right ones whatever the
-- estimates say: per-row lookups are LATERAL subqueries with OFFSET 0 (not
-- flattened into the join, so the planner never weighs an index range
-- rescanned for every outer row against the probe), whose conditions fill
-- the leading columns of a key and of no index that would read a range of
-- the tenant. The pool's cost is then one index range (the holder's
-- subtree, or for the group the project's branches) plus a few key
-- lookups per row of it and per member: nothing reads the tenant.
-- tests/sql/test_scale.sql checks the rows the generic plans read at
-- 100,000 branches and compares the pools with the first definition
-- (tests/sql/pool_reference.sql), as
-- test_leads.sql does for every pool of its tenants.
--
-- The pool is the same as under the first definition: same members, same order, same values.

-- ---- locks -------------------------------------------------------------------------

-- STABLE, not IMMUTABLE, like text || bigint inside it: so that it is inlined.
CREATE FUNCTION branchline.lock_key(p_kind text, p_a bigint, p_b bigint DEFAULT 0, p_c bigint DEFAULT 0)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT hashtextextended(p_kind || '/' || p_a || '/' || p_b || '/' || p_c, 0) $$;

-- Held shared by lead writers, exclusively by unit_delete (014:
-- unit_lead_blockers): a unit a lead writer has resolved stays until it
-- commits.
CREATE FUNCTION branchline.guard_units() RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(lock_key('units', current_tenant()));
END
$$;

-- The locks allocating in pools (holder, project) needs: the pool locks,
-- and a cap lock per capped branch of those pools (caps count a branch's
-- leads over every pool, so two pools must not both give it its last
-- place). NULL holders (no customer service) need none.
CREATE FUNCTION branchline.pool_lock_keys(p_holders bigint[], p_projects bigint[]) RETURNS bigint[]
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN ARRAY(
        WITH pools AS (
            SELECT DISTINCT x.h, x.p FROM unnest(p_holders, p_projects) AS x (h, p) WHERE x.h IS NOT NULL
        )
        SELECT lock_key('pool', current_tenant(), pools.h, pools.p) FROM pools
        UNION
        SELECT lock_key('cap', c.tenant_id, c.branch_id)
          FROM pools
          JOIN units hu ON hu.tenant_id = current_tenant() AND hu.id = pools.h
          JOIN lead_caps c ON c.tenant_id = hu.tenant_id
          JOIN units b ON b.tenant_id = c.tenant_id AND b.id = c.branch_id AND b.path >= hu.path AND b.path < hu.path_end
          JOIN branch_projects bp ON bp.tenant_id = c.tenant_id AND bp.branch_id = c.branch_id AND bp.project_id = pools.p);
END
$$;

CREATE FUNCTION branchline.lock_keys(p_keys bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    k bigint;
BEGIN
    FOR k IN SELECT DISTINCT x FROM unnest(p_keys) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
END
$$;

-- ---- time --------------------------------------------------------------------------

-- Days and weeks (ISO, from Monday) are the tenant's.
CREATE FUNCTION branchline.local_day(p timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$ SELECT (p AT TIME ZONE branchline.tenant_timezone())::date $$;

CREATE FUNCTION branchline.next_local_midnight(p timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT (branchline.local_day(p) + 1)::timestamp AT TIME ZONE branchline.tenant_timezone()
$$;

-- ---- validation of a lead ----------------------------------------------------------

-- The caller's id for the lead: 1 to 128 characters, no control characters,
-- taken exactly as given (no trimming: it is a key).
CREATE FUNCTION branchline.check_external_id(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF char_length(required(p_value, p_field)) > 128 OR p_value ~ '[[:cntrl:]]' THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be 1 to 128 printable characters', p_field);
    END IF;
    RETURN p_value;
END
$$;

-- A phone is 6 to 20 digits once spaces, dashes, parentheses and a leading
-- + are removed. Its duplicate key is its last 10 digits (all of them when
-- shorter): "+86 138 1234 5678" and "13812345678" are the same phone, and
-- so are "+44 20 7946 0958" and "020 7946 0958" (a national trunk 0).
-- Messages never repeat the value: it is personal data.
CREATE FUNCTION branchline.phone_key(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    digits text := regexp_replace(regexp_replace(btrim(p_value), '[[:space:]()-]', '', 'g'), '^\+', '');
BEGIN
    IF p_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF digits !~ '^[0-9]{6,20}$' THEN
        PERFORM fail('INVALID_ARGUMENT', p_field,
            '%s must have 6 to 20 digits (spaces, dashes, parentheses and a leading + are ignored)', p_field);
    END IF;
    RETURN right(digits, 10);
END
$$;

CREATE FUNCTION branchline.check_email(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    v text := btrim(p_value);
BEGIN
    IF v IS NOT NULL AND (char_length(v) > 254 OR v ~ '[[:cntrl:]]' OR v !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$') THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be an address like name@example.com, at most 254 characters', p_field);
    END IF;
    RETURN v;
END
$$;

-- Free text up to p_max characters; line breaks and tabs allowed, other
-- control characters not. Blank is "not given".
CREATE FUNCTION branchline.check_note(p_value text, p_field text, p_max integer DEFAULT 2000) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    v text := nullif(btrim(p_value, E' \t\r\n'), '');
BEGIN
    IF char_length(v) > p_max OR v ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be at most %s characters without control characters',
                     p_field, p_max::text);
    END IF;
    RETURN v;
END
$$;

-- A lead as intake receives it, checked and resolved. holder_id NULL: no
-- customer service serves the origin.
CREATE TYPE branchline.lead_input AS (
    external_id text, project_id bigint, channel text, origin_id bigint, holder_id bigint,
    name text, phone text, email text, note text, phone_key text, email_key text);

-- The holder: the unit of the customer service department serving the
-- unit, i.e. the nearest one on its path up to the root at an active unit
-- (a paused or closed unit's department serves no leads); NULL if none.
--
-- Its generic plan is forced, as load_pool's (below): PostgreSQL's choice
-- kept a custom plan and planned the statement again on every call.
CREATE FUNCTION branchline.holder_of(p_unit branchline.units) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN (SELECT x.unit_id
              FROM unnest(p_unit.ancestors || p_unit.id) WITH ORDINALITY AS a (unit_id, n)
             CROSS JOIN LATERAL (
                   SELECT d.unit_id FROM departments d
                    WHERE d.tenant_id = p_unit.tenant_id AND d.unit_id = a.unit_id AND d.function = 'customer_service'
                      AND EXISTS (SELECT FROM units du WHERE du.tenant_id = d.tenant_id AND du.id = d.unit_id
                                                         AND du.status = 'active')
                   OFFSET 0) x
             ORDER BY a.n DESC LIMIT 1);
END
$$;

-- The contact fields of a lead (name, phone, email, note), checked in that
-- order; errors name the field. Shared by check_lead and the import's
-- check_lead_named (017), so that both validate each field one way.
CREATE FUNCTION branchline.check_contact(INOUT r branchline.lead_input, p_name text, p_phone text, p_email text,
                                         p_note text)
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    r.name := CASE WHEN p_name IS NOT NULL THEN check_text(p_name, 'name', 200) END;
    r.phone_key := phone_key(p_phone, 'phone');
    r.phone := btrim(p_phone);
    r.email := check_email(p_email, 'email');
    r.email_key := lower(r.email);
    r.note := check_note(p_note, 'note');
END
$$;

-- Checks the fields of a lead in field order; errors name the field. The
-- origin defaults to the caller's scope unit (the group for an admin).
CREATE FUNCTION branchline.check_lead(c branchline.caller, p_external_id text, p_project text, p_channel text,
                                      p_origin text, p_name text, p_phone text, p_email text, p_note text)
RETURNS branchline.lead_input LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    r lead_input;
    origin units;
BEGIN
    r.external_id := check_external_id(p_external_id, 'external_id');
    r.project_id := (project_at(p_project, 'project')).id;
    r.channel := check_choice(p_channel, 'channel', lead_channels());
    origin := scoped_unit(c, p_origin, 'origin');
    r.origin_id := origin.id;
    r := check_contact(r, p_name, p_phone, p_email, p_note);
    r.holder_id := holder_of(origin);
    RETURN r;
END
$$;

-- ---- policies ----------------------------------------------------------------------

CREATE TYPE branchline.lead_rule AS (
    policy text, lead_branch_id bigint, sla_minutes integer, max_reallocations integer);

-- The rule for a pool: (holder, project) > (holder, any project) > (any
-- holder, project) > the tenant's default > weighted without SLA.
CREATE FUNCTION branchline.policy_for(p_holder bigint, p_project bigint) RETURNS branchline.lead_rule
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN coalesce(
        (SELECT ROW(p.policy, p.lead_branch_id, p.sla_minutes, p.max_reallocations)::lead_rule
           FROM lead_policies p
          WHERE p.tenant_id = current_tenant()
            AND (p.holder_id = p_holder OR p.holder_id IS NULL)
            AND (p.project_id = p_project OR p.project_id IS NULL)
          ORDER BY p.holder_id IS NULL, p.project_id IS NULL
          LIMIT 1),
        ROW('weighted', NULL, 0, 3)::lead_rule);
END
$$;

-- ---- the pool ----------------------------------------------------------------------

-- Every active branch under the holder (the holder itself if it is a
-- branch) that handles the project with a capacity above 0 and has a sales
-- department at an active unit on its path up to the root (sales_served),
-- with its capacity: the pool's members as the organization defines them.
CREATE FUNCTION branchline.pool_branches(p_holder branchline.units, p_project bigint)
RETURNS TABLE (branch_id bigint, path text, capacity integer)
LANGUAGE sql STABLE AS $$
    SELECT b.id, b.path, cap.capacity
      FROM (SELECT x.branch_id, x.capacity FROM branchline.branch_projects x
             WHERE cardinality(p_holder.ancestors) = 0
               AND x.tenant_id = p_holder.tenant_id AND x.project_id = p_project
            UNION ALL
            SELECT x.branch_id, x.capacity
              FROM branchline.units u
             CROSS JOIN LATERAL (
                   SELECT y.branch_id, y.project_id, y.capacity FROM branchline.branch_projects y
                    WHERE y.tenant_id = u.tenant_id AND y.branch_id = u.id
                   OFFSET 0) x
             WHERE cardinality(p_holder.ancestors) > 0
               AND u.tenant_id = p_holder.tenant_id AND u.path >= p_holder.path AND u.path < p_holder.path_end
               AND x.project_id = p_project) bp
     CROSS JOIN LATERAL (
            SELECT x.id, x.tenant_id, x.path, x.status, x.ancestors FROM branchline.units x
             WHERE x.tenant_id = p_holder.tenant_id AND x.id = bp.branch_id
            OFFSET 0) b
     CROSS JOIN LATERAL (SELECT coalesce(bp.capacity, branchline.derived_capacity(b.id)) AS capacity) cap
     WHERE b.path >= p_holder.path AND b.path < p_holder.path_end AND b.status = 'active'
       AND cap.capacity > 0
       AND EXISTS (SELECT FROM unnest(b.ancestors || b.id) a (unit_id)
                    CROSS JOIN LATERAL (
                          SELECT FROM branchline.departments d
                           WHERE d.tenant_id = b.tenant_id AND d.unit_id = a.unit_id AND d.function = 'sales'
                          OFFSET 0) d
                    CROSS JOIN LATERAL (
                          SELECT FROM branchline.units du
                           WHERE du.tenant_id = b.tenant_id AND du.id = a.unit_id AND du.status = 'active'
                          OFFSET 0) du)
$$;

-- The pool's members (pool_branches) with, for each: its won and lost
-- leads of the project over the trailing 30 tenant days (only when
-- p_with_outcomes, for the performance policy), its caps and what it
-- received today and this week (only when capped). Counts come from
-- lead_day_counts: nothing here grows with the number of stored leads.
-- The definition the tests compare with sql/013's first one
-- (tests/sql/pool_reference.sql); load_pool reads the same facts for all
-- members at once instead of per member.
CREATE FUNCTION branchline.pool_members(p_holder branchline.units, p_project bigint, p_day date,
                                                   p_with_outcomes boolean)
RETURNS TABLE (branch_id bigint, path text, capacity integer, won bigint, lost bigint,
               per_day integer, per_week integer, day_count bigint, week_count bigint)
LANGUAGE sql STABLE AS $$
    SELECT b.branch_id, b.path, b.capacity, coalesce(o.won, 0), coalesce(o.lost, 0),
           c.per_day, c.per_week, coalesce(dc.n, 0), coalesce(wc.n, 0)
      FROM branchline.pool_branches(p_holder, p_project) b
      LEFT JOIN LATERAL (
            SELECT x.per_day, x.per_week FROM branchline.lead_caps x
             WHERE x.tenant_id = p_holder.tenant_id AND x.branch_id = b.branch_id
            OFFSET 0) c ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.received) AS n FROM branchline.lead_day_counts d
             WHERE c.per_day IS NOT NULL AND d.tenant_id = p_holder.tenant_id AND d.branch_id = b.branch_id
               AND d.day = p_day) dc ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.received) AS n FROM branchline.lead_day_counts d
             WHERE c.per_week IS NOT NULL AND d.tenant_id = p_holder.tenant_id AND d.branch_id = b.branch_id
               AND d.day BETWEEN date_trunc('week', p_day)::date AND p_day) wc ON true
      LEFT JOIN LATERAL (
            SELECT sum(d.won) AS won, sum(d.lost) AS lost FROM branchline.lead_day_counts d
             WHERE p_with_outcomes AND d.tenant_id = p_holder.tenant_id AND d.branch_id = b.branch_id
               AND d.day > p_day - 30 AND d.day <= p_day AND d.project_id = p_project) o ON true
$$;

-- One member of a pool as a transaction works with it: what load_pool
-- read (weight, caps, counts, the credit in units of scale, allocations and
-- open leads) as the decisions so far changed it, and what save_pool must
-- add to the stored rows (d_alloc, d_open, d_recv; dirty: its round state
-- changed). round_weight: its weight in the pool's round (NULL: not in
-- it), base: its credit when the round started (in units of the round's
-- total), picks: how often the round chose it; in a round, credit is
-- base + rotations x round_weight - picks x round_total (090_pool_rounds).
CREATE TYPE branchline.pool_member AS (
    branch_id bigint, path text, capacity integer, weight double precision,
    per_day integer, per_week integer, day_count bigint, week_count bigint,
    credit double precision, scale double precision, allocated bigint, open_leads bigint,
    d_alloc integer, d_open integer, d_recv integer, dirty boolean,
    round_weight double precision, base double precision, picks bigint);

-- round_total, round_members, rotations: the pool's round (0, 0, 0: none
-- yet); round_new: a decision of this transaction started a new round, so
-- save_pool must also take the rows it did not load out of the old one.
-- members_read_at: the organization version at which load_pool read the
-- members from the organization, for save_pool to keep them (091); -1
-- when there is nothing to keep (never NULL: callers test the whole value
-- with IS NOT NULL, which a NULL field would make false).
CREATE TYPE branchline.pool AS (
    holder branchline.units, project_id bigint, project_code text, rule branchline.lead_rule, day date,
    members branchline.pool_member[],
    round_total double precision, round_members integer, rotations bigint, round_new boolean,
    members_read_at bigint);

-- Reads a pool: its rule, its members and their state; the caller holds
-- the pool's lock. p_now gives the tenant day whose caps apply.
--
-- A member's weight: for the performance policy capacity x (won + 1) /
-- (won + lost + 2), the branch's conversion of the project over the
-- trailing 30 days with Laplace smoothing: a branch with no closed leads
-- counts as converting half of them, so a new branch is not starved, and
-- its weight moves towards capacity x its real conversion as outcomes
-- accumulate. Every other policy weighs by capacity.
--
-- Its statements run with their generic plans (plan_cache_mode), which the
-- head of this file makes the right ones and tests/sql/test_scale.sql
-- checks at 100,000 branches. Left to choose, PostgreSQL planned the
-- members statement again on every call: a custom plan knows which of its
-- two branches (kept or read from the organization) runs and how many
-- members the kept arrays hold, so the generic plan, which must keep both,
-- never looked cheaper. That planning was 28% of a steady-state lead_add
-- (tests/bench/RESULTS.md, "What bounds alloc and import").
CREATE FUNCTION branchline.load_pool(p_holder bigint, p_project bigint, p_now timestamptz)
RETURNS branchline.pool LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p pool;
    pol lead_rule := policy_for(p_holder, p_project);
    holder units;
    r_total double precision := 0;
    r_members integer := 0;
    r_rotations bigint := 0;
    v bigint;
    kept boolean;
    ids bigint[];
    paths text[];
    capacities integer[];
BEGIN
    SELECT * INTO holder FROM units WHERE tenant_id = current_tenant() AND id = p_holder;
    p.holder := holder;
    p.project_id := p_project;
    p.rule := pol;
    p.day := local_day(p_now);
    -- the project's code, the round (none yet: 0, 0, 0) and the kept
    -- members with the organization's version, in one statement; one
    -- snapshot for the whole function (STABLE): the version and the
    -- members read below are of the same organization
    SELECT (SELECT j.code FROM projects j WHERE j.tenant_id = current_tenant() AND j.id = p_project),
           coalesce(r.total, 0), coalesce(r.members, 0), coalesce(r.rotations, 0),
           o.version, k.org_version = o.version, k.branch_ids, k.paths, k.capacities
      INTO p.project_code, r_total, r_members, r_rotations, v, kept, ids, paths, capacities
      FROM (VALUES (1)) one
      LEFT JOIN lead_pool_rounds r
             ON r.tenant_id = holder.tenant_id AND r.holder_id = p_holder AND r.project_id = p_project
      LEFT JOIN org_state o ON o.tenant_id = holder.tenant_id
      LEFT JOIN lead_pool_members k ON k.tenant_id = o.tenant_id AND k.holder_id = p_holder AND k.project_id = p_project;
    p.round_total := r_total;
    p.round_members := r_members;
    p.rotations := r_rotations;
    p.round_new := false;
    kept := coalesce(kept, false);
    -- kept only from outside organization changes: a transaction that
    -- changes the organization (begin_change set branchline.version) may
    -- change it further under the same version after this read
    p.members_read_at := CASE WHEN NOT kept AND nullif(current_setting('branchline.version', true), '') IS NULL
                              THEN v ELSE -1 END;
    -- The members (kept, or read from the organization) with their caps,
    -- counts and state. Each of those is read for the whole pool by one
    -- index scan (the caps and counts of the members by key, the pool's
    -- state rows by the pool's key) and joined by branch in a hash: a
    -- probe per member was five rescans per member, each with row-level
    -- security's tenant check (tests/bench/RESULTS.md, "The members
    -- statement in one pass"). The joins are FULL so that no plan can be a
    -- nested loop (which cannot run a full join): with generic estimates
    -- one could rescan the pool's rows for every member, and the group's
    -- pools have thousands; the rows of the other sides without a member
    -- are dropped outside (OFFSET 0 keeps that filter from turning the
    -- joins into left joins).
    p.members := ARRAY(
        WITH m AS MATERIALIZED (
                SELECT x.branch_id, x.path, x.capacity FROM pool_branches(holder, p_project) x WHERE NOT kept
                UNION ALL
                SELECT x.branch_id, x.path, x.capacity
                  FROM unnest(ids, paths, capacities) x (branch_id, path, capacity) WHERE kept),
             c AS MATERIALIZED (
                SELECT x.branch_id, x.per_day, x.per_week FROM lead_caps x
                 WHERE x.tenant_id = holder.tenant_id AND x.branch_id = ANY (ARRAY(SELECT m.branch_id FROM m))),
             -- the day's and week's received of the capped members, the
             -- outcomes over 30 days of every member for performance
             n AS MATERIALIZED (
                SELECT d.branch_id,
                       sum(d.received) FILTER (WHERE d.day = p.day) AS day_n,
                       sum(d.received) FILTER (WHERE d.day >= date_trunc('week', p.day)::date) AS week_n,
                       sum(d.won) FILTER (WHERE d.project_id = p_project AND d.day > p.day - 30) AS won,
                       sum(d.lost) FILTER (WHERE d.project_id = p_project AND d.day > p.day - 30) AS lost
                  FROM lead_day_counts d
                 WHERE d.tenant_id = holder.tenant_id
                   AND d.branch_id = ANY (CASE WHEN pol.policy = 'performance' THEN ARRAY(SELECT m.branch_id FROM m)
                                               ELSE ARRAY(SELECT c.branch_id FROM c) END)
                   AND d.day >= CASE WHEN pol.policy = 'performance' THEN p.day - 29
                                     ELSE date_trunc('week', p.day)::date END
                   AND d.day <= p.day
                 GROUP BY d.branch_id),
             s AS MATERIALIZED (
                SELECT x.branch_id, x.credit, x.credit_scale, x.allocated, x.open_leads, x.round_weight, x.picks
                  FROM lead_pool_state x
                 WHERE x.tenant_id = holder.tenant_id AND x.holder_id = p_holder AND x.project_id = p_project)
        SELECT ROW(j.branch_id, j.path, j.capacity,
                   CASE WHEN pol.policy = 'performance'
                        THEN j.capacity * (j.won + 1)::double precision / (j.won + j.lost + 2)
                        ELSE j.capacity END,
                   j.per_day, j.per_week, j.day_count, j.week_count,
                   CASE WHEN j.round_weight IS NOT NULL THEN j.credit + r_rotations * j.round_weight - j.picks * r_total
                        ELSE coalesce(j.credit, 0) END,
                   CASE WHEN j.round_weight IS NOT NULL THEN r_total ELSE coalesce(j.credit_scale, 0) END,
                   coalesce(j.allocated, 0), coalesce(j.open_leads, 0), 0, 0, 0, false,
                   j.round_weight, coalesce(j.credit, 0), coalesce(j.picks, 0))::pool_member
          FROM (SELECT m.branch_id, m.path, m.capacity, c.per_day, c.per_week,
                       CASE WHEN c.per_day IS NOT NULL THEN coalesce(n.day_n, 0) ELSE 0 END AS day_count,
                       CASE WHEN c.per_week IS NOT NULL THEN coalesce(n.week_n, 0) ELSE 0 END AS week_count,
                       CASE WHEN pol.policy = 'performance' THEN coalesce(n.won, 0) ELSE 0 END AS won,
                       CASE WHEN pol.policy = 'performance' THEN coalesce(n.lost, 0) ELSE 0 END AS lost,
                       s.credit, s.credit_scale, s.allocated, s.open_leads, s.round_weight, s.picks
                  FROM m
                  FULL JOIN c ON c.branch_id = m.branch_id
                  FULL JOIN n ON n.branch_id = m.branch_id
                  FULL JOIN s ON s.branch_id = m.branch_id
                OFFSET 0) j
         WHERE j.branch_id IS NOT NULL
         ORDER BY j.path);
    RETURN p;
END
$$;

-- Writes what the transaction's decisions changed in a pool: the rows of
-- the members whose round state or counts changed (one per allocation
-- while the round goes on) and the round. When a decision started a new
-- round, the rows still in the old one that the transaction did not load
-- (branches that left the pool) leave it first, with the credit the old
-- round gave them, read from the round row before it is overwritten.
CREATE FUNCTION branchline.save_pool(p branchline.pool) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    IF p.round_new THEN
        UPDATE lead_pool_state s
           SET credit = s.credit + r.rotations * s.round_weight - s.picks * r.total, credit_scale = r.total,
               round_weight = NULL, picks = 0
          FROM lead_pool_rounds r
         WHERE r.tenant_id = (p.holder).tenant_id AND r.holder_id = (p.holder).id AND r.project_id = p.project_id
           AND s.tenant_id = r.tenant_id AND s.holder_id = r.holder_id AND s.project_id = r.project_id
           AND s.round_weight IS NOT NULL
           AND s.branch_id <> ALL (ARRAY(SELECT m.branch_id FROM unnest(p.members) m));
    END IF;
    IF p.members_read_at >= 0 THEN
        INSERT INTO lead_pool_members AS k (tenant_id, holder_id, project_id, org_version, branch_ids, paths, capacities)
        VALUES ((p.holder).tenant_id, (p.holder).id, p.project_id, p.members_read_at,
                ARRAY(SELECT m.branch_id FROM unnest(p.members) WITH ORDINALITY m ORDER BY m.ordinality),
                ARRAY(SELECT m.path FROM unnest(p.members) WITH ORDINALITY m ORDER BY m.ordinality),
                ARRAY(SELECT m.capacity FROM unnest(p.members) WITH ORDINALITY m ORDER BY m.ordinality))
        ON CONFLICT (tenant_id, holder_id, project_id) DO UPDATE
           SET org_version = excluded.org_version, branch_ids = excluded.branch_ids, paths = excluded.paths,
               capacities = excluded.capacities
         WHERE k.org_version < excluded.org_version;
    END IF;
    -- the members' rows, the round (when a member's round state changed)
    -- and the day's counts: one statement, three tables, no row twice
    WITH state AS (
        INSERT INTO lead_pool_state AS s (tenant_id, holder_id, project_id, branch_id, credit, credit_scale,
                                          allocated, open_leads, round_weight, picks)
        SELECT (p.holder).tenant_id, (p.holder).id, p.project_id, m.branch_id,
               CASE WHEN m.round_weight IS NOT NULL THEN m.base ELSE m.credit END,
               CASE WHEN m.round_weight IS NOT NULL THEN p.round_total ELSE m.scale END,
               m.d_alloc, m.d_open, m.round_weight, m.picks
          FROM unnest(p.members) m
         WHERE m.dirty OR m.d_alloc <> 0 OR m.d_open <> 0
        ON CONFLICT (tenant_id, holder_id, project_id, branch_id) DO UPDATE
           SET credit = excluded.credit, credit_scale = excluded.credit_scale,
               round_weight = excluded.round_weight, picks = excluded.picks,
               allocated = s.allocated + excluded.allocated, open_leads = s.open_leads + excluded.open_leads
    ), round AS (
        INSERT INTO lead_pool_rounds AS r (tenant_id, holder_id, project_id, total, members, rotations)
        SELECT (p.holder).tenant_id, (p.holder).id, p.project_id, p.round_total, p.round_members, p.rotations
         WHERE EXISTS (SELECT FROM unnest(p.members) m WHERE m.dirty)
        ON CONFLICT (tenant_id, holder_id, project_id) DO UPDATE
           SET total = excluded.total, members = excluded.members, rotations = excluded.rotations
    )
    INSERT INTO lead_day_counts AS x (tenant_id, branch_id, day, project_id, holder_id, received)
    SELECT (p.holder).tenant_id, m.branch_id, p.day, p.project_id, (p.holder).id, m.d_recv
      FROM unnest(p.members) m
     WHERE m.d_recv <> 0
    ON CONFLICT (tenant_id, branch_id, day, project_id, holder_id) DO UPDATE SET received = x.received + excluded.received;
END
$$;

-- The lead leaves its branch: one open lead fewer for the pool's load.
CREATE FUNCTION branchline.release_open(p_lead branchline.leads) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    UPDATE lead_pool_state SET open_leads = open_leads - 1
     WHERE tenant_id = p_lead.tenant_id AND holder_id = p_lead.holder_id AND project_id = p_lead.project_id
       AND branch_id = p_lead.branch_id;
END
$$;

-- The same for a lead of pool p while the transaction holds the pool's
-- value: in the value if the branch is still a member, else in the row.
CREATE FUNCTION branchline.pool_release(p branchline.pool, p_lead branchline.leads) RETURNS branchline.pool
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    i integer := array_position(ARRAY(SELECT m.branch_id FROM unnest(p.members) m), p_lead.branch_id);
BEGIN
    IF i IS NULL THEN
        PERFORM release_open(p_lead);
    ELSE
        p.members[i].open_leads := p.members[i].open_leads - 1;
        p.members[i].d_open := p.members[i].d_open - 1;
    END IF;
    RETURN p;
END
$$;

-- A transaction's pools: the position of (holder, project) in p_pools,
-- after loading it if it is not there yet.
CREATE FUNCTION branchline.pool_slot(INOUT p_pools branchline.pool[], p_holder bigint, p_project bigint,
                                     p_now timestamptz, OUT slot integer)
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    SELECT x.n INTO slot FROM unnest(p_pools) WITH ORDINALITY AS x (holder, project_id, project_code, rule, day, members,
                                                           round_total, round_members, rotations, round_new,
                                                           members_read_at, n)
     WHERE (x.holder).id = p_holder AND x.project_id = p_project;
    IF slot IS NULL THEN
        p_pools := coalesce(p_pools, '{}') || load_pool(p_holder, p_project, p_now);
        slot := cardinality(p_pools);
    END IF;
END
$$;

CREATE FUNCTION branchline.save_pools(p_pools branchline.pool[]) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    p pool;
BEGIN
    FOREACH p IN ARRAY coalesce(p_pools, '{}') LOOP
        PERFORM save_pool(p);
    END LOOP;
END
$$;

-- ---- the choice -----------------------------------------------------------------------

-- What allocating one lead in a pool comes to: status allocated, waiting
-- or unroutable with the reason; kind, the history event; explain, the
-- pool as lead_explain shows it; pool, the pool value after the decision.
CREATE TYPE branchline.decision AS (
    policy text, sla_minutes integer, max_reallocations integer,
    status text, kind text, branch_id bigint, branch_key text, reason text,
    explain jsonb, pool branchline.pool);

-- Chooses the branch for one lead of pool p, changing nothing but the pool
-- value it returns. p_exclude: branches that already had the lead (SLA
-- reallocation); p_dup_branch: the branch of the open lead this one
-- duplicates, which gets it if it can.
--
-- Candidates are the pool's members neither excluded nor at a cap. Then, in
-- order: the duplicate's branch; project_lead's lead branch; otherwise
--   least_loaded  fewest open leads per unit of capacity (open_leads of the
--                 pool state / capacity), ties to the lowest branch id;
--   weighted, performance, and project_lead beyond its lead branch: smooth
--                 weighted round-robin. Each candidate i has a credit c_i,
--                 stored per (pool, branch). Every allocation adds w_i to
--                 every candidate's credit and takes the total weight W
--                 from the chosen one's, as in nginx. nginx then picks the
--                 largest credit; that keeps every branch's count within
--                 about one lead of its share n w_i / W, but not within
--                 one: with five or more branches it strays further
--                 (weights 29, 29, 3, 3, 3, 3, 2, 1 reach 1.08). The pick
--                 here is Tijdeman's rule for the chairman assignment
--                 problem instead, on the same credits: with k candidates
--                 and C = 1 - 1/(2k - 2), among the candidates whose credit
--                 is at least W (1 - C), the earliest deadline
--                 (C W - c_i) / w_i, ties to the lowest branch id. It keeps
--                 |count_i - n w_i / W| <= C < 1 at every prefix n while
--                 the pool is stable (and with k = 1 it is trivial). c_i / W
--                 is the branch's deficit in leads: the score lead_explain
--                 shows. Credits are stored in units of the W they were
--                 computed with (scale) and rescaled when W changes, so
--                 that members leaving, returning or reaching a cap do not
--                 distort the others; with integer capacities the
--                 arithmetic stays exact.
CREATE FUNCTION branchline.decide(p branchline.pool, p_exclude bigint[], p_dup_of bigint, p_dup_branch bigint)
RETURNS branchline.decision LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    pol lead_rule := p.rule;
    d decision;
    how text;
    capped integer;
    same_round boolean;
    k bigint;
    total double precision;
BEGIN
    d.policy := pol.policy;
    d.sla_minutes := pol.sla_minutes;
    d.max_reallocations := pol.max_reallocations;
    WITH x AS (
        SELECT m.*, m.branch_id = ANY (p_exclude) AS excluded,
               CASE WHEN m.branch_id = ANY (p_exclude) THEN 'excluded: had it before'
                    WHEN m.day_count >= m.per_day THEN 'at daily cap (' || m.per_day || ')'
                    WHEN m.week_count >= m.per_week THEN 'at weekly cap (' || m.per_week || ')' END AS blocked
          FROM unnest(p.members) WITH ORDINALITY AS m
    ), t AS (
        SELECT count(*) FILTER (WHERE x.blocked IS NULL) AS k, sum(x.weight) FILTER (WHERE x.blocked IS NULL) AS total,
               -- the candidates are the round's, with its weights: the round goes on
               count(*) FILTER (WHERE x.blocked IS NULL) = p.round_members
               AND sum(x.weight) FILTER (WHERE x.blocked IS NULL) = p.round_total
               AND coalesce(bool_and(coalesce(x.round_weight = x.weight, false)) FILTER (WHERE x.blocked IS NULL), false)
               AS same_round
          FROM x
    ), v AS (
        SELECT x.*, t.k, t.total, t.same_round,
               CASE WHEN x.blocked IS NOT NULL OR x.scale = 0 THEN 0
                    WHEN x.scale = t.total THEN x.credit
                    ELSE x.credit * t.total / x.scale END AS rescaled
          FROM x, t
    ), y AS (
        SELECT v.*, v.rescaled + CASE WHEN v.blocked IS NULL THEN v.weight ELSE 0 END AS credited
          FROM v
    ), r AS (
        SELECT y.*,
               row_number() OVER (ORDER BY
                   y.blocked IS NOT NULL,
                   y.branch_id IS DISTINCT FROM p_dup_branch,
                   NOT coalesce(pol.policy = 'project_lead' AND y.branch_id = pol.lead_branch_id, false),
                   CASE WHEN pol.policy = 'least_loaded' THEN y.open_leads::double precision / y.capacity END,
                   CASE WHEN pol.policy <> 'least_loaded' AND y.k > 1
                        THEN 2 * (y.k - 1) * y.credited < y.total END,
                   CASE WHEN pol.policy <> 'least_loaded' AND y.k > 1
                        THEN ((2 * y.k - 3) * y.total - 2 * (y.k - 1) * y.credited) / (2 * (y.k - 1) * y.weight) END,
                   y.branch_id) = 1 AND y.blocked IS NULL AS chosen
          FROM y
    ), z AS (
        SELECT r.*,
               max(CASE WHEN NOT r.chosen THEN NULL
                        WHEN r.branch_id = p_dup_branch THEN 'duplicate'
                        WHEN pol.policy = 'project_lead' AND r.branch_id = pol.lead_branch_id THEN 'lead'
                        WHEN pol.policy = 'least_loaded' THEN 'load'
                        ELSE 'rotation' END) OVER () AS how
          FROM r
    ), w AS (
        -- rotate: the credits move when the round-robin chose
        SELECT z.*, z.how = 'rotation' AND z.blocked IS NULL AS rotate, z.chosen::integer AS got FROM z
    )
    SELECT max(w.branch_id) FILTER (WHERE w.chosen), max(w.path) FILTER (WHERE w.chosen), max(w.how),
           count(*) FILTER (WHERE w.blocked IS NOT NULL AND NOT w.excluded), bool_and(w.same_round), max(w.k), max(w.total),
           coalesce(jsonb_agg(jsonb_build_array(
                        w.branch_id, w.weight, w.allocated,
                        CASE WHEN pol.policy = 'least_loaded' THEN w.open_leads::double precision / w.capacity
                             WHEN w.rotate THEN w.credited / w.total
                             WHEN w.scale > 0 THEN w.credit / w.scale
                             ELSE 0 END,
                        w.chosen,
                        coalesce(w.blocked, CASE WHEN w.chosen AND w.how = 'duplicate' THEN 'duplicate of lead ' || p_dup_of
                                                 WHEN w.chosen AND w.how = 'lead' THEN 'lead branch'
                                                 ELSE '' END))
                        ORDER BY w.ordinality), '[]'),
           -- A rotation in the same round writes the chosen member's picks
           -- (and the round's rotations); one that starts a new round
           -- writes every candidate (its credit so far becomes its base)
           -- and takes the old round's other members out of it with the
           -- credit they reached.
           coalesce(array_agg(ROW(w.branch_id, w.path, w.capacity, w.weight, w.per_day, w.per_week,
                                  w.day_count + w.got, w.week_count + w.got,
                                  CASE WHEN w.rotate AND w.same_round
                                       THEN w.base + (p.rotations + 1) * w.round_weight - (w.picks + w.got) * w.total
                                       WHEN w.rotate THEN w.rescaled + 1 * w.weight - w.got * w.total
                                       ELSE w.credit END,
                                  CASE WHEN w.rotate THEN w.total ELSE w.scale END,
                                  w.allocated + w.got, w.open_leads + w.got,
                                  w.d_alloc + w.got, w.d_open + w.got, w.d_recv + w.got,
                                  w.dirty OR (w.rotate AND (w.got = 1 OR NOT w.same_round))
                                  OR (w.how = 'rotation' AND NOT w.same_round AND w.round_weight IS NOT NULL),
                                  CASE WHEN w.rotate AND w.same_round THEN w.round_weight
                                       WHEN w.rotate THEN w.weight
                                       WHEN w.how = 'rotation' AND NOT w.same_round THEN NULL
                                       ELSE w.round_weight END,
                                  CASE WHEN w.rotate AND NOT w.same_round THEN w.rescaled ELSE w.base END,
                                  CASE WHEN w.rotate AND w.same_round THEN w.picks + w.got
                                       WHEN w.rotate THEN w.got
                                       WHEN w.how = 'rotation' AND NOT w.same_round THEN 0
                                       ELSE w.picks END)::pool_member
                              ORDER BY w.ordinality), '{}')
      INTO d.branch_id, d.branch_key, how, capped, same_round, k, total, d.explain, p.members
      FROM w;
    IF how = 'rotation' THEN
        IF same_round THEN
            p.rotations := p.rotations + 1;
        ELSE
            p.round_total := total;
            p.round_members := k;
            p.rotations := 1;
            p.round_new := true;
        END IF;
    END IF;
    d.pool := p;

    IF d.branch_id IS NOT NULL THEN
        d.status := 'allocated';
        d.kind := CASE WHEN how = 'duplicate' THEN 'duplicate' ELSE 'allocated' END;
        d.reason := CASE WHEN how = 'duplicate' THEN 'duplicate of lead ' || p_dup_of END;
    ELSIF capped > 0 THEN
        d.status := 'waiting';
        d.reason := 'all_capped';
    ELSE
        d.status := 'unroutable';
        d.reason := CASE WHEN cardinality(p_exclude) > 0 THEN 'sla_exhausted' ELSE 'no_branch_handles_project' END;
    END IF;
    d.kind := coalesce(d.kind, d.status);
    RETURN d;
END
$$;

-- The decision for a lead that no customer service department serves, or
-- that is out of reallocations (p_policy, reason sla_exhausted).
CREATE FUNCTION branchline.unrouted_decision(p_reason text, p_pool branchline.pool) RETURNS branchline.decision
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW((p_pool.rule).policy, 0, 0, 'unroutable', 'unroutable', NULL, NULL, p_reason, NULL, p_pool)::branchline.decision
$$;

-- When the sweep should look at a lead next: an allocated lead at its SLA
-- deadline; a waiting one when the next tenant day starts (caps free up);
-- an unroutable one in 10 minutes (the organization may have changed; a
-- project assignment drains at once), except after sla_exhausted: that
-- lead waits in its holder's queue for a person.
CREATE FUNCTION branchline.due_after(d branchline.decision, p_now timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.status = 'allocated' AND d.sla_minutes > 0 THEN p_now + make_interval(mins => d.sla_minutes)
                WHEN d.status = 'waiting' THEN branchline.next_local_midnight(p_now)
                WHEN d.status = 'unroutable' AND d.reason <> 'sla_exhausted' THEN p_now + interval '10 minutes' END
$$;
