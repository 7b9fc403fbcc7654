// Package netsim is the network payment-channel simulator that speaks, over HTTP, simplified
// versions of the WeChat Pay API v3, the Alipay open API, a bank-transfer API and a subset
// of Stripe's API (for the card acquirer), so that the real channel adapters
// (core/wechatpay, core/alipay, core/banktransfer, core/cardacq) can be tested end to end: signatures both ways, pay-then-notify flows, order expiry, idempotent
// creates and refunds, daily statements and injected faults. cmd/channelsim runs it as a
// process; tests run it in-process (NewServer, Start, Close) on a loopback port and drive it
// with the typed control client Control.
//
// # Keys and signatures
//
// Both sides have an Ed25519 key pair (Ed25519 stands in for the channels' RSA). The
// simulator verifies the platform's requests with the public key registered for the
// client (Config.Clients, PUT /sim/clients/{id}, cmd/channelsim -platform-key-file; "*"
// matches any client) and signs every answer and notification with its own key (GET
// /sim/public-key). A key's serial is the upper-case hex of the first 8 bytes of its
// SHA-256. Requests are refused with 401 and a message saying why when the signature is
// missing or does not verify, the client has no key, the timestamp is more than
// Config.MaxClockSkew (5 min) from the simulator's clock, or the nonce was already used
// (nonces are remembered for twice the skew). A refused request executes nothing.
//
// WeChat Pay and the bank sign requests with an Authorization header:
//
//	Authorization: WECHATPAY2-ED25519 mchid="1900000109",nonce_str="…",timestamp="1554208460",serial_no="…",signature="<base64>"
//	Authorization: SIMBANK-ED25519 client_id="…",nonce="…",timestamp="…",serial_no="…",signature="<base64>"
//
// signing "METHOD\nREQUEST-URI\nTIMESTAMP\nNONCE\nBODY\n" (REQUEST-URI is path and query).
// Answers and notifications carry Wechatpay-Timestamp, -Nonce, -Signature, -Serial and
// -Signature-Type headers (Simbank-… for the bank), the signature covering
// "TIMESTAMP\nNONCE\nBODY\n". A receiver checks the serial, the signature, the timestamp
// (staleness) and, for notifications, that the nonce is new. Each delivery of a
// notification, retries and injected duplicates included, is signed afresh.
//
// Alipay signs parameters: a request's parameters other than sign, with non-empty values,
// sorted by name and joined as "k=v&k=v" (values not URL-encoded), are signed into sign
// (standard base64), with sign_type=ED25519. The common parameters are app_id, method,
// format=JSON, charset=utf-8, sign_type, timestamp ("yyyy-MM-dd HH:mm:ss", UTC+8),
// version=1.0, nonce (a simulator addition: Alipay has none) and biz_content (JSON). An
// answer is {"<method with _ for .>_response": {…}, "sign": "…"} (or "error_response"),
// sign covering the exact bytes of the response object. Notifications are signed like
// requests, but without sign and sign_type in the signed content.
//
// # Idempotency
//
// Every create, close and refund may carry the platform's channel key in an
// Idempotency-Key header (the adapters send core.AuthorizeKey, core.VoidKey and
// core.RefundKey); without it the natural key is used (out_trade_no, out_refund_no). A key
// executes at most once: a repeat gets the first answer byte for byte (freshly signed, with
// Idempotent-Replayed: true); a repeat with other parameters is refused (422
// IDEMPOTENCY_KEY_REUSED). Independently, an out_trade_no names one order and an
// out_refund_no one refund. GET /sim/charges reports, per payment (out_trade_no), the
// orders created, the charges (payers' payments) and their amounts, the refunds and the
// executions of each key, so tests can prove nothing was charged twice.
//
// # WeChat Pay (API v3, Native payments)
//
//	POST /v3/pay/transactions/native                              create an order → 200 {code_url, transaction_id, time_expire}
//	     {appid, mchid, description, out_trade_no, time_expire?, notify_url, amount: {total, currency}}
//	GET  /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=  → 200 transaction | 404 ORDER_NOT_EXIST
//	POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close   {mchid} → 204 | 400 ORDERPAID | 404
//	POST /v3/refund/domestic/refunds                              → 200 refund (status SUCCESS)
//	     {out_trade_no, out_refund_no, reason?, notify_url?, amount: {refund, total?, currency?}}
//	     | 400 REFUND_AMOUNT_EXCEEDED | 400 TRADE_STATE_ERROR (not paid) | 404 ORDER_NOT_EXIST
//	GET  /v3/refund/domestic/refunds/{out_refund_no}              → 200 refund | 404 RESOURCE_NOT_EXISTS
//	GET  /wechat_pay/statements?date=YYYY-MM-DD                   → 200 statement
//
// Amounts are integers in minor units (fen for CNY, the default currency). A transaction is
// {appid, mchid, out_trade_no, transaction_id, trade_type: NATIVE, trade_state: NOTPAY |
// SUCCESS | REFUND | PAYERROR | CLOSED, trade_state_desc, success_time, amount: {total,
// payer_total, currency, refunded}}. Errors are {code, message}. Times are RFC 3339 in UTC+8.
// Departures from WeChat Pay: transaction_id exists from creation and is answered with
// code_url and time_expire; amount.refunded is added; amount.total is optional in refunds;
// out_trade_no may have up to 64 characters; refunds succeed at once; closing by the
// merchant sends no notification. Notifications are POSTed as JSON
// {id, create_time, event_type, resource_type: "plaintext", summary, resource:
// {original_type: "transaction" | "refund", data: <transaction or refund>}} (in plain text:
// WeChat Pay encrypts resource with AES-256-GCM), event_type being TRANSACTION.SUCCESS,
// TRANSACTION.PAYERROR, TRANSACTION.CLOSED (expired), TRANSACTION.NOTPAY (only as an
// injected stale notification) or REFUND.SUCCESS.
//
// # Alipay (open API)
//
// POST /gateway.do, form-encoded, method one of:
//
//	alipay.trade.precreate   {out_trade_no, total_amount, trans_currency?, subject, time_expire?}
//	                         → {code: 10000, out_trade_no, qr_code, trade_no, time_expire}
//	alipay.trade.page.pay    the same (+ product_code) → {…, page_url}
//	alipay.trade.query       {out_trade_no} → {trade_no, out_trade_no, trade_status, total_amount, trans_currency,
//	                         gmt_create, gmt_payment, send_pay_date, refund_fee, gmt_close, fail_reason}
//	alipay.trade.close       {out_trade_no} → {trade_no, out_trade_no}
//	alipay.trade.refund      {out_trade_no, refund_amount, out_request_no, refund_reason?}
//	                         → {trade_no, out_trade_no, out_request_no, refund_id, fund_change, refund_fee, send_back_fee, gmt_refund_pay}
//	alipay.trade.fastpay.refund.query {out_trade_no, out_request_no} → {refund_status: REFUND_SUCCESS, refund_amount, …}
//
// plus GET /alipay/statements?date=YYYY-MM-DD&<signed common parameters>, answered as
// {"alipay_statement_response": {code, msg, channel, date, lines}, "sign"}. Amounts are
// decimal strings in major units of trans_currency (CNY by default): "88.88". Results:
// code 10000 success; 40004 business failure with sub_code ACQ.TRADE_NOT_EXIST,
// ACQ.TRADE_STATUS_ERROR (closing a paid trade, refunding an unpaid one),
// ACQ.REFUND_AMT_NOT_EQUAL_TOTAL (refund exceeds what is left), ACQ.TRADE_HAS_SUCCESS,
// ACQ.TRADE_HAS_CLOSE, ACQ.CONTEXT_INCONSISTENT, ACQ.DISCORDANT_REPEAT_REQUEST; 40002
// invalid arguments (HTTP 200), or, with HTTP 401, isv.invalid-signature,
// isv.invalid-timestamp, isv.replayed-nonce, isv.invalid-app-id; 20000 (HTTP 5xx) unknown.
// trade_status is WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED or TRADE_FAILED (a simulator
// addition for a failed payment; a refunded trade stays TRADE_SUCCESS, with refund_fee).
// qr_code and page_url lead to the simulator's payer page, /pay/{token}. Notifications
// (notify_type trade_status_sync) are POSTed as forms with notify_id, notify_time, app_id,
// nonce, sign_type, sign, trade_no, out_trade_no, trade_status, total_amount,
// trans_currency, gmt_create/gmt_payment/gmt_close and, for refunds, out_biz_no (the
// out_request_no), refund_id, refund_fee (total refunded), send_back_fee (this refund) and
// gmt_refund.
//
// # Bank transfer ("Simbank")
//
//	POST /bank/v1/transfers                      {out_trade_no, amount, currency, description?, notify_url?, expires_at?}
//	                                             → 201 transfer (200 for an existing out_trade_no) | 409 out_trade_no_in_use
//	GET  /bank/v1/transfers/{out_trade_no}       → 200 transfer | 404 transfer_not_found
//	POST /bank/v1/transfers/{out_trade_no}/cancel → 200 transfer | 409 transfer_received | 404
//	POST /bank/v1/refunds                        {out_trade_no, out_refund_no, amount, currency?, notify_url?}
//	                                             → 201 refund | 422 transfer_not_received | 422 amount_exceeds_received | 404
//	GET  /bank/v1/refunds/{out_refund_no}        → 200 refund | 404 refund_not_found
//	GET  /bank_transfer/statements?date=YYYY-MM-DD
//
// A transfer is {transfer_id, out_trade_no, status: pending | received | rejected | expired
// | canceled, amount, currency, beneficiary: {name, account}, reference (for the payer to
// quote), created_at, expires_at, received_at, closed_at, failure_reason, refunded}; a refund
// {refund_id, out_refund_no, out_trade_no, amount, currency, status: succeeded, created_at}.
// Amounts are minor units, times RFC 3339 UTC, errors {"error": {code, message}}. The bank
// receives a transfer when POST /sim/pay says so or, with Config.BankAutoConfirm, on its
// own. Notifications are JSON {event_id, event_type: transfer.received | transfer.rejected |
// transfer.expired | transfer.pending (stale only) | refund.succeeded, created_at, data:
// {transfer, refund?}}.
//
// # Card acquirer (a Stripe-compatible subset)
//
// For card and debit-card channels the simulator answers a subset of Stripe's API, enough
// for stripe-go and core/cardacq (form-encoded requests, "Authorization: Bearer sk_…" with
// any secret key, JSON answers in Stripe's shapes, errors {"error": {type, code,
// decline_code, message, payment_intent?}}):
//
//	POST /v1/payment_methods                   type=card, card[number|exp_month|exp_year|cvc]; 402 incorrect_number unless Luhn-valid
//	POST /v1/payment_intents                   amount, currency, capture_method, payment_method, confirm, metadata[…]
//	POST /v1/payment_intents/{id}/confirm|capture|cancel   (capture: amount_to_capture)
//	GET  /v1/payment_intents/{id}              expand[]=latest_charge
//	GET  /v1/payment_intents/search            query=metadata['k']:'v' (immediately consistent)
//	POST /v1/refunds                           payment_intent (or charge), amount, metadata[…]
//	GET  /v1/refunds/{id}
//	GET  /v1/balance_transactions              created[gte|gt|lt|lte], expand[]=data.source(.payment_intent)
//
// Confirming honours cmd/channelsim/inprocsim's test cards (4000000000000002 card_declined,
// 4000000000009995 insufficient_funds, 4000000000000069 expired_card, 4000000000000127
// incorrect_cvc, 4000000000000119 processing_error, and a past expiry date is
// expired_card): a decline is a 402 card_error carrying the PaymentIntent, now
// requires_payment_method with last_payment_error. Other valid numbers succeed: status
// succeeded (automatic capture) or requires_capture (manual). Wrong states are 400
// payment_intent_unexpected_state, over-captures and over-refunds 400 amount_too_large (or
// charge_already_refunded). POSTs with an Idempotency-Key are executed once and replayed,
// as Stripe does (a key reused with other parameters: 400 idempotency_error). A
// PaymentIntent counts as an order and a successful authorisation as a charge of the
// payment named by metadata[payment_id] (or of the intent) in /sim/charges. Faults of the
// "card" channel apply to every /v1 call.
//
// # Notifications
//
// When an order is paid, fails, expires, or is refunded, the simulator POSTs a signed
// notification to the notify_url given with the order (or the refund) and redelivers it,
// with exponential backoff (Config.NotifyBackoff doubling to NotifyMaxBackoff), until the
// receiver answers 2xx or Config.NotifyAttempts deliveries were made. GET /sim/notifications
// lists every delivery job with its attempts.
//
// # Statements
//
// GET /<channel>/statements?date=YYYY-MM-DD (channel: wechat_pay, alipay, bank_transfer),
// signed like the channel's other calls, lists the calling client's money movements whose
// time falls on that UTC day, oldest first, as JSON {channel, date, lines: [{kind: charge |
// refund, out_trade_no, out_refund_no, reference, amount (minor units), currency, time}]}
// (for Alipay wrapped in its signed response envelope). A charge is a payer's payment
// (reference: the transaction ID), a refund a refund (reference: the refund ID).
//
// # Control API (unauthenticated: the simulator is a test tool)
//
//	POST   /sim/pay            {channel, out_trade_no, fail?, fail_reason?}: the payer pays (or the payment fails) → 200 order | 404 | 409
//	POST   /sim/expire         {channel, out_trade_no}: expire a pending order now (as its timer would)
//	GET    /sim/orders/{channel}/{out_trade_no}
//	GET    /sim/charges        per payment: orders, charges, amounts, refunds, key executions
//	GET    /sim/notifications  delivery jobs: event ID, kind, copy, stale, attempts, delivered, finished
//	GET    /sim/faults, POST /sim/faults {"<channel>": Faults, …} (replaces those channels'), DELETE /sim/faults
//	GET    /sim/public-key     {public_key (base64), serial, pem}
//	PUT    /sim/clients/{id}   {public_key (base64 or PEM)}: trust a client's key ("*": any client)
//	GET    /pay/{token}, POST /pay/{token} action=pay|fail: the payer's page behind QR codes and redirects
//
// Faults (per channel, see Faults): latency with jitter; outage (503 at once, nothing
// executed); errors (500, nothing executed); timeouts (the request hangs, unexecuted,
// until the client gives up); lost responses (the call executes, then the connection is
// dropped or a 502 answers); duplicate notifications (same event ID); stale, out-of-order
// notifications ("pending" or "closed" after "paid" or "failed", with the order's creation
// time and a new event ID). Orders expire after their time_expire/expires_at, or
// Config.OrderTTL: they are closed and a "closed" notification is sent.
package netsim
