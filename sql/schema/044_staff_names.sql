-- A person is known by name within a department (documents, README Leads:
-- I4): no two people who have not left share a name in one department.
-- staff_add and staff_move check it as they go and reorg_plan/reorg_apply
-- refuse a plan that would break it; this is the net under all of them,
-- checked at commit (so that one transaction may move people through a
-- department in any order) for every person added or moved, or coming back
-- from a leave, in the transaction. Rows already sharing a name from before
-- this migration are left as they are until one of them changes.
CREATE FUNCTION branchline.check_staff_name_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    clash record;
BEGIN
    IF current_tenant() IS NULL OR NEW.tenant_id IS DISTINCT FROM current_tenant() THEN
        RETURN NULL;
    END IF;
    SELECT u.path, d.function, string_agg('staff ' || s.id, ', ' ORDER BY s.id) AS people INTO clash
      FROM staff me
      JOIN staff s ON s.tenant_id = me.tenant_id AND s.dept_id = me.dept_id AND s.name = me.name AND s.status <> 'left'
      JOIN departments d ON d.tenant_id = me.tenant_id AND d.id = me.dept_id
      JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
     WHERE me.tenant_id = NEW.tenant_id AND me.id = NEW.id AND me.status <> 'left'
     GROUP BY u.path, d.function
    HAVING count(*) > 1;
    IF FOUND THEN
        PERFORM fail('FAILED_PRECONDITION', 'name',
                     'the %s department at %s would have two current people named %s (%s): a person is known by '
                     'name within a department; move one of them elsewhere or record that they left',
                     clash.function, show_path(clash.path), NEW.name, clash.people);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER staff_name_free AFTER INSERT OR UPDATE OF dept_id, status, name ON branchline.staff
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status <> 'left' AND NEW.dept_id IS NOT NULL)
    EXECUTE FUNCTION branchline.check_staff_name_at_commit();
