-- Fills a database at release 0.1 through 0.1's api, as the daemon would:
-- two tenants; regions, cities and branches (one paused, one closed);
-- departments centralized and decentralized, positions, staff with
-- supervisors (one who left); principals of every role (one disabled);
-- projects, capacities, a daily cap, a support assignment, policies; and
-- leads in every status and queue: allocated, contacted, won, lost,
-- waiting (its pool at its cap), unroutable (no pool; SLA exhausted), a
-- duplicate, reallocated by the SLA sweep and reassigned by hand, with
-- their history; and the audit rows all of this wrote. Run by
-- tests/upgrade/run.sh as a superuser: the api as the daemon's role, the
-- operator's bootstrap and the sweep with its own clock as the owner.
\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = warning;

SELECT api.bootstrap_operator('CN=up-ops');
SET ROLE branchd;

SELECT id FROM api.tenant_create('CN=up-ops', 'acme', 'Acme 集团', 'CN=up-alice', 'Asia/Shanghai');
SELECT id FROM api.tenant_create('CN=up-ops', 'beta', 'Beta Ltd', 'CN=up-bob', 'UTC');

-- acme: the organization
SELECT id FROM api.unit_add('CN=up-alice', 'east', 'region', '华东大区', '2020-01-01');
SELECT id FROM api.unit_add('CN=up-alice', 'west', 'region', '西部大区', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/shanghai', 'city', '上海', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/hangzhou', 'city', '杭州', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'west/chengdu', 'city', '成都', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/shanghai/pudong', 'branch', '浦东分公司', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/shanghai/jingan', 'branch', '静安分公司', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/hangzhou/xihu', 'branch', '西湖分公司', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'east/hangzhou/binjiang', 'branch', '滨江分公司', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'west/chengdu/wuhou', 'branch', '武侯分公司', NULL);
SELECT id FROM api.unit_add('CN=up-alice', 'west/chengdu/jinjiang', 'branch', '锦江分公司', NULL);
SELECT id FROM api.unit_rename('CN=up-alice', 'west/chengdu/jinjiang', '锦江旗舰店');
SELECT id FROM api.unit_set_status('CN=up-alice', 'east/hangzhou/binjiang', 'paused');
SELECT id FROM api.unit_set_status('CN=up-alice', 'west/chengdu/jinjiang', 'closed');

SELECT id FROM api.dept_add('CN=up-alice', '/', 'promotion', NULL);
SELECT id FROM api.dept_add('CN=up-alice', 'east', 'customer_service', NULL);
SELECT id FROM api.dept_add('CN=up-alice', 'west', 'customer_service', '西部客服');
SELECT d.id FROM unnest(ARRAY['east/shanghai/pudong', 'east/shanghai/jingan', 'east/hangzhou/xihu',
                              'east/hangzhou/binjiang', 'west/chengdu/wuhou']) b,
              LATERAL api.dept_add('CN=up-alice', b, 'sales', NULL) d;
SELECT id FROM api.dept_add('CN=up-alice', 'east/shanghai', 'support', NULL);
SELECT role FROM api.position_set('CN=up-alice', 'east', 'customer_service', 'consultant', 4);
SELECT role FROM api.position_set('CN=up-alice', 'east/shanghai/pudong', 'sales', 'salesperson', 3);

SELECT id AS boss FROM api.staff_add('CN=up-alice', '王磊', 'manager', 'east', 'customer_service', NULL, '2021-03-01') \gset
SELECT id FROM api.staff_add('CN=up-alice', '李娜', 'consultant', 'east', 'customer_service', :boss, NULL);
SELECT id FROM api.staff_add('CN=up-alice', '张伟', 'consultant', 'east', 'customer_service', :boss, NULL);
SELECT id AS lead_sales FROM api.staff_add('CN=up-alice', '刘洋', 'manager', 'east/shanghai/pudong', 'sales', NULL, NULL) \gset
SELECT id FROM api.staff_add('CN=up-alice', '陈静', 'salesperson', 'east/shanghai/pudong', 'sales', :lead_sales, NULL);
SELECT id AS mover FROM api.staff_add('CN=up-alice', '赵敏', 'salesperson', 'east/shanghai/pudong', 'sales', NULL, NULL) \gset
SELECT id FROM api.staff_move('CN=up-alice', :mover, 'east/shanghai/jingan', 'sales', NULL);
SELECT id AS leaver FROM api.staff_add('CN=up-alice', '周杰', 'promoter', '/', 'promotion', NULL, NULL) \gset
SELECT id FROM api.staff_leave('CN=up-alice', :leaver, 'left');
SELECT id FROM api.staff_add('CN=up-alice', '吴芳', 'technician', 'east/shanghai', 'support', NULL, NULL);
SELECT branch_path FROM api.support_assign('CN=up-alice', 'east/shanghai/pudong', '系统升级', NULL);

SELECT subject FROM api.principal_add('CN=up-alice', 'CN=up-carol', 'unit_admin', 'east');
SELECT subject FROM api.principal_add('CN=up-alice', 'CN=up-dave', 'branch', 'east/shanghai/pudong');
SELECT subject FROM api.principal_add('CN=up-alice', 'CN=up-erin', 'viewer', 'west');
SELECT subject FROM api.principal_add('CN=up-alice', 'CN=up-frank', 'branch', 'west/chengdu/wuhou');
SELECT subject FROM api.principal_set_enabled('CN=up-alice', 'CN=up-frank', false);

SELECT code FROM api.project_add('CN=up-alice', 'seo', '搜索优化');
SELECT code FROM api.project_add('CN=up-alice', 'brand', '品牌专区');
SELECT code FROM api.project_add('CN=up-alice', 'loans', '贷款');   -- no branch handles it
SELECT a.branch_path
  FROM (VALUES ('east/shanghai/pudong', 3), ('east/shanghai/jingan', 2), ('east/hangzhou/xihu', 1),
               ('east/hangzhou/binjiang', 2), ('west/chengdu/wuhou', 2)) v (b, c),
       LATERAL api.project_assign('CN=up-alice', v.b, 'seo', v.c) a;
SELECT branch_path FROM api.project_assign('CN=up-alice', 'east/hangzhou/xihu', 'brand', 1);
SELECT branch_path FROM api.cap_set('CN=up-alice', 'east/hangzhou/xihu', 1, 5);
SELECT at_path FROM api.policy_set('CN=up-alice', 'east', 'seo', 'least_loaded', NULL, 30, 1);
SELECT at_path FROM api.policy_set('CN=up-alice', 'west', NULL, 'performance', NULL, 60, 0);
SELECT at_path FROM api.policy_set('CN=up-alice', '/', 'brand', 'project_lead', 'east/hangzhou/xihu', NULL, NULL);
SELECT at_path FROM api.policy_unset('CN=up-alice', '/', 'brand');

-- acme: leads
SELECT l.id FROM generate_series(1, 12) i,
  LATERAL api.lead_add('CN=up-alice', 'web-' || i, 'seo', 'search', 'east/shanghai', '客户' || i,
                            '1380000' || lpad(i::text, 4, '0'), 'c' || i || '@example.com', NULL) l;
SELECT id FROM api.lead_add('CN=up-alice', 'web-dup', 'seo', 'forum', 'east/shanghai', '客户1 again',
                            '+86 138 0000 0001', NULL, 'the same phone as web-1');
SELECT l.id FROM generate_series(1, 3) i,
  LATERAL api.lead_add('CN=up-alice', 'west-' || i, 'seo', 'social', 'west/chengdu', NULL, NULL, NULL, NULL) l;
-- xihu alone handles brand, 1 lead a day: the brand leads beyond it wait
SELECT l.id FROM generate_series(1, 3) i,
  LATERAL api.lead_add('CN=up-alice', 'brand-' || i, 'brand', 'brand_zone', 'east/hangzhou', NULL, NULL, NULL, NULL) l;
SELECT id FROM api.lead_add('CN=up-alice', 'loan-1', 'loans', 'website', 'east', NULL, NULL, NULL, NULL);
SELECT line FROM api.lead_import('CN=up-alice',
    '[{"external_id": "imp-1", "project": "seo", "channel": "email", "origin": "east/hangzhou"},
      {"external_id": "imp-2", "project": "seo", "channel": "referral", "origin": "east/hangzhou"},
      {"external_id": "imp-bad", "project": "nope", "channel": "email", "origin": ""}]', 2);

SELECT w.id FROM api.lead_list('CN=up-alice', NULL, 'allocated', 'seo', NULL, 6, NULL) l,
  LATERAL api.lead_contact('CN=up-alice', l.id, '已电话联系') w;
SELECT w.id FROM api.lead_list('CN=up-alice', NULL, 'contacted', 'seo', NULL, 2, NULL) l,
  LATERAL api.lead_win('CN=up-alice', l.id, '签约') w;
SELECT w.id FROM api.lead_list('CN=up-alice', NULL, 'contacted', 'seo', NULL, 1, NULL) l,
  LATERAL api.lead_lose('CN=up-alice', l.id, '预算不足') w;
SELECT w.id FROM api.lead_list('CN=up-alice', NULL, 'allocated', 'seo', NULL, 1, NULL) l,
  LATERAL api.lead_lose('CN=up-alice', l.id, '联系不上') w;
SELECT w.id FROM api.lead_list('CN=up-alice', 'east/shanghai/pudong', 'allocated', 'seo', NULL, 1, NULL) l,
  LATERAL api.lead_reassign('CN=up-alice', l.id, 'east/shanghai/jingan', '客户要求') w;

-- beta: a small second tenant
SELECT id FROM api.unit_add('CN=up-bob', 'north', 'region', 'North', NULL);
SELECT id FROM api.unit_add('CN=up-bob', 'north/oslo', 'branch', 'Oslo', NULL);
SELECT id FROM api.dept_add('CN=up-bob', '/', 'customer_service', NULL);
SELECT id FROM api.dept_add('CN=up-bob', 'north/oslo', 'sales', NULL);
SELECT code FROM api.project_add('CN=up-bob', 'ads', 'Ads');
SELECT branch_path FROM api.project_assign('CN=up-bob', 'north/oslo', 'ads', 5);
SELECT l.id FROM generate_series(1, 4) i,
  LATERAL api.lead_add('CN=up-bob', 'b-' || i, 'ads', 'other', 'north', NULL, NULL, 'b' || i || '@example.org', NULL) l;

-- the SLA: the uncontacted leads of east (30 minutes, one reallocation)
-- move once, then go back to their holder as unroutable (sla_exhausted)
RESET ROLE;
SELECT reallocated FROM branchline.sweep_at(1000, now() + interval '31 minutes');
SELECT reallocated FROM branchline.sweep_at(1000, now() + interval '62 minutes');

-- leads that arrive after the sweep stay allocated
SET ROLE branchd;
SELECT l.id FROM generate_series(1, 4) i,
  LATERAL api.lead_add('CN=up-alice', 'late-' || i, 'seo', 'website', 'east/shanghai', NULL, NULL, NULL, NULL) l;
RESET ROLE;
