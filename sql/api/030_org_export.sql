-- Declarative organization documents (issue #6): org_export writes the
-- organization of the tenant, or of a subtree, as one JSON document;
-- org_apply makes the tenant match such a document in one transaction and
-- returns what it changed, one row per object. The format is documented in
-- deploy/examples/company.yaml; in short:
--
--   {"version": 1, "scope": "east",            scope: the subtree, default "/"
--    "projects":    [{code, name}],
--    "units":       [{path, kind, name, status, opened_on,
--                     projects: [{project, capacity}], cap: {per_day, per_week},
--                     support: {reason, until}}],
--    "departments": [{unit, function, name, positions: {role: planned},
--                     staff: [{name, role, status, start_date, supervisor}]}],
--    "policies":    [{at, project, policy, lead_branch, sla_minutes, max_reallocations}]}
--
-- Identity: a unit is its path, a department its unit and function, a person
-- their name within their department, a project its code, a policy its
-- holder and project. A unit missing at its path but present elsewhere in
-- scope with the same code and kind (the only such one) is moved, not
-- created; a person missing in a department but current elsewhere in scope
-- under the same name (the only such one) is moved likewise. An optional key
-- left out means its default (status active, no capacity, no cap, no
-- support, no positions, no staff, no supervisor), except opened_on,
-- start_date and a department's name: left out, they stay as they are (and
-- are today, or the default name, for a new object).
--
-- org_apply runs the imperative operations (api.unit_add, api.staff_move,
-- ...) in order, so a document is validated exactly like the commands, and
-- each change gets its own audit row; a change no operation makes (a
-- project's name, a date) is written here and audited as org_apply. Errors
-- name the place in the document as the field ("units[3].kind"). A dry run
-- is the same work, rolled back: the diff it returns is the real one.
-- Export orders everything (units by path, departments by unit and
-- function, people by role and name, ...) so that two exports of one state
-- are identical, and applying an export changes nothing.

CREATE TYPE api.org_document AS (document_json text);
CREATE TYPE api.org_change AS (action text, kind text, key text, detail text);

-- ---- export -------------------------------------------------------------------------

-- A person's supervisor as the document names them: the name alone within
-- the same department, else {unit, function, name}; none when they left.
CREATE FUNCTION branchline.doc_supervisor(p_staff branchline.staff) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN sup.dept_id = p_staff.dept_id THEN to_json(sup.name)
                ELSE json_build_object('unit', branchline.show_path(u.path), 'function', d.function,
                                       'name', sup.name) END
      FROM branchline.staff sup
      JOIN branchline.departments d ON d.tenant_id = sup.tenant_id AND d.id = sup.dept_id
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE sup.tenant_id = p_staff.tenant_id AND sup.id = p_staff.supervisor_id AND sup.status <> 'left'
$$;

CREATE FUNCTION branchline.doc_unit(p_unit branchline.units) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'path', branchline.show_path(p_unit.path),
        'kind', p_unit.kind,
        'name', p_unit.name,
        'status', nullif(p_unit.status, 'active'),
        'opened_on', branchline.ymd(p_unit.opened_on),
        'projects', (SELECT json_agg(json_build_object('project', p.code, 'capacity', bp.capacity) ORDER BY p.code)
                       FROM branchline.branch_projects bp
                       JOIN branchline.projects p ON p.tenant_id = bp.tenant_id AND p.id = bp.project_id
                      WHERE bp.tenant_id = p_unit.tenant_id AND bp.branch_id = p_unit.id),
        'cap', (SELECT json_build_object('per_day', c.per_day, 'per_week', c.per_week)
                  FROM branchline.lead_caps c WHERE c.tenant_id = p_unit.tenant_id AND c.branch_id = p_unit.id),
        'support', (SELECT json_build_object('reason', s.reason, 'until', branchline.ymd(s.until))
                      FROM branchline.support_assignments s
                     WHERE s.tenant_id = p_unit.tenant_id AND s.branch_id = p_unit.id AND s.ended_on IS NULL
                       AND (s.until IS NULL OR s.until >= branchline.tenant_today())))
$$;

CREATE FUNCTION branchline.doc_department(p_dept branchline.departments, p_unit_path text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'unit', branchline.show_path(p_unit_path),
        'function', p_dept.function,
        'name', p_dept.name,
        'positions', (SELECT json_object_agg(p.role, p.planned ORDER BY array_position(branchline.staff_roles(), p.role))
                        FROM branchline.positions p WHERE p.tenant_id = p_dept.tenant_id AND p.dept_id = p_dept.id),
        'staff', (SELECT json_agg(json_build_object(
                             'name', s.name, 'role', s.role, 'status', nullif(s.status, 'active'),
                             'start_date', branchline.ymd(s.start_date), 'supervisor', branchline.doc_supervisor(s))
                         ORDER BY array_position(branchline.staff_roles(), s.role), s.name COLLATE "C", s.id)
                    FROM branchline.staff s
                   WHERE s.tenant_id = p_dept.tenant_id AND s.dept_id = p_dept.id AND s.status <> 'left'))
$$;

-- The document of the subtree at p_root. Projects: all of them for the
-- whole tenant, else those handled or given a policy inside the subtree.
CREATE FUNCTION branchline.doc_export(p_root branchline.units) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'version', 1,
        'scope', nullif(branchline.show_path(p_root.path), '/'),
        'projects', (SELECT json_agg(json_build_object('code', p.code, 'name', p.name) ORDER BY p.code)
                       FROM branchline.projects p
                      WHERE p.tenant_id = p_root.tenant_id
                        AND (p_root.path = '/'
                             OR EXISTS (SELECT FROM branchline.branch_projects bp
                                          JOIN branchline.units b ON b.tenant_id = bp.tenant_id AND b.id = bp.branch_id
                                         WHERE bp.tenant_id = p.tenant_id AND bp.project_id = p.id
                                           AND b.path >= p_root.path AND b.path < p_root.path_end)
                             OR EXISTS (SELECT FROM branchline.lead_policies lp
                                          JOIN branchline.units h ON h.tenant_id = lp.tenant_id AND h.id = lp.holder_id
                                         WHERE lp.tenant_id = p.tenant_id AND lp.project_id = p.id
                                           AND h.path >= p_root.path AND h.path < p_root.path_end))),
        'units', (SELECT json_agg(branchline.doc_unit(u) ORDER BY u.path)
                    FROM branchline.units u
                   WHERE u.tenant_id = p_root.tenant_id AND u.path >= p_root.path AND u.path < p_root.path_end),
        'departments', (SELECT json_agg(branchline.doc_department(d, u.path)
                                        ORDER BY u.path, branchline.function_rank(d.function))
                          FROM branchline.departments d
                          JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
                         WHERE d.tenant_id = p_root.tenant_id AND u.path >= p_root.path AND u.path < p_root.path_end),
        'policies', (SELECT json_agg(json_build_object(
                                'at', branchline.show_path(h.path), 'project', p.code, 'policy', lp.policy,
                                'lead_branch', branchline.show_path(lb.path),
                                'sla_minutes', nullif(lp.sla_minutes, 0),
                                'max_reallocations', nullif(lp.max_reallocations, 3))
                            ORDER BY h.path NULLS FIRST, p.code NULLS FIRST)
                       FROM branchline.lead_policies lp
                       LEFT JOIN branchline.units h ON h.tenant_id = lp.tenant_id AND h.id = lp.holder_id
                       LEFT JOIN branchline.projects p ON p.tenant_id = lp.tenant_id AND p.id = lp.project_id
                       LEFT JOIN branchline.units lb ON lb.tenant_id = lp.tenant_id AND lb.id = lp.lead_branch_id
                      WHERE lp.tenant_id = p_root.tenant_id
                        AND (p_root.path = '/' OR (h.path >= p_root.path AND h.path < p_root.path_end)))))
$$;

CREATE FUNCTION api.org_export(p_subject text, p_path text)
RETURNS SETOF api.org_document LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'org_export', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, p_path, 'path');
BEGIN
    RETURN NEXT ROW(doc_export(r)::text)::api.org_document;
END
$$;
