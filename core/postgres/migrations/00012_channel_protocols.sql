-- +goose Up
-- The channel account each WeChat Pay, Alipay or bank payment was authorised on: the
-- merchant's own credentials as they were then (sealed like merchant_channels.credentials,
-- bound to the payment), or NULL for the platform's account. The payment's later calls
-- (re-driven authorisations, voids, refunds, queries) go to that account even after the
-- merchant's credentials change. Rows are pinned to the payment's region.
CREATE TABLE payment_channel_accounts (
    payment_id  TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    channel     TEXT NOT NULL,
    region      TEXT NOT NULL,
    credentials BYTEA,
    created_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE payment_channel_accounts;
