-- blbench --scenario alloc-batch: LeadImportRequest{leads = :batch leads of
-- one campaign (project p<n>, origin r<i>), each like alloc.sql's, with its
-- own external id and phone; first_line = 1}. branchd hands the repeated
-- field to SQL as one JSON array of objects with every LeadInput field (""
-- when not given); here the server builds the same array. Variables:
-- subject, projects, regions, batch, tag.
\set p random(1, :projects)
\set r random(1, :regions)
\set n random(1, 9000000000000000000)
SELECT * FROM api.lead_import(p_subject => :subject, p_leads => (SELECT jsonb_agg(jsonb_build_object('external_id', :tag || '-' || :client_id || '-' || :n || '-' || g, 'project', 'p' || :p, 'channel', 'search', 'origin', 'r' || :r, 'name', 'Bench lead', 'phone', '1' || lpad(floor(random() * 1e10)::bigint::text, 10, '0'), 'email', '', 'note', '')) FROM generate_series(0, :batch - 1) g), p_first_line => 1);
