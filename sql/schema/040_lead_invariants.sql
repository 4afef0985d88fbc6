-- The organization x lead invariants (README, Leads: I1-I3): what the
-- tables need for them. The functions that restore the invariants are the
-- api's (api/040_lead_invariants.sql: settle_leads); here are the index
-- they read and the deferred triggers that call them at commit of every
-- transaction that changed what lead placement reads.
--
-- Rather than every operation knowing which leads it may strand, a
-- deferred constraint trigger on every table the placement reads (units,
-- departments, staff through derived capacities, branch_projects,
-- lead_caps) runs settle_leads once per transaction, at commit, after the
-- operation's last statement: an operation added later cannot forget it,
-- and a document apply that touches a thousand rows settles once.

-- Leads not yet closed, by origin: what settle_leads reads. Closed leads
-- pile up over the years; open and queued ones stay few.
CREATE INDEX leads_unclosed_origin ON branchline.leads (tenant_id, origin_id)
    WHERE status IN ('allocated', 'contacted', 'waiting', 'unroutable');

-- The deferred trigger: the first row event of a transaction settles, at
-- commit, once for the whole transaction (the setting is transaction-local).
-- Rows of another tenant than the transaction's (owner scripts) and
-- transactions without a tenant are left alone.
CREATE FUNCTION branchline.settle_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
BEGIN
    IF current_tenant() IS NULL OR current_setting('branchline.settled', true) = 'on'
       OR coalesce(NEW.tenant_id, OLD.tenant_id) IS DISTINCT FROM current_tenant() THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('branchline.settled', 'on', true);
    PERFORM settle_leads(now(), 1000);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY '{units,departments,staff,branch_projects,lead_caps}'::text[] LOOP
        EXECUTE format('CREATE CONSTRAINT TRIGGER settle_leads AFTER INSERT OR UPDATE OR DELETE ON branchline.%I'
                       ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION branchline.settle_at_commit()',
                       tbl);
    END LOOP;
END
$$;

-- Support is given by a support department: an open support assignment
-- needs one on its branch's path. Checked at commit, like the leads, so
-- that a document may list the assignment before the department, and a
-- department cannot go (dept remove, reorg, apply --prune) from under an
-- assignment that still needs it.
CREATE FUNCTION branchline.check_support_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = branchline, pg_temp AS $$
DECLARE
    orphan text;
BEGIN
    IF current_tenant() IS NULL OR current_setting('branchline.support_checked', true) = 'on'
       OR coalesce(NEW.tenant_id, OLD.tenant_id) IS DISTINCT FROM current_tenant() THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('branchline.support_checked', 'on', true);
    SELECT show_path(b.path) INTO orphan
      FROM support_assignments s JOIN units b ON b.tenant_id = s.tenant_id AND b.id = s.branch_id
     WHERE s.tenant_id = current_tenant() AND s.ended_on IS NULL
       AND NOT EXISTS (SELECT FROM departments d WHERE d.tenant_id = b.tenant_id AND d.function = 'support'
                          AND d.unit_id = ANY (b.ancestors || b.id))
     ORDER BY b.path LIMIT 1;
    IF orphan IS NOT NULL THEN
        PERFORM fail('FAILED_PRECONDITION', 'branch',
                     'the support of %s needs a support department serving it: add one (dept add / support) or end the support first',
                     orphan);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER support_served AFTER INSERT OR UPDATE ON branchline.support_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION branchline.check_support_at_commit();
CREATE CONSTRAINT TRIGGER support_served AFTER UPDATE OR DELETE ON branchline.departments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION branchline.check_support_at_commit();
CREATE CONSTRAINT TRIGGER support_served AFTER UPDATE ON branchline.units
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION branchline.check_support_at_commit();
