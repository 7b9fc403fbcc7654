// Package netsim is the network payment-channel simulator that speaks, over HTTP, the
// WeChat Pay API v3 and the Alipay open API as those channels publish them (their
// signatures, encryption, endpoint paths, field names and bill files), a generic
// bank-transfer API and a subset of Stripe's API (for the card acquirer), so that the real
// channel adapters (core/wechatpay, core/alipay, core/banktransfer, core/cardacq) are
// tested end to end against the real wire formats: signatures both ways, pay-then-notify
// flows, order expiry, idempotent creates and refunds, bills and injected faults.
// cmd/channelsim runs it as a process; tests run it in-process (NewServer, Start, Close) on
// a loopback port and drive it with the typed control client Control. Where it departs
// from a channel, the departure is named below.
//
// # Keys and signatures
//
// The simulator has one RSA key (Config.PrivateKey, RSA-2048 generated at start unless
// given): the key of the WeChat Pay platform certificate it makes for itself at start
// (self-signed, a random 20-byte serial, Server.Rotate adds another), of the WeChat Pay
// public key (ID Server.WeChatPayPublicKeyID), of Alipay's public key and of the bank's key
// (serial channelauth.KeySerial). It verifies the platform's requests with the RSA public
// key registered for the client (Config.Clients, PUT /sim/clients/{id}, cmd/channelsim
// -platform-key-file; "*" matches any client). Requests are refused with 401 and a message
// saying why when the signature is missing or does not verify, the client has no key, the
// timestamp is more than Config.MaxClockSkew (5 min) from the simulator's clock, or (WeChat
// Pay, bank) the nonce was already used (nonces are remembered for twice the skew). A
// refused request executes nothing.
//
// WeChat Pay and the bank sign requests with an Authorization header, SHA256withRSA
// (RSASSA-PKCS1-v1_5, SHA-256, base64) or, for bank clients with a secret
// (Config.BankSecrets), HMAC-SHA256:
//
//	Authorization: WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="…",signature="…",timestamp="1554208460",serial_no="…"
//	Authorization: SIMBANK-SHA256-RSA2048 client_id="…",nonce="…",signature="…",timestamp="…",serial_no="…"
//	Authorization: SIMBANK-HMAC-SHA256 client_id="…",nonce="…",signature="…",timestamp="…",serial_no="…"
//
// signing "METHOD\nREQUEST-URI\nTIMESTAMP\nNONCE\nBODY\n" (REQUEST-URI is path and query).
// Answers and notifications carry Wechatpay-Timestamp, -Nonce, -Signature, -Serial (the
// newest platform certificate's serial) and -Signature-Type headers (Simbank-… for the
// bank, serial "HMAC" for HMAC clients, answered in kind), the signature covering
// "TIMESTAMP\nNONCE\nBODY\n". Each delivery of a notification, retries and injected
// duplicates included, is signed afresh.
//
// WeChat Pay's notification resources and downloaded certificates are AEAD_AES_256_GCM:
// AES-256-GCM under the merchant's APIv3 key (Config.APIv3Keys, PUT /sim/clients/{id}
// apiv3_key, cmd/channelsim -apiv3-key-file or, by default, channelauth.SimulatorAPIv3Key of
// -platform-key-file), a 12-character nonce, associated data "transaction", "refund" or
// "certificate", ciphertext base64 with the tag at its end. A merchant without an APIv3 key
// cannot create orders.
//
// Alipay signs parameters with RSA2 (SHA256withRSA): a request's parameters other than
// sign, with non-empty values, sorted by name and joined as "k=v&k=v" (values not
// URL-encoded), are signed into sign (base64), with sign_type=RSA2. The common parameters
// are app_id, method, format=JSON, charset=utf-8, sign_type, timestamp ("yyyy-MM-dd
// HH:mm:ss", UTC+8), version=1.0, notify_url and biz_content (JSON). Alipay's requests
// carry no nonce: a request repeated within the timestamp window is executed again, which
// the idempotent methods make harmless. An answer is {"<method with _ for .>_response": {…},
// "sign": "…"} (or "error_response"), sign covering the exact bytes of the response object.
// Notifications are signed like requests, but without sign and sign_type in the signed
// content; every delivery of a notify_id has a later notify_time than the one before.
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
//	     {out_trade_no, out_refund_no, reason?, notify_url?, amount: {refund, total, currency}}
//	     | 400 REFUND_AMOUNT_EXCEEDED | 400 TRADE_STATE_ERROR (not paid) | 404 ORDER_NOT_EXIST
//	GET  /v3/refund/domestic/refunds/{out_refund_no}              → 200 refund | 404 RESOURCE_NOT_EXISTS
//	GET  /v3/certificates                                         → 200 {data: [{serial_no, effective_time, expire_time,
//	                                                                encrypt_certificate: {algorithm, nonce, associated_data, ciphertext}}]}
//	GET  /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL    → 200 {hash_type: SHA1, hash_value, download_url}
//	GET  /v3/billdownload/file?token=…                            → the bill (CSV, unsigned: the hash is the check)
//
// Amounts are integers in minor units (fen for CNY, the default currency). A transaction is
// {appid, mchid, out_trade_no, transaction_id, trade_type: NATIVE, trade_state: NOTPAY |
// SUCCESS | REFUND | PAYERROR | CLOSED, trade_state_desc, success_time, amount: {total,
// payer_total, currency, refunded}}. Errors are {code, message}. Times are RFC 3339 in UTC+8.
// Departures from WeChat Pay: transaction_id exists from creation and is answered with
// code_url and time_expire; amount.refunded is added; appid is optional; out_trade_no may
// have up to 64 characters; refunds succeed at once (WeChat Pay usually answers
// PROCESSING); closing by the merchant sends no notification; a day's bill is served at
// once (WeChat Pay has it the next morning) and bills are of Native payments only; the
// Idempotency-Key header is honoured (WeChat Pay ignores it). The bill is WeChat Pay's
// bill_type ALL CSV: the header row 交易时间,公众账号ID,商户号,…,订单金额,申请退款金额,费率备注, one
// row per payment or refund with every field led by a backquote and amounts in yuan, then
// the summary rows. Notifications are POSTed as JSON {id, create_time, event_type,
// resource_type: "encrypt-resource", summary, resource: {algorithm: AEAD_AES_256_GCM,
// ciphertext, associated_data, nonce, original_type: "transaction" | "refund"}}, event_type
// being TRANSACTION.SUCCESS, TRANSACTION.PAYERROR, TRANSACTION.CLOSED (expired),
// TRANSACTION.NOTPAY (only as an injected stale notification) or REFUND.SUCCESS.
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
//	alipay.data.dataservice.bill.downloadurl.query {bill_type: trade, bill_date: yyyy-MM-dd} → {bill_download_url}
//
// The bill_download_url (GET /alipay/bill/{token}, unauthenticated like Alipay's) serves a
// zip holding <pid>_<yyyyMMdd>_业务明细.csv in GBK: "#" comment lines, the header row
// 支付宝交易号,商户订单号,业务类型,…,订单金额（元）,…,退款批次号/请求号,…, one row per trade (业务类型
// 交易) or refund (退款, negative amounts), long numbers followed by a tab. Amounts are
// decimal strings in major units of trans_currency (CNY by default): "88.88". Results:
// code 10000 success; 40004 business failure with sub_code ACQ.TRADE_NOT_EXIST,
// ACQ.TRADE_STATUS_ERROR (closing a paid trade, refunding an unpaid one),
// ACQ.REFUND_AMT_NOT_EQUAL_TOTAL (refund exceeds what is left), ACQ.TRADE_HAS_SUCCESS,
// ACQ.TRADE_HAS_CLOSE, ACQ.CONTEXT_INCONSISTENT, ACQ.DISCORDANT_REPEAT_REQUEST; 40002
// invalid arguments (HTTP 200), or, with HTTP 401, isv.invalid-signature,
// isv.invalid-timestamp, isv.invalid-signature-type, isv.invalid-app-id; 20000 (HTTP 5xx)
// unknown. (Alipay answers refused signatures with HTTP 200 and 40002; the simulator's 401
// is a departure the adapter treats the same.)
// trade_status is WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED or TRADE_FAILED (a simulator
// addition for a failed payment; a refunded trade stays TRADE_SUCCESS, with refund_fee).
// qr_code and page_url lead to the simulator's payer page, /pay/{token}. Notifications
// (notify_type trade_status_sync) are POSTed as forms with notify_id, notify_time, app_id,
// sign_type, sign, trade_no, out_trade_no, trade_status, total_amount,
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
//	POST /bank/v1/payouts                        {out_payout_no, amount, currency, beneficiary: {name, account, bank_code},
//	                                              description?, notify_url?} → 201 payout (the first answer replayed
//	                                             for its Idempotency-Key) | 409 out_payout_no_in_use
//	GET  /bank/v1/payouts/{out_payout_no}        → 200 payout | 404 payout_not_found
//
// A payout is {payout_id, out_payout_no, status: in_transit | paid | failed | returned,
// amount, currency, beneficiary, description, failure_code, created_at, updated_at}; it is
// paid at once unless the bank's Faults.Payout delays it (in_transit, then paid), fails it,
// or returns it after it was paid. Each later change is notified: {event_id, event_type:
// payout.paid | payout.failed | payout.returned, created_at, data: {payout}};
// POST /sim/payouts/{out_payout_no}/{paid|failed|returned} moves one by hand.
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
// WeChat Pay's and Alipay's are their bills (above), by China Standard Time day. The bank's
// is GET /bank_transfer/statements?date=YYYY-MM-DD, signed like its other calls: the
// calling client's money movements whose time falls on that UTC day, oldest first, as JSON
// {channel, date, lines: [{kind: charge | refund, out_trade_no, out_refund_no, reference,
// amount (minor units), currency, time}]}. A charge is a payer's payment (reference: the
// transaction ID), a refund a refund (reference: the refund ID).
//
// # Control API (unauthenticated: the simulator is a test tool)
//
//	POST   /sim/pay            {channel, out_trade_no, fail?, fail_reason?}: the payer pays (or the payment fails) → 200 order | 404 | 409
//	POST   /sim/expire         {channel, out_trade_no}: expire a pending order now (as its timer would)
//	GET    /sim/orders/{channel}/{out_trade_no}
//	GET    /sim/charges        per payment: orders, charges, amounts, refunds, key executions
//	GET    /sim/notifications  delivery jobs: event ID, kind, copy, stale, attempts, delivered, finished
//	GET    /sim/faults, POST /sim/faults {"<channel>": Faults, …} (replaces those channels'), DELETE /sim/faults
//	GET    /sim/public-key     {public_key (base64 PKIX DER), serial, pem, wechatpay_public_key_id, certificate_serial, certificate}
//	PUT    /sim/clients/{id}   {public_key?, apiv3_key?, hmac_secret?}: a client's key, APIv3 key, HMAC secret ("*": any client)
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
