-- +goose Up
-- A merchant's settings of its payers' notices (core.NotificationSettings as JSONB, whole:
-- which notices go by which channel, the default low-balance thresholds, sender name and
-- Reply-To, default language, the periodic top-up reminder). No row: the defaults. The fan-out,
-- the low-balance reminder and the notifier read it in SQL.
CREATE TABLE notification_settings (
    merchant_id TEXT PRIMARY KEY,
    region      TEXT NOT NULL,
    settings    JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- A merchant's own version of a shipped template in one language (checked when saved);
-- without one the shipped template is used.
CREATE TABLE notification_templates (
    merchant_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, name, language)
);

-- +goose Down
DROP TABLE notification_templates;
DROP TABLE notification_settings;
