-- Staffing: position_set, staff_add, staff_move, staff_leave, staff_list and
-- staffing_check (the seed rules for a department).

CREATE TYPE api.position AS (dept_path text, function text, role text, planned integer, actual integer);

CREATE TYPE api.staff AS (
    id bigint, name text, role text, dept_path text, function text,
    supervisor_id bigint, status text, start_date text);

CREATE VIEW branchline.staff_view WITH (security_invoker = true) AS
SELECT s.tenant_id, s.id, s.status, s.role, d.function, u.path,
       ROW(s.id, s.name, s.role, coalesce(branchline.show_path(u.path), ''), coalesce(d.function, ''),
           s.supervisor_id, s.status, branchline.ymd(s.start_date))::api.staff AS wire
  FROM branchline.staff s
  LEFT JOIN branchline.departments d ON d.tenant_id = s.tenant_id AND d.id = s.dept_id
  LEFT JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id;
GRANT SELECT ON branchline.staff_view TO branchline_app;

CREATE FUNCTION branchline.staff_wire(p_id bigint) RETURNS api.staff
LANGUAGE sql STABLE
AS $$ SELECT v.wire FROM branchline.staff_view v WHERE v.id = p_id $$;

CREATE FUNCTION branchline.position_wire(p_dept_id bigint, p_role text) RETURNS api.position
LANGUAGE sql STABLE AS $$
    SELECT ROW(branchline.show_path(u.path), d.function, p_role,
               coalesce((SELECT p.planned FROM branchline.positions p
                          WHERE p.tenant_id = d.tenant_id AND p.dept_id = d.id AND p.role = p_role), 0),
               (SELECT count(*) FROM branchline.staff s
                 WHERE s.tenant_id = d.tenant_id AND s.dept_id = d.id AND s.role = p_role
                   AND s.status = 'active')::integer)::api.position
      FROM branchline.departments d
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE d.tenant_id = branchline.current_tenant() AND d.id = p_dept_id
$$;

-- A current member of staff of the tenant, by id: people who left can no
-- longer be changed, nor supervise anyone.
CREATE FUNCTION branchline.current_staff(p_id bigint, p_field text) RETURNS branchline.staff
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    s staff;
BEGIN
    SELECT * INTO s FROM staff WHERE tenant_id = current_tenant() AND id = p_id;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', p_field, 'staff member %s does not exist', p_id::text);
    END IF;
    IF s.status = 'left' THEN
        PERFORM fail('FAILED_PRECONDITION', p_field, 'staff member %s has left', p_id::text);
    END IF;
    RETURN s;
END
$$;

-- Documents know a person by their name within the department (030), so
-- no two people who have not left share a name in one department.
CREATE FUNCTION branchline.check_name_free(p_dept branchline.departments, p_name text, p_except bigint) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM staff s WHERE s.tenant_id = p_dept.tenant_id AND s.dept_id = p_dept.id
                  AND s.status <> 'left' AND s.name = p_name AND s.id IS DISTINCT FROM p_except) THEN
        PERFORM fail('ALREADY_EXISTS', 'name', 'the %s department at %s already has someone named %s',
                     p_dept.function, (SELECT show_path(u.path) FROM units u
                                        WHERE u.tenant_id = p_dept.tenant_id AND u.id = p_dept.unit_id), p_name);
    END IF;
END
$$;

-- A person a request names by id, current and inside the caller's scope.
CREATE FUNCTION branchline.staff_at(c branchline.caller, p_id bigint, p_field text)
RETURNS branchline.staff LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    s staff;
    u units;
BEGIN
    PERFORM required(p_id::text, p_field);
    s := current_staff(p_id, p_field);
    SELECT un.* INTO u FROM departments d JOIN units un ON un.tenant_id = d.tenant_id AND un.id = d.unit_id
     WHERE d.tenant_id = s.tenant_id AND d.id = s.dept_id;
    PERFORM check_scope(c, u, p_field);
    RETURN s;
END
$$;

-- A supervisor is another current member of staff of the tenant, and the
-- supervision chain above them must not lead back to the person (p_id NULL
-- for a person being added).
CREATE FUNCTION branchline.check_supervisor(p_supervisor_id bigint, p_id bigint) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    PERFORM current_staff(p_supervisor_id, 'supervisor_id');
    IF p_supervisor_id = p_id OR EXISTS (
        WITH RECURSIVE chain (id, supervisor_id) AS (
            SELECT s.id, s.supervisor_id FROM staff s WHERE s.tenant_id = current_tenant() AND s.id = p_supervisor_id
            UNION
            SELECT s.id, s.supervisor_id FROM staff s JOIN chain ON s.tenant_id = current_tenant() AND s.id = chain.supervisor_id)
        SELECT FROM chain WHERE chain.id = p_id) THEN
        PERFORM fail('FAILED_PRECONDITION', 'supervisor_id', 'staff member %s reports to this person: supervision would go in a circle',
                     p_supervisor_id::text);
    END IF;
END
$$;

-- ---- positions ---------------------------------------------------------------------

-- Sets the planned headcount of a role in a department; planned 0 (not
-- given) removes the position.
CREATE FUNCTION api.position_set(p_subject text, p_path text, p_function text, p_role text, p_planned integer)
RETURNS SETOF api.position LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'position_set', '{admin,unit_admin}');
    d departments;
    before api.position;
    w api.position;
BEGIN
    PERFORM begin_change();
    d := dept_at(c, p_path, p_function);
    PERFORM check_choice(p_role, 'role', staff_roles());
    PERFORM check_range(p_planned, 'planned', 0, 'planned');
    before := position_wire(d.id, p_role);
    IF coalesce(p_planned, 0) = 0 THEN
        DELETE FROM positions WHERE tenant_id = d.tenant_id AND dept_id = d.id AND role = p_role;
    ELSE
        INSERT INTO positions (tenant_id, dept_id, role, planned) VALUES (d.tenant_id, d.id, p_role, p_planned)
        ON CONFLICT (tenant_id, dept_id, role) DO UPDATE SET planned = excluded.planned;
    END IF;
    w := position_wire(d.id, p_role);
    PERFORM audit(w.dept_path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- ---- staff -------------------------------------------------------------------------------

-- start_date defaults to today (the tenant's day).
CREATE FUNCTION api.staff_add(p_subject text, p_name text, p_role text, p_path text, p_function text,
                              p_supervisor_id bigint, p_start_date text)
RETURNS SETOF api.staff LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staff_add', '{admin,unit_admin}');
    d departments;
    new_id bigint;
    w api.staff;
BEGIN
    PERFORM begin_change();
    PERFORM check_text(p_name, 'name'), check_choice(p_role, 'role', staff_roles());
    d := dept_at(c, p_path, p_function);
    PERFORM check_name_free(d, check_text(p_name, 'name'), NULL);
    IF p_supervisor_id IS NOT NULL THEN
        PERFORM check_supervisor(p_supervisor_id, NULL);
    END IF;
    INSERT INTO staff (tenant_id, name, role, dept_id, supervisor_id, start_date)
    VALUES (d.tenant_id, check_text(p_name, 'name'), p_role, d.id, p_supervisor_id,
            coalesce(parse_date(p_start_date, 'start_date'), tenant_today()))
    RETURNING id INTO new_id;
    w := staff_wire(new_id);
    PERFORM audit('staff:' || new_id, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Moves a person to the department of `function` at `path`; either left out
-- keeps the current one (so `/` names the group). A supervisor given
-- replaces the current one; without it the supervisor stays.
CREATE FUNCTION api.staff_move(p_subject text, p_id bigint, p_path text, p_function text, p_supervisor_id bigint)
RETURNS SETOF api.staff LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staff_move', '{admin,unit_admin}');
    s staff;
    d departments;
    before api.staff;
    w api.staff;
BEGIN
    PERFORM begin_change();
    s := staff_at(c, p_id, 'id');
    before := staff_wire(s.id);
    d := dept_at(c, coalesce(p_path, before.dept_path), coalesce(p_function, before.function));
    PERFORM check_name_free(d, s.name, s.id);
    IF p_supervisor_id IS NOT NULL THEN
        PERFORM check_supervisor(p_supervisor_id, s.id);
    END IF;
    UPDATE staff SET dept_id = d.id, supervisor_id = coalesce(p_supervisor_id, supervisor_id)
     WHERE tenant_id = s.tenant_id AND id = s.id;
    w := staff_wire(s.id);
    PERFORM audit('staff:' || s.id, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- status: left (the default; final), on_leave, or active again after a leave.
CREATE FUNCTION api.staff_leave(p_subject text, p_id bigint, p_status text)
RETURNS SETOF api.staff LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staff_leave', '{admin,unit_admin}');
    s staff;
    before api.staff;
    w api.staff;
BEGIN
    PERFORM begin_change();
    s := staff_at(c, p_id, 'id');
    before := staff_wire(s.id);
    UPDATE staff SET status = check_choice(coalesce(p_status, 'left'), 'status', staff_statuses())
     WHERE tenant_id = s.tenant_id AND id = s.id;
    w := staff_wire(s.id);
    PERFORM audit('staff:' || s.id, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Current staff (active and on leave) of the departments under `under`,
-- optionally of one function. A branch principal sees its branch's own.
CREATE FUNCTION api.staff_list(p_subject text, p_under text, p_function text)
RETURNS SETOF api.staff LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staff_list', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_under, 'under');
BEGIN
    IF p_function IS NOT NULL THEN
        PERFORM check_choice(p_function, 'function', functions());
    END IF;
    RETURN QUERY SELECT (v.wire).* FROM staff_view v
                  WHERE v.path >= r.path AND v.path < r.path_end AND v.status <> 'left'
                    AND (p_function IS NULL OR v.function = p_function)
                  ORDER BY v.path, function_rank(v.function), array_position(staff_roles(), v.role), v.id;
END
$$;

-- The positions of the departments under a unit (default: the caller's
-- scope): every role of a department that has a planned headcount or an
-- active person, with both.
CREATE FUNCTION api.position_list(p_subject text, p_under text, p_function text)
RETURNS SETOF api.position LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'position_list', '{admin,unit_admin,viewer,branch}');
    r units := scoped_unit(c, p_under, 'under');
BEGIN
    IF p_function IS NOT NULL THEN
        PERFORM check_choice(p_function, 'function', functions());
    END IF;
    RETURN QUERY
    SELECT (position_wire(x.dept_id, x.role)).*
      FROM (SELECT p.dept_id, p.role FROM positions p WHERE p.tenant_id = c.tenant_id AND p.planned > 0
            UNION
            SELECT s.dept_id, s.role FROM staff s WHERE s.tenant_id = c.tenant_id AND s.status = 'active') x
      JOIN departments d ON d.tenant_id = c.tenant_id AND d.id = x.dept_id
      JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE u.path >= r.path AND u.path < r.path_end AND (p_function IS NULL OR d.function = p_function)
     ORDER BY u.path, function_rank(d.function), array_position(staff_roles(), x.role);
END
$$;

-- ---- staffing check ---------------------------------------------------------------------

CREATE TYPE api.staffing_finding AS (
    dept_path text, function text, rule text, detail text, planned integer, actual integer);

-- The seed rules (000, 001), per department under `path`; only active
-- people count. planned/actual are the headcounts each rule compares:
--   no_manager         no active manager                    manager positions / managers
--   supervisor_span    a supervisor without 2..5 active     0 / that supervisor's reports
--                      reports (one row per supervisor)
--   promotion_roles    promotion without >= 1 content       planned / active content
--                      creator and >= 1 promoter            creators + promoters
--   min_size           fewer than 3 active people           planned / active, whole department
--   consultants_range  customer service outside 1..10       consultant positions / consultants
--                      consultants, unless the department's
--                      consultants_override is set
--   headcount          planned differs from active for      planned / active, whole department
--                      some role (only for departments with
--                      positions set: a plan to compare with)
CREATE FUNCTION api.staffing_check(p_subject text, p_path text)
RETURNS SETOF api.staffing_finding LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'staffing_check', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, p_path, 'path');
BEGIN
    RETURN QUERY
    WITH dept AS (
        SELECT d.id, d.function, d.consultants_override, show_path(u.path) AS path, u.path AS key
          FROM departments d JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
         WHERE u.path >= r.path AND u.path < r.path_end
    ),
    -- planned and active people per department and role
    per_role AS (
        SELECT coalesce(p.dept_id, a.dept_id) AS dept_id, coalesce(p.role, a.role) AS role,
               coalesce(p.planned, 0) AS planned, coalesce(a.active, 0) AS active
          FROM (SELECT pos.dept_id, pos.role, pos.planned FROM positions pos JOIN dept ON dept.id = pos.dept_id) p
          FULL JOIN (SELECT s.dept_id, s.role, count(*)::integer AS active
                       FROM staff s JOIN dept ON dept.id = s.dept_id
                      WHERE s.status = 'active' GROUP BY s.dept_id, s.role) a
            ON a.dept_id = p.dept_id AND a.role = p.role
    ),
    totals AS (
        SELECT dept.*,
               coalesce(sum(pr.planned), 0)::integer AS planned,
               coalesce(sum(pr.active), 0)::integer AS active,
               count(*) FILTER (WHERE pr.planned > 0) AS n_positions,
               coalesce(sum(pr.planned) FILTER (WHERE pr.role = 'manager'), 0)::integer AS managers_planned,
               coalesce(sum(pr.active) FILTER (WHERE pr.role = 'manager'), 0)::integer AS managers,
               coalesce(sum(pr.planned) FILTER (WHERE pr.role IN ('content_creator', 'promoter')), 0)::integer AS promo_planned,
               coalesce(sum(pr.active) FILTER (WHERE pr.role = 'content_creator'), 0)::integer AS creators,
               coalesce(sum(pr.active) FILTER (WHERE pr.role = 'promoter'), 0)::integer AS promoters,
               coalesce(sum(pr.planned) FILTER (WHERE pr.role = 'consultant'), 0)::integer AS consultants_planned,
               coalesce(sum(pr.active) FILTER (WHERE pr.role = 'consultant'), 0)::integer AS consultants,
               string_agg(format('%s %s planned, %s active', pr.role, pr.planned, pr.active), '; '
                          ORDER BY array_position(staff_roles(), pr.role))
                   FILTER (WHERE pr.planned <> pr.active) AS differences
          FROM dept LEFT JOIN per_role pr ON pr.dept_id = dept.id
         GROUP BY dept.id, dept.function, dept.consultants_override, dept.path, dept.key
    ),
    spans AS (
        SELECT sup.dept_id, sup.id,
               (SELECT count(*) FROM staff s WHERE s.tenant_id = sup.tenant_id AND s.supervisor_id = sup.id
                                              AND s.status = 'active')::integer AS reports
          FROM staff sup JOIN dept ON dept.id = sup.dept_id
         WHERE sup.role = 'supervisor' AND sup.status = 'active'
    ),
    findings AS (
        SELECT t.key, t.function, 1 AS rank, 'no_manager' AS rule, 'no active manager' AS detail,
               t.managers_planned AS planned, 0 AS actual
          FROM totals t WHERE t.managers = 0
        UNION ALL
        SELECT t.key, t.function, 2, 'supervisor_span',
               format('supervisor %s has %s active report(s); 2 to 5 expected', sp.id, sp.reports), 0, sp.reports
          FROM spans sp JOIN totals t ON t.id = sp.dept_id WHERE sp.reports NOT BETWEEN 2 AND 5
        UNION ALL
        SELECT t.key, t.function, 3, 'promotion_roles',
               format('%s content creator(s) and %s promoter(s); at least 1 of each needed', t.creators, t.promoters),
               t.promo_planned, t.creators + t.promoters
          FROM totals t WHERE t.function = 'promotion' AND (t.creators = 0 OR t.promoters = 0)
        UNION ALL
        SELECT t.key, t.function, 4, 'min_size',
               format('%s active people; the smallest viable department has 3', t.active), t.planned, t.active
          FROM totals t WHERE t.active < 3
        UNION ALL
        SELECT t.key, t.function, 5, 'consultants_range',
               format('%s consultant(s); customer service needs 1 to 10', t.consultants),
               t.consultants_planned, t.consultants
          FROM totals t
         WHERE t.function = 'customer_service' AND NOT t.consultants_override AND t.consultants NOT BETWEEN 1 AND 10
        UNION ALL
        SELECT t.key, t.function, 6, 'headcount', t.differences, t.planned, t.active
          FROM totals t WHERE t.n_positions > 0 AND t.differences IS NOT NULL
    )
    SELECT show_path(f.key), f.function, f.rule, f.detail, f.planned, f.actual
      FROM findings f
     ORDER BY f.key, function_rank(f.function), f.rank, f.detail;
END
$$;
