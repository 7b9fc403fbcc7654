-- +goose Up
-- A capture or cancel in progress reserves the payment: the operation and, for captures, the
-- amount. Another request (with another Idempotency-Key) that wants something else waits
-- (409) until it is settled, so the channel is never asked to capture and void one payment.
ALTER TABLE payments ADD COLUMN pending_op TEXT;
ALTER TABLE payments ADD COLUMN pending_amount INT8;

-- +goose Down
ALTER TABLE payments DROP COLUMN pending_amount;
ALTER TABLE payments DROP COLUMN pending_op;
