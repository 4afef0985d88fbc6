-- A cap of 0 means no leads at all that period (issue #12: `cap set
-- --per-day 0` used to mean "no cap"); no cap is a NULL period, and no
-- row at all once both are (cap unset). Rows stored so far never hold 0.
ALTER TABLE branchline.lead_caps
    DROP CONSTRAINT lead_caps_per_day_check,
    DROP CONSTRAINT lead_caps_per_week_check,
    ADD CONSTRAINT lead_caps_per_day_check CHECK (per_day >= 0),
    ADD CONSTRAINT lead_caps_per_week_check CHECK (per_week >= 0);
