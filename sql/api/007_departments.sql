-- Where each function sits: dept_add, dept_remove, dept_list, the serving
-- map (serving), the organization's shape (shape), and support assignments
-- (support_assign, support_end, support_list).

CREATE TYPE api.department AS (
    id bigint, unit_path text, function text, name text, staff integer, planned integer);

CREATE VIEW branchline.dept_view WITH (security_invoker = true) AS
SELECT d.tenant_id, d.id, d.unit_id, d.function, u.path,
       ROW(d.id, branchline.show_path(u.path), d.function, d.name,
           (SELECT count(*) FROM branchline.staff s
             WHERE s.tenant_id = d.tenant_id AND s.dept_id = d.id AND s.status = 'active')::integer,
           (SELECT coalesce(sum(p.planned), 0) FROM branchline.positions p
             WHERE p.tenant_id = d.tenant_id AND p.dept_id = d.id)::integer)::api.department AS wire
  FROM branchline.departments d
  JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id;
GRANT SELECT ON branchline.dept_view TO branchline_app;

CREATE FUNCTION branchline.dept_wire(p_id bigint) RETURNS api.department
LANGUAGE sql STABLE
AS $$ SELECT v.wire FROM branchline.dept_view v WHERE v.id = p_id $$;

-- Outputs list functions in the protocol's order, not alphabetically.
CREATE FUNCTION branchline.function_rank(p_function text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT array_position(branchline.functions(), p_function) $$;

-- "华东 customer service": the name of a department nobody named.
CREATE FUNCTION branchline.default_dept_name(p_unit_name text, p_function text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_unit_name || ' ' || replace(p_function, '_', ' ') $$;

-- The department of a function at the unit a request names.
CREATE FUNCTION branchline.dept_at(c branchline.caller, p_path text, p_function text)
RETURNS branchline.departments LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    u units := scoped_unit(c, p_path, 'path');
    d departments;
BEGIN
    SELECT * INTO d FROM departments
     WHERE tenant_id = u.tenant_id AND unit_id = u.id
       AND function = check_choice(p_function, 'function', functions());
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'function', '%s has no %s department', show_path(u.path), p_function);
    END IF;
    RETURN d;
END
$$;

-- ---- departments ---------------------------------------------------------------------

CREATE FUNCTION api.dept_add(p_subject text, p_path text, p_function text, p_name text)
RETURNS SETOF api.department LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'dept_add', '{admin,unit_admin}');
    u units;
    new_id bigint;
    w api.department;
BEGIN
    PERFORM begin_change();
    u := scoped_unit(c, p_path, 'path');
    PERFORM check_choice(p_function, 'function', functions());
    IF EXISTS (SELECT FROM departments WHERE tenant_id = u.tenant_id AND unit_id = u.id AND function = p_function) THEN
        PERFORM fail('ALREADY_EXISTS', 'function', '%s already has a %s department', show_path(u.path), p_function);
    END IF;
    INSERT INTO departments (tenant_id, unit_id, function, name)
    VALUES (u.tenant_id, u.id, p_function,
            CASE WHEN p_name IS NULL THEN default_dept_name(u.name, p_function)
                 ELSE check_text(p_name, 'name') END)
    RETURNING id INTO new_id;
    w := dept_wire(new_id);
    PERFORM audit(w.unit_path, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Refused while people work there (move them first); their positions go
-- with the department, and people who left keep their rows without it.
CREATE FUNCTION api.dept_remove(p_subject text, p_path text, p_function text)
RETURNS SETOF api.department LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'dept_remove', '{admin,unit_admin}');
    d departments;
    people bigint;
    before api.department;
BEGIN
    PERFORM begin_change();
    d := dept_at(c, p_path, p_function);
    SELECT count(*) INTO people FROM staff WHERE tenant_id = d.tenant_id AND dept_id = d.id AND status <> 'left';
    before := dept_wire(d.id);
    IF people > 0 THEN
        PERFORM fail('FAILED_PRECONDITION', 'function', 'the %s department of %s has %s active or on-leave staff; move them first',
                     d.function, before.unit_path, people::text);
    END IF;
    DELETE FROM departments WHERE tenant_id = d.tenant_id AND id = d.id;
    PERFORM audit(before.unit_path, to_jsonb(before), NULL);
    RETURN NEXT before;
END
$$;

-- Departments at units under `under`. A branch principal sees the
-- departments on its branch's path to the root: the ones that can serve it.
CREATE FUNCTION api.dept_list(p_subject text, p_under text)
RETURNS SETOF api.department LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'dept_list', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_under, 'under');
BEGIN
    IF c.role = 'branch' THEN
        RETURN QUERY SELECT (v.wire).* FROM dept_view v
                      WHERE v.unit_id = ANY (r.ancestors || r.id)
                      ORDER BY v.path, function_rank(v.function);
    ELSE
        RETURN QUERY SELECT (v.wire).* FROM dept_view v
                      WHERE v.path >= r.path AND v.path < r.path_end
                      ORDER BY v.path, function_rank(v.function);
    END IF;
END
$$;

-- ---- serving ---------------------------------------------------------------------------

-- The serving rule, for every branch under p_root and every function: the
-- department of that function at the nearest unit on the path from the
-- branch up to the root. unit_depth is that unit's depth (0 = the group).
-- Functions without any department on a branch's path yield no row (a gap).
CREATE FUNCTION branchline.serving_map(p_root text)
RETURNS TABLE (branch_id bigint, function text, unit_id bigint, unit_depth integer)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (b.id, d.function) b.id, d.function, d.unit_id, (a.n - 1)::integer
      FROM branchline.units b
     CROSS JOIN LATERAL unnest(b.ancestors || b.id) WITH ORDINALITY AS a (unit_id, n)
      JOIN branchline.departments d ON d.tenant_id = b.tenant_id AND d.unit_id = a.unit_id
     WHERE b.tenant_id = branchline.current_tenant() AND b.kind = 'branch'
       AND b.path >= p_root AND b.path < left(p_root, -1) || '0'
     ORDER BY b.id, d.function, a.n DESC
$$;

CREATE TYPE api.serving_row AS (
    branch_path text, branch_name text, promotion text, customer_service text, sales text, support text);

-- For every branch under `path`, the path of the unit serving it for each
-- function, '' for a gap. A branch principal gets its own branch.
CREATE FUNCTION api.serving(p_subject text, p_path text)
RETURNS SETOF api.serving_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'serving', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_path, 'path');
BEGIN
    RETURN QUERY
    SELECT show_path(b.path), b.name,
           coalesce(max(show_path(su.path)) FILTER (WHERE m.function = 'promotion'), ''),
           coalesce(max(show_path(su.path)) FILTER (WHERE m.function = 'customer_service'), ''),
           coalesce(max(show_path(su.path)) FILTER (WHERE m.function = 'sales'), ''),
           coalesce(max(show_path(su.path)) FILTER (WHERE m.function = 'support'), '')
      FROM units b
      LEFT JOIN serving_map(r.path) m ON m.branch_id = b.id
      LEFT JOIN units su ON su.tenant_id = b.tenant_id AND su.id = m.unit_id
     WHERE b.kind = 'branch' AND b.path >= r.path AND b.path < r.path_end
     GROUP BY b.id, b.path, b.name
     ORDER BY b.path;
END
$$;

-- ---- shape -------------------------------------------------------------------------------

-- How the branches under a unit R are served, per function, in groups:
--   category root   served from R itself or from above R (one unit)
--            area   served from a unit between R and the branch: one row per unit
--            branch served by the branch's own department: one row, unit NULL
--            gap    served by nothing: one row, unit NULL
CREATE TYPE branchline.serving_group AS (
    function text, category text, unit_path text, unit_desc text, branches integer);

CREATE FUNCTION branchline.serving_groups(p_root branchline.units)
RETURNS SETOF branchline.serving_group LANGUAGE sql STABLE AS $$
    WITH f (function) AS (VALUES ('promotion'), ('customer_service'), ('sales')),
    s AS (
        SELECT f.function,
               CASE WHEN m.unit_id IS NULL THEN 'gap'
                    WHEN m.unit_id = b.id THEN 'branch'
                    WHEN m.unit_depth <= cardinality(p_root.ancestors) THEN 'root'
                    ELSE 'area' END AS category,
               nullif(m.unit_id, b.id) AS unit_id
          FROM branchline.units b
         CROSS JOIN f
          LEFT JOIN branchline.serving_map(p_root.path) m ON m.branch_id = b.id AND m.function = f.function
         WHERE b.tenant_id = p_root.tenant_id AND b.kind = 'branch'
           AND b.path >= p_root.path AND b.path < p_root.path_end
    )
    SELECT s.function, s.category, branchline.show_path(u.path), branchline.describe(u.kind, u.path),
           count(*)::integer
      FROM s LEFT JOIN branchline.units u ON u.tenant_id = p_root.tenant_id AND u.id = s.unit_id
     GROUP BY s.function, s.category, u.path, u.kind
     ORDER BY s.function, u.path
$$;

-- The one category of a function's groups, or NULL when they are several or
-- include gaps.
CREATE FUNCTION branchline.uniform_category(p_groups branchline.serving_group[], p_function text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN count(DISTINCT category) = 1 AND min(category) <> 'gap' THEN min(category) END
      FROM unnest(p_groups) WHERE function = p_function
$$;

-- "centralized at the group", "at city sz", "decentralized to 3 units",
-- "at each branch".
CREATE FUNCTION branchline.category_phrase(p_groups branchline.serving_group[], p_function text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN min(category) = 'root' THEN 'centralized at ' || min(unit_desc)
                WHEN min(category) = 'area' AND count(*) = 1 THEN 'at ' || min(unit_desc)
                WHEN min(category) = 'area' THEN 'decentralized to ' || count(*) || ' units'
                ELSE 'at each branch' END
      FROM unnest(p_groups) WHERE function = p_function
$$;

-- Why one function does not follow a single pattern: gaps, and every group
-- that departs from the category serving most branches, e.g.
-- "customer_service is centralized at the group but region east keeps its own".
CREATE FUNCTION branchline.function_reasons(p_groups branchline.serving_group[], p_function text)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    main text;
    main_desc text;
    x serving_group;
    reasons text[] := '{}';
BEGIN
    SELECT category, min(unit_desc) INTO main, main_desc FROM unnest(p_groups)
     WHERE function = p_function AND category <> 'gap'
     GROUP BY category ORDER BY sum(branches) DESC, array_position('{root,area,branch}', category) LIMIT 1;
    FOR x IN SELECT * FROM unnest(p_groups) WHERE function = p_function ORDER BY unit_path LOOP
        IF x.category = 'gap' THEN
            reasons := reasons || format('%s has no serving department for %s branch(es)', p_function, x.branches);
        ELSIF x.category <> main THEN
            reasons := reasons || CASE
                WHEN main = 'root' AND x.category = 'area' THEN
                    format('%s is centralized at %s but %s keeps its own', p_function, main_desc, x.unit_desc)
                WHEN main = 'root' THEN
                    format('%s is centralized at %s but %s branch(es) keep their own', p_function, main_desc, x.branches)
                WHEN main = 'area' AND x.category = 'root' THEN
                    format('%s is decentralized but %s still serves %s branch(es)', p_function, x.unit_desc, x.branches)
                WHEN main = 'area' THEN
                    format('%s is decentralized but %s branch(es) keep their own', p_function, x.branches)
                ELSE
                    format('%s sits at each branch but %s serves %s branch(es)', p_function, x.unit_desc, x.branches)
                END;
        END IF;
    END LOOP;
    RETURN reasons;
END
$$;

-- Sales must be at each branch (unified-area, centralized) or at each
-- branch or area (decentralized); gaps are reported whatever the shape.
CREATE FUNCTION branchline.sales_reasons(p_groups branchline.serving_group[], p_shape text)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(CASE WHEN category = 'gap'
                THEN format('sales has no serving department for %s branch(es)', branches)
                ELSE format('sales for %s branch(es) sits at %s, not at each branch%s', branches, unit_desc,
                            CASE WHEN p_shape = 'decentralized' THEN ' or area' ELSE '' END) END
            ORDER BY unit_path), '{}')
      FROM unnest(p_groups)
     WHERE function = 'sales'
       AND (category = 'gap'
            OR (p_shape IN ('unified-area', 'centralized') AND category <> 'branch')
            OR (p_shape = 'decentralized' AND category = 'root'))
$$;

CREATE TYPE api.shape_row AS (shape text, reason text);

-- Classifies the organization under `path` (default: the whole tenant) as the
-- shapes of the domain: single (no branches); unified-area (one unit holds
-- promotion and customer service for the branches of a single area);
-- centralized (R holds them for branches in several areas); decentralized
-- (each area holds its own); all with sales at each branch (decentralized:
-- or at the area). Anything else is mixed, one row per reason. "Areas" are
-- the children of R the branches lie under; branches right under R form R's
-- own area.
CREATE FUNCTION api.shape(p_subject text, p_path text)
RETURNS SETOF api.shape_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'shape', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, p_path, 'path');
    n_branches integer;
    n_areas integer;
    g serving_group[];
    promo_cat text;
    units_pc integer;
    split integer;
    shape text;
    reasons text[];
BEGIN
    SELECT count(*),
           count(DISTINCT CASE WHEN cardinality(b.ancestors) = cardinality(r.ancestors) + 1 THEN r.id
                               ELSE b.ancestors[cardinality(r.ancestors) + 2] END)
      INTO n_branches, n_areas
      FROM units b WHERE b.kind = 'branch' AND b.path >= r.path AND b.path < r.path_end;
    IF n_branches = 0 THEN
        RETURN NEXT ROW('single', 'no branches under ' || describe(r.kind, r.path))::api.shape_row;
        RETURN;
    END IF;

    g := ARRAY(SELECT serving_groups(r));
    reasons := function_reasons(g, 'promotion') || function_reasons(g, 'customer_service');
    promo_cat := uniform_category(g, 'promotion');
    IF promo_cat IS NOT NULL AND uniform_category(g, 'customer_service') IS NOT NULL THEN
        SELECT count(*) INTO units_pc FROM unnest(g) WHERE function = 'promotion';
        SELECT count(*) INTO split FROM (
            SELECT branch_id FROM serving_map(r.path) WHERE function IN ('promotion', 'customer_service')
             GROUP BY branch_id HAVING count(DISTINCT unit_id) > 1) x;
        IF promo_cat <> uniform_category(g, 'customer_service') THEN
            reasons := reasons || format('promotion is %s but customer_service is %s',
                                         category_phrase(g, 'promotion'), category_phrase(g, 'customer_service'));
        ELSIF split > 0 THEN
            reasons := reasons || format('promotion and customer_service sit at different units for %s branch(es)', split);
        ELSIF promo_cat = 'branch' THEN
            reasons := reasons || 'promotion and customer_service sit at each branch: no department is shared'::text;
        ELSE
            shape := CASE WHEN n_areas <= 1 AND units_pc = 1 THEN 'unified-area'
                          WHEN promo_cat = 'root' THEN 'centralized'
                          ELSE 'decentralized' END;
        END IF;
    END IF;
    reasons := reasons || sales_reasons(g, shape);

    IF cardinality(reasons) > 0 THEN
        RETURN QUERY SELECT 'mixed'::text, unnest(reasons);
    ELSE
        RETURN NEXT ROW(shape, CASE shape
            WHEN 'decentralized' THEN
                format('%s units hold promotion and customer_service for their own branches (%s branches); sales at each branch or area',
                       units_pc, n_branches)
            ELSE
                format('%s holds promotion and customer_service for %s branch(es) in %s area(s); sales at each branch',
                       (SELECT min(unit_desc) FROM unnest(g) WHERE function = 'promotion'), n_branches, n_areas)
            END)::api.shape_row;
    END IF;
END
$$;

-- ---- support -------------------------------------------------------------------------------

CREATE TYPE api.support_assignment AS (
    id bigint, branch_path text, reason text, since text, until text, active boolean);

CREATE VIEW branchline.support_view WITH (security_invoker = true) AS
SELECT s.tenant_id, s.id, s.branch_id, b.path, s.since,
       s.ended_on IS NULL AND (s.until IS NULL OR s.until >= branchline.tenant_today()) AS active,
       ROW(s.id, branchline.show_path(b.path), s.reason, branchline.ymd(s.since),
           coalesce(branchline.ymd(s.until), ''),
           s.ended_on IS NULL AND (s.until IS NULL OR s.until >= branchline.tenant_today()))::api.support_assignment AS wire
  FROM branchline.support_assignments s
  JOIN branchline.units b ON b.tenant_id = s.tenant_id AND b.id = s.branch_id;
GRANT SELECT ON branchline.support_view TO branchline_app;

CREATE FUNCTION branchline.support_wire(p_id bigint) RETURNS api.support_assignment
LANGUAGE sql STABLE
AS $$ SELECT v.wire FROM branchline.support_view v WHERE v.id = p_id $$;

-- Starts today (the tenant's day). An open assignment already past its
-- `until` is over: it is closed on its `until` so that a new one can start.
CREATE FUNCTION api.support_assign(p_subject text, p_branch text, p_reason text, p_until text)
RETURNS SETOF api.support_assignment LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'support_assign', '{admin,unit_admin}');
    b units;
    until_day date := parse_date(p_until, 'until');
    new_id bigint;
    w api.support_assignment;
BEGIN
    PERFORM begin_change();
    b := scoped_branch(c, p_branch, 'branch');
    IF until_day < tenant_today() THEN
        PERFORM fail('INVALID_ARGUMENT', 'until', 'until must be today or later');
    END IF;
    UPDATE support_assignments SET ended_on = until
     WHERE tenant_id = b.tenant_id AND branch_id = b.id AND ended_on IS NULL AND until < tenant_today();
    IF EXISTS (SELECT FROM support_assignments WHERE tenant_id = b.tenant_id AND branch_id = b.id AND ended_on IS NULL) THEN
        PERFORM fail('ALREADY_EXISTS', 'branch', '%s already has an active support assignment', show_path(b.path));
    END IF;
    INSERT INTO support_assignments (tenant_id, branch_id, reason, since, until)
    VALUES (b.tenant_id, b.id, check_text(p_reason, 'reason', 500), tenant_today(), until_day)
    RETURNING id INTO new_id;
    w := support_wire(new_id);
    PERFORM audit(w.branch_path, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.support_end(p_subject text, p_branch text)
RETURNS SETOF api.support_assignment LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'support_end', '{admin,unit_admin}');
    b units;
    s support_assignments;
    before api.support_assignment;
    w api.support_assignment;
BEGIN
    PERFORM begin_change();
    b := scoped_branch(c, p_branch, 'branch');
    SELECT * INTO s FROM support_assignments WHERE tenant_id = b.tenant_id AND branch_id = b.id AND ended_on IS NULL;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'branch', '%s has no open support assignment', show_path(b.path));
    END IF;
    before := support_wire(s.id);
    UPDATE support_assignments SET ended_on = greatest(tenant_today(), s.since)
     WHERE tenant_id = s.tenant_id AND id = s.id;
    w := support_wire(s.id);
    PERFORM audit(w.branch_path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Assignments of the branches in the caller's scope, active ones first.
CREATE FUNCTION api.support_list(p_subject text)
RETURNS SETOF api.support_assignment LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'support_list', '{admin,unit_admin,viewer}');
BEGIN
    RETURN QUERY SELECT (v.wire).* FROM support_view v
                  WHERE v.path >= c.scope_path AND v.path < c.scope_end
                  ORDER BY v.active DESC, v.path, v.since DESC, v.id DESC;
END
$$;
