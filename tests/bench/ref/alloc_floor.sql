-- The alloc_floor reference of issue 18: what one steady-state allocation
-- (blbench --scenario alloc, sql/alloc.sql) cannot avoid reading and
-- writing with this schema, and nothing else: no decision, no duplicate
-- check, no advisory locks, no notification, no answer beyond the lead's
-- id. In one statement (one round trip, as the daemon makes one per
-- request), as the daemon's role with the tenant set (PGOPTIONS -c
-- branchline.tenant=...), so that row-level security binds every read and
-- write:
--   reads:  the origin region and the project by name (the request names
--           them: one probe of units (tenant_id, path) and one of projects
--           (tenant_id, code)), the pool's kept members row and its round
--           row by key (sql/schema/091, 090), the tenant's time zone (the
--           day of the day count);
--   writes: the lead row (every index of leads is paid: the key, the
--           external_id, leads_branch, leads_open_phone,
--           leads_unclosed_origin), its 'allocated' event with an explain
--           of the pool's size (one entry per member, as decide writes it;
--           built here from the members row), the chosen branch's
--           lead_pool_state row and the round row (the 2 rows + the round
--           that test_leads.sql's xmin check counts for a stable pool), and
--           the branch's day count (upserted, as save_pool does).
-- The branch is a random member of the pool: the choice is logic. It runs
-- on a tenant of its own (run.sh: floor_setup, the bench tenant's shape,
-- its pools' kept members, rounds and state rows written directly), so its
-- writes, which keep no invariant, touch no other scenario's counters.
-- Variables: regions, projects, subject, tag. (Not under sql/: that holds
-- the daemon's own statements, which bench.sql_sync checks.)
\set r random(1, :regions)
\set p random(1, :projects)
\set n random(1, 9000000000000000000)
\set phone random(0, 9999999999)
WITH pool AS (
    SELECT k.tenant_id, k.holder_id, k.project_id, k.branch_ids[1 + :n::bigint % cardinality(k.branch_ids)] AS branch_id,
           (SELECT jsonb_agg(jsonb_build_array(x.b, x.w, 0, 0.5, false, '') ORDER BY x.o)
              FROM unnest(k.branch_ids, k.capacities) WITH ORDINALITY AS x (b, w, o)) AS explain,
           r.rotations
      FROM branchline.lead_pool_members k
      JOIN branchline.lead_pool_rounds r ON r.tenant_id = k.tenant_id AND r.holder_id = k.holder_id AND r.project_id = k.project_id
     WHERE k.tenant_id = branchline.current_tenant()
       AND k.holder_id = (SELECT u.id FROM branchline.units u
                           WHERE u.tenant_id = branchline.current_tenant() AND u.path = '/r' || :r::text || '/')
       AND k.project_id = (SELECT j.id FROM branchline.projects j
                            WHERE j.tenant_id = branchline.current_tenant() AND j.code = 'p' || :p::text)
), lead AS (
    INSERT INTO branchline.leads (tenant_id, external_id, project_id, channel, origin_id, holder_id, branch_id,
                                  status, policy, name, phone, phone_key, created_at, allocated_at)
    SELECT pool.tenant_id, :tag::text || '-' || :client_id::text || '-' || :n::text, pool.project_id, 'search',
           pool.holder_id, pool.holder_id, pool.branch_id, 'allocated', 'weighted', 'Bench lead',
           '1' || lpad(:phone::text, 10, '0'), lpad(:phone::text, 10, '0'), now(), now()
      FROM pool
    RETURNING tenant_id, id, branch_id
), event AS (
    INSERT INTO branchline.lead_events (tenant_id, lead_id, at, kind, to_branch_id, principal, policy, explain)
    SELECT lead.tenant_id, lead.id, now(), 'allocated', lead.branch_id, :subject::text, 'weighted', pool.explain
      FROM lead, pool
), state AS (
    UPDATE branchline.lead_pool_state s
       SET picks = s.picks + 1, allocated = s.allocated + 1, open_leads = s.open_leads + 1
      FROM pool
     WHERE s.tenant_id = pool.tenant_id AND s.holder_id = pool.holder_id AND s.project_id = pool.project_id
       AND s.branch_id = pool.branch_id
), round AS (
    UPDATE branchline.lead_pool_rounds r SET rotations = r.rotations + 1
      FROM pool
     WHERE r.tenant_id = pool.tenant_id AND r.holder_id = pool.holder_id AND r.project_id = pool.project_id
), day AS (
    INSERT INTO branchline.lead_day_counts AS d (tenant_id, branch_id, day, project_id, holder_id, received)
    SELECT pool.tenant_id, pool.branch_id, branchline.local_day(now()), pool.project_id, pool.holder_id, 1
      FROM pool
    ON CONFLICT (tenant_id, branch_id, day, project_id, holder_id) DO UPDATE SET received = d.received + 1
)
SELECT lead.id FROM lead;
