// Package cardacq is the card and debit-card channel adapter: a core.Gateway, core.Querier
// and core.Statements on a card acquirer that speaks Stripe's API, through the official
// client github.com/stripe/stripe-go/v82. Config.BackendURL points it at Stripe, at
// stripe-mock (tests) or at a channel simulator that speaks the same API.
//
// # Mapping
//
// Authorize creates a PaymentMethod from the raw card (POST /v1/payment_methods, type card,
// with Idempotency-Key "<key>:payment_method", so that a repeated call sends the same
// PaymentMethod ID) and then a confirmed PaymentIntent (POST /v1/payment_intents with
// amount, lower-case currency, capture_method automatic|manual, confirm=true,
// payment_method, payment_method_types[]=card, error_on_requires_action=true and metadata
// payment_id, merchant_id, channel and channel_key) with Idempotency-Key = the channel key.
// (stripe-mock's OpenAPI spec does not allow payment_method_data[type]=card, hence the two
// steps; a PaymentMethod moves no money.) The PaymentIntent's status gives the outcome:
//
//	succeeded                           → captured
//	requires_capture                    → authorized
//	requires_payment_method (or a 402 card_error; or canceled)
//	                                    → declined, with the decline code mapped (below)
//	requires_action, processing, requires_confirmation
//	                                    → error wrapping ErrUnsettled (outcome unknown)
//
// Reference is the PaymentIntent ID. error_on_requires_action makes the acquirer decline a
// card that needs 3-D Secure instead of waiting for the payer (the platform has no
// card-authentication flow), so requires_action should not occur; if it does, or the intent
// is still processing, the call returns an error that does not wrap core.ErrNotExecuted: the
// payment stays processing until QueryPayment (or a retry with the same key) sees a final
// status.
//
// Decline codes: Stripe's decline_code if it is one of the platform's (insufficient_funds,
// expired_card, incorrect_cvc, processing_error, card_declined), else its error code if that
// is one (card_declined for a generic decline), else processing_error. A 4xx
// invalid_request_error answer to the authorisation (an amount or currency the acquirer does
// not accept) is a decline with processing_error: the acquirer executed nothing and will
// answer the same again.
//
// Capture is POST /v1/payment_intents/{ref}/capture with amount_to_capture, Void is
// POST /v1/payment_intents/{ref}/cancel, Refund is POST /v1/refunds with payment_intent,
// amount and metadata payment_id, refund_id, channel; each with Idempotency-Key = the
// channel key. A 2xx answer is OK (a refund that is pending counts as accepted; one that
// failed or was canceled is refused). A 4xx invalid_request_error is a refusal, never an
// error: OpResult{OK: false} with FailureCode payment_invalid_state (the intent is in the
// wrong state: payment_intent_unexpected_state, charge_already_captured,
// charge_expired_for_capture, charge_disputed), amount_too_large (amount_too_large,
// charge_already_refunded, or a refusal of the amount parameter) or processing_error
// (anything else) and Stripe's message.
//
// # Errors
//
// A returned error means the outcome is unknown, except errors wrapping core.ErrNotExecuted:
//
//   - core.ErrNotExecuted: the context had ended before the call; the channel is not one
//     this acquirer serves; no HTTP attempt got a connection (refused, unreachable, DNS,
//     connect timeout); or the acquirer answered 401, 403 (bad key, no permission) or 429
//     (rate limited, lock timeout), which it answers before executing anything.
//   - unknown outcome: timeouts and resets after connecting, 5xx answers, 409 (the same key
//     is being executed concurrently), idempotency_error (the key was used with other
//     parameters), an answer that cannot be decoded, and the unsettled statuses above.
//
// stripe-go retries network failures and 429 lock_timeout itself (Config.MaxNetworkRetries),
// always with the same Idempotency-Key, and net/http replays a request carrying an
// Idempotency-Key on a new connection when a reused one breaks; the error that comes back
// describes only the last attempt. So the Acquirer watches every attempt (a wrapped
// transport and net/http's client trace) and classifies a failure as not executed only if
// no attempt of the request obtained a connection. Each request of a call is judged on its
// own: a refused PaymentIntent request after a created PaymentMethod is not executed (a
// PaymentMethod moves no money).
//
// # Queries and statements
//
// QueryPayment retrieves the PaymentIntent by Reference when it is known. With the key alone
// it searches /v1/payment_intents/search for metadata['payment_id']; see QueryPayment for
// why a miss is an error unless Config.TrustSearchMisses is set. Statement lists the day's
// balance transactions (see Statement).
//
// # Test cards
//
// Against Stripe's test mode the usual test numbers decline as the platform's test cards do
// (4000000000000002 card_declined, 4000000000009995 insufficient_funds, …). Sending raw card
// numbers to Stripe requires an account enabled for raw card data (PCI DSS SAQ D); stripe-mock
// accepts them but is stateless: it answers every request with a fixture and declines
// nothing.
package cardacq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/paycenter/paycenter/core"
)

// ErrUnsettled wraps the error Authorize and QueryPayment return for a PaymentIntent that
// is neither successful nor failed yet (requires_action, processing, requires_confirmation):
// the outcome is unknown and must be asked again later.
var ErrUnsettled = errors.New("cardacq: payment intent not settled yet")

// ErrSearchMiss wraps the error QueryPayment returns when it looked a payment up by key
// alone, the search found nothing and Config.TrustSearchMisses is false: the authorisation
// may be missing from the search index only because the index lags.
var ErrSearchMiss = errors.New("cardacq: no payment intent found by search (not proof that none exists)")

// Metadata keys the Acquirer sets on PaymentIntents and Refunds.
const (
	MetaPaymentID  = "payment_id"
	MetaMerchantID = "merchant_id"
	MetaRefundID   = "refund_id"
	MetaChannel    = "channel"
	MetaChannelKey = "channel_key"
)

// Acquirer is the card acquirer adapter. It is safe for concurrent use.
type Acquirer struct {
	cfg      Config
	sc       *stripe.Client
	channels map[core.Channel]bool
}

var (
	_ core.Gateway    = (*Acquirer)(nil)
	_ core.Querier    = (*Acquirer)(nil)
	_ core.Statements = (*Acquirer)(nil)
)

// New makes an Acquirer from cfg (with defaults applied; see Config).
func New(cfg Config) (*Acquirer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	retries := int64(cfg.MaxNetworkRetries)
	if retries < 0 {
		retries = 0
	}
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		HTTPClient:        cfg.httpClient(),
		URL:               stripe.String(cfg.BackendURL),
		MaxNetworkRetries: stripe.Int64(retries),
		LeveledLogger:     cfg.Logger,
		EnableTelemetry:   stripe.Bool(false),
	})
	a := &Acquirer{cfg: cfg, sc: stripe.NewClient(cfg.APIKey, stripe.WithBackends(backends)), channels: map[core.Channel]bool{}}
	for _, ch := range cfg.Channels {
		a.channels[ch] = true
	}
	return a, nil
}

// Channels lists the channels the Acquirer serves.
func (a *Acquirer) Channels() []core.Channel { return append([]core.Channel(nil), a.cfg.Channels...) }

// begin refuses, without sending anything, calls for channels not served and calls whose
// context has already ended.
func (a *Acquirer) begin(ctx context.Context, ch core.Channel) error {
	if !a.channels[ch] {
		return fmt.Errorf("cardacq: channel %q is not served by this acquirer: %w", ch, core.ErrNotExecuted)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cardacq: %w: %w", core.ErrNotExecuted, err)
	}
	return nil
}

// Authorize implements core.Gateway: it creates and confirms a PaymentIntent (see the
// package documentation for the mapping).
func (a *Acquirer) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := a.begin(ctx, req.Channel); err != nil {
		return core.AuthorizeResult{}, err
	}
	if req.Card == nil {
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError, DeclineMessage: "No card details."}, nil
	}
	pmp := &stripe.PaymentMethodCreateParams{
		Type: stripe.String(string(stripe.PaymentMethodTypeCard)),
		Card: &stripe.PaymentMethodCreateCardParams{
			Number:   stripe.String(req.Card.Number),
			ExpMonth: stripe.Int64(int64(req.Card.ExpMonth)),
			ExpYear:  stripe.Int64(int64(req.Card.ExpYear)),
		},
	}
	if req.Card.CVC != "" {
		pmp.Card.CVC = stripe.String(req.Card.CVC)
	}
	pmp.SetIdempotencyKey(req.Key + ":payment_method")
	pmCtx, log := track(ctx)
	pm, err := a.sc.V1PaymentMethods.Create(pmCtx, pmp)
	if err != nil {
		return a.authorizeError("create payment method", err, log)
	}
	capture := stripe.PaymentIntentCaptureMethodManual
	if req.Capture {
		capture = stripe.PaymentIntentCaptureMethodAutomatic
	}
	pip := &stripe.PaymentIntentCreateParams{
		Amount:                stripe.Int64(req.Amount),
		Currency:              stripe.String(strings.ToLower(req.Currency)),
		CaptureMethod:         stripe.String(string(capture)),
		Confirm:               stripe.Bool(true),
		PaymentMethod:         stripe.String(pm.ID),
		PaymentMethodTypes:    []*string{stripe.String("card")},
		ErrorOnRequiresAction: stripe.Bool(true),
		Metadata: map[string]string{
			MetaPaymentID: req.PaymentID, MetaChannel: string(req.Channel), MetaChannelKey: req.Key,
		},
	}
	if req.MerchantID != "" {
		pip.Metadata[MetaMerchantID] = req.MerchantID
	}
	pip.SetIdempotencyKey(req.Key)
	piCtx, log := track(ctx) // only this request's attempts decide whether money may have moved
	pi, err := a.sc.V1PaymentIntents.Create(piCtx, pip)
	if err != nil {
		return a.authorizeError("create payment intent", err, log)
	}
	return authorizeResult(pi)
}

// authorizeResult maps a PaymentIntent that answered an authorisation.
func authorizeResult(pi *stripe.PaymentIntent) (core.AuthorizeResult, error) {
	res := core.AuthorizeResult{Reference: pi.ID}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		res.Outcome = core.OutcomeCaptured
	case stripe.PaymentIntentStatusRequiresCapture:
		res.Outcome = core.OutcomeAuthorized
	case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusCanceled:
		res.Outcome = core.OutcomeDeclined
		res.DeclineCode, res.DeclineMessage = lastPaymentError(pi)
	default:
		return core.AuthorizeResult{}, unsettled(pi)
	}
	return res, nil
}

func unsettled(pi *stripe.PaymentIntent) error {
	return fmt.Errorf("%w: payment intent %s is %s", ErrUnsettled, pi.ID, pi.Status)
}

// lastPaymentError is the decline code and message of a failed PaymentIntent.
func lastPaymentError(pi *stripe.PaymentIntent) (string, string) {
	if e := pi.LastPaymentError; e != nil {
		msg := e.Msg
		if msg == "" {
			msg = "The card acquirer declined the payment."
		}
		return declineCode(e.Code, e.DeclineCode), msg
	}
	return core.CodeProcessingError, "The card acquirer did not complete the payment."
}

// declineCode maps Stripe's error and decline codes to the platform's decline codes.
func declineCode(code stripe.ErrorCode, decline stripe.DeclineCode) string {
	if d := string(decline); d != "" && core.DeclineCode(d) == d {
		return d
	}
	return core.DeclineCode(string(code))
}

// authorizeError classifies a failed authorisation call: a decline, or an error.
func (a *Acquirer) authorizeError(step string, err error, log *attempts) (core.AuthorizeResult, error) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return core.AuthorizeResult{}, transportError(step, err, log)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		res := core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: declineCode(se.Code, se.DeclineCode), DeclineMessage: se.Msg}
		if se.PaymentIntent != nil {
			res.Reference = se.PaymentIntent.ID
		}
		if res.DeclineMessage == "" {
			res.DeclineMessage = "The card was declined."
		}
		return res, nil
	case refusedUnexecuted(se):
		return core.AuthorizeResult{}, notExecutedError(step, se)
	case unknownOutcome(se):
		return core.AuthorizeResult{}, unknownError(step, se)
	default: // another 4xx: the acquirer refused the request and executed nothing
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError,
			DeclineMessage: "The card acquirer refused the payment: " + se.Msg}, nil
	}
}

// refusedUnexecuted: answers the acquirer gives before executing anything.
func refusedUnexecuted(se *stripe.Error) bool {
	switch se.HTTPStatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return true
	}
	return false
}

// unknownOutcome: answers after which the request may or may not have been executed.
func unknownOutcome(se *stripe.Error) bool {
	return se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusConflict || se.HTTPStatusCode < 400 ||
		se.Type == stripe.ErrorTypeIdempotency || se.Type == stripe.ErrorTypeAPI
}

func notExecutedError(step string, se *stripe.Error) error {
	return fmt.Errorf("cardacq: %s: %w: HTTP %d %s: %s", step, core.ErrNotExecuted, se.HTTPStatusCode, se.Type, se.Msg)
}

func unknownError(step string, se *stripe.Error) error {
	return fmt.Errorf("cardacq: %s: outcome unknown: HTTP %d %s %s (request %s): %w", step, se.HTTPStatusCode, se.Type, se.Code, se.RequestID, se)
}

// transportError classifies an error that is not an answer of the acquirer's.
func transportError(step string, err error, log *attempts) error {
	if log.nothingSent() {
		return fmt.Errorf("cardacq: %s: %w: %w", step, core.ErrNotExecuted, err)
	}
	return fmt.Errorf("cardacq: %s: outcome unknown: %w", step, err)
}

// Capture implements core.Gateway: it captures req.Amount of the PaymentIntent
// req.Reference.
func (a *Acquirer) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	if err := a.begin(ctx, req.Channel); err != nil {
		return core.OpResult{}, err
	}
	if req.Reference == "" {
		return noReference(), nil
	}
	ctx, log := track(ctx)
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(req.Amount)}
	p.SetIdempotencyKey(req.Key)
	pi, err := a.sc.V1PaymentIntents.Capture(ctx, req.Reference, p)
	if err != nil {
		return opError("capture", err, log)
	}
	// A 2xx answer to a capture means captured (the intent is succeeded). amount_received
	// is what was captured; a backend that leaves it 0 (stripe-mock's fixture) captured
	// what was asked.
	amount := pi.AmountReceived
	if amount == 0 {
		amount = req.Amount
	}
	return core.OpResult{OK: true, Amount: amount, Reference: pi.ID}, nil
}

// Void implements core.Gateway: it cancels the PaymentIntent req.Reference, releasing the
// hold.
func (a *Acquirer) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	if err := a.begin(ctx, req.Channel); err != nil {
		return core.OpResult{}, err
	}
	if req.Reference == "" {
		return noReference(), nil
	}
	ctx, log := track(ctx)
	p := &stripe.PaymentIntentCancelParams{}
	p.SetIdempotencyKey(req.Key)
	pi, err := a.sc.V1PaymentIntents.Cancel(ctx, req.Reference, p)
	if err != nil {
		return opError("cancel", err, log)
	}
	return core.OpResult{OK: true, Amount: pi.Amount, Reference: pi.ID}, nil
}

// Refund implements core.Gateway: it refunds req.Amount of the PaymentIntent req.Reference.
func (a *Acquirer) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	if err := a.begin(ctx, req.Channel); err != nil {
		return core.OpResult{}, err
	}
	if req.Reference == "" {
		return noReference(), nil
	}
	ctx, log := track(ctx)
	p := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(req.Reference),
		Amount:        stripe.Int64(req.Amount),
		Metadata:      map[string]string{MetaPaymentID: req.PaymentID, MetaChannel: string(req.Channel)},
	}
	if req.RefundID != "" {
		p.Metadata[MetaRefundID] = req.RefundID
	}
	p.SetIdempotencyKey(req.Key)
	r, err := a.sc.V1Refunds.Create(ctx, p)
	if err != nil {
		return opError("refund", err, log)
	}
	switch r.Status {
	case stripe.RefundStatusSucceeded, stripe.RefundStatusPending:
		amount := r.Amount
		if amount == 0 {
			amount = req.Amount
		}
		return core.OpResult{OK: true, Amount: amount, Reference: r.ID}, nil
	case stripe.RefundStatusFailed, stripe.RefundStatusCanceled:
		msg := "The card acquirer could not refund the payment."
		if r.FailureReason != "" {
			msg += " (" + string(r.FailureReason) + ")"
		}
		return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: msg, Reference: r.ID}, nil
	default:
		return core.OpResult{}, fmt.Errorf("cardacq: refund %s is %q: outcome unknown", r.ID, r.Status)
	}
}

func noReference() core.OpResult {
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "No card acquirer transaction to act on."}
}

// opError classifies a failed capture, void or refund: a refusal, or an error.
func opError(step string, err error, log *attempts) (core.OpResult, error) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return core.OpResult{}, transportError(step, err, log)
	}
	switch {
	case refusedUnexecuted(se):
		return core.OpResult{}, notExecutedError(step, se)
	case unknownOutcome(se):
		return core.OpResult{}, unknownError(step, se)
	}
	msg := se.Msg
	if msg == "" {
		msg = "The card acquirer refused the " + step + "."
	}
	return core.OpResult{FailureCode: opFailureCode(se), FailureMessage: msg}, nil
}

// opFailureCode maps the acquirer's refusal of a capture, void or refund to the platform's
// codes.
func opFailureCode(se *stripe.Error) string {
	switch se.Code {
	case stripe.ErrorCodePaymentIntentUnexpectedState, stripe.ErrorCodeChargeAlreadyCaptured,
		stripe.ErrorCodeChargeExpiredForCapture, stripe.ErrorCodeChargeDisputed:
		return core.CodeInvalidState
	case stripe.ErrorCodeAmountTooLarge, stripe.ErrorCodeChargeAlreadyRefunded:
		return core.CodeAmountTooLarge
	}
	if se.Type == stripe.ErrorTypeInvalidRequest && (se.Param == "amount" || se.Param == "amount_to_capture") {
		return core.CodeAmountTooLarge
	}
	return core.CodeProcessingError
}

// QueryPayment implements core.Querier.
//
// With q.Reference it retrieves the PaymentIntent (expanding latest_charge for the refunded
// amount); an unknown ID is Found false. With the key alone (a timeout left the payment
// without a Reference) it searches PaymentIntents by metadata['payment_id'] and takes the
// one whose channel_key metadata is q.Key. Stripe's search is eventually consistent, so
// when it finds nothing QueryPayment returns an error wrapping ErrSearchMiss, not Found
// false — unless Config.TrustSearchMisses is set — because the caller may fail a payment
// that is not found, and one that was in fact charged must not be failed. A backend
// without search (404) also gives an error. Either way the payment stays in doubt until a
// retry of the original request re-sends the authorisation with the same key.
//
// Status mapping: succeeded → captured (AmountCaptured amount_received, AmountRefunded the
// latest charge's amount_refunded); requires_capture → authorized; requires_payment_method
// → declined; canceled → Closed, declined if a payment error is recorded, else authorized;
// the unsettled statuses → an error wrapping ErrUnsettled.
func (a *Acquirer) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := a.begin(ctx, q.Channel); err != nil {
		return core.PaymentState{}, err
	}
	ctx, log := track(ctx)
	var pi *stripe.PaymentIntent
	var err error
	if q.Reference != "" {
		p := &stripe.PaymentIntentRetrieveParams{}
		p.AddExpand("latest_charge")
		pi, err = a.sc.V1PaymentIntents.Retrieve(ctx, q.Reference, p)
		if err != nil {
			var se *stripe.Error
			if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
				return core.PaymentState{}, nil
			}
			return core.PaymentState{}, queryError("retrieve payment intent", err, log)
		}
	} else {
		if pi, err = a.search(ctx, q, log); err != nil || pi == nil {
			return core.PaymentState{}, err
		}
	}
	return paymentState(pi)
}

func (a *Acquirer) search(ctx context.Context, q core.PaymentQuery, log *attempts) (*stripe.PaymentIntent, error) {
	if q.PaymentID == "" {
		return nil, errors.New("cardacq: QueryPayment needs a Reference or a PaymentID")
	}
	p := &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{
		Query: fmt.Sprintf("metadata['%s']:'%s'", MetaPaymentID, searchQuote(q.PaymentID)),
		Limit: stripe.Int64(10),
	}}
	p.AddExpand("data.latest_charge")
	var found *stripe.PaymentIntent
	n := 0
	for pi, err := range a.sc.V1PaymentIntents.Search(ctx, p) {
		if err != nil {
			return nil, queryError("search payment intents", err, log)
		}
		if k, ok := pi.Metadata[MetaChannelKey]; ok && k != q.Key {
			continue // another authorisation of the same payment ID (not one of ours)
		}
		if found == nil {
			found = pi
		}
		if n++; n >= 100 {
			break
		}
	}
	if found == nil {
		if a.cfg.TrustSearchMisses {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: payment %s, key %s", ErrSearchMiss, q.PaymentID, q.Key)
	}
	return found, nil
}

// searchQuote escapes a value for a single-quoted string of Stripe's search query language.
func searchQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

func queryError(step string, err error, log *attempts) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return transportError(step, err, log)
	}
	if refusedUnexecuted(se) {
		return notExecutedError(step, se)
	}
	return unknownError(step, se)
}

// paymentState maps a retrieved PaymentIntent.
func paymentState(pi *stripe.PaymentIntent) (core.PaymentState, error) {
	st := core.PaymentState{Found: true, Reference: pi.ID}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		st.Outcome = core.OutcomeCaptured
		st.AmountCaptured = pi.AmountReceived
		if pi.LatestCharge != nil {
			st.AmountRefunded = pi.LatestCharge.AmountRefunded
		}
	case stripe.PaymentIntentStatusRequiresCapture:
		st.Outcome = core.OutcomeAuthorized
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		st.Outcome = core.OutcomeDeclined
		st.DeclineCode, st.DeclineMessage = lastPaymentError(pi)
	case stripe.PaymentIntentStatusCanceled:
		st.Closed = true
		st.Outcome = core.OutcomeAuthorized
		if pi.LastPaymentError != nil {
			st.Outcome = core.OutcomeDeclined
			st.DeclineCode, st.DeclineMessage = lastPaymentError(pi)
		}
	default:
		return core.PaymentState{}, unsettled(pi)
	}
	return st, nil
}

// Statement implements core.Statements from the acquirer's balance transactions created on
// day (UTC), expanding their sources: charges (types charge and payment) become "charge"
// lines with the charge's captured amount and currency, Reference the PaymentIntent ID (the
// Authorize Reference) and PaymentID from the intent's metadata; refunds (types refund and
// payment_refund) become "refund" lines with Reference the refund ID (the Refund
// OpResult's Reference) and PaymentID and RefundID from the refund's metadata. Other
// transactions (fees, payouts, adjustments, disputes) are left out. A line belongs to the
// channel its metadata names; lines without channel metadata (made outside this adapter)
// are given to the first of Config.Channels.
func (a *Acquirer) Statement(ctx context.Context, channel core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := a.begin(ctx, channel); err != nil {
		return nil, err
	}
	ctx, log := track(ctx)
	y, m, d := day.UTC().Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	p := &stripe.BalanceTransactionListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: start.Unix(), LesserThan: start.AddDate(0, 0, 1).Unix()}}
	p.Limit = stripe.Int64(100)
	p.AddExpand("data.source")
	p.AddExpand("data.source.payment_intent")
	lines := []core.StatementLine{}
	for bt, err := range a.sc.V1BalanceTransactions.List(ctx, p) {
		if err != nil {
			return nil, queryError("list balance transactions", err, log)
		}
		line, ch, ok := statementLine(bt)
		if !ok {
			continue
		}
		if ch == "" {
			ch = string(a.cfg.Channels[0])
		}
		if core.Channel(ch) == channel {
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// statementLine maps one balance transaction; ok is false for those that are not charges or
// refunds. ch is the channel its metadata names, if any.
func statementLine(bt *stripe.BalanceTransaction) (line core.StatementLine, ch string, ok bool) {
	if bt.Source == nil {
		return line, "", false
	}
	line = core.StatementLine{At: time.Unix(bt.Created, 0).UTC(), Amount: bt.Amount, Currency: strings.ToUpper(string(bt.Currency))}
	switch bt.Type {
	case stripe.BalanceTransactionTypeCharge, stripe.BalanceTransactionTypePayment:
		c := bt.Source.Charge
		if c == nil {
			return line, "", false
		}
		line.Kind, line.Reference = "charge", c.ID
		if c.AmountCaptured > 0 {
			line.Amount, line.Currency = c.AmountCaptured, strings.ToUpper(string(c.Currency))
		}
		md := c.Metadata
		if pi := c.PaymentIntent; pi != nil {
			line.Reference = pi.ID
			if len(pi.Metadata) > 0 {
				md = pi.Metadata
			}
		}
		line.PaymentID, ch = md[MetaPaymentID], md[MetaChannel]
	case stripe.BalanceTransactionTypeRefund, stripe.BalanceTransactionTypePaymentRefund:
		r := bt.Source.Refund
		if r == nil {
			return line, "", false
		}
		line.Kind, line.Reference = "refund", r.ID
		if r.Amount > 0 {
			line.Amount, line.Currency = r.Amount, strings.ToUpper(string(r.Currency))
		} else if line.Amount < 0 {
			line.Amount = -line.Amount
		}
		line.PaymentID, line.RefundID, ch = r.Metadata[MetaPaymentID], r.Metadata[MetaRefundID], r.Metadata[MetaChannel]
	default:
		return line, "", false
	}
	return line, ch, true
}
