-- blbench --scenario leads: LeadListRequest{branch, limit = 50}, the 50
-- newest leads of a random branch. Variables: subject, regions, cities,
-- branches (per region, per city), leads_limit.
\set r random(1, :regions)
\set c random(1, :cities)
\set b random(1, :branches)
SELECT * FROM api.lead_list(:subject, 'r' || :r || '/c' || :c || '/b' || :b, NULL, NULL, NULL, :leads_limit, NULL);
