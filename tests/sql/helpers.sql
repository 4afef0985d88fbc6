-- Assertions shared by the SQL tests (\ir helpers.sql). Temporary
-- functions: a test that reconnects includes this file again.

CREATE FUNCTION pg_temp.eq(p_actual anycompatible, p_expected anycompatible, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_actual IS DISTINCT FROM p_expected THEN
        RAISE EXCEPTION E'%:\n  got      %\n  expected %', p_what, p_actual, p_expected;
    END IF;
END
$$;

-- Runs p_sql and checks it fails with SQLSTATE p_state naming p_column.
CREATE FUNCTION pg_temp.fails(p_sql text, p_state text, p_column text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    col text;
    msg text;
BEGIN
    BEGIN
        EXECUTE p_sql;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, msg = MESSAGE_TEXT;
        IF st IS DISTINCT FROM p_state OR coalesce(col, '') <> coalesce(p_column, '') THEN
            RAISE EXCEPTION E'%\n  failed with % (column "%"): %\n  expected % (column "%")',
                p_sql, st, col, msg, p_state, p_column;
        END IF;
        RETURN;
    END;
    RAISE EXCEPTION E'%\n  succeeded; expected % (column "%")', p_sql, p_state, p_column;
END
$$;
