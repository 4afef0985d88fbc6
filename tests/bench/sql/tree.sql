-- blbench --scenario tree: ServingRequest{path = r<i>} (a region's branches
-- and who serves them), as the statement branchd prepares for serving (it
-- also reads the tenant the call ran in, to key its cache). Variables:
-- subject (-D), regions (-D).
\set r random(1, :regions)
SELECT *, current_setting('branchline.tenant', true) AS _tenant FROM api.serving(p_subject => :subject, p_path => 'r' || :r);
