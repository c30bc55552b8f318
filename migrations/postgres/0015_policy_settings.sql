-- Policies changed while the server runs (console, API, CLI): for each section, the keys set
-- here over the config file, as a JSON object written as the file writes them. Every node
-- reads them at start and again each half minute. Kept in step with
-- ../sqlite/0015_policy_settings.sql.
CREATE TABLE policy_settings (
    section TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
