-- A pool's members kept, not rebuilt from the organization by every
-- allocation (issue 18). One row per pool (holder, project): the branches
-- that can take its leads, caps aside (013: pool_members' rule), in path
-- order, with their paths and capacities, as the organization was at
-- org_version. Every organization change bumps the tenant's version
-- (002: begin_change) in its own transaction, so a row whose version is not
-- the tenant's current one is never read: the next allocation in the pool
-- reads the members from the organization again and stores them (013:
-- load_pool, save_pool). What changes without an organization change (caps,
-- the day's counts, outcomes, the round-robin state) is not kept here.
--
-- No foreign keys: a row of a unit or project deleted since is never read
-- again (its version is older than the deletion), and must not keep the
-- unit or project from being deleted.
CREATE TABLE branchline.lead_pool_members (
    tenant_id bigint NOT NULL,
    holder_id bigint NOT NULL,
    project_id bigint NOT NULL,
    org_version bigint NOT NULL,
    branch_ids bigint[] NOT NULL,
    paths text[] NOT NULL,
    capacities integer[] NOT NULL,
    PRIMARY KEY (tenant_id, holder_id, project_id),
    CHECK (cardinality(branch_ids) = cardinality(paths) AND cardinality(paths) = cardinality(capacities))
);
CALL branchline.isolate('branchline.lead_pool_members');
GRANT SELECT, INSERT, UPDATE ON branchline.lead_pool_members TO branchline_app;
