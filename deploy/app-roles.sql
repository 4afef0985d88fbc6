-- The roles branchd connects with. Run as a superuser, before or after
-- `branchd migrate` (either may create branchline_app first):
--   psql -d branchline -f deploy/app-roles.sql
--
-- branchline_app is the group the migrations grant privileges to; branchd is
-- the login role the daemon uses. Neither is a superuser nor bypasses
-- row-level security, so tenant isolation in the database binds the daemon.
-- In production give branchd a password or a client-certificate login in
-- pg_hba.conf; development clusters trust the local socket instead.
SET client_min_messages = warning;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchline_app') THEN
        CREATE ROLE branchline_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchd') THEN
        CREATE ROLE branchd LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE branchline_app;
    ELSIF NOT pg_has_role('branchd', 'branchline_app', 'MEMBER') THEN
        GRANT branchline_app TO branchd;
    END IF;
END
$$;
