-- Planning (issue #16): what-if shapes. whatif compares the current shape
-- with a centralized or decentralized target on the tenant's real data and
-- changes nothing: it makes the change for real inside a subtransaction
-- that it then rolls back, carrying its findings out in variables.

CREATE TYPE api.whatif_row AS (
    section text, subject text, before double precision, after double precision,
    before_share double precision, after_share double precision, detail text);

-- Each department's recommended headcount (staffing_recommend's totals) as
-- {"path:function": n}.
CREATE FUNCTION branchline.whatif_headcount(p_subject text, p_period text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_object_agg(r.dept_path || ':' || r.function, r.recommended), '{}')
      FROM api.staffing_recommend(p_subject, NULL, p_period) r WHERE r.role = 'total'
$$;

-- Seed 002's trade-offs, for a target of p_mode: (aspect, which side it
-- favours and why).
CREATE FUNCTION branchline.whatif_tradeoffs(p_mode text) RETURNS TABLE (aspect text, detail text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.aspect, CASE WHEN p_mode = 'centralize' THEN x.central ELSE x.local END
      FROM (VALUES
        ('management difficulty', 'lower after: one department instead of one per unit',
         'higher after: a department per unit to manage, though each can be managed more finely'),
        ('labour cost', 'lower after: unified departments cost less',
         'higher after: every unit staffs its own department'),
        ('internal competition in one city', 'ends after: branches of one city no longer compete for the same leads',
         'grows after: separate departments breed infighting in the same city'),
        ('hiring in big cities', 'easier after: the head office is in a big city',
         'harder after: each unit hires where it is'),
        ('central control of leads', 'stronger after: the centre holds the leads',
         'weaker after: each unit holds its own leads')) x (aspect, central, local)
$$;

-- The leads received in the last `period` days (default 30), where they are
-- now (their branch, or "(queue)") and, replayed in order of intake through
-- the allocation policies of the target shape (the same leads, without
-- their contact data, imported after the reorganization inside the rolled
-- back subtransaction), where they would have gone: per branch, before and
-- after, with shares; the totals are the period's leads on both sides. The
-- departments opened and closed and the people moved are reorg_plan's; the
-- headcount per department before and after is staffing_recommend's
-- (after: sized on the replayed leads only, the originals being moved out
-- of the period inside the subtransaction). Admins only, like reorg_plan.
CREATE FUNCTION api.whatif(p_subject text, p_mode text, p_functions text, p_to_kind text, p_period text)
RETURNS SETOF api.whatif_row LANGUAGE plpgsql SET search_path = branchline, pg_temp SET jit = off AS $$
DECLARE
    c caller := auth(p_subject, 'whatif', '{admin}');
    fns text[] := parse_functions(p_functions, 'functions');
    root units := scoped_unit(c, NULL, 'at');
    to_kind text := CASE WHEN p_mode = 'decentralize' THEN coalesce(p_to_kind, 'region') ELSE p_to_kind END;
    days integer := parse_days(p_period, 'period', 30);
    since timestamptz := now() - make_interval(days => days);
    plan jsonb;
    replay jsonb;
    before_alloc jsonb;
    after_alloc jsonb := '{}';
    before_staff jsonb;
    after_staff jsonb;
    total bigint;
    k text;
BEGIN
    PERFORM check_reorg(p_mode, root, to_kind);
    SELECT reorg_compute(o.version, p_mode, fns, root, to_kind) INTO plan
      FROM org_state o WHERE o.tenant_id = c.tenant_id;
    SELECT coalesce(jsonb_object_agg(x.place, x.n), '{}'), coalesce(sum(x.n), 0) INTO before_alloc, total
      FROM (SELECT coalesce(show_path(b.path), '(queue)') AS place, count(*) AS n
              FROM leads l LEFT JOIN units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id
             WHERE l.tenant_id = c.tenant_id AND l.created_at >= since GROUP BY 1) x;
    SELECT coalesce(jsonb_agg(jsonb_build_object('external_id', 'whatif-' || l.id, 'project', p.code,
                                                 'channel', l.channel, 'origin', show_path(o.path)) ORDER BY l.id), '[]')
      INTO replay
      FROM leads l
      JOIN projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
      JOIN units o ON o.tenant_id = l.tenant_id AND o.id = l.origin_id
     WHERE l.tenant_id = c.tenant_id AND l.created_at >= since;
    before_staff := whatif_headcount(p_subject, p_period);
    BEGIN
        -- carried out as reorg_apply would, without refusing a plan that
        -- would leave two people of one name in a department: rolled back
        PERFORM begin_change();
        PERFORM reorg_carry_out(plan);
        UPDATE leads SET created_at = created_at - interval '100 years' WHERE tenant_id = c.tenant_id AND created_at >= since;
        FOR i IN 0 .. (jsonb_array_length(replay) - 1) / 5000 LOOP
            SELECT after_alloc || coalesce(jsonb_object_agg(x.place, x.n + coalesce((after_alloc->>x.place)::bigint, 0)), '{}')
              INTO after_alloc
              FROM (SELECT coalesce(nullif(r.branch_path, ''), '(queue)') AS place, count(*) AS n
                      FROM api.lead_import(p_subject, (SELECT jsonb_agg(e) FROM jsonb_array_elements(replay) WITH ORDINALITY a (e, n)
                                                        WHERE a.n > i * 5000 AND a.n <= (i + 1) * 5000), 1) r
                     GROUP BY 1) x;
        END LOOP;
        after_staff := whatif_headcount(p_subject, p_period);
        RAISE EXCEPTION USING ERRCODE = 'BLW01', MESSAGE = 'whatif: roll back';
    EXCEPTION WHEN SQLSTATE 'BLW01' THEN
        NULL;
    END;

    RETURN QUERY SELECT 'department', (o->>'path') || ':' || (o->>'function'), 0::double precision,
                        1::double precision, 0::double precision, 0::double precision, 'opened'
                   FROM jsonb_array_elements(plan->'open') o;
    RETURN QUERY SELECT 'department', (x->>'path') || ':' || (x->>'function'), 1::double precision,
                        0::double precision, 0::double precision, 0::double precision, 'closed'
                   FROM jsonb_array_elements(plan->'close') x;
    RETURN QUERY SELECT 'move', s.name || ' (' || (m->>'role') || ')', 0::double precision, 0::double precision,
                        0::double precision, 0::double precision,
                        (m->'from'->>'path') || ':' || (m->'from'->>'function') || ' -> '
                        || (m->'to'->>'path') || ':' || (m->'to'->>'function')
                   FROM jsonb_array_elements(plan->'moves') m
                   JOIN staff s ON s.tenant_id = c.tenant_id AND s.id = (m->>'staff_id')::bigint;
    FOR k IN SELECT DISTINCT x FROM (SELECT jsonb_object_keys(before_staff) UNION SELECT jsonb_object_keys(after_staff)) y (x)
              ORDER BY 1 LOOP
        RETURN NEXT ROW('headcount', k, coalesce((before_staff->>k)::double precision, 0),
                        coalesce((after_staff->>k)::double precision, 0), 0, 0,
                        'recommended headcount (staffing recommend)')::api.whatif_row;
    END LOOP;
    RETURN NEXT ROW('headcount', 'all departments',
                    (SELECT coalesce(sum(v::double precision), 0) FROM jsonb_each_text(before_staff) e (k2, v)),
                    (SELECT coalesce(sum(v::double precision), 0) FROM jsonb_each_text(after_staff) e (k2, v)), 0, 0,
                    'recommended headcount (staffing recommend)')::api.whatif_row;
    FOR k IN SELECT DISTINCT x FROM (SELECT jsonb_object_keys(before_alloc) UNION SELECT jsonb_object_keys(after_alloc)) y (x)
              ORDER BY 1 LOOP
        RETURN NEXT ROW('allocation', k, coalesce((before_alloc->>k)::double precision, 0),
                        coalesce((after_alloc->>k)::double precision, 0),
                        ratio(coalesce((before_alloc->>k)::numeric, 0), total),
                        ratio(coalesce((after_alloc->>k)::numeric, 0), total),
                        format('leads of the last %s days', days))::api.whatif_row;
    END LOOP;
    RETURN NEXT ROW('total', 'leads', total,
                    (SELECT coalesce(sum(v::double precision), 0) FROM jsonb_each_text(after_alloc) e (k2, v)), 1, 1,
                    format('leads of the last %s days', days))::api.whatif_row;
    RETURN QUERY SELECT 'tradeoff', t.aspect, 0::double precision, 0::double precision, 0::double precision,
                        0::double precision, t.detail FROM whatif_tradeoffs(p_mode) t;
END
$$;
