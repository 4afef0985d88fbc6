-- The hierarchy: unit_add, unit_rename, unit_move, unit_set_status,
-- unit_delete, unit_show, unit_list (unit tree is unit_list: it is ordered
-- depth-first).

CREATE TYPE api.unit AS (
    id bigint, path text, code text, name text, kind text, status text,
    opened_on text, parent_path text, depth integer, children integer);

CREATE VIEW branchline.unit_view WITH (security_invoker = true) AS
SELECT u.tenant_id, u.id, u.kind, u.path, u.ancestors,
       ROW(u.id, branchline.show_path(u.path), u.code, u.name, u.kind, u.status,
           branchline.ymd(u.opened_on),
           coalesce(branchline.show_path(branchline.parent_key(u.path)), ''),
           cardinality(u.ancestors), ch.n)::api.unit AS wire
  FROM branchline.units u
  -- a lateral count, not a subquery inside ROW(): expanding (wire).* would
  -- copy the subquery into several columns and run it several times
 CROSS JOIN LATERAL (SELECT count(*)::integer AS n FROM branchline.units c
                      WHERE c.tenant_id = u.tenant_id AND c.parent_id = u.id) ch;
GRANT SELECT ON branchline.unit_view TO branchline_app;

CREATE FUNCTION branchline.unit_wire(p_id bigint) RETURNS api.unit
LANGUAGE sql STABLE
AS $$ SELECT v.wire FROM branchline.unit_view v WHERE v.id = p_id $$;

-- path = the parent's path + "/" + the new code.
CREATE FUNCTION api.unit_add(p_subject text, p_path text, p_kind text, p_name text, p_opened_on text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_add', '{admin,unit_admin}');
    key text := check_path(required(p_path, 'path'), 'path');
    parent units;
    new_id bigint;
    w api.unit;
BEGIN
    PERFORM begin_change();
    IF key = '/' THEN
        PERFORM fail('INVALID_ARGUMENT', 'path', 'path must end with the code of the new unit, e.g. east/shanghai');
    END IF;
    PERFORM check_slug(substring(key FROM '([^/]+)/$'), 'path'),
            check_choice(p_kind, 'kind', unit_kinds());
    IF p_kind = 'group' THEN
        PERFORM fail('INVALID_ARGUMENT', 'kind', 'the group is created with its tenant; a tenant has exactly one');
    END IF;
    parent := scoped_unit(c, show_path(parent_key(key)), 'path');
    PERFORM check_parent_kind(parent, p_kind, 'kind');
    IF EXISTS (SELECT FROM units WHERE tenant_id = current_tenant() AND path = key) THEN
        PERFORM fail('ALREADY_EXISTS', 'path', 'unit %s already exists', show_path(key));
    END IF;

    INSERT INTO units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
    VALUES (current_tenant(), parent.id, substring(key FROM '([^/]+)/$'), check_text(p_name, 'name'), p_kind,
            coalesce(parse_date(p_opened_on, 'opened_on'), tenant_today()), key,
            parent.ancestors || parent.id)
    RETURNING id INTO new_id;
    w := unit_wire(new_id);
    PERFORM audit(w.path, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.unit_rename(p_subject text, p_path text, p_name text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_rename', '{admin,unit_admin}');
    u units;
    before api.unit;
    w api.unit;
BEGIN
    PERFORM begin_change();
    u := scoped_unit(c, p_path, 'path');
    before := unit_wire(u.id);
    UPDATE units SET name = check_text(p_name, 'name') WHERE tenant_id = u.tenant_id AND id = u.id;
    w := unit_wire(u.id);
    PERFORM audit(w.path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- Moves a unit with its whole subtree under a new parent, rewriting path and
-- ancestors of every unit in the subtree in one statement. begin_change()
-- serializes it with every other change of the tenant, so two clients
-- moving units at once cannot build a cycle between them.
CREATE FUNCTION api.unit_move(p_subject text, p_path text, p_to text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_move', '{admin,unit_admin}');
    u units;
    dest units;
    new_key text;
    before api.unit;
    w api.unit;
BEGIN
    PERFORM begin_change();
    u := scoped_unit(c, p_path, 'path');
    IF u.kind = 'group' THEN
        PERFORM fail('FAILED_PRECONDITION', 'path', 'the group is the root and cannot be moved');
    END IF;
    dest := scoped_unit(c, p_to, 'to');
    IF dest.path >= u.path AND dest.path < u.path_end THEN
        PERFORM fail('FAILED_PRECONDITION', 'to', 'cannot move %s under itself or its own descendant %s',
                     show_path(u.path), show_path(dest.path));
    END IF;
    PERFORM check_parent_kind(dest, u.kind, 'to');
    new_key := dest.path || u.code || '/';
    IF new_key <> u.path AND EXISTS (SELECT FROM units WHERE tenant_id = u.tenant_id AND path = new_key) THEN
        PERFORM fail('ALREADY_EXISTS', 'to', '%s already has a unit with code %s', show_path(dest.path), u.code);
    END IF;

    before := unit_wire(u.id);
    UPDATE units d
       SET path = new_key || substr(d.path, length(u.path) + 1),
           ancestors = dest.ancestors || dest.id || d.ancestors[cardinality(u.ancestors) + 1:],
           parent_id = CASE WHEN d.id = u.id THEN dest.id ELSE d.parent_id END
     WHERE d.tenant_id = u.tenant_id AND d.path >= u.path AND d.path < u.path_end;
    w := unit_wire(u.id);
    PERFORM audit(w.path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.unit_set_status(p_subject text, p_path text, p_status text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_set_status', '{admin,unit_admin}');
    u units;
    before api.unit;
    w api.unit;
BEGIN
    PERFORM begin_change();
    u := scoped_unit(c, p_path, 'path');
    before := unit_wire(u.id);
    UPDATE units SET status = check_choice(p_status, 'status', unit_statuses())
     WHERE tenant_id = u.tenant_id AND id = u.id;
    w := unit_wire(u.id);
    PERFORM audit(w.path, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

-- What leads keep of a unit, for unit_blockers: "lead history" or NULL.
-- Nothing before there are leads; 014 defines it.
CREATE FUNCTION branchline.unit_lead_blockers(p_unit branchline.units) RETURNS text
LANGUAGE sql AS $$ SELECT NULL::text $$;

-- What stops a unit from being deleted, as "2 child unit(s), 1
-- department(s) with 0 staff", or NULL. The leads' part comes first, in a
-- statement of its own: from 014 on it waits for lead writers, and what is
-- counted here must be read after that.
CREATE FUNCTION branchline.unit_blockers(p_unit branchline.units) RETURNS text
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    from_leads text := unit_lead_blockers(p_unit);
BEGIN
    RETURN nullif(concat_ws(', ',
        (SELECT count(*) || ' child unit(s)' FROM units c
          WHERE c.tenant_id = p_unit.tenant_id AND c.parent_id = p_unit.id HAVING count(*) > 0),
        (SELECT count(DISTINCT d.id) || ' department(s) with ' || count(s.id) || ' staff'
           FROM departments d
           LEFT JOIN staff s ON s.tenant_id = d.tenant_id AND s.dept_id = d.id AND s.status <> 'left'
          WHERE d.tenant_id = p_unit.tenant_id AND d.unit_id = p_unit.id HAVING count(*) > 0),
        (SELECT count(*) || ' principal(s) scoped to it' FROM principals p
          WHERE p.tenant_id = p_unit.tenant_id AND p.scope_unit_id = p_unit.id HAVING count(*) > 0),
        from_leads),
        '');
END
$$;

-- Only an empty unit can go; support and project assignments of a branch go
-- with it (they describe the branch, nothing else refers to them).
CREATE FUNCTION api.unit_delete(p_subject text, p_path text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_delete', '{admin,unit_admin}');
    u units;
    blockers text;
    before api.unit;
BEGIN
    PERFORM begin_change();
    u := scoped_unit(c, p_path, 'path');
    IF u.kind = 'group' THEN
        PERFORM fail('FAILED_PRECONDITION', 'path', 'the group is the root and cannot be deleted');
    END IF;
    blockers := unit_blockers(u);
    IF blockers IS NOT NULL THEN
        PERFORM fail('FAILED_PRECONDITION', 'path', '%s cannot be deleted: it has %s', show_path(u.path), blockers);
    END IF;
    before := unit_wire(u.id);
    DELETE FROM units WHERE tenant_id = u.tenant_id AND id = u.id;
    PERFORM audit(before.path, to_jsonb(before), NULL);
    RETURN NEXT before;
END
$$;

CREATE FUNCTION api.unit_show(p_subject text, p_path text)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_show', '{admin,unit_admin,viewer,branch}');
BEGIN
    RETURN NEXT unit_wire((scoped_unit(c, p_path, 'path')).id);
END
$$;

-- Units under `under` (itself included) in depth-first order, optionally of
-- one kind and at most `depth` levels below it.
CREATE FUNCTION api.unit_list(p_subject text, p_kind text, p_under text, p_depth integer)
RETURNS SETOF api.unit LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'unit_list', '{admin,unit_admin,viewer}');
    r units := scoped_unit(c, p_under, 'under');
BEGIN
    IF p_kind IS NOT NULL THEN
        PERFORM check_choice(p_kind, 'kind', unit_kinds());
    END IF;
    IF p_depth < 0 THEN
        PERFORM fail('INVALID_ARGUMENT', 'depth', 'depth must be 0 (all levels) or more');
    END IF;
    RETURN QUERY
    SELECT (v.wire).* FROM unit_view v
     WHERE v.path >= r.path AND v.path < r.path_end
       AND (p_kind IS NULL OR v.kind = p_kind)
       AND (p_depth IS NULL OR cardinality(v.ancestors) - cardinality(r.ancestors) <= p_depth) -- no overflow
     ORDER BY v.path;
END
$$;
