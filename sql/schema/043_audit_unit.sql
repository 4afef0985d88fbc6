-- The unit an audit entry is about, by id (issue #12): `audit --target PATH`
-- finds the entries recorded under the unit's earlier paths too (a unit
-- moved or reorganized keeps its id, not its path). Filled by the api's
-- audit() from the target path at the time of the change. Audit rows are
-- never changed (002: refuse_audit_change), so entries written before this
-- migration have none and are found by their path only, as they were.
ALTER TABLE branchline.audit ADD COLUMN unit_id bigint;
CREATE INDEX audit_unit ON branchline.audit (tenant_id, unit_id, id) WHERE unit_id IS NOT NULL;
