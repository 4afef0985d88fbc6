-- Who is calling and what they may touch: unit paths, authentication, role
-- and scope checks. Every api function starts with branchline.auth() and
-- resolves the units it is given through branchline.scoped_unit().
--
-- plpgsql functions carry SET search_path = branchline, pg_temp so their
-- bodies can name tables unqualified whatever the caller's search_path; SQL
-- helpers are schema-qualified instead, so that they can be inlined.

-- ---- paths -----------------------------------------------------------------------

-- A request path ("east/shanghai", "/east/shanghai/"; "/", "" or NULL for
-- the group) as the stored key ('/east/shanghai/', see units.path).
CREATE FUNCTION branchline.path_key(p_path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN coalesce(btrim(p_path, '/'), '') = '' THEN '/'
                ELSE '/' || btrim(p_path, '/') || '/' END
$$;

-- A request path checked (I5, the same for the API and documents): "/" (or
-- "" or NULL) for the group, else codes joined by "/" with no empty part, no
-- leading or trailing "/" and no whitespace; returns its key. The stored
-- key itself ("/east/shanghai/", both slashes) passes too: the document
-- applier hands keys to the api functions.
CREATE FUNCTION branchline.check_path(p_path text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF coalesce(p_path, '') NOT IN ('', '/') AND p_path !~ '^[a-z0-9][a-z0-9_-]{0,62}(/[a-z0-9][a-z0-9_-]{0,62})*$'
       AND p_path !~ '^(/[a-z0-9][a-z0-9_-]{0,62})+/$' THEN
        PERFORM fail('INVALID_ARGUMENT', p_field,
            '%s must be "/" or unit codes joined by "/" (e.g. east/shanghai): no empty part, no leading or trailing "/", '
            'each code a lower-case slug (a-z, 0-9, "_", "-")', p_field);
    END IF;
    RETURN path_key(p_path);
END
$$;

-- A stored key as the protocol shows it: "/" for the group, else "east/shanghai".
CREATE FUNCTION branchline.show_path(p_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_key = '/' THEN '/' ELSE btrim(p_key, '/') END $$;

-- The key of the parent; NULL for the group.
CREATE FUNCTION branchline.parent_key(p_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_key <> '/' THEN regexp_replace(p_key, '[^/]+/$', '') END $$;

-- "the group", "region east", "product line loans", "branch east/pudong":
-- how messages and shape reasons name a unit.
CREATE FUNCTION branchline.describe(p_kind text, p_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_kind = 'group' THEN 'the group'
                ELSE replace(p_kind, '_', ' ') || ' ' || branchline.show_path(p_key) END
$$;

-- region and product_line under the group; city under the group, a region
-- or a product line; a branch under anything but a branch.
CREATE FUNCTION branchline.allowed_parents(p_kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_kind
        WHEN 'region' THEN '{group}'
        WHEN 'product_line' THEN '{group}'
        WHEN 'city' THEN '{group,region,product_line}'
        WHEN 'branch' THEN '{group,region,product_line,city}'
        ELSE '{}' END::text[]
$$;

CREATE FUNCTION branchline.check_parent_kind(p_parent branchline.units, p_kind text, p_field text)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    IF NOT p_parent.kind = ANY (allowed_parents(p_kind)) THEN
        PERFORM fail('FAILED_PRECONDITION', p_field, 'a %s cannot be placed under %s: its parent must be %s',
                     p_kind, describe(p_parent.kind, p_parent.path),
                     array_to_string(allowed_parents(p_kind), ', ', ''));
    END IF;
END
$$;

-- ---- the caller ---------------------------------------------------------------------

-- The authenticated principal of one api call. scope_* describe the unit it
-- acts on: the group for admins, the scope unit for unit_admin, viewer and
-- branch, NULL for operators.
CREATE TYPE branchline.caller AS (
    principal_id bigint,
    subject text,
    role text,
    tenant_id bigint,
    created_at timestamptz,
    scope_id bigint,
    scope_path text,
    scope_end text
);

-- Resolves the subject of the client certificate and pins the transaction
-- to the principal's tenant; checks that its role may call p_operation.
-- Every call re-resolves, so disabling a principal takes effect on its very
-- next request, even on a connection that is already open.
CREATE FUNCTION branchline.auth(p_subject text, p_operation text, p_roles text[])
RETURNS branchline.caller LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    p record;
    c caller;
BEGIN
    SELECT * INTO p FROM principal_by_subject(p_subject);
    IF NOT FOUND OR NOT p.enabled THEN
        PERFORM fail('UNAUTHENTICATED', NULL, 'this certificate maps to no enabled principal');
    END IF;
    PERFORM set_config('branchline.tenant', coalesce(p.tenant_id::text, ''), true),
            set_config('branchline.role', p.role, true),
            set_config('branchline.principal', p.id::text, true),
            set_config('branchline.subject', p_subject, true),
            set_config('branchline.operation', p_operation, true),
            set_config('branchline.version', '', true);
    IF NOT p.role = ANY (p_roles) THEN
        PERFORM fail('PERMISSION_DENIED', NULL, '%s needs the role %s; this principal is %s',
                     p_operation, array_to_string(p_roles, ' or '), p.role);
    END IF;
    c := ROW(p.id, p_subject, p.role, p.tenant_id, p.created_at, NULL, NULL, NULL);
    IF p.tenant_id IS NOT NULL AND p.scope_unit_id IS NOT NULL THEN
        SELECT u.id, u.path, u.path_end INTO c.scope_id, c.scope_path, c.scope_end
          FROM units u WHERE u.tenant_id = p.tenant_id AND u.id = p.scope_unit_id;
    ELSIF p.tenant_id IS NOT NULL THEN
        SELECT u.id, u.path, u.path_end INTO c.scope_id, c.scope_path, c.scope_end
          FROM units u WHERE u.tenant_id = p.tenant_id AND u.path = '/';
    END IF;
    RETURN c;
END
$$;

-- A unit_admin or viewer acts inside its subtree, a branch principal on its
-- own branch, an admin anywhere in its tenant. A unit of another tenant
-- never gets here: it does not resolve (NOT_FOUND), exactly like a unit that
-- does not exist.
CREATE FUNCTION branchline.check_scope(c branchline.caller, p_unit branchline.units, p_field text)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    IF c.role = 'admin'
       OR (c.role = 'branch' AND p_unit.id = c.scope_id)
       OR (c.role IN ('unit_admin', 'viewer')
           AND p_unit.path >= c.scope_path AND p_unit.path < c.scope_end) THEN
        RETURN;
    END IF;
    PERFORM fail('PERMISSION_DENIED', p_field, '%s is outside the scope of this principal (%s of %s)',
                 show_path(p_unit.path), c.role, show_path(c.scope_path));
END
$$;

-- ---- resolving units -------------------------------------------------------------------

CREATE FUNCTION branchline.unit_at(p_path text, p_field text) RETURNS branchline.units
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    u units;
BEGIN
    SELECT * INTO u FROM units WHERE tenant_id = current_tenant() AND path = check_path(p_path, p_field);
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', p_field, 'unit %s does not exist', show_path(path_key(p_path)));
    END IF;
    RETURN u;
END
$$;

-- The unit a request names, checked against the caller's scope. A path that
-- is not given means the caller's own scope unit (the group for an admin).
CREATE FUNCTION branchline.scoped_unit(c branchline.caller, p_path text, p_field text)
RETURNS branchline.units LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    u units := unit_at(coalesce(p_path, show_path(c.scope_path)), p_field);
BEGIN
    PERFORM check_scope(c, u, p_field);
    RETURN u;
END
$$;

-- Like scoped_unit, for fields that must name a branch.
CREATE FUNCTION branchline.scoped_branch(c branchline.caller, p_path text, p_field text)
RETURNS branchline.units LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    u units := scoped_unit(c, p_path, p_field);
BEGIN
    IF u.kind <> 'branch' THEN
        PERFORM fail('INVALID_ARGUMENT', p_field, '%s is a %s, not a branch',
                     show_path(u.path), replace(u.kind, '_', ' '));
    END IF;
    RETURN u;
END
$$;
