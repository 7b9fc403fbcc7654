-- +goose Up
-- (00005 is left to the node-liveness migration being written on another branch.)
-- Nonces of channel notifications, kept past the channel's clock-skew window so that a
-- notification replayed to any node, in any region, is refused as a replay. A nonce is
-- recorded in the transaction that applies its notification, so a notification that failed
-- to apply can be delivered again with the same signature. Rows are pinned, like
-- channel_events, to the region of the payment they are about.
CREATE TABLE notification_nonces (
    channel    TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    region     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, nonce)
);
CREATE INDEX notification_nonces_expiry ON notification_nonces (expires_at);

-- +goose Down
DROP TABLE notification_nonces;
