-- Planning settings of a tenant (issue #16): what staffing_recommend sizes
-- departments with. No operation sets them yet: an operator changes them in
-- SQL, as duplicate_window_days. The defaults are the README's
-- ("Staffing recommendations").
ALTER TABLE branchline.tenants
    ADD COLUMN handle_minutes double precision NOT NULL DEFAULT 6 CHECK (handle_minutes > 0),
    ADD COLUMN answer_within_seconds integer NOT NULL DEFAULT 60 CHECK (answer_within_seconds > 0),
    ADD COLUMN service_level double precision NOT NULL DEFAULT 0.8 CHECK (service_level > 0 AND service_level < 1),
    ADD COLUMN shrinkage double precision NOT NULL DEFAULT 0.3 CHECK (shrinkage >= 0 AND shrinkage <= 0.95),
    ADD COLUMN max_occupancy double precision NOT NULL DEFAULT 0.85 CHECK (max_occupancy > 0 AND max_occupancy <= 1),
    ADD COLUMN leads_per_salesperson_day double precision NOT NULL DEFAULT 8 CHECK (leads_per_salesperson_day > 0);
