-- +goose Up
-- GET /v1/refunds lists a merchant's refunds newest first, as payments are listed.
CREATE INDEX refunds_merchant_created ON refunds (merchant_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX refunds_merchant_created;
