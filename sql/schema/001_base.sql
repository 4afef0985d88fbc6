-- Base objects. `branchd migrate` creates schema_migrations itself before
-- running this file, and runs every migration as the owner role.

-- branchline_app is the group role of the daemon's login role: it owns
-- nothing, is no superuser and has no BYPASSRLS, so row-level security binds
-- it. Deployments create a LOGIN role that is a member (see deploy/).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'branchline_app') THEN
        CREATE ROLE branchline_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO branchline_app;
GRANT SELECT ON schema_migrations TO branchline_app;
