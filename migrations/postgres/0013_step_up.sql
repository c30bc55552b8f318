-- When a web session last proved a second factor (at sign-in, at an enrollment, or when asked
-- again): sensitive actions need a proof of the last minutes (a step-up). Kept in step with
-- ../sqlite/0013_step_up.sql.
ALTER TABLE web_sessions ADD COLUMN factor_at BIGINT;
