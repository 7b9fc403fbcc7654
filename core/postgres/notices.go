package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/notify"
)

// Notices to payers. There is one reader of the outbox, the webhook fan-out: in the
// transaction that marks outbox events fanned out it also makes the payer notices of those
// events (fanOutNotices), one per event, template and channel (the notice's ID), so a payer
// never gets the same notice twice from one event and no notice is lost if the fan-out's
// node dies (the transaction is redone whole). Low-balance reminders are made in the
// transaction of the wallet debit that crossed the threshold (lowBalance). A PayerNotifier on
// every node then claims due notices (FOR UPDATE SKIP LOCKED, a claim token and a lease, as
// webhook deliveries are), sends them and records the outcome fenced by the token.

// noticeMaxAttempts is how many times a notice is tried before it is failed.
const noticeMaxAttempts = 8

// fanOutNotices makes the payer notices of the outbox events ids, in the fan-out's
// transaction: payment results, refunds and top-up receipts, by email and SMS, for customers
// (cus_…) of the merchant with an address for the channel who did not opt out of it, as far
// as the merchant's notification settings send that notice by that channel.
func fanOutNotices(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO payer_notices (id, merchant_id, customer_id, region, event_id, template, channel, recipient,
			language, data, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
		SELECT e.id || ':' || x.template || ':' || ch.channel, e.merchant_id, c.id, c.region, e.id, x.template,
			ch.channel, CASE ch.channel WHEN 'email' THEN c.email ELSE c.phone END, c.language, e.payload,
			'pending', 0, $2, $3, $3, $3
		FROM outbox_events e
		CROSS JOIN LATERAL (SELECT CASE WHEN e.type = 'refund.succeeded'
				THEN (SELECT p.customer->>'id' FROM payments p WHERE p.id = e.payload->>'payment')
				ELSE e.payload->'customer'->>'id' END AS cid) k
		JOIN customers c ON c.id = k.cid AND c.merchant_id = e.merchant_id AND c.deleted_at IS NULL
		CROSS JOIN LATERAL (SELECT CASE e.type
				WHEN 'payment.succeeded' THEN CASE WHEN EXISTS (SELECT 1 FROM top_ups t WHERE t.payment_id = e.object_id)
					THEN 'top_up_receipt' ELSE 'payment_succeeded' END
				WHEN 'payment.failed' THEN 'payment_failed'
				WHEN 'refund.succeeded' THEN 'refund_succeeded' END AS template) x
		CROSS JOIN (VALUES ('email'), ('sms')) ch (channel)
		LEFT JOIN notification_settings ns ON ns.merchant_id = e.merchant_id
		WHERE e.id = ANY($1) AND x.template IS NOT NULL
			AND COALESCE((ns.settings->'notices'->x.template->>ch.channel)::BOOL, true)
			AND CASE ch.channel WHEN 'email' THEN c.email IS NOT NULL AND NOT c.email_opt_out
				ELSE c.phone IS NOT NULL AND NOT c.sms_opt_out END
		ON CONFLICT (id) DO NOTHING`, ids, noticeMaxAttempts, now)
	if err != nil {
		return fmt.Errorf("payer notices: %w", err)
	}
	return nil
}

// lowThreshold is the SQL of the low-balance threshold of customer c's wallet in currency
// $2: the customer's own, else the merchant's default (notification settings ns), else NULL.
const lowThreshold = `COALESCE(c.low_balance_threshold->>$2, ns.settings->'low_balance_threshold'->>$2)::INT8`

// lowBalance queues, after a wallet debit (balance transaction txID), the low-balance
// reminder: only if the balance is now below the customer's threshold for the currency (or
// the merchant's default) and the wallet is armed, which it disarms. rearm queues the
// re-arming after a credit: a wallet at or above its threshold again may remind once more.
func lowBalance(w *writeBatch, customerID, currency, txID string, now time.Time) {
	w.queue(`
		WITH d AS (UPDATE customer_wallets cw SET low_armed = false
				FROM customers c LEFT JOIN notification_settings ns ON ns.merchant_id = c.merchant_id
				WHERE cw.customer_id = $1 AND cw.currency = $2 AND c.id = cw.customer_id AND cw.low_armed
					AND c.deleted_at IS NULL AND `+lowThreshold+` IS NOT NULL
					AND cw.balance < `+lowThreshold+`
				RETURNING cw.merchant_id, cw.balance, `+lowThreshold+` AS threshold)
		INSERT INTO payer_notices (id, merchant_id, customer_id, region, event_id, template, channel, recipient,
			language, data, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
		SELECT $3 || ':low_balance:' || ch.channel, d.merchant_id, c.id, c.region, NULL, 'low_balance', ch.channel,
			CASE ch.channel WHEN 'email' THEN c.email ELSE c.phone END, c.language,
			jsonb_build_object('balance', d.balance, 'threshold', d.threshold, 'currency', $2::TEXT, 'customer', c.id),
			'pending', 0, $4, $5, $5, $5
		FROM d, customers c CROSS JOIN (VALUES ('email'), ('sms')) ch (channel)
			LEFT JOIN notification_settings ns ON ns.merchant_id = c.merchant_id
		WHERE c.id = $1 AND COALESCE((ns.settings->'notices'->'low_balance'->>ch.channel)::BOOL, true)
			AND CASE ch.channel WHEN 'email' THEN c.email IS NOT NULL AND NOT c.email_opt_out
			ELSE c.phone IS NOT NULL AND NOT c.sms_opt_out END
		ON CONFLICT (id) DO NOTHING`, customerID, currency, txID, noticeMaxAttempts, now)
}

func rearm(w *writeBatch, customerID, currency string) {
	w.queue(`UPDATE customer_wallets cw SET low_armed = true
		FROM customers c LEFT JOIN notification_settings ns ON ns.merchant_id = c.merchant_id
		WHERE cw.customer_id = $1 AND cw.currency = $2 AND c.id = cw.customer_id AND NOT cw.low_armed
			AND cw.balance >= COALESCE(`+lowThreshold+`, 0)`, customerID, currency)
}

// verificationNotice queues the SMS that carries a phone verification's code, in the
// transaction that issues it.
func verificationNotice(w *writeBatch, verificationID string, m *core.Merchant, customerID, phone, code string, now time.Time) {
	w.queue(`INSERT INTO payer_notices (id, merchant_id, customer_id, region, event_id, template, channel, recipient,
			language, data, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
		SELECT $1 || ':verification_code:sms', $2, $3, $4, NULL, 'verification_code', 'sms', $5,
			COALESCE((SELECT language FROM customers WHERE id = $3 AND merchant_id = $2), 'en'),
			jsonb_build_object('code', $6::TEXT), 'pending', 0, $7, $8, $8, $8`,
		verificationID, m.ID, customerID, m.HomeRegion, phone, code, noticeMaxAttempts, now)
}

// Notice is a notice to a payer as GET /v1/customers/{id}/notifications shows it.
type Notice = core.Notice

// Notifications lists a customer's notices, newest first.
func (s *Service) Notifications(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.Notice], error) {
	if _, err := s.customer(ctx, s.db.Pool, merchantID, customerID, true); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = core.DefaultListLimit
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, customer_id, event_id, template, channel, language, status, attempts,
			last_error, sent_at, created_at, updated_at
		FROM payer_notices WHERE merchant_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		merchantID, customerID, limit+1)
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	defer rows.Close()
	out := &core.List[*core.Notice]{Object: "list", Data: []*core.Notice{}}
	for rows.Next() {
		n := &core.Notice{Object: "notification"}
		if err := rows.Scan(&n.ID, &n.Customer, &n.Event, &n.Template, &n.Channel, &n.Language, &n.Status, &n.Attempts,
			&n.LastError, &n.SentAt, &n.CreatedAt, &n.UpdatedAt); err != nil {
			return nil, err
		}
		out.Data = append(out.Data, n)
	}
	if len(out.Data) > limit {
		out.Data, out.HasMore = out.Data[:limit], true
	}
	return out, rows.Err()
}

// PreviewNotice renders the template the merchant's notices use (its own, else the shipped
// one) with sample or given data.
func (s *Service) PreviewNotice(ctx context.Context, merchantID, name string, p core.NoticePreviewParams) (*core.NoticePreview, error) {
	lang := p.Language
	if lang == "" {
		lang = "en"
	}
	data := p.Data
	if data == nil {
		data = notify.SampleData(name)
	}
	t, _, err := s.templateFor(ctx, merchantID, name, lang)
	if errors.Is(err, notify.ErrUnknownTemplate) {
		return nil, core.ParamError(core.CodeNotFound, "name", "No such template %q in language %q: templates are %v, languages en and zh.", name, lang, notify.Templates)
	}
	if err != nil {
		return nil, err
	}
	r, err := t.Render(data)
	if err != nil {
		return nil, core.ParamError(core.CodeParameterInvalid, "data", "The template does not render with this data: %v", err)
	}
	return &core.NoticePreview{Object: "notification_preview", Template: name, Language: lang, Subject: r.Subject, Body: r.Text, HTML: r.HTML}, nil
}

// NotifierConfig configures a PayerNotifier.
type NotifierConfig struct {
	// Senders per channel (notify.ChannelEmail, notify.ChannelSMS); a channel without one
	// leaves its notices pending.
	Senders map[string]notify.Sender
	// Interval between rounds (default 1s); Batch notices per round at most (default 50).
	Interval time.Duration
	Batch    int
	// Claim is the lease of a claimed notice (default 1 minute): after a node died mid-send
	// the notice is sent again, under the same ID, once it runs out.
	Claim time.Duration
	// Backoff is the wait after the n-th failed attempt (default 5s, 30s, 2m, 10m, 30m, 1h, 2h).
	Backoff []time.Duration
	// AfterSend, if set, runs after a send and before its record; an error stops the round
	// there, recording nothing, as a node dying between the two would (tests).
	AfterSend func(noticeID string) error
}

// PayerNotifier sends the due notices to payers.
type PayerNotifier struct {
	s   *Service
	cfg NotifierConfig
	log *slog.Logger
}

// NewPayerNotifier makes the notifier of s.
func NewPayerNotifier(s *Service, cfg NotifierConfig) *PayerNotifier {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Claim <= 0 {
		cfg.Claim = time.Minute
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}
	}
	return &PayerNotifier{s: s, cfg: cfg, log: s.log}
}

// Worker is the notifier's periodic work, for every node.
func (n *PayerNotifier) Worker() *Worker {
	return NewWorker("payer_notices", n.cfg.Interval, n.log, func(ctx context.Context) error {
		_, err := n.Round(ctx)
		return err
	})
}

type claimedNotice struct {
	id, token, merchant, template, channel, to, lang string
	attempt                                          int
	max                                              int
	data                                             map[string]any
}

// Round claims due notices, sends each and records the outcome; it returns how many were
// sent.
func (n *PayerNotifier) Round(ctx context.Context) (int, error) {
	s := n.s
	var claims []claimedNotice
	err := s.db.WriteTx(ctx, "payer_notices.claim", func(tx pgx.Tx) error {
		claims = claims[:0]
		now := s.now()
		rows, err := tx.Query(ctx, `SELECT id, merchant_id, template, channel, recipient, language, data, attempts, max_attempts
			FROM payer_notices WHERE status = 'pending' AND next_attempt_at <= $1 AND channel = ANY($3)
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, n.cfg.Batch, n.channels())
		if err != nil {
			return err
		}
		for rows.Next() {
			var c claimedNotice
			var raw []byte
			if err := rows.Scan(&c.id, &c.merchant, &c.template, &c.channel, &c.to, &c.lang, &raw, &c.attempt, &c.max); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal(raw, &c.data); err != nil {
				rows.Close()
				return err
			}
			c.token, c.attempt = core.RandomToken(10), c.attempt+1
			claims = append(claims, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range claims {
			if _, err := tx.Exec(ctx, `UPDATE payer_notices SET attempts = $2, claim_token = $3, next_attempt_at = $4, updated_at = $5
				WHERE id = $1`, c.id, c.attempt, c.token, now.Add(n.cfg.Claim), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("payer notices claim: %w", err)
	}
	sent := 0
	for _, c := range claims {
		err := n.send(ctx, c)
		if n.cfg.AfterSend != nil {
			if herr := n.cfg.AfterSend(c.id); herr != nil {
				return sent, herr
			}
		}
		if ctx.Err() != nil {
			return sent, ctx.Err() // stopping: the lease makes the notice due again
		}
		if err := n.record(ctx, c, err); err != nil {
			return sent, err
		}
		if err == nil {
			sent++
		}
	}
	return sent, nil
}

func (n *PayerNotifier) channels() []string {
	out := make([]string, 0, len(n.cfg.Senders))
	for ch := range n.cfg.Senders {
		out = append(out, ch)
	}
	return out
}

// send renders and sends one notice, with the merchant's template and sender settings and
// the customer's name. An opted-out customer's notice is not sent (errOptedOut), nor one the
// merchant switched off since it was made (errSwitchedOff).
func (n *PayerNotifier) send(ctx context.Context, c claimedNotice) error {
	var optedOut, on bool
	var name, senderName, replyTo *string
	// A verification code is sent to the phone being verified, whatever the opt-outs and
	// settings.
	if err := n.s.db.Pool.QueryRow(ctx, `SELECT
			COALESCE(p.template <> 'verification_code' AND CASE $2 WHEN 'email' THEN c.email_opt_out OR c.email IS NULL
				ELSE c.sms_opt_out OR c.phone IS NULL END, false),
			p.template = 'verification_code' OR COALESCE((ns.settings->'notices'->p.template->>$2)::BOOL, true),
			c.name, ns.settings->>'sender_name', ns.settings->>'reply_to'
		FROM payer_notices p LEFT JOIN customers c ON c.id = p.customer_id AND c.merchant_id = p.merchant_id
			LEFT JOIN notification_settings ns ON ns.merchant_id = p.merchant_id
		WHERE p.id = $1`, c.id, c.channel).Scan(&optedOut, &on, &name, &senderName, &replyTo); err != nil {
		return err
	}
	if optedOut {
		return errOptedOut
	}
	if !on {
		return errSwitchedOff
	}
	if c.data == nil {
		c.data = map[string]any{}
	}
	if name != nil {
		c.data["customer_name"] = *name
	}
	t, _, err := n.s.templateFor(ctx, c.merchant, c.template, c.lang)
	if err != nil {
		return err
	}
	r, err := t.Render(c.data)
	if err != nil {
		return err
	}
	m := notify.Message{NoticeID: c.id, Channel: c.channel, To: c.to, Subject: r.Subject, Body: r.Text}
	if c.channel == notify.ChannelEmail {
		m.HTML = r.HTML
		if senderName != nil {
			m.FromName = *senderName
		}
		if replyTo != nil {
			m.ReplyTo = *replyTo
		}
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Claim/2)
	defer cancel()
	return n.cfg.Senders[c.channel].Send(ctx, m)
}

var (
	errOptedOut    = errors.New("the customer opted out of this channel (or erased its address) after the notice was made")
	errSwitchedOff = errors.New("the merchant's notification settings switched this notice off on this channel after it was made")
)

// record stores a send's outcome, fenced by the claim token.
func (n *PayerNotifier) record(ctx context.Context, c claimedNotice, sendErr error) error {
	now := n.s.now()
	status, next, lastErr := "sent", now, (*string)(nil)
	var sentAt *time.Time
	switch {
	case sendErr == nil:
		sentAt = &now
	case errors.Is(sendErr, errOptedOut), errors.Is(sendErr, errSwitchedOff):
		status = "skipped"
		e := sendErr.Error()
		lastErr = &e
	default:
		e := sendErr.Error()
		lastErr = &e
		status = "pending"
		if c.attempt >= c.max {
			status = "failed"
		}
		next = now.Add(n.cfg.Backoff[min(c.attempt-1, len(n.cfg.Backoff)-1)])
		n.log.WarnContext(ctx, "payer notice not sent; retried later", "notice", c.id, "attempt", c.attempt, "err", sendErr)
	}
	// A verification code is erased once it is sent (or will never be).
	_, err := n.s.db.Pool.Exec(ctx, `UPDATE payer_notices SET status = $3, next_attempt_at = $4, last_error = $5, sent_at = $6,
			claim_token = NULL, updated_at = $7,
			data = CASE WHEN template = 'verification_code' AND $3 <> 'pending' THEN '{}' ELSE data END
		WHERE id = $1 AND claim_token = $2`, c.id, c.token, status, next, lastErr, sentAt, now)
	return err
}
