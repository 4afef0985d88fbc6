-- Hands a Branchline database to branchline_owner: the database, the
-- schemas api and branchline with everything in them, schema_migrations,
-- and the policies that name the migration role (owner_lookup, sweep_scan:
-- sql/schema/002, 012, 070). For a database that an older set-up migrated
-- as a superuser; on a database branchline_owner owns already it changes
-- nothing. Run as a superuser in that database, after app-roles.sql and
-- before `branchd migrate` as branchline_owner:
--   psql -d branchline -f deploy/owner-handover.sql
-- Grants the old owner made move to the new owner with the objects.
SET client_min_messages = warning;

DO $$
DECLARE
    r record;
    roles text;
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO branchline_owner', current_database());
    FOR r IN SELECT n.nspname FROM pg_namespace n
              WHERE n.nspname IN ('api', 'branchline')
                AND n.nspowner <> 'branchline_owner'::regrole LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO branchline_owner', r.nspname);
    END LOOP;
    -- Relations; a sequence that belongs to a column (identity, serial)
    -- follows its table. Indexes follow their tables too.
    FOR r IN SELECT c.oid::regclass AS name,
                    CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                   WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE (n.nspname IN ('api', 'branchline')
                     OR (n.nspname = 'public' AND c.relname = 'schema_migrations'))
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                AND c.relowner <> 'branchline_owner'::regrole
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) LOOP
        EXECUTE format('ALTER %s %s OWNER TO branchline_owner', r.kind, r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('api', 'branchline') AND p.proowner <> 'branchline_owner'::regrole LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO branchline_owner', r.name);
    END LOOP;
    -- Types of their own (composite, enum, range, domain): a table's row
    -- type and every array type follow their owner.
    FOR r IN SELECT t.oid::regtype AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               LEFT JOIN pg_class c ON c.oid = t.typrelid
              WHERE n.nspname IN ('api', 'branchline') AND t.typowner <> 'branchline_owner'::regrole
                AND t.typelem = 0 AND t.typtype IN ('c', 'e', 'r', 'd')
                AND (t.typtype <> 'c' OR c.relkind = 'c') LOOP
        EXECUTE format('ALTER %s %s OWNER TO branchline_owner', r.kind, r.name);
    END LOOP;
    -- A policy that names a superuser named the role that ran the
    -- migrations: it now names the owner instead (with any other role it
    -- named).
    FOR r IN SELECT pol.polname, pol.polrelid::regclass AS tab, pol.polroles
               FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'branchline'
                AND EXISTS (SELECT 1 FROM pg_roles a WHERE a.oid = ANY (pol.polroles) AND a.rolsuper) LOOP
        SELECT string_agg(quote_ident(x), ', ') INTO roles
          FROM (SELECT 'branchline_owner' AS x
                UNION
                SELECT a.rolname FROM pg_roles a WHERE a.oid = ANY (r.polroles) AND NOT a.rolsuper) s;
        EXECUTE format('ALTER POLICY %I ON %s TO %s', r.polname, r.tab, roles);
    END LOOP;
END
$$;
