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

-- ---- errors ------------------------------------------------------------------

-- Raises the error the daemon turns into a protocol Status: SQLSTATE 'BL'
-- followed by the three-digit gRPC code, COLUMN = the request field the error
-- is about. Messages are for humans; they never carry personal data.
CREATE FUNCTION branchline.fail(p_status text, p_field text, p_message text,
                                VARIADIC p_args text[] DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    code int := CASE p_status
        WHEN 'INVALID_ARGUMENT' THEN 3
        WHEN 'NOT_FOUND' THEN 5
        WHEN 'ALREADY_EXISTS' THEN 6
        WHEN 'PERMISSION_DENIED' THEN 7
        WHEN 'FAILED_PRECONDITION' THEN 9
        WHEN 'UNAUTHENTICATED' THEN 16
    END;
BEGIN
    IF code IS NULL THEN
        RAISE EXCEPTION 'branchline.fail: unknown status %', p_status;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'BL' || lpad(code::text, 3, '0'),
                          MESSAGE = format(p_message, VARIADIC p_args),
                          COLUMN = coalesce(p_field, '');
END
$$;

-- ---- validation: each returns the checked value, errors name the field -----

CREATE FUNCTION branchline.required(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NULL THEN
        PERFORM branchline.fail('INVALID_ARGUMENT', p_field, '%s is required', p_field);
    END IF;
    RETURN p_value;
END
$$;

-- Codes of tenants, units and projects: lower-case slugs, so that paths of
-- codes need no quoting anywhere.
CREATE FUNCTION branchline.check_slug(p_value text, p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF branchline.required(p_value, p_field) !~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN
        PERFORM branchline.fail('INVALID_ARGUMENT', p_field,
            '%s must be a lower-case slug: 1 to 63 of a-z, 0-9, "_", "-", starting with a letter or digit',
            p_field);
    END IF;
    RETURN p_value;
END
$$;

-- Display names and free text: any UTF-8 (Chinese included), trimmed,
-- non-empty, no control characters.
CREATE FUNCTION branchline.check_text(p_value text, p_field text, p_max int DEFAULT 200)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v text := btrim(branchline.required(p_value, p_field));
BEGIN
    IF v = '' OR char_length(v) > p_max OR v ~ '[[:cntrl:]]' THEN
        PERFORM branchline.fail('INVALID_ARGUMENT', p_field,
            '%s must be 1 to %s characters without control characters', p_field, p_max::text);
    END IF;
    RETURN v;
END
$$;

-- The bounds of the numeric fields the API and organization documents
-- share (I4: what one accepts, the other does), and of those the API adds
-- to or sums: each well inside a 32-bit integer, so that no sum, total or
-- line number of them overflows the integer the wire carries.
CREATE FUNCTION branchline.limit_of(p_field text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_field WHEN 'planned' THEN 100000 WHEN 'capacity' THEN 1000000 WHEN 'cap' THEN 1000000
                        WHEN 'sla_minutes' THEN 525600 WHEN 'max_reallocations' THEN 100
                        WHEN 'first_line' THEN 1000000000 END
$$;

-- An integer within p_min .. limit_of(p_kind); NULL passes (not given).
CREATE FUNCTION branchline.check_range(p_value integer, p_field text, p_min integer, p_kind text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value NOT BETWEEN p_min AND branchline.limit_of(p_kind) THEN
        PERFORM branchline.fail('INVALID_ARGUMENT', p_field, '%s must be %s to %s', p_field, p_min::text,
                                branchline.limit_of(p_kind)::text);
    END IF;
    RETURN p_value;
END
$$;

CREATE FUNCTION branchline.check_choice(p_value text, p_field text, p_allowed text[])
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT branchline.required(p_value, p_field) = ANY (p_allowed) THEN
        PERFORM branchline.fail('INVALID_ARGUMENT', p_field, '%s must be one of %s',
                                p_field, array_to_string(p_allowed, ', '));
    END IF;
    RETURN p_value;
END
$$;

-- Dates are exactly YYYY-MM-DD and must exist (no 2026-02-30).
CREATE FUNCTION branchline.parse_date(p_value text, p_field text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        BEGIN
            RETURN p_value::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            NULL;
        END;
    END IF;
    PERFORM branchline.fail('INVALID_ARGUMENT', p_field, '%s must be a date YYYY-MM-DD', p_field);
END
$$;

-- An instant: a date (midnight in the tenant's time zone) or an ISO-8601 time
-- with an explicit zone ("2026-11-22T07:40:00Z").
CREATE FUNCTION branchline.parse_instant(p_value text, p_field text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN branchline.parse_date(p_value, p_field)::timestamp AT TIME ZONE branchline.tenant_timezone();
    END IF;
    IF p_value ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$' THEN
        BEGIN
            RETURN p_value::timestamptz;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            NULL;
        END;
    END IF;
    PERFORM branchline.fail('INVALID_ARGUMENT', p_field,
        '%s must be a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SSZ', p_field);
END
$$;

-- ---- formatting for the wire --------------------------------------------------

CREATE FUNCTION branchline.iso(p timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE FUNCTION branchline.ymd(p date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(p, 'YYYY-MM-DD') $$;

-- plpgsql rather than SQL: where a SQL function is not inlined, it is parsed
-- and planned again on every call (with row-level security, planning is
-- most of its cost), while plpgsql keeps its plans for the session; every
-- lead allocation needs the tenant's day (013).
CREATE FUNCTION branchline.tenant_timezone() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    RETURN coalesce((SELECT timezone FROM tenants WHERE id = current_tenant()), 'UTC');
END
$$;

-- "Today" is the tenant's calendar day, not the server's.
CREATE FUNCTION branchline.tenant_today() RETURNS date
LANGUAGE sql STABLE
AS $$ SELECT (now() AT TIME ZONE branchline.tenant_timezone())::date $$;

-- plpgsql for the same reason: every api call starts here, and a SECURITY
-- DEFINER SQL function is never inlined.
CREATE FUNCTION branchline.principal_by_subject(p_subject text)
RETURNS TABLE (id bigint, tenant_id bigint, role text, scope_unit_id bigint, enabled boolean,
               created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT p.id, p.tenant_id, p.role, p.scope_unit_id, p.enabled, p.created_at
                   FROM branchline.principals p WHERE p.subject = p_subject;
END
$$;
REVOKE ALL ON FUNCTION branchline.principal_by_subject(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION branchline.principal_by_subject(text) TO branchline_app;

-- Every organization change starts here, before it reads what it changes.
-- The UPDATE's row lock, held until commit, serializes the changes of one
-- tenant: two clients moving units at once cannot interleave and corrupt the
-- tree, and each change sees the committed result of the one before (every
-- statement of a plpgsql function takes a fresh snapshot). The new version
-- lets reorg_apply refuse a plan made against an older organization.
CREATE FUNCTION branchline.begin_change() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE branchline.org_state SET version = version + 1
     WHERE tenant_id = branchline.current_tenant()
    RETURNING version INTO v;
    IF v IS NULL THEN
        PERFORM branchline.fail('FAILED_PRECONDITION', NULL, 'this principal acts in no tenant');
    END IF;
    PERFORM set_config('branchline.version', v::text, true);
    -- Daemons cache organization reads per tenant; this tells every one of
    -- them, at commit, that the tenant's cached answers are stale.
    PERFORM pg_notify('branchline_org', branchline.current_tenant()::text);
    RETURN v;
END
$$;

CREATE FUNCTION branchline.org_version() RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT version FROM branchline.org_state WHERE tenant_id = branchline.current_tenant() $$;

-- One audit row for the change in progress; auth() and begin_change() have
-- put the principal, operation and version into the transaction's settings.
CREATE FUNCTION branchline.audit(p_target text, p_before jsonb, p_after jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO branchline.audit (tenant_id, principal_id, principal, operation, target,
                                  version, before, after, unit_id)
    VALUES (branchline.current_tenant(),
            nullif(current_setting('branchline.principal', true), '')::bigint,
            current_setting('branchline.subject', true),
            current_setting('branchline.operation', true),
            p_target,
            nullif(current_setting('branchline.version', true), '')::bigint,
            p_before, p_after,
            -- the unit at the target path, if it is one (audit_list finds it by id)
            (SELECT u.id FROM branchline.units u
              WHERE u.tenant_id = branchline.current_tenant()
                AND u.path = CASE WHEN p_target = '/' THEN '/' ELSE '/' || p_target || '/' END))
$$;
