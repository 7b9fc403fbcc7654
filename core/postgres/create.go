package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
)

// CreatePayment creates a payment and sends it to its channel, exactly once per
// Idempotency-Key.
//
// Recovery points: started → payment_created → finished.
//   - (1) started: claim the key and insert the payment as processing, in one transaction
//     (the INSERT travels with the key's); a payment that cannot be inserted (channel
//     disabled, reference used) finishes the request. The risk rules run there too
//     (screen): a blocked payment fails and finishes the request with blocked_by_risk.
//   - (2) payment_created: call the channel with a key derived from the payment ID, then
//     apply its answer (core's ApplyAuthorization: status, ledger, outbox) in one
//     transaction with the stored reply. A timed-out channel call leaves the payment
//     processing and the key open; a retry repeats the call with the same channel key.
func (s *Service) CreatePayment(ctx context.Context, req core.IdempotentRequest, p core.CreatePaymentParams) (core.Reply, error) {
	if err := s.checkWalletCustomer(ctx, req.MerchantID, &p); err != nil {
		return core.Reply{}, err
	}
	hash := s.requestHash(req, withoutCardData(p, s.hashKey))
	// What the payment's transaction needs read before it, in one round trip: whether a
	// merchant not verified may take it (its volume limit, kyc_required), the merchant's
	// terms (fees, T+N, fixed on the payment as it is created) and the risk screening's
	// reads that need no transaction (see screen). The probe's terms are not filled in yet:
	// the risk reads do not use them.
	var reads pgx.Batch
	kyc := s.queueKYCVolume(&reads, req, p.Currency)
	terms := queueTerms(&reads, req.MerchantID, p.Channel)
	pre, err := s.prelude(ctx, s.newPayment(&idemKey{req: req, paymentID: new(string)}, &p, terms), &reads)
	if err != nil {
		return core.Reply{}, s.dbError(ctx, err)
	}
	if err := kyc.check(p.Amount); err != nil {
		return core.Reply{}, err
	}
	// created is the payment as this request inserted it: the channel call needs no read.
	var (
		created  *core.Payment
		inserted pgconn.CommandTag
	)
	// claim names the payment before it exists, so the key can record it from the start.
	claim := func(k *idemKey) {
		id := core.NewID(core.PrefixPayment, k.req.Region)
		k.paymentID, k.point = &id, pointPaymentCreated
	}
	// settle ends the insert phase from what the payment's INSERT did.
	settle := func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey, tag pgconn.CommandTag) (string, error) {
		if tag.RowsAffected() == 1 {
			queueVolume(w, created, created.Amount)            // the KYC volume (kyc.go)
			next, err := s.screen(ctx, tx, w, k, created, pre) // risk rules, before any channel call
			if err != nil || next != pointPaymentCreated {
				return next, err
			}
			return s.payerStep(ctx, tx, w, k, created, &p) // wallets and top-ups (wallets.go)
		}
		created = nil
		return s.notInserted(ctx, tx, k, &p)
	}
	first := &firstPhase{name: "create_payment.insert", claim: claim,
		// The payment's INSERT goes with the key's, guarded by the key's lease token.
		with: func(k *idemKey) (string, []any, func(pgconn.CommandTag)) {
			created = s.newPayment(k, &p, terms)
			s.preScreen(ctx, created, pre)
			sql, args := paymentInsert(created, ` AND EXISTS (SELECT 1 FROM idempotency_keys
				WHERE merchant_id = $2 AND idem_key = $15 AND lock_token = $16)`, k.req.Key, k.token)
			return sql, args, func(ct pgconn.CommandTag) { inserted = ct }
		},
		run: func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
			return settle(ctx, tx, w, k, inserted)
		}}
	return s.run(ctx, req, hash, first, steps{
		// A key claimed before create's first phase joined the claim.
		pointStarted: func(ctx context.Context, k *idemKey) error {
			return s.phase(ctx, k, first.name, func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
				claim(k)
				created = s.newPayment(k, &p, terms)
				s.preScreen(ctx, created, pre)
				sql, args := paymentInsert(created, "")
				// Sent at once: whether it inserted decides the phase's end.
				tag, err := tx.Exec(ctx, sql, args...)
				if err != nil {
					return "", fmt.Errorf("insert payment: %w", err)
				}
				return settle(ctx, tx, w, k, tag)
			})
		},
		pointPaymentCreated: channelStep(s, "create_payment", "authorize", func(ctx context.Context, k *idemKey) (channelWork[core.AuthorizeResult], error) {
			pay := created
			if pay != nil && pay.ID != *k.paymentID {
				pay = nil // made by an attempt that did not commit
			}
			created = nil
			return s.authorizeWork(ctx, k, &p, pay)
		}),
	})
}

// newPayment is the payment k names, as it is inserted: processing.
func (s *Service) newPayment(k *idemKey, p *core.CreatePaymentParams, terms *core.Terms) *core.Payment {
	var pm *core.PaymentMethod
	switch {
	case p.Channel.IsCard():
		pm = core.StoredCard(s.fingerprintKey, k.req.MerchantID, p.PaymentMethod.Card)
	case p.Channel == core.ChannelWallet:
		pm = &core.PaymentMethod{Type: string(p.Channel), Customer: p.PaymentMethod.Wallet.Customer}
	default:
		pm = &core.PaymentMethod{Type: string(p.Channel)}
	}
	pay := core.NewPayment(*k.paymentID, k.req.MerchantID, k.req.Region, p, pm, s.now())
	pay.Terms = terms
	return pay
}

// paymentInsert is the statement that inserts pay, unless the merchant has its channel
// switched off or already used its reference, or guard (more conditions, with extra
// arguments from $15 on) fails. It affects one row, or none. It writes pay's risk if it was
// decided before (preScreen).
func paymentInsert(pay *core.Payment, guard string, extra ...any) (string, []any) {
	sql := `
		INSERT INTO payments (id, merchant_id, region, status, amount, currency, channel,
			capture_method, merchant_reference, description, customer, payment_method, metadata,
			created_at, updated_at, terms, risk)
		SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::TEXT, $5::INT8, $6::TEXT, $7::TEXT, $8::TEXT, $9::TEXT,
			$10::TEXT, $11::JSONB, $12::JSONB, $13::JSONB, $14::TIMESTAMPTZ, $14::TIMESTAMPTZ, $%[1]d::JSONB, $%[2]d::JSONB
		WHERE NOT EXISTS (SELECT 1 FROM merchant_channels WHERE merchant_id = $2 AND channel = $7 AND NOT enabled)` +
		guard + `
		ON CONFLICT (merchant_id, merchant_reference) DO NOTHING`
	args := []any{pay.ID, pay.MerchantID, pay.Region, pay.Status, pay.Amount, pay.Currency, pay.Channel,
		pay.CaptureMethod, pay.MerchantReference, pay.Description, pay.Customer, pay.PaymentMethod, pay.Metadata,
		pay.CreatedAt}
	args = append(args, extra...)
	// The terms and the risk come after guard's arguments.
	return fmt.Sprintf(sql, len(args)+1, len(args)+2), append(args, pay.Terms, pay.Risk)
}

// notInserted finishes a create whose payment was not inserted: the merchant may not use the
// channel, or already used the merchant reference.
func (s *Service) notInserted(ctx context.Context, tx pgx.Tx, k *idemKey, p *core.CreatePaymentParams) (string, error) {
	k.paymentID = nil
	if err := channelAllowed(ctx, tx, k.req.MerchantID, p.Channel); err != nil {
		if core.ErrorCode(err) == core.CodeChannelNotAuthorized {
			return k.finish(nil, err), nil
		}
		return "", err
	}
	var existing string
	if err := tx.QueryRow(ctx, `SELECT id FROM payments WHERE merchant_id = $1 AND merchant_reference = $2`,
		k.req.MerchantID, p.MerchantReference).Scan(&existing); err != nil && !errNoRows(err) {
		return "", fmt.Errorf("read payment by reference: %w", err)
	}
	e := core.ParamError(core.CodeDuplicateReference, "merchant_reference",
		"A payment with merchant_reference '%s' already exists: %s.", p.MerchantReference, existing)
	e.PaymentID = existing
	return k.finish(nil, e), nil
}

// authorizeWork is create's second step: the channel call and the phase that applies its
// answer. pay is the payment as this request inserted it, or nil to read it (a request
// resumed from its recovery point).
func (s *Service) authorizeWork(ctx context.Context, k *idemKey, p *core.CreatePaymentParams, pay *core.Payment) (channelWork[core.AuthorizeResult], error) {
	if pay == nil {
		var err error
		if pay, err = getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false); err != nil {
			return channelWork[core.AuthorizeResult]{}, err
		}
	}
	if pay.Status != core.StatusProcessing {
		// Already settled by someone else (the recovery worker, a channel notification).
		return channelWork[core.AuthorizeResult]{settled: func(ctx context.Context, tx pgx.Tx, _ *writeBatch, k *idemKey) (string, error) {
			pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return "", err
			}
			return k.finish(pay, pay.DeclineError()), nil
		}}, nil
	}
	return channelWork[core.AuthorizeResult]{pay: pay,
		call: func(ctx context.Context) (core.AuthorizeResult, error) {
			return s.gw.Authorize(ctx, authorizeRequest(pay, cardOf(p)))
		},
		apply: func(res core.AuthorizeResult) phaseFunc {
			return func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
				ch, err := pay.ApplyAuthorization(res, s.now())
				if err != nil {
					return "", err
				}
				// pay was not read with a lock: written only if still processing.
				applied, err := s.persistIfStill(ctx, tx, w, ch)
				if err != nil {
					return "", err
				}
				if !applied {
					// Settled meanwhile by someone else: answer with the payment as it is.
					cur, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
					if err != nil {
						return "", err
					}
					if res.Outcome != core.OutcomeActionRequired && cur.Status != ch.Payment.Status {
						s.log.ErrorContext(ctx, "the channel's answer disagrees with how the payment was settled; reconcile",
							"payment", cur.ID, "status", cur.Status, "channel_outcome", res.Outcome)
					}
					return k.finish(cur, cur.DeclineError()), nil
				}
				return k.finish(ch.Payment, ch.Payment.DeclineError()), nil
			}
		}}, nil
}

// authorizeRequest is the channel call that authorises pay, under the channel key derived
// from its ID: sent again, it gets the channel's first answer.
func authorizeRequest(pay *core.Payment, card *core.CardData) core.AuthorizeRequest {
	return core.AuthorizeRequest{
		Key: core.AuthorizeKey(pay.ID), PaymentID: pay.ID, MerchantID: pay.MerchantID,
		Region: pay.Region, Channel: pay.Channel, Amount: pay.Amount, Currency: pay.Currency,
		Capture: pay.CaptureWithAuthorization(), Card: card,
		Reference: pay.MerchantReference,
	}
}

func cardOf(p *core.CreatePaymentParams) *core.CardData {
	if p.PaymentMethod == nil {
		return nil
	}
	return p.PaymentMethod.Card
}

// withoutCardData replaces the card number by its keyed fingerprint and drops the security
// code, so that the stored request fingerprint holds no card data.
func withoutCardData(p core.CreatePaymentParams, key []byte) core.CreatePaymentParams {
	if p.PaymentMethod == nil || p.PaymentMethod.Card == nil {
		return p
	}
	c := p.PaymentMethod.Card
	pm := *p.PaymentMethod
	pm.Card = &core.CardData{Number: core.CardFingerprint(key, c.Number), ExpMonth: c.ExpMonth, ExpYear: c.ExpYear}
	p.PaymentMethod = &pm
	return p
}
