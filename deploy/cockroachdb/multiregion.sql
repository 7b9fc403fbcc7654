-- CockroachDB multi-region overlay, applied once after the common schema
-- (core/postgres/migrations). It has NOT been executed here: no CockroachDB binary can be
-- obtained on the development machines. See deploy/cockroachdb/README.md.
--
-- Cluster region names must equal the platform's region names (start nodes with
-- --locality=region=us-east and so on), because each merchant-owned row's `region` column is
-- cast to the database's region enum to pin the row to the merchant's home region.

ALTER DATABASE paycenter SET PRIMARY REGION "us-east";
ALTER DATABASE paycenter ADD REGION "eu-west";
ALTER DATABASE paycenter ADD REGION "ap-south";
ALTER DATABASE paycenter SURVIVE REGION FAILURE;

-- Reference data, read everywhere, written rarely: fast local reads in every region.
ALTER TABLE regions SET LOCALITY GLOBAL;
ALTER TABLE goose_db_version SET LOCALITY GLOBAL;

-- Merchant-owned tables: each row lives in its merchant's home region.
ALTER TABLE merchants ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchants SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE api_keys ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE api_keys SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE api_key_events ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE api_key_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE payments ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE payments SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE refunds ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE refunds SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE idempotency_keys ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE idempotency_keys SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE ledger_entries ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE ledger_entries SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE outbox_events ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE outbox_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE channel_events ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE channel_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE notification_nonces ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE notification_nonces SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE merchant_channels ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_channels SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE payment_channel_accounts ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE payment_channel_accounts SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Node heartbeats: each node writes its own row a few times a second, so the row lives in the
-- node's region (a local write); only a take-over reads another region's rows.
ALTER TABLE nodes ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE nodes SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Monitoring: one lease row per detector (renewed every detector interval, seconds apart)
-- and the alerts, both rare writes read from every region: GLOBAL.
ALTER TABLE detector_leases SET LOCALITY GLOBAL;
ALTER TABLE alerts SET LOCALITY GLOBAL;

-- Risk (00010_risk.sql): rules and lists are read by every payment in every region and
-- written rarely by operators, so they are GLOBAL (fast reads everywhere); so are the
-- platform-wide AML cases, job leases and the audit log. Reviews and velocity counters are a
-- merchant's, in its home region.
ALTER TABLE risk_rules SET LOCALITY GLOBAL;
ALTER TABLE risk_lists SET LOCALITY GLOBAL;
ALTER TABLE risk_list_items SET LOCALITY GLOBAL;
ALTER TABLE aml_cases SET LOCALITY GLOBAL;
ALTER TABLE risk_jobs SET LOCALITY GLOBAL;
ALTER TABLE risk_audit SET LOCALITY GLOBAL;
ALTER TABLE risk_reviews ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE risk_reviews SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE risk_velocity ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE risk_velocity SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE customer_verifications ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE customer_verifications SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE customer_cards ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE customer_cards SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE verification_codes ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE verification_codes SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Webhooks: endpoints, deliveries and their attempts live with the merchant.
ALTER TABLE webhook_endpoints ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE webhook_endpoints SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE webhook_deliveries ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE webhook_deliveries SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE webhook_delivery_attempts ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE webhook_delivery_attempts SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE webhook_endpoint_events ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE webhook_endpoint_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Payers (00013_payers.sql): customers and their top-ups in the home region of the row;
-- wallets and their balance transactions in the customer's home region (the region in the
-- customer's ID), so spending from one wallet locks one regional row.
ALTER TABLE customers ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE customers SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE customer_wallets ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE customer_wallets SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE customer_balance_transactions ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE customer_balance_transactions SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE top_ups ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE top_ups SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE payer_notices ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE payer_notices SET LOCALITY REGIONAL BY ROW AS crdb_region;
-- Notification settings and template overrides (00017) in the merchant's home region.
ALTER TABLE notification_settings ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE notification_settings SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE notification_templates ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE notification_templates SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Merchant operations (00014): fee schedules, settlement terms and their audit trail live in
-- the merchant's region (the platform's default fee schedule in the region that set it).
ALTER TABLE fee_schedules ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE fee_schedules SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_settlement_terms ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_settlement_terms SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_ops_events ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_ops_events SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_kyc ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_kyc SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_volume ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_volume SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_transfer_permissions ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_transfer_permissions SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE transfers ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE transfers SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE transfer_reversals ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE transfer_reversals SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE adjustments ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE adjustments SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE settlements ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE settlements SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Payouts and payout schedules live in their merchant's home region.
ALTER TABLE payouts ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE payouts SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE merchant_payout_schedules ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE merchant_payout_schedules SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Back office: a merchant user's row lives in its merchant's home region, an operator's in the
-- region it was created in; a session in the region of the node that signed it in (the
-- e-mail's uniqueness is checked across regions, once per user created).
ALTER TABLE console_users ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_users SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE console_sessions ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_sessions SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE console_audit ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_audit SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Back office (00018): a merchant's daily rollups and its invitations live in its home region.
ALTER TABLE console_daily_stats ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_daily_stats SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE console_rollup_days ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_rollup_days SET LOCALITY REGIONAL BY ROW AS crdb_region;
ALTER TABLE console_invitations ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_invitations SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Back office (00021): a user's recovery codes live in the user's region.
ALTER TABLE console_recovery_codes ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (region::crdb_internal_region) STORED;
ALTER TABLE console_recovery_codes SET LOCALITY REGIONAL BY ROW AS crdb_region;
-- Reconciliation runs (00020) and their differences: operators' records, written a few times
-- a day and read from every region: GLOBAL.
ALTER TABLE reconciliation_runs SET LOCALITY GLOBAL;
ALTER TABLE reconciliation_differences SET LOCALITY GLOBAL;
