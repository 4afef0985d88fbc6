-- Channel source management: source_add, source_list, source_rotate,
-- source_disable (admin, and unit_admin for sources whose origin lies in its
-- subtree). Tokens and HMAC secrets appear in the answer to the call that
-- makes them and never again.

CREATE TYPE api.source AS (
    name text, channel text, project text, origin_path text, return_urls text, cors_origins text,
    field_map text, hmac boolean, enabled boolean, token text, hmac_secret text,
    old_token_until text, created_at text);

-- The lead fields a form field can be mapped onto.
CREATE FUNCTION branchline.source_lead_fields() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{name,phone,email,note,project,external_id}'::text[] $$;

-- Three version-4 UUIDs without dashes: 96 hex digits holding 366 random bits
-- from the server's strong generator (gen_random_uuid, no extension needed).
CREATE FUNCTION branchline.random_hex() RETURNS text LANGUAGE sql VOLATILE
AS $$ SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', '') $$;

CREATE FUNCTION branchline.source_token_hash(p_token text) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sha256(convert_to(p_token, 'UTF8')) $$;

-- A JSON list of strings from the request (repeated field), each checked
-- by p_check's rule: 'url' (absolute http(s) URL) or 'origin' (scheme,
-- host and port only, as browsers send in Origin).
CREATE FUNCTION branchline.check_url_list(p_list jsonb, p_field text, p_kind text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    out text[] := '{}';
    v text;
    pattern text := CASE p_kind WHEN 'url' THEN '^https?://[^/?#[:space:][:cntrl:]]+(/[^[:space:][:cntrl:]]*)?$'
                                ELSE '^https?://[^/?#[:space:][:cntrl:]]+$' END;
BEGIN
    FOR v IN SELECT jsonb_array_elements_text(coalesce(p_list, '[]')) LOOP
        IF char_length(v) > 2000 OR v !~ pattern THEN
            PERFORM fail('INVALID_ARGUMENT', p_field, '%s must be %s (got %s)', p_field,
                         CASE p_kind WHEN 'url' THEN 'absolute http:// or https:// URLs'
                                     ELSE 'origins such as https://www.example.com (no path)' END,
                         left(v, 80));
        END IF;
        out := out || v;
    END LOOP;
    RETURN out;
END
$$;

-- "form_field=lead_field" items as one JSON object.
CREATE FUNCTION branchline.check_field_map(p_list jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    out jsonb := '{}';
    v text;
    form_field text;
    lead_field text;
BEGIN
    FOR v IN SELECT jsonb_array_elements_text(coalesce(p_list, '[]')) LOOP
        form_field := split_part(v, '=', 1);
        lead_field := substr(v, char_length(form_field) + 2);
        IF form_field !~ '^[A-Za-z0-9_.\[\]-]{1,64}$' OR NOT lead_field = ANY (source_lead_fields()) THEN
            PERFORM fail('INVALID_ARGUMENT', 'map', 'map items are FORM_FIELD=LEAD_FIELD, the form field 1 to 64 '
                         'letters, digits or _ . - [ ], the lead field one of %s (got %s)',
                         array_to_string(source_lead_fields(), ', '), left(v, 80));
        END IF;
        out := out || jsonb_build_object(form_field, lead_field);
    END LOOP;
    RETURN out;
END
$$;

CREATE FUNCTION branchline.source_wire(s branchline.channel_sources, p_token text, p_secret text) RETURNS api.source
LANGUAGE sql STABLE AS $$
    SELECT s.name, s.channel, coalesce(p.code, ''), branchline.show_path(u.path),
           array_to_string(s.return_urls, ' '), array_to_string(s.cors_origins, ' '),
           coalesce((SELECT string_agg(k || '=' || v, ' ' ORDER BY k) FROM jsonb_each_text(s.field_map) x(k, v)), ''),
           s.hmac_secret IS NOT NULL, s.enabled, coalesce(p_token, ''), coalesce(p_secret, ''),
           coalesce(branchline.iso(s.old_token_until), ''), branchline.iso(s.created_at)
      FROM branchline.units u LEFT JOIN branchline.projects p ON p.tenant_id = u.tenant_id AND p.id = s.project_id
     WHERE u.tenant_id = s.tenant_id AND u.id = s.origin_id
$$;

-- The source a management call names, locked, if its origin is in scope.
CREATE FUNCTION branchline.source_at(c branchline.caller, p_name text) RETURNS branchline.channel_sources
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    s channel_sources;
BEGIN
    SELECT * INTO s FROM channel_sources WHERE tenant_id = current_tenant() AND name = required(p_name, 'name')
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'name', 'source %s does not exist', p_name);
    END IF;
    PERFORM check_scope(c, (SELECT u FROM units u WHERE u.tenant_id = s.tenant_id AND u.id = s.origin_id), 'name');
    RETURN s;
END
$$;

-- Audit rows never carry the token or the secret.
CREATE FUNCTION branchline.source_audited(s branchline.channel_sources) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(branchline.source_wire(s, NULL, NULL)) - 'token' - 'hmac_secret'
$$;

-- A new source; the answer carries its token (and with hmac its secret),
-- the only time they are shown.
CREATE FUNCTION api.source_add(p_subject text, p_name text, p_channel text, p_project text, p_origin text,
                               p_return_urls jsonb, p_cors_origins jsonb, p_map jsonb, p_hmac boolean)
RETURNS SETOF api.source LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'source_add', '{admin,unit_admin}');
    origin units := scoped_unit(c, p_origin, 'origin');
    token text := 'bls_' || random_hex();
    secret text := CASE WHEN p_hmac THEN random_hex() END;
    s channel_sources;
BEGIN
    PERFORM check_slug(p_name, 'name');
    PERFORM check_choice(p_channel, 'channel', lead_channels());
    IF EXISTS (SELECT FROM channel_sources WHERE tenant_id = c.tenant_id AND name = p_name) THEN
        PERFORM fail('ALREADY_EXISTS', 'name', 'source %s already exists', p_name);
    END IF;
    INSERT INTO channel_sources (tenant_id, name, channel, project_id, origin_id, return_urls, cors_origins,
                                 field_map, token_hash, hmac_secret)
    VALUES (c.tenant_id, p_name, p_channel,
            CASE WHEN p_project IS NOT NULL THEN (project_at(p_project, 'project')).id END, origin.id,
            check_url_list(p_return_urls, 'return_urls', 'url'),
            check_url_list(p_cors_origins, 'cors_origins', 'origin'),
            check_field_map(p_map), source_token_hash(token), secret)
    RETURNING * INTO s;
    PERFORM audit('source:' || p_name, NULL, source_audited(s));
    RETURN NEXT source_wire(s, token, secret);
END
$$;

-- Sources whose origin lies in the caller's scope, by name; no tokens.
CREATE FUNCTION api.source_list(p_subject text)
RETURNS SETOF api.source LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'source_list', '{admin,unit_admin}');
BEGIN
    RETURN QUERY
    SELECT (source_wire(s, NULL, NULL)).* FROM channel_sources s JOIN units u ON u.tenant_id = s.tenant_id AND u.id = s.origin_id
     WHERE s.tenant_id = c.tenant_id AND (c.role = 'admin' OR covers(c, u.path))
     ORDER BY s.name;
END
$$;

-- A new token; the old one keeps working for grace_minutes (default 60,
-- 0: ends now, at most a week), so that pages can be updated meanwhile.
-- The end is a whole second, as the daemon's receipt time of a submission
-- is (web_source compares the two): a fractional end let a token whose
-- grace of 0 was over work until the end of that second.
CREATE FUNCTION api.source_rotate(p_subject text, p_name text, p_grace_minutes integer)
RETURNS SETOF api.source LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'source_rotate', '{admin,unit_admin}');
    s channel_sources := source_at(c, p_name);
    before jsonb := source_audited(s);
    token text := 'bls_' || random_hex();
    grace integer := coalesce(p_grace_minutes, 60);
BEGIN
    IF grace NOT BETWEEN 0 AND 10080 THEN
        PERFORM fail('INVALID_ARGUMENT', 'grace_minutes', 'grace_minutes must be 0 to 10080 (a week)');
    END IF;
    UPDATE channel_sources SET old_token_hash = token_hash, old_token_until = date_trunc('second', now()) + make_interval(mins => grace),
                               token_hash = source_token_hash(token)
     WHERE tenant_id = s.tenant_id AND id = s.id
    RETURNING * INTO s;
    PERFORM audit('source:' || s.name, before, source_audited(s));
    RETURN NEXT source_wire(s, token, NULL);
END
$$;

-- A disabled source refuses every submission (401), old token included.
CREATE FUNCTION api.source_disable(p_subject text, p_name text)
RETURNS SETOF api.source LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'source_disable', '{admin,unit_admin}');
    s channel_sources := source_at(c, p_name);
    before jsonb := source_audited(s);
BEGIN
    UPDATE channel_sources SET enabled = false WHERE tenant_id = s.tenant_id AND id = s.id RETURNING * INTO s;
    PERFORM audit('source:' || s.name, before, source_audited(s));
    RETURN NEXT source_wire(s, NULL, NULL);
END
$$;
