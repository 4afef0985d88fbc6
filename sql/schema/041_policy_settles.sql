-- A policy change can create a route (README, Leads: I2): an sla_exhausted
-- lead may be allocated again once the policy serving it allows another
-- reallocation (max_reallocations raised, or the policy removed so that a
-- more generous one applies). So lead_policies joins the tables whose
-- changes settle the leads at commit (040_lead_invariants.sql).
CREATE CONSTRAINT TRIGGER settle_leads AFTER INSERT OR UPDATE OR DELETE ON branchline.lead_policies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION branchline.settle_at_commit();
