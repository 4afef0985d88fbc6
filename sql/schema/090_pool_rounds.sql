-- Smooth weighted round-robin in O(1) writes per allocation (issue 18).
--
-- Until now every rotation moved every candidate's credit, so a single
-- allocation rewrote all ~50 lead_pool_state rows of its pool. A pool now
-- keeps a round: a stretch of allocations over one set of candidates with
-- fixed weights (total W, `members` rows in it). A row in the round
-- (round_weight NOT NULL, its weight w in the round) stores in credit its
-- credit at the start of the round (in units of W) and in picks how often
-- the round chose it; after `rotations` allocations of the round its credit
-- is credit + rotations * w - picks * W, exactly what adding w to every
-- candidate and taking W from the chosen one gives (013: decide). One
-- allocation then writes the round row and the chosen branch's row only.
-- When the candidates or their weights change (a branch reaches its cap,
-- joins or leaves the pool, the performance weights move), the next
-- allocation starts a new round from the credits the old one reached, and
-- writes the pool's rows once.
--
-- Rows not in a round keep the meaning they had (credit in units of
-- credit_scale), so the state stored so far carries over as it is: every
-- row starts outside a round, and a pool's first allocation after this
-- migration starts its first round from them.
ALTER TABLE branchline.lead_pool_state
    ADD COLUMN round_weight double precision,
    ADD COLUMN picks bigint NOT NULL DEFAULT 0;

CREATE TABLE branchline.lead_pool_rounds (
    tenant_id bigint NOT NULL,
    holder_id bigint NOT NULL,
    project_id bigint NOT NULL,
    total double precision NOT NULL,
    members integer NOT NULL CHECK (members >= 0),
    rotations bigint NOT NULL CHECK (rotations >= 0),
    PRIMARY KEY (tenant_id, holder_id, project_id),
    FOREIGN KEY (tenant_id, holder_id) REFERENCES branchline.units (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id)
) WITH (fillfactor = 50);
CALL branchline.isolate('branchline.lead_pool_rounds');
GRANT SELECT, INSERT, UPDATE ON branchline.lead_pool_rounds TO branchline_app;
