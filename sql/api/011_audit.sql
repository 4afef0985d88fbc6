-- Reading the audit trail (audit_list), and the function privileges of the
-- whole organization schema.

CREATE TYPE api.audit_entry AS (
    id bigint, at text, principal text, operation text, target text, before_json text, after_json text);

-- Newest first. since: a date or a time (see parse_instant); target: a unit
-- path (its subtree's entries too, found by unit id as well, so that
-- entries recorded under a unit's earlier path count) or an object key
-- such as staff:42;
-- principal: a subject; limit: default 100, at most 1000. A unit_admin sees
-- the entries whose target is a unit of its subtree.
CREATE FUNCTION api.audit_list(p_subject text, p_since text, p_target text, p_principal text, p_limit integer)
RETURNS SETOF api.audit_entry LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'audit_list', '{admin,unit_admin}');
    since timestamptz := parse_instant(p_since, 'since');
    target_path text := show_path(path_key(p_target));
    scope text := CASE WHEN c.role = 'unit_admin' AND c.scope_path <> '/' THEN show_path(c.scope_path) END;
    -- the units of the target's subtree now, by id
    unit_ids bigint[] := (SELECT array_agg(s.id) FROM units t JOIN units s ON s.tenant_id = t.tenant_id
                                                                       AND s.path >= t.path AND s.path < t.path_end
                           WHERE t.tenant_id = c.tenant_id AND p_target IS NOT NULL AND t.path = path_key(p_target));
BEGIN
    IF p_limit NOT BETWEEN 0 AND 1000 THEN
        PERFORM fail('INVALID_ARGUMENT', 'limit', 'limit must be 1 to 1000 (0: the default, 100)');
    END IF;
    RETURN QUERY
    SELECT a.id, iso(a.at), a.principal, a.operation, a.target::text,
           coalesce(a.before::text, ''), coalesce(a.after::text, '')
      FROM audit a
     WHERE (since IS NULL OR a.at >= since)
       AND (p_target IS NULL OR a.target = target_path
            OR (a.target >= target_path || '/' AND a.target < target_path || '0')
            OR a.unit_id = ANY (unit_ids))
       AND (p_principal IS NULL OR a.principal = p_principal)
       AND (scope IS NULL OR a.target = scope OR (a.target >= scope || '/' AND a.target < scope || '0'))
     ORDER BY a.id DESC
     LIMIT coalesce(nullif(p_limit, 0), 100);
END
$$;
