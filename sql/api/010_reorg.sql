-- Reorganization: reorg_plan computes the change that reaches a target shape
-- without changing anything; reorg_apply carries a plan out in one
-- transaction, or refuses it when the organization changed since.
--
--   centralize F at A     F will sit at A only: A's department of F opens
--                         if missing, every department of F below A closes.
--   decentralize F to K   F will sit at every unit of kind K (under `at`,
--                         default the group) that has branches: missing
--                         departments open; departments of F below those
--                         units close; a department of F above them closes
--                         when every branch it serves gets a new one. (One
--                         that serves no branch, like the group's own brand
--                         advertising, stays.)
-- The people (active and on leave) of a closing department keep their role
-- and go to the department that will serve what theirs did: the one of the
-- target unit it lay under, else the targets serving the branches it
-- served, in turn by role, so that every target gets its share of each
-- role. A supervisor link survives when both people end in one department.
-- The planned positions of a closing department go with it: added to the
-- department of its function that serves its unit afterwards (centralize),
-- or, when none does, shared among the new ones below it as evenly as whole
-- people allow (decentralize).
--
-- A person is known by name within a department (documents, I4), so a
-- plan that would put two current people of one name in one department is
-- refused, by reorg_plan and by reorg_apply alike, naming the department
-- and the people (staff id and where each comes from): headquarters moves
-- one of them elsewhere or records that one left, then plans again. No one
-- is renamed or dropped. Likewise merged planned headcounts add up, and a
-- sum above the limit of `planned` is refused rather than cut.
--
-- The plan is deterministic for a given organization version. reorg_apply
-- locks the organization, checks that its version is still the plan's and
-- recomputes the plan: it applies only a plan that reorg_plan would make
-- now, so a hand-edited plan cannot move people arbitrarily.

CREATE TYPE api.reorg_plan AS (version bigint, plan_json text, summary text);
CREATE TYPE api.reorg_apply_result AS (
    departments_opened integer, departments_closed integer, staff_moved integer, version bigint);

-- "promotion, customer_service" as an array in the protocol's order.
CREATE FUNCTION branchline.parse_functions(p_value text, p_field text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    list text[] := ARRAY(SELECT DISTINCT btrim(f) FROM regexp_split_to_table(required(p_value, p_field), ',') f
                          WHERE btrim(f) <> '');
    f text;
BEGIN
    IF cardinality(list) = 0 THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s must name at least one function', p_field);
    END IF;
    FOREACH f IN ARRAY list LOOP
        PERFORM check_choice(f, p_field, functions());
    END LOOP;
    RETURN ARRAY(SELECT x FROM unnest(list) x ORDER BY function_rank(x));
END
$$;

-- The request's arguments, checked the same way for a plan and for its apply.
CREATE FUNCTION branchline.check_reorg(p_mode text, p_at branchline.units, p_to_kind text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    PERFORM check_choice(p_mode, 'mode', '{centralize,decentralize}');
    IF p_mode = 'centralize' AND p_to_kind IS NOT NULL THEN
        PERFORM fail('INVALID_ARGUMENT', 'to_kind', 'to_kind is for decentralize; centralize takes at');
    ELSIF p_mode = 'centralize' AND p_at.kind = 'branch' THEN
        PERFORM fail('INVALID_ARGUMENT', 'at', 'centralize at a unit above branches, not at a branch');
    ELSIF p_mode = 'decentralize' THEN
        PERFORM check_choice(p_to_kind, 'to_kind', '{region,product_line,city,branch}');
    END IF;
END
$$;

-- The plan as JSON: {version, mode, functions, at, to_kind, open: [{path,
-- function}], close: [{dept_id, path, function}], moves: [{staff_id, role,
-- from: {path, function}, to: {path, function}, supervisor_id}],
-- serving_changes: [{function, before, after, branches}]}. Serving changes
-- are counted per old and new serving unit rather than listed per branch:
-- a plan travels in one protocol frame (1 MiB by default) both ways, and a
-- company of 100,000 branches would not fit. One statement, so it reads one
-- snapshot of the organization.
CREATE FUNCTION branchline.reorg_compute(p_version bigint, p_mode text, p_functions text[],
                                         p_at branchline.units, p_to_kind text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
WITH fn (function) AS (SELECT unnest(p_functions)),
-- the units that will host each function
target AS (
    SELECT fn.function, p_at.id AS unit_id, p_at.path, p_at.path_end
      FROM fn WHERE p_mode = 'centralize'
    UNION ALL
    SELECT fn.function, k.id, k.path, k.path_end
      FROM fn CROSS JOIN branchline.units k
     WHERE p_mode = 'decentralize' AND k.tenant_id = p_at.tenant_id AND k.kind = p_to_kind
       AND k.path >= p_at.path AND k.path < p_at.path_end
       AND EXISTS (SELECT FROM branchline.units b
                    WHERE b.tenant_id = k.tenant_id AND b.kind = 'branch'
                      AND b.path >= k.path AND b.path < k.path_end)
),
-- who serves the branches in scope today
serving AS (
    SELECT m.branch_id, m.function, m.unit_id
      FROM branchline.serving_map(p_at.path) m JOIN fn USING (function)
),
-- the target each branch lies under; targets never nest (no kind sits under
-- its own kind), so there is at most one per branch and function
branch_target AS (
    SELECT b.id AS branch_id, b.path AS branch_path, t.function, t.unit_id, t.path
      FROM target t
      JOIN branchline.units b ON b.tenant_id = p_at.tenant_id AND b.kind = 'branch'
                             AND b.path >= t.path AND b.path < t.path_end
),
dept AS (
    SELECT d.id, d.function, d.unit_id, u.path
      FROM branchline.departments d JOIN fn USING (function)
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE d.tenant_id = p_at.tenant_id AND u.path >= p_at.path AND u.path < p_at.path_end
),
-- below a target: merged into the target's department; above the targets:
-- closed when every branch it serves will be served by a target
closing AS (
    SELECT d.id, d.function, d.unit_id, d.path, t.unit_id AS into_unit, t.path AS into_path
      FROM dept d JOIN target t ON t.function = d.function AND d.path > t.path AND d.path < t.path_end
    UNION ALL
    SELECT d.id, d.function, d.unit_id, d.path, NULL, NULL
      FROM dept d
     WHERE p_mode = 'decentralize'
       AND NOT EXISTS (SELECT FROM target t
                        WHERE t.function = d.function AND d.path >= t.path AND d.path < t.path_end)
       AND EXISTS (SELECT FROM serving s WHERE s.unit_id = d.unit_id AND s.function = d.function)
       AND NOT EXISTS (SELECT FROM serving s
                        WHERE s.unit_id = d.unit_id AND s.function = d.function
                          AND NOT EXISTS (SELECT FROM branch_target bt
                                           WHERE bt.branch_id = s.branch_id AND bt.function = s.function))
),
opening AS (
    SELECT t.function, t.path FROM target t
     WHERE NOT EXISTS (SELECT FROM branchline.departments d
                        WHERE d.tenant_id = p_at.tenant_id AND d.unit_id = t.unit_id AND d.function = t.function)
),
-- where the people of each closing department may go, numbered
dest AS (
    SELECT c.id AS dept_id, c.into_unit AS unit_id, c.into_path AS path FROM closing c WHERE c.into_unit IS NOT NULL
    UNION
    SELECT c.id, bt.unit_id, bt.path
      FROM closing c
      JOIN serving s ON s.unit_id = c.unit_id AND s.function = c.function
      JOIN branch_target bt ON bt.branch_id = s.branch_id AND bt.function = s.function
     WHERE c.into_unit IS NULL
),
dest_n AS (
    SELECT dest.*, (row_number() OVER (PARTITION BY dept_id ORDER BY path) - 1)::integer AS j,
           count(*) OVER (PARTITION BY dept_id)::integer AS n
      FROM dest
),
movers AS (
    SELECT s.id, s.role, s.supervisor_id, c.id AS dept_id, c.function, c.path AS from_path,
           (row_number() OVER (PARTITION BY c.id
                               ORDER BY array_position(branchline.staff_roles(), s.role), s.id) - 1)::integer AS i
      FROM closing c JOIN branchline.staff s ON s.tenant_id = p_at.tenant_id AND s.dept_id = c.id
     WHERE s.status <> 'left'
),
moves AS (
    SELECT m.*, d.unit_id AS to_unit, d.path AS to_path
      FROM movers m JOIN dest_n d ON d.dept_id = m.dept_id AND d.j = m.i % d.n
),
moves_final AS (
    SELECT m.*,
           CASE WHEN sm.id IS NOT NULL AND sm.to_unit = m.to_unit AND sm.function = m.function THEN m.supervisor_id
                WHEN sm.id IS NULL AND sd.unit_id = m.to_unit AND sd.function = m.function THEN m.supervisor_id
           END AS new_supervisor_id
      FROM moves m
      LEFT JOIN moves sm ON sm.id = m.supervisor_id
      LEFT JOIN branchline.staff sp ON sp.tenant_id = p_at.tenant_id AND sp.id = m.supervisor_id
      LEFT JOIN branchline.departments sd ON sd.tenant_id = p_at.tenant_id AND sd.id = sp.dept_id
),
-- serving changes, counted per (function, old serving unit, new one)
changes AS (
    SELECT bt.function, su.path AS before_path, bt.path AS after_path, count(*) AS branches
      FROM branch_target bt
      LEFT JOIN serving s ON s.branch_id = bt.branch_id AND s.function = bt.function
      LEFT JOIN branchline.units su ON su.tenant_id = p_at.tenant_id AND su.id = s.unit_id
     WHERE s.unit_id IS DISTINCT FROM bt.unit_id
     GROUP BY bt.function, su.path, bt.path
)
SELECT jsonb_build_object(
    'version', p_version,
    'mode', p_mode,
    'functions', to_jsonb(p_functions),
    'at', branchline.show_path(p_at.path),
    'to_kind', p_to_kind,
    'open', (SELECT coalesce(jsonb_agg(jsonb_build_object('path', branchline.show_path(o.path), 'function', o.function)
                                       ORDER BY o.path, branchline.function_rank(o.function)), '[]')
               FROM opening o),
    'close', (SELECT coalesce(jsonb_agg(jsonb_build_object('dept_id', c.id, 'path', branchline.show_path(c.path),
                                                           'function', c.function)
                                        ORDER BY c.path, branchline.function_rank(c.function)), '[]')
                FROM closing c),
    'moves', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'staff_id', m.id, 'role', m.role,
                        'from', jsonb_build_object('path', branchline.show_path(m.from_path), 'function', m.function),
                        'to', jsonb_build_object('path', branchline.show_path(m.to_path), 'function', m.function),
                        'supervisor_id', m.new_supervisor_id)
                    ORDER BY m.from_path, branchline.function_rank(m.function), m.i), '[]')
                FROM moves_final m),
    'serving_changes', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'function', x.function,
                        'before', coalesce(branchline.show_path(x.before_path), ''),
                        'after', branchline.show_path(x.after_path),
                        'branches', x.branches)
                    ORDER BY branchline.function_rank(x.function), x.before_path NULLS FIRST, x.after_path), '[]')
                FROM changes x))
$$;

-- "centralize promotion, customer_service at /: open 2 department(s), close
-- 6, move 21 staff; new serving unit: promotion for 9 branch(es),
-- customer_service for 9 branch(es)".
CREATE FUNCTION branchline.reorg_summary(p_plan jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('%s %s %s: open %s department(s), close %s, move %s staff; new serving unit: %s',
                  p_plan->>'mode',
                  (SELECT string_agg(f, ', ') FROM jsonb_array_elements_text(p_plan->'functions') f),
                  CASE WHEN p_plan->>'mode' = 'centralize' THEN 'at ' || (p_plan->>'at')
                       ELSE 'to each ' || replace(p_plan->>'to_kind', '_', ' ') || ' under ' || (p_plan->>'at') END,
                  jsonb_array_length(p_plan->'open'), jsonb_array_length(p_plan->'close'),
                  jsonb_array_length(p_plan->'moves'),
                  coalesce((SELECT string_agg(format('%s for %s branch(es)', function, n), ', '
                                              ORDER BY branchline.function_rank(function))
                              FROM (SELECT c->>'function' AS function, sum((c->>'branches')::bigint) AS n
                                      FROM jsonb_array_elements(p_plan->'serving_changes') c
                                     GROUP BY 1) x), 'none'))
$$;

-- Where the planned positions of the plan's closing departments go: per
-- receiving department (unit and function, opened by the plan or staying)
-- and role, the headcount added, the total afterwards and where it comes
-- from. A closing department's positions go to the department of its
-- function at its nearest unit above that stays or opens; without one,
-- they are shared among those below it as evenly as whole people allow.
-- Read before the plan is carried out (the check) and while it is, after
-- the departments opened (reorg_apply): the same answer both times.
CREATE FUNCTION branchline.reorg_positions(p_plan jsonb)
RETURNS TABLE (unit_id bigint, path text, function text, role text, added bigint, total bigint, sources text)
LANGUAGE sql STABLE AS $$
WITH closing AS (
    SELECT d.id, d.function, u.path, u.path_end, u.ancestors
      FROM jsonb_to_recordset(p_plan->'close') AS x (dept_id bigint)
      JOIN branchline.departments d ON d.tenant_id = branchline.current_tenant() AND d.id = x.dept_id
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
), staying AS (
    SELECT d.unit_id, d.function, u.path FROM branchline.departments d
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE d.tenant_id = branchline.current_tenant() AND NOT EXISTS (SELECT FROM closing cl WHERE cl.id = d.id)
    UNION
    SELECT u.id, o.function, u.path
      FROM jsonb_to_recordset(p_plan->'open') AS o (path text, function text)
      JOIN branchline.units u ON u.tenant_id = branchline.current_tenant() AND u.path = branchline.path_key(o.path)
), above AS (
    SELECT DISTINCT ON (cl.id) cl.id AS from_id, s.unit_id, s.path
      FROM closing cl JOIN staying s ON s.function = cl.function AND s.unit_id = ANY (cl.ancestors)
     ORDER BY cl.id, length(s.path) DESC
), dest AS (
    SELECT a.from_id, a.unit_id, a.path, 0 AS j, 1 AS n FROM above a
    UNION ALL
    SELECT cl.id, s.unit_id, s.path, (row_number() OVER (PARTITION BY cl.id ORDER BY s.path) - 1)::integer,
           (count(*) OVER (PARTITION BY cl.id))::integer
      FROM closing cl JOIN staying s ON s.function = cl.function AND s.path > cl.path AND s.path < cl.path_end
     WHERE NOT EXISTS (SELECT FROM above a WHERE a.from_id = cl.id)
), shares AS (
    SELECT i.unit_id, i.path, cl.function, q.role, cl.path AS from_path,
           (q.planned / i.n + (i.j < q.planned % i.n)::integer)::bigint AS share
      FROM dest i JOIN closing cl ON cl.id = i.from_id
      JOIN branchline.positions q ON q.tenant_id = branchline.current_tenant() AND q.dept_id = i.from_id
)
SELECT x.unit_id, x.path, x.function, x.role, sum(x.share),
       sum(x.share) + coalesce((SELECT p.planned FROM branchline.departments d
                                  JOIN branchline.positions p ON p.tenant_id = d.tenant_id AND p.dept_id = d.id
                                 WHERE d.tenant_id = branchline.current_tenant() AND d.unit_id = x.unit_id
                                   AND d.function = x.function AND p.role = x.role
                                   AND NOT EXISTS (SELECT FROM closing cl WHERE cl.id = d.id)), 0),
       string_agg(x.share || ' from ' || branchline.show_path(x.from_path), ', ' ORDER BY x.from_path)
  FROM shares x
 GROUP BY x.unit_id, x.path, x.function, x.role
HAVING sum(x.share) > 0
$$;

-- The people the plan would leave sharing a name in one department: per
-- department (path, function) and name, who they would be ("staff 12 from
-- r1/b1", "staff 14, there already").
CREATE FUNCTION branchline.reorg_name_clashes(p_plan jsonb)
RETURNS TABLE (path text, function text, name text, people text)
LANGUAGE sql STABLE AS $$
WITH moves AS (
    SELECT (m->>'staff_id')::bigint AS id, branchline.path_key(m->'to'->>'path') AS path, m->'to'->>'function' AS function,
           branchline.path_key(m->'from'->>'path') AS from_path
      FROM jsonb_array_elements(p_plan->'moves') m
), receiving AS (
    SELECT DISTINCT mv.path, mv.function FROM moves mv
), after AS (
    SELECT mv.path, mv.function, s.id, s.name, 'staff ' || s.id || ' from ' || branchline.show_path(mv.from_path) AS who
      FROM moves mv JOIN branchline.staff s ON s.tenant_id = branchline.current_tenant() AND s.id = mv.id
    UNION ALL
    SELECT u.path, d.function, s.id, s.name, 'staff ' || s.id || ', there already'
      FROM receiving r
      JOIN branchline.units u ON u.tenant_id = branchline.current_tenant() AND u.path = r.path
      JOIN branchline.departments d ON d.tenant_id = u.tenant_id AND d.unit_id = u.id AND d.function = r.function
      JOIN branchline.staff s ON s.tenant_id = d.tenant_id AND s.dept_id = d.id AND s.status <> 'left'
     WHERE NOT EXISTS (SELECT FROM moves mv WHERE mv.id = s.id)
)
SELECT a.path, a.function, a.name, string_agg(a.who, ', ' ORDER BY a.id)
  FROM after a
 GROUP BY a.path, a.function, a.name
HAVING count(*) > 1
 ORDER BY a.path, branchline.function_rank(a.function), a.name
$$;

-- Refuses a plan that would leave two current people of one name in one
-- department, or a planned headcount above the limit (see the top).
CREATE FUNCTION branchline.check_reorg_result(p_plan jsonb, p_field text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    clash record;
    n bigint;
    pos record;
BEGIN
    SELECT c.*, count(*) OVER () AS n INTO clash FROM reorg_name_clashes(p_plan) c LIMIT 1;
    IF FOUND THEN
        PERFORM fail('FAILED_PRECONDITION', p_field,
                     'the %s department at %s would have two current people named %s (%s)%s: a person is known by '
                     'name within a department, so the plan is refused; move one of them to another department '
                     '(staff move ID --dept PATH --function FUNCTION) or record that they left (staff leave ID), '
                     'then plan again',
                     clash.function, show_path(clash.path), clash.name, clash.people,
                     CASE WHEN clash.n > 1 THEN format(', and %s more such name(s)', clash.n - 1) ELSE '' END);
    END IF;
    SELECT r.*, count(*) OVER () AS n INTO pos FROM reorg_positions(p_plan) r
     WHERE r.total > limit_of('planned') ORDER BY r.path, function_rank(r.function), r.role LIMIT 1;
    IF FOUND THEN
        PERFORM fail('FAILED_PRECONDITION', p_field,
                     'the %s department at %s would plan %s %s position(s) (%s), above the limit of %s: lower the '
                     'planned headcounts first (position set), then plan again',
                     pos.function, show_path(pos.path), pos.total::text, pos.role,
                     concat_ws(', ', pos.sources, CASE WHEN pos.total > pos.added
                                                       THEN (pos.total - pos.added) || ' there already' END),
                     limit_of('planned')::text);
    END IF;
END
$$;

-- mode: centralize or decentralize; functions: comma-separated; at: the unit
-- to centralize at, or under which to decentralize (default the group);
-- to_kind: the kind to decentralize to.
CREATE FUNCTION api.reorg_plan(p_subject text, p_mode text, p_functions text, p_at text, p_to_kind text)
RETURNS SETOF api.reorg_plan LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'reorg_plan', '{admin}');
    fns text[] := parse_functions(p_functions, 'functions');
    at_unit units := scoped_unit(c, p_at, 'at');
    plan jsonb;
BEGIN
    PERFORM check_reorg(p_mode, at_unit, p_to_kind);
    SELECT reorg_compute(o.version, p_mode, fns, at_unit, p_to_kind) INTO plan
      FROM org_state o WHERE o.tenant_id = current_tenant();
    PERFORM check_reorg_result(plan, 'functions');
    RETURN NEXT ROW((plan->>'version')::bigint, plan::text, reorg_summary(plan))::api.reorg_plan;
END
$$;

-- The plan a client sent back, as JSON, once it is known to be the plan
-- reorg_plan makes of the organization as it is (version p_version).
CREATE FUNCTION branchline.verified_plan(p_plan_json text, p_version bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    plan jsonb;
    fns text[];
    at_unit units;
BEGIN
    BEGIN
        plan := required(p_plan_json, 'plan_json')::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        PERFORM fail('INVALID_ARGUMENT', 'plan_json', 'plan_json is not JSON: use the plan_json of reorg_plan');
    END;
    IF jsonb_typeof(plan) <> 'object' OR jsonb_typeof(plan->'version') <> 'number'
       OR jsonb_typeof(plan->'functions') <> 'array' THEN
        PERFORM fail('INVALID_ARGUMENT', 'plan_json', 'plan_json is not a reorganization plan: use the plan_json of reorg_plan');
    END IF;
    IF (plan->>'version')::bigint <> p_version THEN
        PERFORM fail('FAILED_PRECONDITION', 'plan_json',
                     'the organization changed since this plan was made (plan version %s, now %s): make a new plan',
                     plan->>'version', p_version::text);
    END IF;
    fns := parse_functions(array_to_string(ARRAY(SELECT jsonb_array_elements_text(plan->'functions')), ','), 'plan_json');
    at_unit := unit_at(plan->>'at', 'plan_json');
    PERFORM check_reorg(plan->>'mode', at_unit, plan->>'to_kind');
    IF reorg_compute(p_version, plan->>'mode', fns, at_unit, plan->>'to_kind') IS DISTINCT FROM plan THEN
        PERFORM fail('INVALID_ARGUMENT', 'plan_json', 'plan_json differs from the plan reorg_plan makes: apply it unchanged');
    END IF;
    RETURN plan;
END
$$;

-- Carries out a verified plan: the departments open, the people move, the
-- planned positions follow, the closing departments go. reorg_apply and
-- whatif (which rolls it back) call it.
CREATE FUNCTION branchline.reorg_carry_out(p_plan jsonb) RETURNS api.reorg_apply_result
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    opened integer;
    closed integer;
    moved integer;
BEGIN
    INSERT INTO departments (tenant_id, unit_id, function, name)
    SELECT u.tenant_id, u.id, o.function, default_dept_name(u.name, o.function)
      FROM jsonb_to_recordset(p_plan->'open') AS o (path text, function text)
      JOIN units u ON u.tenant_id = current_tenant() AND u.path = path_key(o.path);
    GET DIAGNOSTICS opened = ROW_COUNT;

    -- read before anyone moves: the positions go where the people go
    INSERT INTO positions AS p (tenant_id, dept_id, role, planned)
    SELECT current_tenant(), d.id, r.role, r.added
      FROM reorg_positions(p_plan) r
      JOIN departments d ON d.tenant_id = current_tenant() AND d.unit_id = r.unit_id AND d.function = r.function
    ON CONFLICT (tenant_id, dept_id, role) DO UPDATE SET planned = p.planned + excluded.planned;

    UPDATE staff s SET dept_id = d.id, supervisor_id = (m->>'supervisor_id')::bigint
      FROM jsonb_array_elements(p_plan->'moves') m
      JOIN units u ON u.tenant_id = current_tenant() AND u.path = path_key(m->'to'->>'path')
      JOIN departments d ON d.tenant_id = u.tenant_id AND d.unit_id = u.id AND d.function = m->'to'->>'function'
     WHERE s.tenant_id = current_tenant() AND s.id = (m->>'staff_id')::bigint;
    GET DIAGNOSTICS moved = ROW_COUNT;

    -- people who left keep their rows
    DELETE FROM departments d USING jsonb_to_recordset(p_plan->'close') AS x (dept_id bigint)
     WHERE d.tenant_id = current_tenant() AND d.id = x.dept_id;
    GET DIAGNOSTICS closed = ROW_COUNT;
    RETURN ROW(opened, closed, moved, NULL)::api.reorg_apply_result;
END
$$;

CREATE FUNCTION api.reorg_apply(p_subject text, p_plan_json text)
RETURNS SETOF api.reorg_apply_result LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'reorg_apply', '{admin}');
    new_version bigint := begin_change();
    plan jsonb := verified_plan(p_plan_json, new_version - 1);
    r api.reorg_apply_result;
BEGIN
    PERFORM check_reorg_result(plan, 'plan_json');
    r := reorg_carry_out(plan);
    r.version := new_version;
    PERFORM audit(plan->>'at', NULL, plan);
    RETURN NEXT r;
END
$$;
