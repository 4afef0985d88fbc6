-- Leads: the data model of intake, allocation and working of consultation
-- leads (issue #4). The allocation itself is 013, the operations 014-015.
--
-- Volume shapes this file. Leads and their events are written on every
-- intake (millions of rows), so:
--   - they carry no foreign keys: an FK check takes a KEY SHARE row lock on
--     the parent (the tenant, the root unit, a popular branch), and every
--     concurrent intake locking the same parent row turns its xmax into a
--     growing MultiXact. Units they name cannot disappear under them anyway:
--     lead writers hold the tenant's unit guard (013: guard_units) in shared
--     mode and unit_delete takes it exclusively before it looks for leads
--     (unit_lead_blockers, 014);
--   - nothing is counted over them on the hot path: per-(pool, branch) and
--     per-(branch, day) counters (lead_pool_state, lead_day_counts) are kept
--     in the same transaction as the change they count.

-- ---- vocabularies ----------------------------------------------------------------

CREATE FUNCTION branchline.lead_channels() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{search,brand_zone,forum,social,email,referral,website,content,other}'::text[] $$;
CREATE FUNCTION branchline.lead_statuses() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{allocated,contacted,won,lost,unroutable,waiting}'::text[] $$;
CREATE FUNCTION branchline.lead_event_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{allocated,reallocated,reassigned,contacted,won,lost,unroutable,waiting,duplicate,purged}'::text[] $$;
CREATE FUNCTION branchline.lead_policy_names() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{weighted,least_loaded,performance,project_lead}'::text[] $$;

-- ---- tenant settings -------------------------------------------------------------

-- A new lead whose phone or e-mail matches an open lead created within this
-- many days is a duplicate of it; 0 turns duplicate detection off. No
-- operation sets it yet: an operator changes it in SQL.
ALTER TABLE branchline.tenants
    ADD COLUMN duplicate_window_days integer NOT NULL DEFAULT 30 CHECK (duplicate_window_days >= 0);

-- ---- leads -----------------------------------------------------------------------

-- status and branch_id move together: a lead has a branch exactly while it
-- is allocated, contacted, won or lost; waiting and unroutable leads sit in
-- their holder's queue. due_at is when the sweep (013) must look at the lead
-- again: the SLA deadline of an allocated lead, the next retry of a waiting
-- or unroutable one; NULL when nothing is due. phone_key and email_key are
-- the normalised contact for duplicate detection (013: phone_key); purge
-- clears them with the contact fields.
CREATE TABLE branchline.leads (
    tenant_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    external_id text COLLATE "C" NOT NULL,
    project_id bigint NOT NULL,
    channel text NOT NULL,
    origin_id bigint NOT NULL,
    holder_id bigint NOT NULL,
    branch_id bigint,
    status text NOT NULL,
    reason text,
    policy text,
    name text,
    phone text,
    email text,
    note text,
    phone_key text,
    email_key text,
    duplicate_of bigint,
    reallocations integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    allocated_at timestamptz,
    contacted_at timestamptz,
    closed_at timestamptz,
    purged_at timestamptz,
    due_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    CHECK ((branch_id IS NULL) = (status IN ('waiting', 'unroutable')))
);
-- a branch's leads, newest first (lead_list's keyset pages)
CREATE INDEX leads_branch ON branchline.leads (tenant_id, branch_id, id) WHERE branch_id IS NOT NULL;
-- the holders' queues: waiting and unroutable leads, by project
CREATE INDEX leads_unrouted ON branchline.leads (tenant_id, project_id, id) WHERE branch_id IS NULL;
-- the sweep's work across every tenant, soonest first
CREATE INDEX leads_due ON branchline.leads (due_at) WHERE due_at IS NOT NULL;
-- duplicate detection among open leads
CREATE INDEX leads_open_phone ON branchline.leads (tenant_id, phone_key)
    WHERE phone_key IS NOT NULL AND status IN ('allocated', 'contacted');
CREATE INDEX leads_open_email ON branchline.leads (tenant_id, email_key)
    WHERE email_key IS NOT NULL AND status IN ('allocated', 'contacted');
CALL branchline.isolate('branchline.leads');
-- The sweep (014) finds and locks due leads of every tenant before it
-- knows any tenant. It runs as the owner (SECURITY DEFINER), whom FORCE
-- binds too: this policy lets the owner see every tenant's leads while the
-- sweep has switched it on for that one query (SELECT ... FOR UPDATE needs
-- the UPDATE policy too). It names the migration role, so branchline_app
-- gains nothing from it.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY sweep_scan ON branchline.leads TO %I'
                   ' USING (current_setting(''branchline.sweep'', true) = ''on'')', current_user);
END
$$;
GRANT SELECT, INSERT, UPDATE ON branchline.leads TO branchline_app;

-- The history of a lead, one row per event. explain is the pool at the
-- moment of an allocation (or of a failed one): an array of
-- [branch_id, weight, allocated_before, score, chosen, note], read by
-- lead_explain. note holds the free text of a transition (personal data,
-- cleared by purge); reason is the system's or an admin's explanation.
CREATE TABLE branchline.lead_events (
    tenant_id bigint NOT NULL,
    lead_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    from_branch_id bigint,
    to_branch_id bigint,
    reason text,
    note text,
    principal text NOT NULL,
    policy text,
    explain jsonb,
    PRIMARY KEY (tenant_id, lead_id, id)
);
CALL branchline.isolate('branchline.lead_events');
-- The vocabulary checks of the two tables every intake writes hold literal
-- lists taken from the vocabularies: a CHECK calling a SQL function runs
-- it, parsed afresh, for every row.
DO $$
BEGIN
    EXECUTE format('ALTER TABLE branchline.leads ADD CHECK (channel = ANY (%L::text[])),'
                   ' ADD CHECK (status = ANY (%L::text[]))', branchline.lead_channels(), branchline.lead_statuses());
    EXECUTE format('ALTER TABLE branchline.lead_events ADD CHECK (kind = ANY (%L::text[]))', branchline.lead_event_kinds());
END
$$;
-- history is append-only but for purge clearing notes
GRANT SELECT, INSERT, UPDATE (note) ON branchline.lead_events TO branchline_app;

-- ---- allocation state --------------------------------------------------------------

-- One row per (pool, branch): a pool is (holder, project). credit is the
-- branch's smooth weighted round-robin credit ("current weight" in nginx),
-- expressed in units of credit_scale, the pool's total weight when it was
-- last written (013: decide); allocated counts the allocations this pool
-- made to the branch; open_leads the leads it gave the branch that are
-- still allocated or contacted there (least_loaded's load). Written only by
-- a transaction holding the pool's lock. fillfactor leaves room for HOT
-- updates: every allocation updates the rows of the whole pool.
CREATE TABLE branchline.lead_pool_state (
    tenant_id bigint NOT NULL,
    holder_id bigint NOT NULL,
    project_id bigint NOT NULL,
    branch_id bigint NOT NULL,
    credit double precision NOT NULL DEFAULT 0,
    credit_scale double precision NOT NULL DEFAULT 0,
    allocated bigint NOT NULL DEFAULT 0,
    open_leads integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, holder_id, project_id, branch_id),
    FOREIGN KEY (tenant_id, holder_id) REFERENCES branchline.units (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branchline.units (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id)
) WITH (fillfactor = 50);
CREATE INDEX lead_pool_state_branch ON branchline.lead_pool_state (tenant_id, branch_id);
CALL branchline.isolate('branchline.lead_pool_state');
GRANT SELECT, INSERT, UPDATE ON branchline.lead_pool_state TO branchline_app;

-- What happened per branch, tenant-local day, project and holder: leads
-- received (allocations, reallocations, duplicates and reassignments to the
-- branch), contacted (and within the SLA), won, lost. Caps, performance
-- weights and lead_stats read these instead of counting leads. The holder
-- is part of the key so that every row belongs to one pool and is written
-- under that pool's lock only.
CREATE TABLE branchline.lead_day_counts (
    tenant_id bigint NOT NULL,
    branch_id bigint NOT NULL,
    day date NOT NULL,
    project_id bigint NOT NULL,
    holder_id bigint NOT NULL,
    received integer NOT NULL DEFAULT 0,
    contacted integer NOT NULL DEFAULT 0,
    contacted_in_sla integer NOT NULL DEFAULT 0,
    won integer NOT NULL DEFAULT 0,
    lost integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, branch_id, day, project_id, holder_id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branchline.units (tenant_id, id),
    FOREIGN KEY (tenant_id, holder_id) REFERENCES branchline.units (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id)
) WITH (fillfactor = 70);
CALL branchline.isolate('branchline.lead_day_counts');
GRANT SELECT, INSERT, UPDATE ON branchline.lead_day_counts TO branchline_app;

-- ---- configuration -------------------------------------------------------------------

-- Caps per branch, over all projects; NULL = no cap for that period.
CREATE TABLE branchline.lead_caps (
    tenant_id bigint NOT NULL,
    branch_id bigint NOT NULL,
    per_day integer CHECK (per_day > 0),
    per_week integer CHECK (per_week > 0),
    PRIMARY KEY (tenant_id, branch_id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branchline.units (tenant_id, id) ON DELETE CASCADE,
    CHECK (per_day IS NOT NULL OR per_week IS NOT NULL)
);
CALL branchline.isolate('branchline.lead_caps');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.lead_caps TO branchline_app;

-- Allocation policies: holder_id NULL = every holder, project_id NULL =
-- every project. The most specific row wins (013: policy_for).
CREATE TABLE branchline.lead_policies (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    holder_id bigint,
    project_id bigint,
    policy text NOT NULL CHECK (policy = ANY (branchline.lead_policy_names())),
    lead_branch_id bigint,
    sla_minutes integer NOT NULL DEFAULT 0 CHECK (sla_minutes >= 0),
    max_reallocations integer NOT NULL DEFAULT 3 CHECK (max_reallocations >= 0),
    PRIMARY KEY (tenant_id, id),
    UNIQUE NULLS NOT DISTINCT (tenant_id, holder_id, project_id),
    FOREIGN KEY (tenant_id, holder_id) REFERENCES branchline.units (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_branch_id) REFERENCES branchline.units (tenant_id, id)
        ON DELETE SET NULL (lead_branch_id)
);
CALL branchline.isolate('branchline.lead_policies');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.lead_policies TO branchline_app;

GRANT USAGE ON ALL SEQUENCES IN SCHEMA branchline TO branchline_app;
