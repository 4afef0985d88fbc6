-- load_pool (013) reads each member's lead_pool_state row by its key
-- (tenant, holder, project, branch) with its generic plan, which
-- PostgreSQL chose to run on lead_pool_state_branch (tenant_id, branch_id)
-- with holder and project as a filter: generic estimates of either index
-- come to one row, and the smaller index looked no dearer. That reads every
-- pool row of the branch (one per project it handles) to keep one: 9 buffers
-- a member instead of 4, most of load_pool's members statement in a warm
-- allocation (tests/bench/RESULTS.md, "Fewer statements per allocation").
-- The same index with the rest of the key after its two columns serves
-- what it served (a branch's rows: the prefix) and makes a probe by key
-- exact through either index, whichever the planner takes.
CREATE INDEX lead_pool_state_branch_key ON branchline.lead_pool_state (tenant_id, branch_id, holder_id, project_id);
DROP INDEX branchline.lead_pool_state_branch;
