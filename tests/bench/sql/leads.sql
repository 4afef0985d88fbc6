-- blbench --scenario leads: LeadListRequest{branch, limit = 50}, the 50
-- newest leads of a random branch. Variables: subject, regions, cities,
-- branches (per region, per city), leads_limit.
\set r random(1, :regions)
\set c random(1, :cities)
\set b random(1, :branches)
SELECT * FROM api.lead_list(p_subject => :subject, p_branch => 'r' || :r || '/c' || :c || '/b' || :b, p_status => NULL, p_project => NULL, p_since => NULL, p_limit => :leads_limit, p_after => NULL);
