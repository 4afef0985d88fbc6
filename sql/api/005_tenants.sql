-- Tenants and principals: tenant_create, tenant_list, principal_add,
-- principal_list, principal_set_enabled, whoami, and bootstrap_operator for
-- `branchd bootstrap-operator`.
--
-- Conventions of every api function (here and in the files after this one):
-- api.<operation>(p_subject, request fields in field-number order), NULL
-- for a field that was not given; it returns rows of the api.<message> type
-- whose columns are the fields of the result message; errors come from
-- branchline.fail (SQLSTATE BLnnn, COLUMN = request field). Each carries
-- SET search_path (bodies name tables unqualified) and SET jit = off: their
-- queries are short, but per-row subqueries inflate the planner's cost
-- estimates past jit_above_cost, and compiling would add 100-200 ms to a
-- call that runs in a few.

CREATE TYPE api.tenant AS (id bigint, code text, name text, timezone text, created_at text);

CREATE TYPE api.principal AS (
    id bigint, subject text, role text, scope_path text, enabled boolean,
    tenant_code text, created_at text);

-- The *_view views give each table's rows in their wire form (`wire`) next to
-- the columns the api functions filter and sort on. security_invoker: the
-- caller's row-level security applies, not the view owner's.
CREATE VIEW branchline.tenant_view WITH (security_invoker = true) AS
SELECT t.id, t.code,
       ROW(t.id, t.code, t.name, t.timezone, branchline.iso(t.created_at))::api.tenant AS wire
  FROM branchline.tenants t;

CREATE VIEW branchline.principal_view WITH (security_invoker = true) AS
SELECT p.tenant_id, p.id, p.subject,
       ROW(p.id, p.subject, p.role, coalesce(branchline.show_path(u.path), ''), p.enabled,
           coalesce(t.code, ''), branchline.iso(p.created_at))::api.principal AS wire
  FROM branchline.principals p
  LEFT JOIN branchline.units u ON u.tenant_id = p.tenant_id AND u.id = p.scope_unit_id
  LEFT JOIN branchline.tenants t ON t.id = p.tenant_id;
GRANT SELECT ON branchline.tenant_view, branchline.principal_view TO branchline_app;

-- Certificate subjects are matched exactly, so they are not trimmed. The
-- daemon reads a certificate's subject as an RFC 2253 distinguished name
-- (daemon/tls.c), so a subject must be one, or no certificate could ever
-- match it: attribute=value pairs (CN, O, an OID, ...) joined by "," (or
-- "+" within one RDN), no space around them, special characters escaped.
CREATE FUNCTION branchline.check_subject(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    attr text := '([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)';
    val text := '([^,+\\ ]|\\.)(([^,+\\]|\\.)*([^,+\\ ]|\\.))?';
BEGIN
    IF char_length(required(p_value, p_field)) > 500 OR p_value ~ '[[:cntrl:]]'
       OR p_value !~ ('^' || attr || '=' || val || '([,+]' || attr || '=' || val || ')*$') THEN
        PERFORM fail('INVALID_ARGUMENT', p_field,
                     '%s must be a distinguished name as in a certificate (RFC 2253), such as CN=alice or CN=alice,O=Acme',
                     p_field);
    END IF;
    RETURN p_value;
END
$$;

-- Subjects are unique platform-wide; this sees other tenants' principals.
CREATE FUNCTION branchline.check_subject_free(p_subject text, p_field text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM principal_by_subject(p_subject)) THEN
        PERFORM fail('ALREADY_EXISTS', p_field, 'this subject already belongs to a principal');
    END IF;
END
$$;

CREATE FUNCTION branchline.principal_wire(p_id bigint) RETURNS api.principal
LANGUAGE sql STABLE
AS $$ SELECT v.wire FROM branchline.principal_view v WHERE v.id = p_id $$;

-- ---- tenants ------------------------------------------------------------------------

-- Creates the tenant, its root group unit (code and name of the tenant; the
-- path "/" addresses it) and its first admin. From the tenant's insertion on
-- the transaction acts in the new tenant, so row-level security checks the
-- rest like any other change.
CREATE FUNCTION api.tenant_create(p_subject text, p_code text, p_name text,
                                  p_admin_subject text, p_timezone text)
RETURNS SETOF api.tenant LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'tenant_create', '{operator}');
    t tenants;
    w api.tenant;
BEGIN
    PERFORM check_slug(p_code, 'code'), check_subject(p_admin_subject, 'admin_subject');
    IF NOT EXISTS (SELECT FROM pg_timezone_names WHERE name = coalesce(p_timezone, 'UTC')) THEN
        PERFORM fail('INVALID_ARGUMENT', 'timezone', 'timezone must be an IANA time zone name such as Asia/Shanghai');
    END IF;
    IF EXISTS (SELECT FROM tenants WHERE code = p_code) THEN
        PERFORM fail('ALREADY_EXISTS', 'code', 'tenant %s already exists', p_code);
    END IF;
    PERFORM check_subject_free(p_admin_subject, 'admin_subject');

    INSERT INTO tenants (code, name, timezone)
    VALUES (p_code, check_text(p_name, 'name'), coalesce(p_timezone, 'UTC'))
    RETURNING * INTO t;
    PERFORM set_config('branchline.tenant', t.id::text, true);
    INSERT INTO org_state (tenant_id) VALUES (t.id);
    PERFORM begin_change();
    INSERT INTO units (tenant_id, code, name, kind, opened_on, path, ancestors)
    VALUES (t.id, t.code, t.name, 'group', tenant_today(), '/', '{}');
    INSERT INTO principals (tenant_id, subject, role) VALUES (t.id, p_admin_subject, 'admin');

    w := (SELECT v.wire FROM tenant_view v WHERE v.id = t.id);
    PERFORM audit('tenant:' || t.code, NULL, jsonb_build_object('tenant', to_jsonb(w), 'admin_subject', p_admin_subject));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.tenant_list(p_subject text)
RETURNS SETOF api.tenant LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'tenant_list', '{operator}');
BEGIN
    RETURN QUERY SELECT (v.wire).* FROM tenant_view v ORDER BY v.code;
END
$$;

-- ---- principals -----------------------------------------------------------------------

-- admin acts on the whole tenant and takes no scope; unit_admin and viewer
-- need a scope unit, a branch principal a branch.
CREATE FUNCTION api.principal_add(p_subject text, p_new_subject text, p_role text, p_scope_path text)
RETURNS SETOF api.principal LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'principal_add', '{admin}');
    scope units;
    new_id bigint;
    w api.principal;
BEGIN
    PERFORM begin_change();
    PERFORM check_subject(p_new_subject, 'subject'),
            check_choice(p_role, 'role', '{admin,unit_admin,branch,viewer}');
    IF p_role = 'admin' AND p_scope_path IS NOT NULL THEN
        PERFORM fail('INVALID_ARGUMENT', 'scope_path', 'an admin acts on the whole tenant: leave scope_path empty');
    ELSIF p_role = 'branch' THEN
        scope := scoped_branch(c, required(p_scope_path, 'scope_path'), 'scope_path');
    ELSIF p_role <> 'admin' THEN
        scope := scoped_unit(c, required(p_scope_path, 'scope_path'), 'scope_path');
    END IF;
    PERFORM check_subject_free(p_new_subject, 'subject');

    INSERT INTO principals (tenant_id, subject, role, scope_unit_id)
    VALUES (current_tenant(), p_new_subject, p_role, scope.id)
    RETURNING id INTO new_id;
    w := principal_wire(new_id);
    PERFORM audit('principal:' || p_new_subject, NULL, to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.principal_list(p_subject text)
RETURNS SETOF api.principal LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'principal_list', '{admin}');
BEGIN
    RETURN QUERY SELECT (v.wire).* FROM principal_view v ORDER BY v.subject;
END
$$;

-- Takes effect on the principal's next request. The last enabled admin
-- cannot be disabled: nobody could manage the tenant any more.
CREATE FUNCTION api.principal_set_enabled(p_subject text, p_target_subject text, p_enabled boolean)
RETURNS SETOF api.principal LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'principal_set_enabled', '{admin}');
    p principals;
    before api.principal;
    w api.principal;
BEGIN
    PERFORM begin_change();
    SELECT * INTO p FROM principals WHERE subject = required(p_target_subject, 'subject');
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'subject', 'no principal of this tenant has this subject');
    END IF;
    IF p.role = 'admin' AND p.enabled AND NOT coalesce(p_enabled, false)
       AND NOT EXISTS (SELECT FROM principals o WHERE o.role = 'admin' AND o.enabled AND o.id <> p.id) THEN
        PERFORM fail('FAILED_PRECONDITION', 'enabled', 'the tenant must keep at least one enabled admin');
    END IF;
    before := principal_wire(p.id);
    UPDATE principals SET enabled = coalesce(p_enabled, false) WHERE id = p.id;
    w := principal_wire(p.id);
    PERFORM audit('principal:' || p.subject, to_jsonb(before), to_jsonb(w));
    RETURN NEXT w;
END
$$;

CREATE FUNCTION api.whoami(p_subject text)
RETURNS SETOF api.principal LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'whoami', '{operator,admin,unit_admin,branch,viewer}');
BEGIN
    IF c.tenant_id IS NOT NULL THEN
        RETURN NEXT principal_wire(c.principal_id);
    ELSE
        -- operators' rows belong to no tenant, so row-level security hides them
        RETURN NEXT ROW(c.principal_id, c.subject, c.role, '', true, '', iso(c.created_at))::api.principal;
    END IF;
END
$$;

-- `branchd bootstrap-operator --subject S`: run by the migration role (the
-- owner), never by branchline_app (no grant). Creates the operator, or
-- enables it again.
CREATE FUNCTION api.bootstrap_operator(p_subject text)
RETURNS SETOF api.principal LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    p principals;
BEGIN
    IF EXISTS (SELECT FROM principals
                WHERE subject = check_subject(p_subject, 'subject') AND role <> 'operator') THEN
        PERFORM fail('ALREADY_EXISTS', 'subject', 'this subject belongs to a tenant principal');
    END IF;
    INSERT INTO principals (subject, role) VALUES (p_subject, 'operator')
    ON CONFLICT (subject) DO UPDATE SET enabled = true
    RETURNING * INTO p;
    RETURN NEXT ROW(p.id, p.subject, p.role, '', p.enabled, '', iso(p.created_at))::api.principal;
END
$$;
