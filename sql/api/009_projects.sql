-- Projects (products, business lines) and the projects each branch handles:
-- project_add, project_list, project_assign, project_unassign.

CREATE TYPE api.project AS (id bigint, code text, name text, branches integer);
CREATE TYPE api.branch_project AS (branch_path text, project text, capacity integer);

-- The capacity of a branch for a project when none was set, as a relative
-- weight for lead allocation: the number of active salespeople in the
-- branch's own sales department. A branch without one (its sales are served
-- from a region or the group, or not at all) counts as 1, an even share.
-- A branch whose own sales department has nobody active gets 0.
CREATE FUNCTION branchline.derived_capacity(p_branch_id bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT count(s.id)::integer
                       FROM branchline.departments d
                       LEFT JOIN branchline.staff s ON s.tenant_id = d.tenant_id AND s.dept_id = d.id
                                                   AND s.role = 'salesperson' AND s.status = 'active'
                      WHERE d.tenant_id = branchline.current_tenant() AND d.unit_id = p_branch_id
                        AND d.function = 'sales'
                      GROUP BY d.id), 1)
$$;

CREATE VIEW branchline.project_view WITH (security_invoker = true) AS
SELECT p.tenant_id, p.id, p.code,
       ROW(p.id, p.code, p.name,
           (SELECT count(*) FROM branchline.branch_projects bp
             WHERE bp.tenant_id = p.tenant_id AND bp.project_id = p.id)::integer)::api.project AS wire
  FROM branchline.projects p;

CREATE VIEW branchline.branch_project_view WITH (security_invoker = true) AS
SELECT bp.tenant_id, bp.branch_id, bp.project_id,
       ROW(branchline.show_path(b.path), p.code,
           coalesce(bp.capacity, branchline.derived_capacity(bp.branch_id)))::api.branch_project AS wire
  FROM branchline.branch_projects bp
  JOIN branchline.units b ON b.tenant_id = bp.tenant_id AND b.id = bp.branch_id
  JOIN branchline.projects p ON p.tenant_id = bp.tenant_id AND p.id = bp.project_id;
GRANT SELECT ON branchline.project_view, branchline.branch_project_view TO branchline_app;

CREATE FUNCTION branchline.branch_project_wire(p_branch_id bigint, p_project_id bigint) RETURNS api.branch_project
LANGUAGE sql STABLE AS $$
    SELECT v.wire FROM branchline.branch_project_view v
     WHERE v.branch_id = p_branch_id AND v.project_id = p_project_id
$$;

-- The code is checked before the lookup, not inside it: with the call to
-- required() in its condition the statement's generic plan looked dearer
-- than a custom one (which folds the call away), so PostgreSQL planned it
-- again on every call (0.09 ms of a warm lead_add, tests/bench/profile.sh).
CREATE FUNCTION branchline.project_at(p_code text, p_field text) RETURNS branchline.projects
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    p projects;
    wanted text := required(p_code, p_field);
BEGIN
    SELECT * INTO p FROM projects WHERE tenant_id = current_tenant() AND code = wanted;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', p_field, 'project %s does not exist', p_code);
    END IF;
    RETURN p;
END
$$;

CREATE FUNCTION api.project_add(p_subject text, p_code text, p_name text)
RETURNS SETOF api.project LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'project_add', '{admin}');
    new_id bigint;
    w api.project;
BEGIN
    PERFORM begin_change();
    PERFORM check_slug(p_code, 'code');
    IF EXISTS (SELECT FROM projects WHERE tenant_id = current_tenant() AND code = p_code) THEN
        PERFORM fail('ALREADY_EXISTS', 'code', 'project %s already exists', p_code);
    END IF;
    INSERT INTO projects (tenant_id, code, name) VALUES (current_tenant(), p_code, check_text(p_name, 'name'))
    RETURNING id INTO new_id;
    w := (SELECT v.wire FROM project_view v WHERE v.id = new_id);
    PERFORM audit('project:' || p_code, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.project_list(p_subject text)
RETURNS SETOF api.project LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'project_list', '{admin,unit_admin,viewer}');
BEGIN
    RETURN QUERY SELECT (v.wire).* FROM project_view v ORDER BY v.code;
END
$$;

-- Assigns a project to a branch, or changes the capacity of an assignment.
-- capacity 0 (not given) = derived from the branch's salespeople. The
-- leads the assignment can route drain at commit (040: settle_leads).
CREATE FUNCTION api.project_assign(p_subject text, p_branch text, p_project text, p_capacity integer)
RETURNS SETOF api.branch_project LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'project_assign', '{admin,unit_admin}');
    b units;
    p projects;
    before api.branch_project;
    w api.branch_project;
BEGIN
    PERFORM begin_change();
    b := scoped_branch(c, p_branch, 'branch');
    p := project_at(p_project, 'project');
    PERFORM check_range(p_capacity, 'capacity', 0, 'capacity');
    before := branch_project_wire(b.id, p.id);
    INSERT INTO branch_projects (tenant_id, branch_id, project_id, capacity)
    VALUES (b.tenant_id, b.id, p.id, nullif(p_capacity, 0))
    ON CONFLICT (tenant_id, branch_id, project_id) DO UPDATE SET capacity = excluded.capacity;
    w := branch_project_wire(b.id, p.id);
    PERFORM audit(w.branch_path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.project_unassign(p_subject text, p_branch text, p_project text)
RETURNS SETOF api.branch_project LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'project_unassign', '{admin,unit_admin}');
    b units;
    p projects;
    before api.branch_project;
BEGIN
    PERFORM begin_change();
    b := scoped_branch(c, p_branch, 'branch');
    p := project_at(p_project, 'project');
    before := branch_project_wire(b.id, p.id);
    IF before IS NULL THEN
        PERFORM fail('NOT_FOUND', 'project', '%s does not handle project %s', show_path(b.path), p.code);
    END IF;
    DELETE FROM branch_projects WHERE tenant_id = b.tenant_id AND branch_id = b.id AND project_id = p.id;
    PERFORM audit(before.branch_path, to_jsonb(before), NULL);
    RETURN NEXT before;
END
$$;
