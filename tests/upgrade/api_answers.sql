-- What the api answers about the data fill_0_1.sql wrote, as the daemon's
-- role: tests/upgrade/run.sh compares it before and after an upgrade. It
-- names the columns it reads, so new columns of a wire type do not matter.
\set ON_ERROR_STOP on
SET ROLE branchd;
SELECT 'tenant', code, name, timezone FROM api.tenant_list('CN=up-ops') ORDER BY code;
SELECT 'principal', subject, role, scope_path, enabled FROM api.principal_list('CN=up-alice') ORDER BY subject;
SELECT 'unit', path, kind, status, name, opened_on FROM api.unit_list('CN=up-alice', NULL, NULL, NULL) ORDER BY path;
SELECT 'unit', path, kind, status, name FROM api.unit_list('CN=up-bob', NULL, NULL, NULL) ORDER BY path;
SELECT 'staff', name, role, dept_path, function, status FROM api.staff_list('CN=up-alice', NULL, NULL) ORDER BY id;
SELECT 'serving', branch_path, promotion, customer_service, sales, support FROM api.serving('CN=up-alice', '/') ORDER BY 2;
SELECT 'project', code, name FROM api.project_list('CN=up-alice') ORDER BY code;
SELECT 'policy', at_path, project, policy, sla_minutes, max_reallocations FROM api.policy_show('CN=up-alice') ORDER BY 2, 3;
SELECT 'lead', s.id, s.external_id, s.status, s.reason, s.branch_path, s.holder_path, s.duplicate_of, s.name, s.phone
  FROM (SELECT id FROM api.lead_list('CN=up-alice', NULL, NULL, NULL, NULL, 1000, NULL)
        UNION ALL SELECT id FROM api.lead_list('CN=up-bob', NULL, NULL, NULL, NULL, 1000, NULL)) l,
       LATERAL api.lead_show(CASE WHEN l.id IN (SELECT id FROM api.lead_list('CN=up-bob', NULL, NULL, NULL, NULL, 1000, NULL))
                                  THEN 'CN=up-bob' ELSE 'CN=up-alice' END, l.id) s
 ORDER BY s.id;
SELECT 'history', l.id, h.kind, h.from_branch, h.to_branch, h.reason
  FROM api.lead_list('CN=up-alice', NULL, NULL, NULL, NULL, 1000, NULL) l,
       LATERAL api.lead_history('CN=up-alice', l.id) h
 ORDER BY l.id, h.id;
SELECT 'waiting', count(*) FROM api.lead_list('CN=up-alice', NULL, 'waiting', NULL, NULL, 1000, NULL);
SELECT 'unroutable', count(*) FROM api.lead_list('CN=up-alice', NULL, 'unroutable', NULL, NULL, 1000, NULL);
SELECT 'audit', operation, target FROM api.audit_list('CN=up-alice', NULL, NULL, NULL, 1000) ORDER BY id;
