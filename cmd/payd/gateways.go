package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paycenter/paycenter/core"
)

// byChannel routes each call to the gateway serving its channel: the node's wiring of
// adapters (the card acquirer, the wallets' and bank's adapters, or the simulator).
type byChannel map[core.Channel]core.Gateway

func (b byChannel) pick(ch core.Channel) (core.Gateway, error) {
	if g, ok := b[ch]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("no gateway for channel %s: %w", ch, core.ErrNotExecuted)
}

func (b byChannel) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	g, err := b.pick(req.Channel)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	return g.Authorize(ctx, req)
}

func (b byChannel) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	g, err := b.pick(req.Channel)
	if err != nil {
		return core.OpResult{}, err
	}
	return g.Capture(ctx, req)
}

func (b byChannel) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	g, err := b.pick(req.Channel)
	if err != nil {
		return core.OpResult{}, err
	}
	return g.Void(ctx, req)
}

func (b byChannel) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	g, err := b.pick(req.Channel)
	if err != nil {
		return core.OpResult{}, err
	}
	return g.Refund(ctx, req)
}

// QueryPayment implements core.Querier for channels whose gateway can answer.
func (b byChannel) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	g, err := b.pick(q.Channel)
	if err != nil {
		return core.PaymentState{}, err
	}
	qr, ok := g.(core.Querier)
	if !ok {
		return core.PaymentState{}, fmt.Errorf("channel %s cannot be queried: %w", q.Channel, errors.ErrUnsupported)
	}
	return qr.QueryPayment(ctx, q)
}

// Statement implements core.Statements for channels whose gateway publishes statements.
func (b byChannel) Statement(ctx context.Context, ch core.Channel, day time.Time) ([]core.StatementLine, error) {
	g, err := b.pick(ch)
	if err != nil {
		return nil, err
	}
	st, ok := g.(core.Statements)
	if !ok {
		return nil, fmt.Errorf("channel %s publishes no statements: %w", ch, errors.ErrUnsupported)
	}
	return st.Statement(ctx, ch, day)
}

// payouter is the bank's gateway as a core.Payouter.
func (b byChannel) payouter() (core.Payouter, error) {
	g, err := b.pick(core.ChannelBankTransfer)
	if err != nil {
		return nil, err
	}
	p, ok := g.(core.Payouter)
	if !ok {
		return nil, fmt.Errorf("the bank channel makes no payouts: %w", core.ErrNotExecuted)
	}
	return p, nil
}

// Payout implements core.Payouter through the bank channel's gateway.
func (b byChannel) Payout(ctx context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	p, err := b.payouter()
	if err != nil {
		return core.PayoutResult{}, err
	}
	return p.Payout(ctx, req)
}

// QueryPayout implements core.Payouter through the bank channel's gateway.
func (b byChannel) QueryPayout(ctx context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	p, err := b.payouter()
	if err != nil {
		return core.PayoutResult{}, err
	}
	return p.QueryPayout(ctx, q)
}
