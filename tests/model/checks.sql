-- The invariants of the README (Leads: I1-I5) and tenant isolation, as one
-- query over the whole database, run as the superuser after every step of
-- the model test. Written apart from the functions that enforce them, so
-- that a bug there is not repeated here. One row per violation:
-- invariant, tenant, what.
WITH cs AS (
    SELECT d.tenant_id, d.unit_id, d.function FROM branchline.departments d
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id AND u.status = 'active'
), holder_now AS (
    SELECT o.tenant_id, o.id AS origin_id,
           (SELECT a.uid FROM unnest(o.ancestors || o.id) WITH ORDINALITY AS a (uid, n)
              JOIN cs ON cs.tenant_id = o.tenant_id AND cs.unit_id = a.uid AND cs.function = 'customer_service'
             ORDER BY a.n DESC LIMIT 1) AS holder
      FROM branchline.units o
), fit AS (
    -- (holder, project, branch): the branch could work leads of the project held by holder, caps aside
    SELECT h.tenant_id, h.id AS holder, bp.project_id, b.id AS branch_id
      FROM branchline.units h
      JOIN branchline.units b ON b.tenant_id = h.tenant_id AND b.kind = 'branch' AND b.status = 'active'
                             AND b.path >= h.path AND b.path < h.path_end
      JOIN branchline.branch_projects bp ON bp.tenant_id = b.tenant_id AND bp.branch_id = b.id
     WHERE coalesce(bp.capacity,
                    (SELECT count(s.id) FROM branchline.departments d
                       LEFT JOIN branchline.staff s ON s.tenant_id = d.tenant_id AND s.dept_id = d.id
                                                   AND s.role = 'salesperson' AND s.status = 'active'
                      WHERE d.tenant_id = b.tenant_id AND d.unit_id = b.id AND d.function = 'sales' GROUP BY d.id),
                    1) > 0
       AND EXISTS (SELECT FROM cs WHERE cs.tenant_id = b.tenant_id AND cs.function = 'sales'
                                    AND cs.unit_id = ANY (b.ancestors || b.id))
), leads AS (
    SELECT l.*, hn.holder FROM branchline.leads l
      JOIN holder_now hn ON hn.tenant_id = l.tenant_id AND hn.origin_id = l.origin_id
)
SELECT 'I1', l.tenant_id, 'lead ' || l.id || ' (' || l.status || ') held by ' || l.holder_id || ' at branch ' || l.branch_id
       || ', holder now ' || coalesce(l.holder::text, 'none')
  FROM leads l
 WHERE l.status IN ('allocated', 'contacted')
   AND (l.holder IS DISTINCT FROM l.holder_id
        OR NOT EXISTS (SELECT FROM fit f WHERE f.tenant_id = l.tenant_id AND f.holder = l.holder_id
                                           AND f.project_id = l.project_id AND f.branch_id = l.branch_id))
UNION ALL
-- a queued lead with a route through a branch that has no cap and never had
-- it; but an sla_exhausted lead with as many reallocations as the policy
-- serving it now allows (the most specific of lead_policies, default 3)
-- waits for a person
SELECT 'I2', l.tenant_id, 'lead ' || l.id || ' ' || l.status || ' (' || l.reason || ') could go to branch ' || f.branch_id
  FROM leads l
  JOIN fit f ON f.tenant_id = l.tenant_id AND f.holder = l.holder AND f.project_id = l.project_id
 WHERE l.status IN ('waiting', 'unroutable')
   AND NOT (l.status = 'unroutable' AND l.reason = 'sla_exhausted'
            AND l.reallocations >= coalesce((SELECT p.max_reallocations FROM branchline.lead_policies p
                                               WHERE p.tenant_id = l.tenant_id
                                                 AND (p.holder_id = l.holder OR p.holder_id IS NULL)
                                                 AND (p.project_id = l.project_id OR p.project_id IS NULL)
                                               ORDER BY p.holder_id IS NULL, p.project_id IS NULL LIMIT 1), 3))
   AND NOT EXISTS (SELECT FROM branchline.lead_caps c WHERE c.tenant_id = f.tenant_id AND c.branch_id = f.branch_id)
   AND NOT EXISTS (SELECT FROM branchline.lead_events e WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.id
                                                         AND e.to_branch_id = f.branch_id)
UNION ALL
SELECT 'I2', l.tenant_id, 'lead ' || l.id || ' unroutable (' || l.reason || ') but holder now ' || coalesce(l.holder::text, 'none')
  FROM leads l
 WHERE l.status IN ('waiting', 'unroutable') AND (l.holder IS NULL) <> (l.reason IS NOT DISTINCT FROM 'no_customer_service')
UNION ALL
-- a queued lead waits in the queue of the holder serving its origin now
SELECT 'I2', l.tenant_id, 'lead ' || l.id || ' ' || l.status || ' (' || l.reason || ') in the queue of ' || l.holder_id
       || ', holder now ' || l.holder
  FROM leads l
 WHERE l.status IN ('waiting', 'unroutable') AND l.holder IS NOT NULL AND l.holder <> l.holder_id
UNION ALL
SELECT 'I3', coalesce(s.tenant_id, o.tenant_id),
       'open_leads of pool (' || coalesce(s.holder_id, o.holder_id) || ', ' || coalesce(s.project_id, o.project_id) || ', '
       || coalesce(s.branch_id, o.branch_id) || ') is ' || coalesce(s.open_leads, 0) || ', leads say ' || coalesce(o.n, 0)
  FROM branchline.lead_pool_state s
  FULL JOIN (SELECT tenant_id, holder_id, project_id, branch_id, count(*) AS n FROM branchline.leads
              WHERE status IN ('allocated', 'contacted') GROUP BY 1, 2, 3, 4) o
    ON o.tenant_id = s.tenant_id AND o.holder_id = s.holder_id AND o.project_id = s.project_id AND o.branch_id = s.branch_id
 WHERE coalesce(s.open_leads, 0) <> coalesce(o.n, 0)
UNION ALL
SELECT 'I3', coalesce(c.tenant_id, e.tenant_id),
       'branch ' || coalesce(c.branch_id, e.branch_id) || ': ' || coalesce(c.what, e.what) || ' counted '
       || coalesce(c.n, 0) || ', history says ' || coalesce(e.n, 0)
  FROM (SELECT tenant_id, branch_id, x.what, sum(x.n) AS n FROM branchline.lead_day_counts
         CROSS JOIN LATERAL (VALUES ('received', received), ('contacted', contacted), ('won', won), ('lost', lost)) x (what, n)
         GROUP BY 1, 2, 3) c
  FULL JOIN (SELECT tenant_id, coalesce(to_branch_id, from_branch_id) AS branch_id,
                    CASE WHEN kind IN ('allocated', 'reallocated', 'duplicate', 'reassigned') THEN 'received' ELSE kind END AS what,
                    count(*) AS n
               FROM branchline.lead_events
              WHERE (kind IN ('allocated', 'reallocated', 'duplicate', 'reassigned')
                     AND to_branch_id IS DISTINCT FROM from_branch_id AND to_branch_id IS NOT NULL)
                 OR kind IN ('contacted', 'won', 'lost')
              GROUP BY 1, 2, 3) e
    ON e.tenant_id = c.tenant_id AND e.branch_id = c.branch_id AND e.what = c.what
 WHERE coalesce(c.n, 0) <> coalesce(e.n, 0)
UNION ALL
-- a pool's round (sql/schema/090) is the rows in it: as many, weighing its
-- total, chosen once per rotation
SELECT 'I3', coalesce(r.tenant_id, s.tenant_id),
       'round of pool (' || coalesce(r.holder_id, s.holder_id) || ', ' || coalesce(r.project_id, s.project_id)
       || '): ' || coalesce(r.members, 0) || ' members, total ' || coalesce(r.total, 0) || ', '
       || coalesce(r.rotations, 0) || ' rotations; rows in it say ' || coalesce(s.n, 0) || ', '
       || coalesce(s.total, 0) || ', ' || coalesce(s.picks, 0)
  FROM branchline.lead_pool_rounds r
  FULL JOIN (SELECT tenant_id, holder_id, project_id, count(*) AS n, sum(round_weight) AS total, sum(picks) AS picks
               FROM branchline.lead_pool_state WHERE round_weight IS NOT NULL GROUP BY 1, 2, 3) s
    ON s.tenant_id = r.tenant_id AND s.holder_id = r.holder_id AND s.project_id = r.project_id
 WHERE coalesce(r.members, 0) <> coalesce(s.n, 0) OR coalesce(r.rotations, 0) <> coalesce(s.picks, 0)
    OR abs(coalesce(r.total, 0) - coalesce(s.total, 0)) > 1e-9 * greatest(coalesce(r.total, 0), 1)
UNION ALL
-- a pool's kept members (sql/schema/091) at the tenant's current
-- organization version are the branches that fit the pool now, with their
-- paths and capacities, in path order
SELECT 'I3', coalesce(k.tenant_id, f.tenant_id),
       'kept members of pool (' || coalesce(k.holder_id, f.holder) || ', ' || coalesce(k.project_id, f.project_id)
       || '): branch ' || coalesce(k.branch_id, f.branch_id) || ' kept as ' || coalesce(k.path || ' x' || k.capacity, 'absent')
       || ', the organization says ' || coalesce(f.path || ' x' || f.capacity, 'absent')
  FROM (SELECT k.tenant_id, k.holder_id, k.project_id, x.branch_id, x.path, x.capacity
          FROM branchline.lead_pool_members k
          JOIN branchline.org_state o ON o.tenant_id = k.tenant_id AND o.version = k.org_version
         CROSS JOIN LATERAL unnest(k.branch_ids, k.paths, k.capacities) x (branch_id, path, capacity)) k
  FULL JOIN (SELECT f.tenant_id, f.holder, f.project_id, f.branch_id, b.path,
                    coalesce(bp.capacity,
                             (SELECT count(s.id) FROM branchline.departments d
                                LEFT JOIN branchline.staff s ON s.tenant_id = d.tenant_id AND s.dept_id = d.id
                                                            AND s.role = 'salesperson' AND s.status = 'active'
                               WHERE d.tenant_id = b.tenant_id AND d.unit_id = b.id AND d.function = 'sales' GROUP BY d.id),
                             1) AS capacity
               FROM fit f
               JOIN branchline.units b ON b.tenant_id = f.tenant_id AND b.id = f.branch_id
               JOIN branchline.branch_projects bp ON bp.tenant_id = f.tenant_id AND bp.branch_id = f.branch_id
                                                 AND bp.project_id = f.project_id
               JOIN branchline.lead_pool_members k ON k.tenant_id = f.tenant_id AND k.holder_id = f.holder
                                                  AND k.project_id = f.project_id
               JOIN branchline.org_state o ON o.tenant_id = k.tenant_id AND o.version = k.org_version) f
    ON f.tenant_id = k.tenant_id AND f.holder = k.holder_id AND f.project_id = k.project_id AND f.branch_id = k.branch_id
 WHERE k.path IS DISTINCT FROM f.path OR k.capacity IS DISTINCT FROM f.capacity
UNION ALL
SELECT 'I3', k.tenant_id, 'kept members of pool (' || k.holder_id || ', ' || k.project_id || ') not in path order'
  FROM branchline.lead_pool_members k
 WHERE k.paths <> ARRAY(SELECT x FROM unnest(k.paths) x ORDER BY x)
UNION ALL
-- a document knows a person by name within a department: after every step,
-- not only at the export -> apply step
SELECT 'I4', s.tenant_id, 'department ' || s.dept_id || ' has ' || count(*) || ' current people named ' || s.name
  FROM branchline.staff s
 WHERE s.status <> 'left'
 GROUP BY s.tenant_id, s.dept_id, s.name
HAVING count(*) > 1
UNION ALL
-- a planned headcount a document could not carry
SELECT 'I4', p.tenant_id, 'department ' || p.dept_id || ' plans ' || p.planned || ' ' || p.role
  FROM branchline.positions p
 WHERE p.planned > 100000
UNION ALL
SELECT 'I5', u.tenant_id, 'unit ' || u.id || ' has path ' || u.path
  FROM branchline.units u
  LEFT JOIN branchline.units p ON p.tenant_id = u.tenant_id AND p.id = u.parent_id
 WHERE u.path !~ '^/([a-z0-9][a-z0-9_-]{0,62}/)*$'
    OR u.path IS DISTINCT FROM coalesce(p.path || u.code || '/', '/')
UNION ALL
SELECT 'isolation', l.tenant_id, 'lead ' || l.id || ' names a unit or project of no unit of its tenant'
  FROM branchline.leads l
 WHERE NOT EXISTS (SELECT FROM branchline.units u WHERE u.tenant_id = l.tenant_id AND u.id = l.origin_id)
    OR NOT EXISTS (SELECT FROM branchline.units u WHERE u.tenant_id = l.tenant_id AND u.id = l.holder_id)
    OR (l.branch_id IS NOT NULL AND NOT EXISTS (SELECT FROM branchline.units u WHERE u.tenant_id = l.tenant_id
                                                                                 AND u.id = l.branch_id))
    OR NOT EXISTS (SELECT FROM branchline.projects p WHERE p.tenant_id = l.tenant_id AND p.id = l.project_id)
UNION ALL
SELECT 'isolation', e.tenant_id, 'event ' || e.id || ' of lead ' || e.lead_id || ' belongs to another tenant''s lead'
  FROM branchline.lead_events e
 WHERE NOT EXISTS (SELECT FROM branchline.leads l WHERE l.tenant_id = e.tenant_id AND l.id = e.lead_id)
    OR (e.to_branch_id IS NOT NULL AND NOT EXISTS (SELECT FROM branchline.units u WHERE u.tenant_id = e.tenant_id
                                                                                     AND u.id = e.to_branch_id));
