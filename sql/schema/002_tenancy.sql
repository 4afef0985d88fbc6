-- Tenancy foundations: the schemas, the transaction's tenant, the helpers
-- every api function shares (errors, validation, formatting), tenants,
-- principals, the organization version and the audit trail.
--
-- Layout. Tables and internal helpers live in schema `branchline`. The
-- daemon calls nothing but `api.<operation>(subject, request fields...)`, one
-- function per protocol operation (005 and later). api functions run as the
-- caller (SECURITY INVOKER), so row-level security binds them:
-- branchline.auth() (004) resolves the certificate subject and sets the
-- transaction-local tenant that every policy reads. A connection that never
-- went through auth() sees no tenant rows at all.

CREATE SCHEMA branchline;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA branchline, api TO branchline_app;

-- ---- the transaction's tenant ----------------------------------------------

-- The tenant of the current transaction, or NULL. The setting reads as ''
-- (not NULL) once a transaction that set it has ended, hence nullif.
CREATE FUNCTION branchline.current_tenant() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('branchline.tenant', true), '')::bigint $$;

-- Operators act on the platform: they may see and create tenants. Like the
-- tenant, this comes from a setting that only auth() writes; the daemon's
-- role could write either by hand, so the database protects against a query
-- that forgets them, not against a daemon that lies.
CREATE FUNCTION branchline.acting_as_operator() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(current_setting('branchline.role', true) = 'operator', false) $$;

-- Every table holding tenant data goes through this: its rows are visible
-- and writable only inside the transaction's tenant, for every role except
-- superusers and BYPASSRLS roles (FORCE binds the table owner too).
CREATE PROCEDURE branchline.isolate(p_table regclass)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', p_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s'
                   ' USING (tenant_id = branchline.current_tenant())'
                   ' WITH CHECK (tenant_id = branchline.current_tenant())', p_table);
END
$$;

-- ---- tenants ---------------------------------------------------------------------

CREATE TABLE branchline.tenants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    timezone text NOT NULL,             -- IANA name, for daily and weekly periods
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A tenant sees its own row; only operators see every tenant and create them.
ALTER TABLE branchline.tenants ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON branchline.tenants
    USING (id = branchline.current_tenant() OR branchline.acting_as_operator())
    WITH CHECK (branchline.acting_as_operator());
GRANT SELECT, INSERT ON branchline.tenants TO branchline_app;

-- ---- principals ----------------------------------------------------------------

-- An identity allowed to call the daemon, bound to a certificate subject.
-- Operators belong to no tenant, so tenant_id is NULL for them and the
-- primary key cannot start with it; subjects are unique platform-wide because
-- a certificate must map to exactly one principal.
CREATE TABLE branchline.principals (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint REFERENCES branchline.tenants,
    subject text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('operator', 'admin', 'unit_admin', 'branch', 'viewer')),
    scope_unit_id bigint,               -- foreign key to units: 003
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'operator') = (tenant_id IS NULL)),
    CHECK ((role IN ('unit_admin', 'branch', 'viewer')) = (scope_unit_id IS NOT NULL))
);
CREATE INDEX principals_tenant ON branchline.principals (tenant_id, subject);
CALL branchline.isolate('branchline.principals');
-- The subject lookup has to run before any tenant is known: it is a
-- SECURITY DEFINER function, i.e. runs as the owner, and FORCE would hide
-- every row from the owner too without this policy. It names the migration
-- role (the owner), so branchline_app gains nothing from it.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_lookup ON branchline.principals TO %I USING (true) WITH CHECK (true)',
                   current_user);
END
$$;
GRANT SELECT, INSERT, UPDATE ON branchline.principals TO branchline_app;

-- ---- organization version --------------------------------------------------------

-- One row per tenant, bumped by every organization change (begin_change).
CREATE TABLE branchline.org_state (
    tenant_id bigint PRIMARY KEY REFERENCES branchline.tenants,
    version bigint NOT NULL DEFAULT 0
);
CALL branchline.isolate('branchline.org_state');
GRANT SELECT, INSERT, UPDATE ON branchline.org_state TO branchline_app;

-- ---- audit -------------------------------------------------------------------------

-- Append-only: branchline_app may only SELECT and INSERT, and the trigger
-- below refuses changes even from roles that hold more privileges.
CREATE TABLE branchline.audit (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL DEFAULT now(),
    principal_id bigint REFERENCES branchline.principals,
    principal text NOT NULL,            -- the subject, as it was at the time
    operation text NOT NULL,            -- the api operation, e.g. unit_move
    -- A unit path ("east/shanghai", "/" for the group) or kind:key for other
    -- objects ("staff:42"); "C" so that a path's subtree is a key range.
    target text COLLATE "C" NOT NULL,
    version bigint,                     -- organization version the change produced
    before jsonb,
    after jsonb,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_target ON branchline.audit (tenant_id, target, id);
CREATE INDEX audit_at ON branchline.audit (tenant_id, at);
CALL branchline.isolate('branchline.audit');
GRANT SELECT, INSERT ON branchline.audit TO branchline_app;

CREATE FUNCTION branchline.refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit rows cannot be changed' USING ERRCODE = 'BL007';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON branchline.audit
    FOR EACH STATEMENT EXECUTE FUNCTION branchline.refuse_audit_change();
