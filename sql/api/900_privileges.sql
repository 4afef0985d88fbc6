-- Privileges on every routine, granted after all of them exist (this file
-- runs last): branchline_app runs the api and the helpers it calls; nobody
-- else runs anything (functions are executable by PUBLIC unless revoked);
-- the daemon cannot bootstrap operators (only the owner can), create tables'
-- policies (isolate) or sweep with its own clock (sweep_at, for the owner
-- and tests).
REVOKE ALL ON ALL ROUTINES IN SCHEMA branchline, api FROM PUBLIC;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA branchline, api TO branchline_app;
REVOKE EXECUTE ON FUNCTION api.bootstrap_operator(text) FROM branchline_app;
REVOKE EXECUTE ON PROCEDURE branchline.isolate(regclass) FROM branchline_app;
REVOKE EXECUTE ON FUNCTION branchline.sweep_at(integer, timestamptz) FROM branchline_app;
