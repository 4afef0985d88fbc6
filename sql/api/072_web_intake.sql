-- Web intake: one submission to POST /v1/intake/{token}, in one call and one
-- transaction. No certificate stands behind it: the token resolves the
-- source, and the source the tenant, so the tenant still never comes from
-- what the request says. The lead then goes through the same check_lead and
-- intake() as lead_add (validation, idempotency by external id, duplicate
-- contacts, allocation, watch events, SLA).
--
-- The daemon has decoded the body into p_fields (a JSON object of strings)
-- and rejected what is not UTF-8, too big or of another content type; it
-- answers in HTTP what this function returns or raises.

CREATE TYPE api.web_intake_result AS (
    outcome text,       -- created, repeat (the external id existed) or spam (honeypot: nothing created)
    source text, reference text, status text, return_url text, cors_origin text,
    tenant text);       -- the source's tenant (its code): with source, the daemon's metrics label

-- The source a token names, in any tenant: run as the owner (see the
-- owner_lookup policy of 070). current: the token is the source's present
-- one, not the rotated one.
CREATE FUNCTION branchline.source_by_token(p_hash bytea)
RETURNS TABLE (tenant_id bigint, id bigint, current boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT s.tenant_id, s.id, s.token_hash = p_hash FROM branchline.channel_sources s
                  WHERE s.token_hash = p_hash OR s.old_token_hash = p_hash;
END
$$;

-- RFC 2104 over the built-in sha256(), so that no extension is needed.
CREATE FUNCTION branchline.hmac_sha256(p_key bytea, p_message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    k bytea := CASE WHEN length(p_key) > 64 THEN sha256(p_key) ELSE p_key END;
    ipad bytea;
    opad bytea;
BEGIN
    k := k || decode(repeat('00', 64 - length(k)), 'hex');
    ipad := k;
    opad := k;
    FOR i IN 0 .. 63 LOOP
        ipad := set_byte(ipad, i, get_byte(k, i) # 54);
        opad := set_byte(opad, i, get_byte(k, i) # 92);
    END LOOP;
    RETURN sha256(opad || sha256(ipad || p_message));
END
$$;

-- Compares every byte whatever the first difference, so that the time
-- taken tells an attacker nothing about how much of a signature was right.
CREATE FUNCTION branchline.same_bytes(a bytea, b bytea) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    diff integer := length(a) # length(b);
BEGIN
    FOR i IN 0 .. least(length(a), length(b)) - 1 LOOP
        diff := diff | (get_byte(a, i) # get_byte(b, i));
    END LOOP;
    RETURN diff = 0;
END
$$;

-- p_signature is the X-Branchline-Signature header ("sha256=" and 64 hex
-- digits) over p_signed (the timestamp header, ".", the body).
CREATE FUNCTION branchline.check_signature(s branchline.channel_sources, p_signature text, p_signed text)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF s.hmac_secret IS NULL THEN
        RETURN;
    END IF;
    IF p_signature IS NULL OR p_signature !~ '^sha256=[0-9a-fA-F]{64}$' OR p_signed IS NULL
       OR NOT same_bytes(decode(substr(p_signature, 8), 'hex'),
                         hmac_sha256(convert_to(s.hmac_secret, 'UTF8'), convert_to(p_signed, 'UTF8'))) THEN
        PERFORM fail('UNAUTHENTICATED', 'X-Branchline-Signature',
                     'this source accepts signed requests only: X-Branchline-Signature must be sha256= and '
                     'the hex HMAC-SHA256 of the timestamp, "." and the body with the source''s secret');
    END IF;
END
$$;

-- The value of a lead field: the form field mapped onto it, else the form
-- field of the same name. Empty is not given.
CREATE FUNCTION branchline.mapped(s branchline.channel_sources, p_fields jsonb, p_lead_field text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(coalesce(
        (SELECT p_fields ->> m.key FROM jsonb_each_text(s.field_map) m WHERE m.value = p_lead_field
          ORDER BY m.key LIMIT 1),
        p_fields ->> p_lead_field)), '')
$$;

-- The form field a lead field came from, for error messages.
CREATE FUNCTION branchline.form_field(s branchline.channel_sources, p_lead_field text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((SELECT m.key FROM jsonb_each_text(s.field_map) m WHERE m.value = p_lead_field
                      ORDER BY m.key LIMIT 1), p_lead_field)
$$;

-- Fields that are neither mapped nor lead fields, "key: value" a line,
-- after the note; control fields (a leading "_") are left out.
CREATE FUNCTION branchline.note_with_extras(s branchline.channel_sources, p_fields jsonb, p_note text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(concat_ws(E'\n', p_note,
        (SELECT string_agg(f.key || ': ' || f.value, E'\n' ORDER BY f.key)
           FROM jsonb_each_text(p_fields) f
          WHERE f.key NOT LIKE '\_%' AND NOT s.field_map ? f.key
            AND NOT f.key = ANY (branchline.source_lead_fields()) AND btrim(f.value) <> '')), '')
$$;

-- The external id: the Idempotency-Key, else the mapped field, else one
-- derived from the source and the submission's fields within a 5-minute
-- window, so that a form sent twice in a row makes one lead. A submission
-- at the start of a window also matches the same one made in the window
-- before (a double click across the boundary).
CREATE FUNCTION branchline.web_external_id(s branchline.channel_sources, p_fields jsonb, p_key text,
                                           p_received_at bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    digest text := left(encode(sha256(convert_to(s.id || ':' || (p_fields - '_return_url')::text, 'UTF8')), 'hex'), 24);
    window_no bigint := p_received_at / 300;
    earlier text := 'web-' || digest || '-' || (window_no - 1);
BEGIN
    IF p_key IS NOT NULL THEN
        RETURN p_key;
    ELSIF mapped(s, p_fields, 'external_id') IS NOT NULL THEN
        RETURN mapped(s, p_fields, 'external_id');
    END IF;
    IF p_received_at % 300 < 60
       AND EXISTS (SELECT FROM leads WHERE tenant_id = s.tenant_id AND external_id = earlier) THEN
        RETURN earlier;
    END IF;
    RETURN 'web-' || digest || '-' || window_no;
END
$$;

-- Resolves the token and pins the transaction to the source's tenant.
CREATE FUNCTION branchline.web_source(p_token text, p_received_at timestamptz) RETURNS branchline.channel_sources
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    t record;
    s channel_sources;
BEGIN
    SELECT * INTO t FROM source_by_token(source_token_hash(coalesce(p_token, '')));
    IF NOT FOUND THEN
        PERFORM fail('NOT_FOUND', 'token', 'no source has this token');
    END IF;
    PERFORM set_config('branchline.tenant', t.tenant_id::text, true),
            set_config('branchline.role', '', true),
            set_config('branchline.principal', '', true),
            set_config('branchline.operation', 'web_intake', true),
            set_config('branchline.version', '', true);
    SELECT * INTO s FROM channel_sources WHERE tenant_id = t.tenant_id AND id = t.id;
    PERFORM set_config('branchline.subject', 'source:' || s.name, true);
    IF NOT s.enabled THEN
        PERFORM fail('UNAUTHENTICATED', 'token', 'source %s is disabled', s.name);
    ELSIF NOT t.current AND s.old_token_until <= p_received_at THEN
        PERFORM fail('UNAUTHENTICATED', 'token', 'this token of source %s was replaced and its grace period is over',
                     s.name);
    END IF;
    RETURN s;
END
$$;

-- One submission. p_received_at: when the daemon received it (seconds since
-- the epoch; a submission replayed from the spool keeps its own). p_spam:
-- the honeypot field was filled in: the token and return URL are checked
-- and the answer looks like a success, but nothing is created.
CREATE FUNCTION api.web_intake(p_token text, p_fields jsonb, p_idempotency_key text, p_received_at bigint,
                               p_signature text, p_signed text, p_return_url text, p_origin text, p_spam boolean)
RETURNS SETOF api.web_intake_result LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    s channel_sources := web_source(p_token, to_timestamp(p_received_at));
    origin units;
    c caller;
    r lead_input;
    p pool;
    res intake_result;
    back text := coalesce(p_return_url, s.return_urls[1], '');
    lead leads;
    st text;
    col text;
    msg text;
BEGIN
    PERFORM check_signature(s, p_signature, p_signed);
    IF p_return_url IS NOT NULL AND NOT p_return_url = ANY (s.return_urls) THEN
        PERFORM fail('INVALID_ARGUMENT', '_return_url', 'return URL %s is not one of source %s''s return URLs',
                     left(p_return_url, 200), s.name);
    END IF;
    IF p_spam THEN
        RETURN NEXT ROW('spam', s.name, '', 'received', back,
                        CASE WHEN p_origin = ANY (s.cors_origins) THEN p_origin ELSE '' END,
                        (SELECT code FROM tenants WHERE id = s.tenant_id))::api.web_intake_result;
        RETURN;
    END IF;
    SELECT * INTO origin FROM units WHERE tenant_id = s.tenant_id AND id = s.origin_id;
    c := ROW(NULL, 'source:' || s.name, 'admin', s.tenant_id, s.created_at, origin.id, origin.path, origin.path_end);
    PERFORM guard_units();
    BEGIN
        r := check_lead(c, check_external_id(web_external_id(s, p_fields, p_idempotency_key, p_received_at),
                                             'external_id'),
                        coalesce(mapped(s, p_fields, 'project'), (SELECT code FROM projects
                                                                  WHERE tenant_id = s.tenant_id AND id = s.project_id)),
                        s.channel, show_path(origin.path), mapped(s, p_fields, 'name'), mapped(s, p_fields, 'phone'),
                        mapped(s, p_fields, 'email'),
                        note_with_extras(s, p_fields, mapped(s, p_fields, 'note')));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, msg = MESSAGE_TEXT;
        IF st NOT LIKE 'BL%' THEN
            RAISE;
        END IF;
        -- name the field as the form calls it
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg,
              COLUMN = CASE WHEN col = 'external_id' AND p_idempotency_key IS NOT NULL THEN 'Idempotency-Key'
                            ELSE form_field(s, col) END;
    END;
    PERFORM lock_keys(pool_lock_keys(ARRAY[r.holder_id], ARRAY[r.project_id]));
    PERFORM lock_contacts(ARRAY[r]);
    IF r.holder_id IS NOT NULL THEN
        p := load_pool(r.holder_id, r.project_id, now());
    END IF;
    res := intake(r, p, 'source:' || s.name, now());
    IF res.created AND res.pool IS NOT NULL THEN
        PERFORM save_pool(res.pool);
    END IF;
    SELECT * INTO lead FROM leads WHERE tenant_id = s.tenant_id AND id = res.lead_id;
    RETURN NEXT ROW(CASE WHEN res.created THEN 'created' ELSE 'repeat' END, s.name, lead.external_id, lead.status,
                    back, CASE WHEN p_origin = ANY (s.cors_origins) THEN p_origin ELSE '' END,
                    (SELECT code FROM tenants WHERE id = s.tenant_id))::api.web_intake_result;
END
$$;
