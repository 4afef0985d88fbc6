-- The organization's data model in one place: units (the hierarchy),
-- departments (a function hosted at a unit), positions and staff, support
-- assignments, projects. tenant_id leads every key, and every table is
-- isolated by row-level security (002: branchline.isolate).

-- The vocabularies, each defined once and used by constraints and validation.
CREATE FUNCTION branchline.unit_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{group,region,product_line,city,branch}'::text[] $$;
CREATE FUNCTION branchline.unit_statuses() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{active,paused,closed}'::text[] $$;
-- In the order the protocol lists them; outputs are sorted by it.
CREATE FUNCTION branchline.functions() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{promotion,customer_service,sales,support}'::text[] $$;
CREATE FUNCTION branchline.staff_roles() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{manager,supervisor,planner,technician,content_creator,promoter,consultant,salesperson,editor}'::text[] $$;
CREATE FUNCTION branchline.staff_statuses() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{active,on_leave,left}'::text[] $$;

-- ---- units --------------------------------------------------------------------

-- The hierarchy. Subtree and ancestor questions must be index-answered at
-- 100,000 units, under row-level security. That rules out ltree and array
-- containment: their operators are not LEAKPROOF, and PostgreSQL never uses
-- a non-leakproof condition as an index condition on a table with a policy.
-- Text comparison is leakproof, so the hierarchy is materialized as:
--   path       codes from the root, each followed by '/': '/', '/east/',
--              '/east/shanghai/'. In the "C" collation a unit's subtree is
--              the contiguous key range [path, path_end), path_end being path
--              with its last '/' replaced by '0', the character after '/'
--              (codes contain neither), and ORDER BY path is a depth-first
--              walk of the tree. The btree on (tenant_id, path) answers both;
--              "u.path >= x.path AND u.path < x.path_end" is a subtree test
--              usable as an index condition even in joins.
--   ancestors  ids from the root down to the parent: "ancestors of X" and
--              the serving rule (nearest department up the path) join on
--              them by id.
-- unit_move rewrites both for the whole subtree in one statement.
CREATE TABLE branchline.units (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    parent_id bigint,
    code text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind = ANY (branchline.unit_kinds())),
    status text NOT NULL DEFAULT 'active' CHECK (status = ANY (branchline.unit_statuses())),
    opened_on date NOT NULL,
    path text COLLATE "C" NOT NULL,
    path_end text COLLATE "C" NOT NULL GENERATED ALWAYS AS (left(path, -1) || '0') STORED,
    ancestors bigint[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, path),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES branchline.units (tenant_id, id),
    CHECK ((kind = 'group') = (parent_id IS NULL)),
    CHECK (cardinality(ancestors) = 0 OR ancestors[cardinality(ancestors)] = parent_id)
);
-- The group is the one root of its tenant.
CREATE UNIQUE INDEX units_one_group ON branchline.units (tenant_id) WHERE kind = 'group';
CREATE INDEX units_children ON branchline.units (tenant_id, parent_id);
-- "all branches under X" without visiting the other kinds.
CREATE INDEX units_kind ON branchline.units (tenant_id, kind, path);
CALL branchline.isolate('branchline.units');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.units TO branchline_app;

ALTER TABLE branchline.principals
    ADD FOREIGN KEY (tenant_id, scope_unit_id) REFERENCES branchline.units (tenant_id, id);
CREATE INDEX principals_scope ON branchline.principals (tenant_id, scope_unit_id);

-- ---- departments, positions, staff -------------------------------------------------

-- A function hosted at a unit; it serves every branch beneath the unit that
-- has no nearer department of the same function.
CREATE TABLE branchline.departments (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    unit_id bigint NOT NULL,
    function text NOT NULL CHECK (function = ANY (branchline.functions())),
    name text NOT NULL,
    -- customer service departments may run outside 1..10 consultants when
    -- someone decided so explicitly (staffing_check); set directly in SQL.
    consultants_override boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, unit_id, function),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES branchline.units (tenant_id, id)
);
CALL branchline.isolate('branchline.departments');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.departments TO branchline_app;

-- Planned headcount per role; a role without a row has none planned.
CREATE TABLE branchline.positions (
    tenant_id bigint NOT NULL,
    dept_id bigint NOT NULL,
    role text NOT NULL CHECK (role = ANY (branchline.staff_roles())),
    planned integer NOT NULL CHECK (planned > 0),
    PRIMARY KEY (tenant_id, dept_id, role),
    FOREIGN KEY (tenant_id, dept_id) REFERENCES branchline.departments (tenant_id, id) ON DELETE CASCADE
);
CALL branchline.isolate('branchline.positions');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.positions TO branchline_app;

-- People. Someone who left keeps their row (history, supervisor links); when
-- their department is removed, dept_id becomes NULL, which only people who
-- left may have: departments with active or on-leave people are never removed.
CREATE TABLE branchline.staff (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL,
    role text NOT NULL CHECK (role = ANY (branchline.staff_roles())),
    dept_id bigint,
    supervisor_id bigint,
    status text NOT NULL DEFAULT 'active' CHECK (status = ANY (branchline.staff_statuses())),
    start_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, dept_id) REFERENCES branchline.departments (tenant_id, id)
        ON DELETE SET NULL (dept_id),
    FOREIGN KEY (tenant_id, supervisor_id) REFERENCES branchline.staff (tenant_id, id),
    CHECK (dept_id IS NOT NULL OR status = 'left'),
    CHECK (supervisor_id <> id)
);
CREATE INDEX staff_dept ON branchline.staff (tenant_id, dept_id);
CREATE INDEX staff_supervisor ON branchline.staff (tenant_id, supervisor_id);
CALL branchline.isolate('branchline.staff');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.staff TO branchline_app;

-- ---- support assignments -------------------------------------------------------------

-- The group support unit helping a new or weak branch. Active while not
-- ended and not past `until`; at most one open assignment per branch.
CREATE TABLE branchline.support_assignments (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    branch_id bigint NOT NULL,
    reason text NOT NULL,
    since date NOT NULL,
    until date,
    ended_on date,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branchline.units (tenant_id, id) ON DELETE CASCADE,
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX support_open ON branchline.support_assignments (tenant_id, branch_id)
    WHERE ended_on IS NULL;
CALL branchline.isolate('branchline.support_assignments');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.support_assignments TO branchline_app;

-- ---- projects ------------------------------------------------------------------------

CREATE TABLE branchline.projects (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CALL branchline.isolate('branchline.projects');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.projects TO branchline_app;

-- The projects a branch handles. capacity NULL = derived from the branch's
-- salespeople (branchline.derived_capacity, 009).
CREATE TABLE branchline.branch_projects (
    tenant_id bigint NOT NULL,
    branch_id bigint NOT NULL,
    project_id bigint NOT NULL,
    capacity integer CHECK (capacity > 0),
    PRIMARY KEY (tenant_id, branch_id, project_id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branchline.units (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id)
);
CREATE INDEX branch_projects_project ON branchline.branch_projects (tenant_id, project_id);
CALL branchline.isolate('branchline.branch_projects');
GRANT SELECT, INSERT, UPDATE, DELETE ON branchline.branch_projects TO branchline_app;

-- Identity columns draw from sequences.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA branchline TO branchline_app;
