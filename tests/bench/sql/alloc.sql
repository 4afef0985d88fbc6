-- blbench --scenario alloc: LeadAddRequest{external_id (unique), project
-- p<n>, channel search, origin r<i> (its customer service holds the lead),
-- name, phone}: one lead allocated per call. Variables: subject, projects,
-- regions, tag (prefix of external ids).
\set p random(1, :projects)
\set r random(1, :regions)
\set n random(1, 9000000000000000000)
\set phone random(0, 9999999999)
SELECT * FROM api.lead_add(p_subject => :subject, p_external_id => :tag || '-' || :client_id || '-' || :n, p_project => 'p' || :p, p_channel => 'search', p_origin => 'r' || :r, p_name => 'Bench lead', p_phone => '1' || lpad(:phone::text, 10, '0'), p_email => NULL, p_note => NULL);
