-- The roles of a Branchline database. Run as a superuser, once per cluster
-- (roles are cluster-wide; any database will do) and before the first
-- `branchd migrate`:
--   psql -d postgres -f deploy/app-roles.sql
--
-- branchline_owner owns the database, its schemas, tables and functions:
-- `branchd migrate` logs in as it, and every SECURITY DEFINER function runs
-- as it. branchline_app is the group the migrations grant privileges to;
-- branchd is the login role the daemon uses. None of them is a superuser,
-- bypasses row-level security or may create roles or databases, so the
-- tables' forced row-level security binds the owner as well as the daemon.
-- Re-running this file puts those attributes back if someone changed them.
-- Give branchline_owner and branchd a login through peer authentication (an
-- OS user mapped in pg_ident.conf) or a password (scram-sha-256) in
-- pg_hba.conf, never `trust`: README.md, "Security".
SET client_min_messages = warning;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchline_owner') THEN
        CREATE ROLE branchline_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchline_app') THEN
        CREATE ROLE branchline_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchd') THEN
        CREATE ROLE branchd LOGIN IN ROLE branchline_app;
    ELSIF NOT pg_has_role('branchd', 'branchline_app', 'MEMBER') THEN
        GRANT branchline_app TO branchd;
    END IF;
END
$$;
ALTER ROLE branchline_owner NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE branchline_app NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE branchd NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
