-- Declarative organization documents, checking (030_org_export.sql has the
-- format): reading a document's values with their place, refusing a wrong
-- document whole before anything changes, and matching its units to the
-- existing ones.

-- ---- reading a document: locations, shapes, types --------------------------------------

-- "units[3].kind": p_base, the 1-based ordinality as a 0-based index, a key.
CREATE FUNCTION branchline.doc_loc(p_base text, p_i bigint, p_key text DEFAULT NULL) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_base || '[' || (p_i - 1) || ']' || coalesce('.' || p_key, '')
$$;

CREATE FUNCTION branchline.doc_key(p_loc text, p_key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN p_loc = '' THEN p_key ELSE p_loc || '.' || p_key END $$;

-- path_key for an optional path: NULL stays NULL (a policy without `at`
-- is the tenant's, not the group's).
CREATE FUNCTION branchline.doc_path(p_path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN p_path IS NOT NULL THEN branchline.path_key(p_path) END $$;

-- Appends a note to the list of notes of key in p_notes ({key: [notes]}).
CREATE FUNCTION branchline.doc_note(p_notes jsonb, p_key text, p_note text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_note IS NULL THEN p_notes
                ELSE jsonb_set(p_notes, ARRAY[p_key], coalesce(p_notes->p_key, '[]') || to_jsonb(p_note)) END
$$;

-- An object with only the keys p_keys and every key of p_required.
CREATE FUNCTION branchline.doc_object(p_value jsonb, p_loc text, p_keys text[], p_required text[] DEFAULT '{}')
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    k text;
BEGIN
    IF jsonb_typeof(p_value) IS DISTINCT FROM 'object' THEN
        PERFORM fail('INVALID_ARGUMENT', p_loc, '%s must be a mapping with the keys %s',
                     CASE WHEN p_loc = '' THEN 'the document' ELSE p_loc END, array_to_string(p_keys, ', '));
    END IF;
    FOR k IN SELECT x FROM jsonb_object_keys(p_value) x ORDER BY x LOOP
        IF NOT k = ANY (p_keys) THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(p_loc, k), '%s is not a known key (known: %s)',
                         doc_key(p_loc, k), array_to_string(p_keys, ', '));
        END IF;
    END LOOP;
    FOREACH k IN ARRAY p_required LOOP
        IF coalesce(jsonb_typeof(p_value->k), 'null') = 'null' THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(p_loc, k), '%s is required', doc_key(p_loc, k));
        END IF;
    END LOOP;
    RETURN p_value;
END
$$;

-- A scalar as text (numbers too: a YAML name "2024" is a number); NULL when
-- absent or null.
CREATE FUNCTION branchline.doc_text(p_obj jsonb, p_key text, p_loc text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    CASE coalesce(jsonb_typeof(p_obj->p_key), 'null')
    WHEN 'string' THEN RETURN p_obj->>p_key;
    WHEN 'number' THEN RETURN p_obj->>p_key;
    WHEN 'null' THEN RETURN NULL;
    ELSE
        PERFORM fail('INVALID_ARGUMENT', doc_key(p_loc, p_key), '%s must be text', doc_key(p_loc, p_key));
    END CASE;
END
$$;

CREATE FUNCTION branchline.doc_int(p_obj jsonb, p_key text, p_loc text, p_min integer, p_max integer)
RETURNS integer LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    v jsonb := p_obj->p_key;
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'number' OR v::text !~ '^-?\d+$' OR v::numeric NOT BETWEEN p_min AND p_max THEN
        PERFORM fail('INVALID_ARGUMENT', doc_key(p_loc, p_key), '%s must be a whole number from %s to %s',
                     doc_key(p_loc, p_key), p_min::text, p_max::text);
    END IF;
    RETURN v::integer;
END
$$;

-- A list; [] when absent.
CREATE FUNCTION branchline.doc_list(p_obj jsonb, p_key text, p_loc text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
BEGIN
    IF coalesce(jsonb_typeof(p_obj->p_key), 'null') = 'null' THEN
        RETURN '[]';
    END IF;
    IF jsonb_typeof(p_obj->p_key) <> 'array' THEN
        PERFORM fail('INVALID_ARGUMENT', doc_key(p_loc, p_key), '%s must be a list', doc_key(p_loc, p_key));
    END IF;
    RETURN p_obj->p_key;
END
$$;

-- A supervisor reference as {unit, function, name} (the department's own
-- unit and function for a bare name); NULL when there is none.
CREATE FUNCTION branchline.doc_supervisor_ref(p_person jsonb, p_dept jsonb, p_loc text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    loc text := doc_key(p_loc, 'supervisor');
    s jsonb := p_person->'supervisor';
BEGIN
    IF s IS NULL OR s = 'null' THEN
        RETURN NULL;
    ELSIF jsonb_typeof(s) IN ('string', 'number') THEN
        RETURN jsonb_build_object('unit', path_key(p_dept->>'unit'), 'function', p_dept->>'function',
                                  'name', btrim(p_person->>'supervisor'));
    END IF;
    PERFORM doc_object(s, loc, '{unit,function,name}', '{unit,function,name}');
    RETURN jsonb_build_object('unit', path_key(doc_text(s, 'unit', loc)),
                              'function', check_choice(doc_text(s, 'function', loc), doc_key(loc, 'function'), functions()),
                              'name', btrim(doc_text(s, 'name', loc)));
END
$$;

-- ---- checking a document before anything changes -----------------------------------------

CREATE FUNCTION branchline.doc_check_units(p_doc jsonb, p_scope text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    u jsonb;
    i bigint;
    loc text;
    key text;
    seen jsonb := '{}';
    item jsonb;
    k bigint;
    projects jsonb;
BEGIN
    FOR u, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) WITH ORDINALITY LOOP
        loc := doc_loc('units', i);
        PERFORM doc_object(u, loc, '{path,kind,name,status,opened_on,projects,cap,support}', '{path,kind,name}');
        key := check_path(doc_text(u, 'path', loc), doc_key(loc, 'path'));
        IF seen ? key THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'path'), 'duplicate: %s has the same path %s',
                         seen->>key, show_path(key));
        END IF;
        seen := seen || jsonb_build_object(key, loc);
        IF NOT (key >= p_scope AND key < left(p_scope, -1) || '0') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'path'), '%s is outside the document''s scope %s',
                         show_path(key), show_path(p_scope));
        END IF;
        IF key <> '/' THEN
            PERFORM check_slug(substring(key FROM '([^/]+)/$'), doc_key(loc, 'path'));
        END IF;
        PERFORM check_choice(doc_text(u, 'kind', loc), doc_key(loc, 'kind'), unit_kinds()),
                check_text(doc_text(u, 'name', loc), doc_key(loc, 'name')),
                parse_date(doc_text(u, 'opened_on', loc), doc_key(loc, 'opened_on'));
        IF (key = '/') <> (u->>'kind' = 'group') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'kind'), 'the group is the unit at path /, and only it');
        END IF;
        IF u ? 'status' THEN
            PERFORM check_choice(doc_text(u, 'status', loc), doc_key(loc, 'status'), unit_statuses());
        END IF;
        IF u->>'kind' <> 'branch' AND (u ? 'projects' OR u ? 'cap' OR u ? 'support') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'kind'),
                         'projects, cap and support are for branches; %s is a %s', show_path(key), u->>'kind');
        END IF;
        projects := '{}';
        FOR item, k IN SELECT * FROM jsonb_array_elements(doc_list(u, 'projects', loc)) WITH ORDINALITY LOOP
            PERFORM doc_object(item, doc_loc(loc || '.projects', k), '{project,capacity}', '{project}'),
                    doc_int(item, 'capacity', doc_loc(loc || '.projects', k), 1, limit_of('capacity'));
            IF projects ? (item->>'project') THEN
                PERFORM fail('INVALID_ARGUMENT', doc_loc(loc || '.projects', k, 'project'),
                             'duplicate: project %s is listed twice', item->>'project');
            END IF;
            projects := projects || jsonb_build_object(item->>'project', k);
        END LOOP;
        IF u ? 'cap' AND u->'cap' <> 'null' THEN
            PERFORM doc_object(u->'cap', doc_key(loc, 'cap'), '{per_day,per_week}'),
                    doc_int(u->'cap', 'per_day', doc_key(loc, 'cap'), 0, limit_of('cap')),
                    doc_int(u->'cap', 'per_week', doc_key(loc, 'cap'), 0, limit_of('cap'));
        END IF;
        IF u ? 'support' AND u->'support' <> 'null' THEN
            PERFORM doc_object(u->'support', doc_key(loc, 'support'), '{reason,until}', '{reason}'),
                    check_text(doc_text(u->'support', 'reason', doc_key(loc, 'support')), doc_key(loc, 'support.reason'), 500),
                    parse_date(doc_text(u->'support', 'until', doc_key(loc, 'support')), doc_key(loc, 'support.until'));
        END IF;
    END LOOP;
    -- Parents: in the document, or in the tenant.
    FOR u, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) WITH ORDINALITY LOOP
        key := path_key(u->>'path');
        IF key <> '/' AND NOT seen ? parent_key(key)
           AND NOT EXISTS (SELECT FROM units WHERE tenant_id = current_tenant() AND path = parent_key(key)) THEN
            PERFORM fail('INVALID_ARGUMENT', doc_loc('units', i, 'path'),
                         'unknown parent: %s is neither in the document nor in the tenant', show_path(parent_key(key)));
        END IF;
    END LOOP;
END
$$;

-- A person as change rows and matching name them: "east/shanghai:sales:王磊"
-- (unit key, function, name; a path or function holds no ':').
CREATE FUNCTION branchline.doc_person_key(p_unit_key text, p_function text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT branchline.show_path(p_unit_key) || ':' || p_function || ':' || p_name $$;

-- People of the document, flattened: department and person ordinals, the
-- department's unit key and function, the name, the supervisor reference.
CREATE FUNCTION branchline.doc_people(p_doc jsonb)
RETURNS TABLE (i bigint, j bigint, unit_key text, function text, name text, sup jsonb)
LANGUAGE sql IMMUTABLE AS $$
    SELECT d.i, s.j, branchline.path_key(d.v->>'unit'), d.v->>'function', btrim(s.v->>'name'),
           branchline.doc_supervisor_ref(s.v, d.v, branchline.doc_loc('departments[' || (d.i - 1) || '].staff', s.j))
      FROM jsonb_array_elements(p_doc->'departments') WITH ORDINALITY AS d (v, i)
     CROSS JOIN LATERAL jsonb_array_elements(coalesce(nullif(d.v->'staff', 'null'), '[]')) WITH ORDINALITY AS s (v, j)
$$;

CREATE FUNCTION branchline.doc_check_departments(p_doc jsonb, p_scope text, p_prune boolean) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    d jsonb;
    i bigint;
    loc text;
    key text;
    seen jsonb := '{}';
    names jsonb;
    unit_keys text[] := ARRAY(SELECT path_key(u->>'path') FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) u);
    s jsonb;
    j bigint;
    r text;
    p record;
    sups jsonb;
    start text;
    cur text;
    chain text[];
BEGIN
    FOR d, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'departments', '')) WITH ORDINALITY LOOP
        loc := doc_loc('departments', i);
        PERFORM doc_object(d, loc, '{unit,function,name,positions,staff}', '{unit,function}');
        key := check_path(doc_text(d, 'unit', loc), doc_key(loc, 'unit'));
        PERFORM check_choice(doc_text(d, 'function', loc), doc_key(loc, 'function'), functions());
        IF d ? 'name' THEN
            PERFORM check_text(doc_text(d, 'name', loc), doc_key(loc, 'name'));
        END IF;
        IF NOT (key >= p_scope AND key < left(p_scope, -1) || '0') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'unit'), '%s is outside the document''s scope %s',
                         show_path(key), show_path(p_scope));
        END IF;
        IF p_prune AND NOT key = ANY (unit_keys) THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'unit'),
                         'with prune the document is the whole organization: unit %s must be in units', show_path(key));
        END IF;
        IF seen ? (key || (d->>'function')) THEN
            PERFORM fail('INVALID_ARGUMENT', loc, 'duplicate: %s is the same department (%s %s)',
                         seen->>(key || (d->>'function')), show_path(key), d->>'function');
        END IF;
        seen := seen || jsonb_build_object(key || (d->>'function'), loc);
        IF coalesce(jsonb_typeof(d->'positions'), 'null') NOT IN ('null', 'object') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'positions'), '%s must be a mapping of role to planned headcount',
                         doc_key(loc, 'positions'));
        END IF;
        FOR r IN SELECT x FROM jsonb_object_keys(coalesce(nullif(d->'positions', 'null'), '{}')) x ORDER BY x LOOP
            PERFORM check_choice(r, doc_key(loc, 'positions'), staff_roles()),
                    doc_int(d->'positions', r, doc_key(loc, 'positions'), 0, limit_of('planned'));
        END LOOP;
        names := '{}';
        FOR s, j IN SELECT * FROM jsonb_array_elements(doc_list(d, 'staff', loc)) WITH ORDINALITY LOOP
            PERFORM doc_object(s, doc_loc(loc || '.staff', j), '{name,role,status,start_date,supervisor}', '{name,role}'),
                    check_text(doc_text(s, 'name', doc_loc(loc || '.staff', j)), doc_loc(loc || '.staff', j, 'name')),
                    check_choice(doc_text(s, 'role', doc_loc(loc || '.staff', j)), doc_loc(loc || '.staff', j, 'role'),
                                 staff_roles()),
                    parse_date(doc_text(s, 'start_date', doc_loc(loc || '.staff', j)),
                               doc_loc(loc || '.staff', j, 'start_date')),
                    doc_supervisor_ref(s, d, doc_loc(loc || '.staff', j));
            IF s ? 'status' THEN
                PERFORM check_choice(doc_text(s, 'status', doc_loc(loc || '.staff', j)),
                                     doc_loc(loc || '.staff', j, 'status'), '{active,on_leave}');
            END IF;
            IF names ? btrim(s->>'name') THEN
                PERFORM fail('INVALID_ARGUMENT', doc_loc(loc || '.staff', j, 'name'),
                             'duplicate: %s has the same name in this department', names->>btrim(s->>'name'));
            END IF;
            names := names || jsonb_build_object(btrim(s->>'name'), doc_loc(loc || '.staff', j));
        END LOOP;
    END LOOP;
    -- Supervision must not go in a circle within the document: each
    -- person's supervisor by person key, walked from every person.
    SELECT coalesce(jsonb_object_agg(doc_person_key(x.unit_key, x.function, x.name),
                                     doc_person_key(x.sup->>'unit', x.sup->>'function', x.sup->>'name')), '{}')
      INTO sups FROM doc_people(p_doc) x WHERE x.sup IS NOT NULL;
    FOR p IN SELECT * FROM doc_people(p_doc) WHERE sup IS NOT NULL LOOP
        start := doc_person_key(p.unit_key, p.function, p.name);
        cur := sups->>start;
        chain := ARRAY[p.name];
        WHILE cur IS NOT NULL LOOP
            chain := chain || substring(cur FROM '^[^:]*:[^:]*:(.*)$');
            IF cur = start THEN
                PERFORM fail('INVALID_ARGUMENT', doc_loc('departments[' || (p.i - 1) || '].staff', p.j, 'supervisor'),
                             'cycle: supervision goes in a circle: %s', array_to_string(chain, ' -> '));
            END IF;
            EXIT WHEN cardinality(chain) > 1000;
            cur := sups->>cur;
        END LOOP;
    END LOOP;
END
$$;

CREATE FUNCTION branchline.doc_check_rest(p_doc jsonb, p_scope text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    loc text;
    seen jsonb := '{}';
    id text;
BEGIN
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'projects', '')) WITH ORDINALITY LOOP
        loc := doc_loc('projects', i);
        PERFORM doc_object(x, loc, '{code,name}', '{code,name}'),
                check_slug(doc_text(x, 'code', loc), doc_key(loc, 'code')),
                check_text(doc_text(x, 'name', loc), doc_key(loc, 'name'));
        IF seen ? (x->>'code') THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'code'), 'duplicate: %s has the same code %s',
                         seen->>(x->>'code'), x->>'code');
        END IF;
        seen := seen || jsonb_build_object(x->>'code', loc);
    END LOOP;
    seen := '{}';
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'policies', '')) WITH ORDINALITY LOOP
        loc := doc_loc('policies', i);
        PERFORM doc_object(x, loc, '{at,project,policy,lead_branch,sla_minutes,max_reallocations}', '{policy}'),
                check_choice(doc_text(x, 'policy', loc), doc_key(loc, 'policy'), lead_policy_names()),
                doc_int(x, 'sla_minutes', loc, 0, limit_of('sla_minutes')),
                doc_int(x, 'max_reallocations', loc, 0, limit_of('max_reallocations'));
        IF p_scope <> '/' AND (x->>'at' IS NULL OR NOT (doc_path(x->>'at') >= p_scope
                                                        AND doc_path(x->>'at') < left(p_scope, -1) || '0')) THEN
            PERFORM fail('INVALID_ARGUMENT', doc_key(loc, 'at'), 'a policy of this document must be at a unit inside its scope %s',
                         show_path(p_scope));
        END IF;
        id := coalesce(doc_path(doc_text(x, 'at', loc)), '*') || ' ' || coalesce(doc_text(x, 'project', loc), '*');
        IF seen ? id THEN
            PERFORM fail('INVALID_ARGUMENT', loc, 'duplicate: %s is the policy of the same unit and project',
                         seen->>id);
        END IF;
        seen := seen || jsonb_build_object(id, loc);
    END LOOP;
END
$$;

-- ---- matching units ------------------------------------------------------------------------

-- Which existing unit each document unit is (by ordinality): the one at its
-- path, else the only unit in scope with its code and kind that no document
-- unit has by path (and that no other document unit would take): moved.
CREATE FUNCTION branchline.doc_unit_matches(p_doc jsonb, p_scope text)
RETURNS TABLE (i bigint, id bigint, moved boolean)
LANGUAGE sql STABLE AS $$
    WITH d AS (
        SELECT x.i, branchline.path_key(x.u->>'path') AS key, x.u->>'kind' AS kind
          FROM jsonb_array_elements(p_doc->'units') WITH ORDINALITY AS x (u, i)
    ),
    by_path AS (
        SELECT d.i, t.id FROM d
          JOIN branchline.units t ON t.tenant_id = branchline.current_tenant() AND t.path = d.key
    ),
    cand AS (
        SELECT d.i, t.id, count(*) OVER (PARTITION BY d.i) AS per_doc, count(*) OVER (PARTITION BY t.id) AS per_unit
          FROM d
          JOIN branchline.units t ON t.tenant_id = branchline.current_tenant() AND t.kind = d.kind
                                 AND t.code = substring(d.key FROM '([^/]+)/$')
                                 AND t.path >= p_scope AND t.path < left(p_scope, -1) || '0'
         WHERE d.key <> '/' AND d.i NOT IN (SELECT i FROM by_path) AND t.id NOT IN (SELECT id FROM by_path)
    )
    SELECT i, id, false FROM by_path
    UNION ALL
    SELECT i, id, true FROM cand WHERE per_doc = 1 AND per_unit = 1
$$;

-- A document unit whose parent is not in the document must find it in the
-- tenant where it stays: a parent this document moves elsewhere would leave
-- it behind, or put the moved unit under itself (a cycle).
CREATE FUNCTION branchline.doc_check_moves(p_doc jsonb, p_matches jsonb) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = branchline, pg_temp AS $$
DECLARE
    keys text[] := ARRAY(SELECT path_key(u->>'path') FROM jsonb_array_elements(p_doc->'units') u);
    n integer := cardinality(keys);
    parent integer[] := array_fill(0, ARRAY[greatest(n, 1)]);
    by_id jsonb := '{}';
    k integer;
    m integer;
    steps integer;
    pid bigint;
    chain text[];
BEGIN
    FOR k IN 1 .. n LOOP
        IF p_matches ? k::text THEN
            by_id := by_id || jsonb_build_object(p_matches->>k::text, k);
        END IF;
    END LOOP;
    FOR k IN 1 .. n LOOP
        CONTINUE WHEN keys[k] = '/';
        parent[k] := coalesce(array_position(keys, parent_key(keys[k])), 0);
        IF parent[k] = 0 THEN
            pid := (SELECT id FROM units WHERE tenant_id = current_tenant() AND path = parent_key(keys[k]));
            parent[k] := coalesce((by_id->>pid::text)::integer, 0);
        END IF;
    END LOOP;
    FOR k IN 1 .. n LOOP
        m := parent[k];
        steps := 0;
        chain := ARRAY[show_path(keys[k])];
        WHILE m <> 0 AND steps <= n LOOP
            chain := chain || show_path(keys[m]);
            IF m = k THEN
                PERFORM fail('INVALID_ARGUMENT', doc_loc('units', k, 'path'),
                             'cycle: %s would be its own ancestor (%s): a parent this document moves lies under it',
                             show_path(keys[k]), array_to_string(chain, ' -> '));
            END IF;
            m := parent[m];
            steps := steps + 1;
        END LOOP;
    END LOOP;
    FOR k IN 1 .. n LOOP
        CONTINUE WHEN keys[k] = '/' OR parent_key(keys[k]) = ANY (keys);
        pid := (SELECT id FROM units WHERE tenant_id = current_tenant() AND path = parent_key(keys[k]));
        IF by_id ? pid::text THEN
            PERFORM fail('INVALID_ARGUMENT', doc_loc('units', k, 'path'),
                         'its parent %s is moved by this document to %s; list the parent at its new path',
                         show_path(parent_key(keys[k])), show_path(keys[(by_id->>pid::text)::integer]));
        END IF;
    END LOOP;
END
$$;
