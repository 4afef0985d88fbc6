-- Declarative organization documents, applying (030_org_export.sql has the
-- format): org_apply runs the imperative operations in order, reports
-- progress, and returns one change row per object.

-- ---- applying --------------------------------------------------------------------------------

-- Re-raises the error of an operation the document caused, naming the place
-- in the document: p_fields maps the operation's field names to keys of
-- the object at p_loc ("" for the object itself, the default). Errors that
-- already name a place are raised as they are.
CREATE FUNCTION branchline.doc_reraise(p_loc text, p_fields jsonb, p_state text, p_message text, p_column text)
RETURNS void LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    key text := nullif(p_fields->>coalesce(p_column, ''), '');
    field text;
BEGIN
    IF p_loc IS NULL OR coalesce(p_column, '') ~ '[\[.]' OR p_state NOT LIKE 'BL%' THEN
        RAISE EXCEPTION USING ERRCODE = p_state, MESSAGE = p_message, COLUMN = coalesce(p_column, '');
    END IF;
    field := CASE WHEN key IS NULL THEN p_loc ELSE doc_key(p_loc, key) END;
    RAISE EXCEPTION USING ERRCODE = p_state, MESSAGE = p_message, COLUMN = field;
END
$$;

CREATE FUNCTION branchline.doc_change(p_action text, p_kind text, p_key text, p_details text[])
RETURNS api.org_change LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_action, p_kind, p_key, coalesce(array_to_string(p_details, '; '), ''))::api.org_change
$$;

-- "name 上海 -> 上海市", or NULL when equal.
CREATE FUNCTION branchline.doc_delta(p_what text, p_old text, p_new text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_old IS DISTINCT FROM p_new
                THEN format('%s %s -> %s', p_what, coalesce(p_old, '(none)'), coalesce(p_new, '(none)')) END
$$;

-- A change no operation makes, audited under org_apply.
CREATE FUNCTION branchline.doc_audit(p_target text, p_before jsonb, p_after jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    PERFORM set_config('branchline.operation', 'org_apply', true);
    PERFORM audit(p_target, p_before, p_after);
END
$$;

-- ---- progress ----------------------------------------------------------------------------
--
-- A client that asks org_apply for progress (OrgApplyRequest.progress) gets
-- NOTICEs with SQLSTATE BLPRG and the text "progress done=K total=N
-- phase=P". PostgreSQL sends a notice to the client as soon as it is
-- raised, so the daemon forwards each one (a Progress response) while the
-- transaction still runs. The steps are the document's objects, counted
-- once when checked and once per pass that applies them (units twice:
-- units, then what branches handle). A notice goes out when a phase starts
-- and then at most once per 1% of the steps: about a hundred for any size
-- of document. The counters are transaction-local settings.

CREATE FUNCTION branchline.doc_progress_start(p_doc jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    units bigint := jsonb_array_length(doc_list(p_doc, 'units', ''));
    objects bigint := units + jsonb_array_length(doc_list(p_doc, 'projects', ''))
                      + jsonb_array_length(doc_list(p_doc, 'departments', ''))
                      + jsonb_array_length(doc_list(p_doc, 'policies', ''))
                      + (SELECT count(*) FROM doc_people(p_doc));
BEGIN
    PERFORM set_config('branchline.progress_total', (2 * objects + units)::text, true),
            set_config('branchline.progress_done', '0', true),
            set_config('branchline.progress_next', '0', true),
            set_config('branchline.progress_phase', '', true);
END
$$;

-- p_n more steps done in phase p_phase; a notice when due. Called once per
-- object, so it returns at its first test when no progress was asked for;
-- it has no SET clause (that alone would cost more) and uses only
-- pg_catalog functions.
CREATE FUNCTION branchline.doc_step(p_phase text, p_n bigint DEFAULT 1) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    total bigint := nullif(current_setting('branchline.progress_total', true), '')::bigint;
    done bigint;
BEGIN
    IF total IS NULL OR total = 0 THEN
        RETURN;
    END IF;
    done := least(current_setting('branchline.progress_done')::bigint + p_n, total);
    PERFORM set_config('branchline.progress_done', done::text, true);
    IF done >= current_setting('branchline.progress_next')::bigint
       OR p_phase <> current_setting('branchline.progress_phase') THEN
        PERFORM set_config('branchline.progress_next', (done + greatest(total / 100, 1))::text, true),
                set_config('branchline.progress_phase', p_phase, true);
        RAISE NOTICE USING ERRCODE = 'BLPRG',
                           MESSAGE = format('progress done=%s total=%s phase=%s', done, total, p_phase);
    END IF;
END
$$;

CREATE FUNCTION branchline.doc_apply_projects(p_subject text, p_doc jsonb, p_scope text, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    loc text;
    p projects;
    fields jsonb := '{"code": "code", "name": "name"}';
    col text;
BEGIN
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'projects', '')) WITH ORDINALITY LOOP
        loc := doc_loc('projects', i);
        PERFORM doc_step('projects');
        SELECT * INTO p FROM projects WHERE tenant_id = current_tenant() AND code = x->>'code';
        IF NOT FOUND THEN
            PERFORM * FROM api.project_add(p_subject, x->>'code', x->>'name');
            RETURN NEXT doc_change('created', 'project', x->>'code', ARRAY['name ' || btrim(x->>'name')]);
        ELSIF p.name <> btrim(x->>'name') THEN
            UPDATE projects SET name = btrim(x->>'name') WHERE tenant_id = p.tenant_id AND id = p.id;
            PERFORM doc_audit('project:' || p.code, jsonb_build_object('name', p.name), jsonb_build_object('name', btrim(x->>'name')));
            RETURN NEXT doc_change('changed', 'project', p.code, ARRAY[doc_delta('name', p.name, btrim(x->>'name'))]);
        END IF;
    END LOOP;
    IF p_scope = '/' THEN
        RETURN QUERY
        SELECT (doc_change('left_alone', 'project', t.code,
                           ARRAY[CASE WHEN p_prune THEN 'not in the document; projects are never deleted'
                                      ELSE 'not in the document' END])).*
          FROM projects t
         WHERE t.tenant_id = current_tenant()
           AND NOT EXISTS (SELECT FROM jsonb_array_elements(doc_list(p_doc, 'projects', '')) e WHERE e->>'code' = t.code)
         ORDER BY t.code;
    END IF;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

-- Units, parents before children: created, moved, renamed, re-dated, their
-- status set.
CREATE FUNCTION branchline.doc_apply_units(p_subject text, p_doc jsonb, p_matches jsonb)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    loc text;
    key text;
    t units;
    action text;
    details text[];
    opened date;
    fields jsonb := '{"path": "path", "to": "path", "kind": "kind", "name": "name", "opened_on": "opened_on", "status": "status"}';
    col text;
BEGIN
    FOR x, i IN SELECT e.x, e.i FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) WITH ORDINALITY AS e (x, i)
                 ORDER BY cardinality(string_to_array(btrim(path_key(e.x->>'path'), '/'), '/')), e.i LOOP
        loc := doc_loc('units', i);
        PERFORM doc_step('units');
        key := path_key(x->>'path');
        opened := parse_date(doc_text(x, 'opened_on', loc), 'opened_on');
        details := '{}';
        IF NOT p_matches ? i::text THEN
            PERFORM * FROM api.unit_add(p_subject, key, x->>'kind', x->>'name', x->>'opened_on');
            action := 'created';
            details := ARRAY[format('%s %s', x->>'kind', btrim(x->>'name'))];
            SELECT * INTO t FROM units WHERE tenant_id = current_tenant() AND path = key;
        ELSE
            SELECT * INTO t FROM units WHERE tenant_id = current_tenant() AND id = (p_matches->>i::text)::bigint;
            IF t.kind <> x->>'kind' THEN
                PERFORM fail('INVALID_ARGUMENT', 'kind', '%s is a %s: the kind of a unit cannot change (delete it and add it anew)',
                             show_path(t.path), t.kind);
            END IF;
            action := 'changed';
            IF t.path <> key THEN
                PERFORM * FROM api.unit_move(p_subject, t.path, parent_key(key));
                action := 'moved';
                details := ARRAY['from ' || show_path(t.path)];
            END IF;
            IF t.name <> btrim(x->>'name') THEN
                PERFORM * FROM api.unit_rename(p_subject, key, x->>'name');
                details := details || doc_delta('name', t.name, btrim(x->>'name'));
            END IF;
            IF opened IS NOT NULL AND opened <> t.opened_on THEN
                UPDATE units SET opened_on = opened WHERE tenant_id = t.tenant_id AND id = t.id;
                PERFORM doc_audit(show_path(key), jsonb_build_object('opened_on', ymd(t.opened_on)),
                                  jsonb_build_object('opened_on', ymd(opened)));
                details := details || doc_delta('opened_on', ymd(t.opened_on), ymd(opened));
            END IF;
        END IF;
        IF t.status <> coalesce(x->>'status', 'active') THEN
            PERFORM * FROM api.unit_set_status(p_subject, key, coalesce(x->>'status', 'active'));
            details := details || doc_delta('status', t.status, coalesce(x->>'status', 'active'));
        END IF;
        IF cardinality(details) > 0 THEN
            RETURN NEXT doc_change(action, 'unit', show_path(key), details);
        END IF;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

-- What a branch of the document handles: projects with capacities, the
-- lead cap, the support assignment.
CREATE FUNCTION branchline.doc_apply_branches(p_subject text, p_doc jsonb, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    item jsonb;
    k bigint;
    loc text;
    fields jsonb;
    b units;
    old record;
    cap jsonb;
    sup jsonb;
    want_day integer;
    want_week integer;
    col text;
BEGIN
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) WITH ORDINALITY LOOP
        PERFORM doc_step('branches');
        CONTINUE WHEN x->>'kind' <> 'branch';
        SELECT * INTO b FROM units WHERE tenant_id = current_tenant() AND path = path_key(x->>'path');
        fields := '{"project": "project", "capacity": "capacity"}';
        FOR item, k IN SELECT * FROM jsonb_array_elements(doc_list(x, 'projects', '')) WITH ORDINALITY LOOP
            loc := doc_loc(doc_loc('units', i) || '.projects', k);
            SELECT bp.capacity INTO old FROM branch_projects bp JOIN projects p ON p.tenant_id = bp.tenant_id AND p.id = bp.project_id
             WHERE bp.tenant_id = b.tenant_id AND bp.branch_id = b.id AND p.code = item->>'project';
            IF NOT FOUND THEN
                PERFORM * FROM api.project_assign(p_subject, show_path(b.path), item->>'project', coalesce((item->>'capacity')::integer, 0));
                RETURN NEXT doc_change('created', 'assignment', show_path(b.path) || ':' || (item->>'project'),
                                       ARRAY['capacity ' || coalesce(item->>'capacity', 'derived')]);
            ELSIF old.capacity IS DISTINCT FROM (item->>'capacity')::integer THEN
                PERFORM * FROM api.project_assign(p_subject, show_path(b.path), item->>'project', coalesce((item->>'capacity')::integer, 0));
                RETURN NEXT doc_change('changed', 'assignment', show_path(b.path) || ':' || (item->>'project'),
                                       ARRAY[doc_delta('capacity', coalesce(old.capacity::text, 'derived'),
                                                       coalesce(item->>'capacity', 'derived'))]);
            END IF;
        END LOOP;
        loc := doc_loc('units', i);
        FOR old IN SELECT p.code FROM branch_projects bp JOIN projects p ON p.tenant_id = bp.tenant_id AND p.id = bp.project_id
                    WHERE bp.tenant_id = b.tenant_id AND bp.branch_id = b.id
                      AND NOT EXISTS (SELECT FROM jsonb_array_elements(doc_list(x, 'projects', '')) e WHERE e->>'project' = p.code)
                    ORDER BY p.code LOOP
            IF p_prune THEN
                PERFORM * FROM api.project_unassign(p_subject, show_path(b.path), old.code);
            END IF;
            RETURN NEXT doc_change(CASE WHEN p_prune THEN 'deleted' ELSE 'left_alone' END, 'assignment',
                                   show_path(b.path) || ':' || old.code, ARRAY['not in the document']);
        END LOOP;

        fields := '{"per_day": "cap.per_day", "per_week": "cap.per_week"}';
        cap := nullif(x->'cap', 'null');
        -- a period absent has no cap; 0 is a cap of no leads
        want_day := (cap->>'per_day')::integer;
        want_week := (cap->>'per_week')::integer;
        SELECT c.per_day, c.per_week INTO old FROM lead_caps c WHERE c.tenant_id = b.tenant_id AND c.branch_id = b.id;
        IF NOT FOUND AND (want_day IS NOT NULL OR want_week IS NOT NULL) THEN
            PERFORM * FROM api.cap_set(p_subject, show_path(b.path), want_day, want_week);
            RETURN NEXT doc_change('created', 'cap', show_path(b.path),
                                   ARRAY[format('per_day %s, per_week %s', coalesce(want_day::text, '-'), coalesce(want_week::text, '-'))]);
        ELSIF FOUND AND want_day IS NULL AND want_week IS NULL THEN
            IF p_prune THEN
                PERFORM * FROM api.cap_unset(p_subject, show_path(b.path));
            END IF;
            RETURN NEXT doc_change(CASE WHEN p_prune THEN 'deleted' ELSE 'left_alone' END, 'cap', show_path(b.path),
                                   ARRAY['not in the document']);
        ELSIF FOUND AND (old.per_day IS DISTINCT FROM want_day OR old.per_week IS DISTINCT FROM want_week) THEN
            PERFORM * FROM api.cap_set(p_subject, show_path(b.path), want_day, want_week);
            RETURN NEXT doc_change('changed', 'cap', show_path(b.path),
                                   ARRAY[doc_delta('per_day', old.per_day::text, want_day::text),
                                         doc_delta('per_week', old.per_week::text, want_week::text)]);
        END IF;

        fields := '{"reason": "support.reason", "until": "support.until"}';
        sup := nullif(x->'support', 'null');
        SELECT s.id, s.reason, s.until INTO old FROM support_assignments s
         WHERE s.tenant_id = b.tenant_id AND s.branch_id = b.id AND s.ended_on IS NULL
           AND (s.until IS NULL OR s.until >= tenant_today());
        IF NOT FOUND AND sup IS NOT NULL THEN
            PERFORM * FROM api.support_assign(p_subject, show_path(b.path), sup->>'reason', sup->>'until');
            RETURN NEXT doc_change('created', 'support', show_path(b.path), ARRAY['reason ' || btrim(sup->>'reason')]);
        ELSIF FOUND AND sup IS NULL THEN
            IF p_prune THEN
                PERFORM * FROM api.support_end(p_subject, show_path(b.path));
            END IF;
            RETURN NEXT doc_change(CASE WHEN p_prune THEN 'closed' ELSE 'left_alone' END, 'support', show_path(b.path),
                                   ARRAY['not in the document']);
        ELSIF FOUND AND (old.reason <> btrim(sup->>'reason') OR old.until IS DISTINCT FROM (sup->>'until')::date) THEN
            IF (sup->>'until')::date < tenant_today() THEN
                PERFORM fail('INVALID_ARGUMENT', 'until', 'until must be today or later');
            END IF;
            UPDATE support_assignments SET reason = btrim(sup->>'reason'), until = (sup->>'until')::date
             WHERE tenant_id = b.tenant_id AND id = old.id;
            PERFORM doc_audit(show_path(b.path), jsonb_build_object('reason', old.reason, 'until', ymd(old.until)), sup);
            RETURN NEXT doc_change('changed', 'support', show_path(b.path),
                                   ARRAY[doc_delta('reason', old.reason, btrim(sup->>'reason')),
                                         doc_delta('until', ymd(old.until), sup->>'until')]);
        END IF;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

-- Departments of the document with their positions.
CREATE FUNCTION branchline.doc_apply_departments(p_subject text, p_doc jsonb, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    loc text;
    fields jsonb := '{"path": "unit", "function": "function", "name": "name"}';
    key text;
    dkey text;
    d departments;
    r record;
    col text;
BEGIN
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'departments', '')) WITH ORDINALITY LOOP
        loc := doc_loc('departments', i);
        PERFORM doc_step('departments');
        fields := '{"path": "unit", "function": "function", "name": "name"}';
        key := path_key(x->>'unit');
        dkey := show_path(key) || ':' || (x->>'function');
        SELECT dd.* INTO d FROM departments dd JOIN units u ON u.tenant_id = dd.tenant_id AND u.id = dd.unit_id
         WHERE dd.tenant_id = current_tenant() AND u.path = key AND dd.function = x->>'function';
        IF NOT FOUND THEN
            PERFORM * FROM api.dept_add(p_subject, key, x->>'function', x->>'name');
            RETURN NEXT doc_change('created', 'department', dkey, ARRAY[coalesce('name ' || btrim(x->>'name'), 'default name')]);
        ELSIF x->>'name' IS NOT NULL AND d.name <> btrim(x->>'name') THEN
            UPDATE departments SET name = btrim(x->>'name') WHERE tenant_id = d.tenant_id AND id = d.id;
            PERFORM doc_audit(show_path(key), jsonb_build_object('function', d.function, 'name', d.name),
                              jsonb_build_object('function', d.function, 'name', btrim(x->>'name')));
            RETURN NEXT doc_change('changed', 'department', dkey, ARRAY[doc_delta('name', d.name, btrim(x->>'name'))]);
        END IF;
        loc := doc_key(loc, 'positions');
        fields := '{"role": "", "planned": ""}';
        FOR r IN
            WITH want AS (SELECT w.key AS role, w.value::integer AS planned
                            FROM jsonb_each_text(coalesce(nullif(x->'positions', 'null'), '{}')) w WHERE w.value::integer > 0),
                 have AS (SELECT p.role, p.planned FROM positions p JOIN departments dd ON dd.tenant_id = p.tenant_id AND dd.id = p.dept_id
                            JOIN units u ON u.tenant_id = dd.tenant_id AND u.id = dd.unit_id
                           WHERE p.tenant_id = current_tenant() AND u.path = key AND dd.function = x->>'function')
            SELECT coalesce(want.role, have.role) AS role, have.planned AS old, want.planned AS new
              FROM want FULL JOIN have ON have.role = want.role
             WHERE want.planned IS DISTINCT FROM have.planned
             ORDER BY array_position(staff_roles(), coalesce(want.role, have.role))
        LOOP
            IF r.new IS NOT NULL THEN
                PERFORM * FROM api.position_set(p_subject, key, x->>'function', r.role, r.new);
                RETURN NEXT doc_change(CASE WHEN r.old IS NULL THEN 'created' ELSE 'changed' END, 'position',
                                       dkey || ':' || r.role, ARRAY[doc_delta('planned', r.old::text, r.new::text)]);
            ELSE
                IF p_prune THEN
                    PERFORM * FROM api.position_set(p_subject, key, x->>'function', r.role, 0);
                END IF;
                RETURN NEXT doc_change(CASE WHEN p_prune THEN 'deleted' ELSE 'left_alone' END, 'position',
                                       dkey || ':' || r.role, ARRAY['planned ' || r.old || '; not in the document']);
            END IF;
        END LOOP;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

-- The department of a (unit key, function) of the document, which exists
-- by now; NULL if not.
CREATE FUNCTION branchline.doc_dept_id(p_unit_key text, p_function text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT d.id FROM branchline.departments d
      JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE d.tenant_id = branchline.current_tenant() AND u.path = p_unit_key AND d.function = p_function
$$;

-- Which current person each person of the document is: the one of that
-- name in the department, else the only current person of that name in
-- scope whom no document entry has by department (moved).
CREATE FUNCTION branchline.doc_people_matches(p_doc jsonb, p_scope text)
RETURNS TABLE (i bigint, j bigint, id bigint, moved boolean, ambiguous integer)
LANGUAGE sql STABLE AS $$
    WITH d AS (
        SELECT x.i, x.j, x.name, branchline.doc_dept_id(x.unit_key, x.function) AS dept_id
          FROM branchline.doc_people(p_doc) x
    ),
    here AS (
        SELECT d.i, d.j, s.id, count(*) OVER (PARTITION BY d.i, d.j) AS n
          FROM d JOIN branchline.staff s ON s.tenant_id = branchline.current_tenant() AND s.dept_id = d.dept_id
                                         AND s.name = d.name AND s.status <> 'left'
    ),
    current AS (
        SELECT s.id, s.name FROM branchline.staff s
          JOIN branchline.departments dd ON dd.tenant_id = s.tenant_id AND dd.id = s.dept_id
          JOIN branchline.units u ON u.tenant_id = dd.tenant_id AND u.id = dd.unit_id
         WHERE s.tenant_id = branchline.current_tenant() AND s.status <> 'left'
           AND u.path >= p_scope AND u.path < left(p_scope, -1) || '0'
           AND s.id NOT IN (SELECT here.id FROM here)
    ),
    cand AS (
        SELECT d.i, d.j, c.id, count(*) OVER (PARTITION BY d.i, d.j) AS per_doc, count(*) OVER (PARTITION BY c.id) AS per_person
          FROM d JOIN current c ON c.name = d.name
         WHERE NOT EXISTS (SELECT FROM here h WHERE h.i = d.i AND h.j = d.j)
    )
    SELECT i, j, id, false, n::integer FROM here
    UNION ALL
    SELECT i, j, id, true, 1 FROM cand WHERE per_doc = 1 AND per_person = 1
$$;

-- People: added, moved, their role, status and start date set; then their
-- supervisors (cleared where they change, then set, so that no order of
-- the changes makes a false circle); then, with prune, the people of the
-- scope the document does not list leave.
CREATE FUNCTION branchline.doc_apply_staff(p_subject text, p_doc jsonb, p_scope text, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    p record;
    x jsonb;
    loc text;
    fields jsonb := '{"name": "name", "role": "role", "start_date": "start_date", "status": "status", "supervisor_id": "supervisor"}';
    matches jsonb;
    m jsonb;
    s staff;
    new_id bigint;
    n bigint;
    start date;
    ids jsonb := '{}';
    notes jsonb := '{}';
    actions jsonb := '{}';
    key text;
    sup_id bigint;
    cur_sup bigint;
    plan jsonb := '[]';
    r record;
    col text;
BEGIN
    -- matched before anything moves
    SELECT coalesce(jsonb_object_agg(mm.i || '.' || mm.j, jsonb_build_object('id', mm.id, 'moved', mm.moved, 'n', mm.ambiguous)), '{}')
      INTO matches FROM doc_people_matches(p_doc, p_scope) mm;
    FOR p IN SELECT * FROM doc_people(p_doc) ORDER BY i, j LOOP
        PERFORM doc_step('staff');
        x := p_doc->'departments'->(p.i::integer - 1)->'staff'->(p.j::integer - 1);
        loc := doc_loc('departments[' || (p.i - 1) || '].staff', p.j);
        key := doc_person_key(p.unit_key, p.function, p.name);
        start := parse_date(x->>'start_date', 'start_date');
        m := matches->(p.i || '.' || p.j);
        notes := notes || jsonb_build_object(key, '[]'::jsonb);
        IF (m->>'n')::integer > 1 THEN
            PERFORM fail('INVALID_ARGUMENT', 'name', '%s current people of this department are named %s: the document cannot tell them apart',
                         m->>'n', p.name);
        END IF;
        IF m IS NULL THEN
            SELECT id INTO new_id FROM api.staff_add(p_subject, p.name, x->>'role', p.unit_key, p.function, NULL, x->>'start_date');
            SELECT * INTO s FROM staff WHERE tenant_id = current_tenant() AND id = new_id;
            actions := actions || jsonb_build_object(key, 'created');
            notes := doc_note(notes, key, x->>'role');
        ELSE
            SELECT * INTO s FROM staff WHERE tenant_id = current_tenant() AND id = (m->>'id')::bigint;
            actions := actions || jsonb_build_object(key, CASE WHEN (m->>'moved')::boolean THEN 'moved' ELSE 'changed' END);
            IF (m->>'moved')::boolean THEN
                notes := doc_note(notes, key, 'from ' || (SELECT show_path(u.path) || ':' || d.function FROM departments d
                                                           JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
                                                          WHERE d.tenant_id = s.tenant_id AND d.id = s.dept_id));
                PERFORM * FROM api.staff_move(p_subject, s.id, p.unit_key, p.function, NULL);
            END IF;
            IF s.role <> x->>'role' THEN
                UPDATE staff SET role = x->>'role' WHERE tenant_id = s.tenant_id AND id = s.id;
                PERFORM doc_audit('staff:' || s.id, jsonb_build_object('role', s.role), jsonb_build_object('role', x->>'role'));
                notes := doc_note(notes, key, doc_delta('role', s.role, x->>'role'));
            END IF;
            IF start IS NOT NULL AND start <> s.start_date THEN
                UPDATE staff SET start_date = start WHERE tenant_id = s.tenant_id AND id = s.id;
                PERFORM doc_audit('staff:' || s.id, jsonb_build_object('start_date', ymd(s.start_date)),
                                  jsonb_build_object('start_date', ymd(start)));
                notes := doc_note(notes, key, doc_delta('start_date', ymd(s.start_date), ymd(start)));
            END IF;
        END IF;
        IF s.status <> coalesce(x->>'status', 'active') THEN
            PERFORM * FROM api.staff_leave(p_subject, s.id, coalesce(x->>'status', 'active'));
            notes := doc_note(notes, key, doc_delta('status', s.status, coalesce(x->>'status', 'active')));
        END IF;
        ids := ids || jsonb_build_object(key, s.id);
    END LOOP;

    -- supervisors: who each person's should be, and whose differ
    FOR p IN SELECT * FROM doc_people(p_doc) ORDER BY i, j LOOP
        loc := doc_loc('departments[' || (p.i - 1) || '].staff', p.j);
        key := doc_person_key(p.unit_key, p.function, p.name);
        sup_id := NULL;
        IF p.sup IS NOT NULL THEN
            sup_id := (ids->>doc_person_key(p.sup->>'unit', p.sup->>'function', p.sup->>'name'))::bigint;
            IF sup_id IS NULL THEN
                SELECT min(s2.id), count(*) INTO sup_id, n FROM staff s2
                 WHERE s2.tenant_id = current_tenant() AND s2.status <> 'left' AND s2.name = p.sup->>'name'
                   AND s2.dept_id = doc_dept_id(p.sup->>'unit', p.sup->>'function');
                IF n <> 1 THEN
                    PERFORM fail('INVALID_ARGUMENT', 'supervisor_id', 'supervisor %s: %s current people of the %s department of %s have this name',
                                 p.sup->>'name', n::text, p.sup->>'function', show_path(p.sup->>'unit'));
                END IF;
            END IF;
        END IF;
        SELECT CASE WHEN sv.status <> 'left' THEN sv.id END INTO cur_sup
          FROM staff s2 LEFT JOIN staff sv ON sv.tenant_id = s2.tenant_id AND sv.id = s2.supervisor_id
         WHERE s2.tenant_id = current_tenant() AND s2.id = (ids->>key)::bigint;
        IF cur_sup IS DISTINCT FROM sup_id THEN
            plan := plan || jsonb_build_object('id', (ids->>key)::bigint, 'key', key, 'loc', loc, 'old', cur_sup, 'new', sup_id);
        END IF;
    END LOOP;
    UPDATE staff SET supervisor_id = NULL
     WHERE tenant_id = current_tenant() AND id IN (SELECT (e->>'id')::bigint FROM jsonb_array_elements(plan) e);
    FOR x IN SELECT * FROM jsonb_array_elements(plan) LOOP
        loc := x->>'loc';
        key := x->>'key';
        IF x->>'new' IS NOT NULL THEN
            PERFORM check_supervisor((x->>'new')::bigint, (x->>'id')::bigint);
            UPDATE staff SET supervisor_id = (x->>'new')::bigint WHERE tenant_id = current_tenant() AND id = (x->>'id')::bigint;
        END IF;
        PERFORM doc_audit('staff:' || (x->>'id'), jsonb_build_object('supervisor_id', x->'old'),
                          jsonb_build_object('supervisor_id', x->'new'));
        notes := doc_note(notes, key, 'supervisor ' || coalesce((SELECT name FROM staff WHERE tenant_id = current_tenant() AND id = (x->>'old')::bigint), '(none)')
                                      || ' -> ' || coalesce((SELECT name FROM staff WHERE tenant_id = current_tenant() AND id = (x->>'new')::bigint), '(none)'));
    END LOOP;

    FOR p IN SELECT * FROM doc_people(p_doc) ORDER BY i, j LOOP
        key := doc_person_key(p.unit_key, p.function, p.name);
        IF actions->>key <> 'changed' OR jsonb_array_length(notes->key) > 0 THEN
            RETURN NEXT doc_change(actions->>key, 'staff', key, ARRAY(SELECT jsonb_array_elements_text(notes->key)));
        END IF;
    END LOOP;

    -- current people of the scope the document does not list
    loc := NULL;
    FOR r IN SELECT s2.id, doc_person_key(u.path, d.function, s2.name) AS key,
                    EXISTS (SELECT FROM jsonb_array_elements(doc_list(p_doc, 'departments', '')) e
                             WHERE path_key(e->>'unit') = u.path AND e->>'function' = d.function) AS listed_dept
               FROM staff s2
               JOIN departments d ON d.tenant_id = s2.tenant_id AND d.id = s2.dept_id
               JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
              WHERE s2.tenant_id = current_tenant() AND s2.status <> 'left'
                AND u.path >= p_scope AND u.path < left(p_scope, -1) || '0'
                AND NOT s2.id IN (SELECT v::bigint FROM jsonb_each_text(ids) AS e (k, v))
              ORDER BY u.path, function_rank(d.function), s2.name, s2.id LOOP
        IF p_prune THEN
            PERFORM * FROM api.staff_leave(p_subject, r.id, 'left');
            RETURN NEXT doc_change('closed', 'staff', r.key, ARRAY['left: not in the document']);
        ELSIF r.listed_dept THEN
            RETURN NEXT doc_change('left_alone', 'staff', r.key, ARRAY['not in the document']);
        END IF;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

CREATE FUNCTION branchline.doc_apply_policies(p_subject text, p_doc jsonb, p_scope text, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    x jsonb;
    i bigint;
    loc text;
    key text;
    old api.policy;
    want api.policy;
    holder bigint;
    project bigint;
    r record;
    fields jsonb := '{"at": "at", "project": "project", "policy": "policy", "lead_branch": "lead_branch", "sla_minutes": "sla_minutes", "max_reallocations": "max_reallocations"}';
    col text;
BEGIN
    FOR x, i IN SELECT * FROM jsonb_array_elements(doc_list(p_doc, 'policies', '')) WITH ORDINALITY LOOP
        loc := doc_loc('policies', i);
        PERFORM doc_step('policies');
        key := coalesce(show_path(doc_path(x->>'at')), '*') || ':' || coalesce(x->>'project', '*');
        holder := CASE WHEN x->>'at' IS NOT NULL THEN (unit_at(x->>'at', 'at')).id END;
        project := CASE WHEN x->>'project' IS NOT NULL THEN (project_at(x->>'project', 'project')).id END;
        old := policy_wire(holder, project);
        want := ROW(coalesce(show_path(doc_path(x->>'at')), ''), coalesce(x->>'project', ''), x->>'policy',
                    coalesce(show_path(doc_path(x->>'lead_branch')), ''), coalesce((x->>'sla_minutes')::integer, 0),
                    coalesce((x->>'max_reallocations')::integer, 3))::api.policy;
        IF old IS NULL OR old IS DISTINCT FROM want THEN
            PERFORM * FROM api.policy_set(p_subject, x->>'at', x->>'project', x->>'policy', x->>'lead_branch',
                                          coalesce((x->>'sla_minutes')::integer, 0), coalesce((x->>'max_reallocations')::integer, 3));
            RETURN NEXT doc_change(CASE WHEN old IS NULL THEN 'created' ELSE 'changed' END, 'policy', key,
                                   ARRAY[doc_delta('policy', old.policy, want.policy),
                                         doc_delta('lead_branch', nullif(old.lead_branch, ''), nullif(want.lead_branch, '')),
                                         doc_delta('sla_minutes', old.sla_minutes::text, want.sla_minutes::text),
                                         doc_delta('max_reallocations', old.max_reallocations::text, want.max_reallocations::text)]);
        END IF;
    END LOOP;
    loc := NULL;
    FOR r IN SELECT lp.id, v.wire, coalesce(nullif((v.wire).at_path, ''), '*') || ':' || coalesce(nullif((v.wire).project, ''), '*') AS key
               FROM lead_policies lp JOIN policy_view v ON v.tenant_id = lp.tenant_id AND v.id = lp.id
              WHERE lp.tenant_id = current_tenant()
                AND (p_scope = '/' OR (v.holder_key >= p_scope AND v.holder_key < left(p_scope, -1) || '0'))
                AND NOT EXISTS (SELECT FROM jsonb_array_elements(doc_list(p_doc, 'policies', '')) e
                                 WHERE doc_path(e->>'at') IS NOT DISTINCT FROM v.holder_key
                                   AND (e->>'project') IS NOT DISTINCT FROM nullif((v.wire).project, ''))
              ORDER BY v.holder_key NULLS FIRST, (v.wire).project LOOP
        IF p_prune THEN
            DELETE FROM lead_policies WHERE tenant_id = current_tenant() AND id = r.id;
            PERFORM doc_audit(coalesce(nullif((r.wire).at_path, ''), 'policy:*'), to_jsonb(r.wire), NULL);
        END IF;
        RETURN NEXT doc_change(CASE WHEN p_prune THEN 'deleted' ELSE 'left_alone' END, 'policy', r.key,
                               ARRAY[(r.wire).policy || '; not in the document']);
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS col = COLUMN_NAME;
    PERFORM doc_reraise(loc, fields, SQLSTATE, SQLERRM, col);
END
$$;

-- Departments and units of the scope the document does not list: removed,
-- deleted (deepest first) or, when something still holds a unit (leads,
-- principals), closed; without prune, listed as left alone where their
-- container is in the document.
CREATE FUNCTION branchline.doc_apply_absent(p_subject text, p_doc jsonb, p_scope text, p_prune boolean)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    keys text[] := ARRAY(SELECT path_key(u->>'path') FROM jsonb_array_elements(doc_list(p_doc, 'units', '')) u);
    r record;
    u units;
    blockers text;
BEGIN
    FOR r IN SELECT d.function, u2.path, show_path(u2.path) || ':' || d.function AS key FROM departments d
               JOIN units u2 ON u2.tenant_id = d.tenant_id AND u2.id = d.unit_id
              WHERE d.tenant_id = current_tenant() AND u2.path >= p_scope AND u2.path < left(p_scope, -1) || '0'
                AND NOT EXISTS (SELECT FROM jsonb_array_elements(doc_list(p_doc, 'departments', '')) e
                                 WHERE path_key(e->>'unit') = u2.path AND e->>'function' = d.function)
              ORDER BY u2.path, function_rank(d.function) LOOP
        IF p_prune THEN
            PERFORM * FROM api.dept_remove(p_subject, r.path, r.function);
            RETURN NEXT doc_change('deleted', 'department', r.key, ARRAY['not in the document']);
        ELSIF r.path = ANY (keys) THEN
            RETURN NEXT doc_change('left_alone', 'department', r.key, ARRAY['not in the document']);
        END IF;
    END LOOP;
    FOR u IN SELECT * FROM units
              WHERE tenant_id = current_tenant() AND path >= p_scope AND path < left(p_scope, -1) || '0'
                AND path <> '/' AND NOT path = ANY (keys)
              ORDER BY path DESC LOOP
        IF NOT p_prune THEN
            IF parent_key(u.path) = ANY (keys) THEN
                RETURN NEXT doc_change('left_alone', 'unit', show_path(u.path), ARRAY['not in the document']);
            END IF;
            CONTINUE;
        END IF;
        blockers := unit_blockers(u);
        IF blockers IS NULL THEN
            PERFORM * FROM api.unit_delete(p_subject, u.path);
            RETURN NEXT doc_change('deleted', 'unit', show_path(u.path), ARRAY['not in the document']);
        ELSIF u.status <> 'closed' THEN
            PERFORM * FROM api.unit_set_status(p_subject, u.path, 'closed');
            RETURN NEXT doc_change('closed', 'unit', show_path(u.path), ARRAY['not in the document; kept: it has ' || blockers]);
        END IF;
    END LOOP;
END
$$;

-- Makes the tenant match the document (the JSON of org_export, or written
-- by hand; see the top of this file) and returns the changes, in the order
-- made: projects, units (parents first), what branches handle,
-- departments and positions, people, policies, then what the document does
-- not list (left alone, or with prune: people leave, departments, positions,
-- assignments, caps and policies go, support ends, units are deleted or,
-- when leads or principals still refer to them, closed). dry_run makes
-- every change and rolls them back; progress raises progress notices (see
-- doc_step).
CREATE FUNCTION api.org_apply(p_subject text, p_document_json text, p_dry_run boolean, p_prune boolean,
                              p_progress boolean DEFAULT false)
RETURNS SETOF api.org_change LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'org_apply', '{admin}');
    doc jsonb;
    scope text;
    matches jsonb;
    changes api.org_change[] := '{}';
    st text; msg text; col text;
BEGIN
    BEGIN
        doc := required(p_document_json, 'document_json')::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        PERFORM fail('INVALID_ARGUMENT', 'document_json', 'document_json is not JSON');
    END;
    PERFORM doc_object(doc, '', '{version,scope,projects,units,departments,policies}', '{version}');
    IF doc->'version' IS DISTINCT FROM '1' THEN
        PERFORM fail('INVALID_ARGUMENT', 'version', 'version must be 1');
    END IF;
    scope := path_key(doc_text(doc, 'scope', ''));
    IF scope <> '/' AND NOT EXISTS (SELECT FROM units WHERE tenant_id = c.tenant_id AND path = scope)
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(doc_list(doc, 'units', '')) u WHERE path_key(u->>'path') = scope) THEN
        PERFORM fail('INVALID_ARGUMENT', 'scope', 'scope %s is neither in the tenant nor in units', show_path(scope));
    END IF;
    BEGIN
        PERFORM begin_change();
        IF p_progress THEN
            PERFORM doc_progress_start(doc);
        END IF;
        PERFORM doc_check_units(doc, scope);
        PERFORM doc_step('checking', jsonb_array_length(doc_list(doc, 'units', '')));
        PERFORM doc_check_departments(doc, scope, p_prune);
        IF p_progress THEN
            PERFORM doc_step('checking', jsonb_array_length(doc_list(doc, 'departments', ''))
                                         + (SELECT count(*) FROM doc_people(doc)));
        END IF;
        PERFORM doc_check_rest(doc, scope);
        PERFORM doc_step('checking', jsonb_array_length(doc_list(doc, 'projects', ''))
                                     + jsonb_array_length(doc_list(doc, 'policies', '')));
        SELECT coalesce(jsonb_object_agg(m.i::text, m.id), '{}') INTO matches FROM doc_unit_matches(doc, scope) m;
        PERFORM doc_check_moves(doc, matches);
        changes := changes || ARRAY(SELECT x FROM doc_apply_projects(p_subject, doc, scope, p_prune) x);
        changes := changes || ARRAY(SELECT x FROM doc_apply_units(p_subject, doc, matches) x);
        changes := changes || ARRAY(SELECT x FROM doc_apply_branches(p_subject, doc, p_prune) x);
        changes := changes || ARRAY(SELECT x FROM doc_apply_departments(p_subject, doc, p_prune) x);
        changes := changes || ARRAY(SELECT x FROM doc_apply_staff(p_subject, doc, scope, p_prune) x);
        changes := changes || ARRAY(SELECT x FROM doc_apply_policies(p_subject, doc, scope, p_prune) x);
        PERFORM doc_step('unlisted', 0);
        changes := changes || ARRAY(SELECT x FROM doc_apply_absent(p_subject, doc, scope, p_prune) x);
        PERFORM set_config('branchline.operation', 'org_apply', true);
        PERFORM audit(show_path(scope), NULL, jsonb_build_object(
            'prune', p_prune,
            'changes', (SELECT count(*) FROM unnest(changes) x WHERE x.action <> 'left_alone')));
        IF p_dry_run THEN
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'BLDRY';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, col = COLUMN_NAME;
        IF st <> 'BLDRY' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, COLUMN = coalesce(col, '');
        END IF;
    END;
    RETURN QUERY SELECT * FROM unnest(changes);
END
$$;
