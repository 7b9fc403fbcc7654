package postgres

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/paycenter/paycenter/core"
)

// callChannel runs one channel call about payment p in its own span. Its timeout is the
// channel gateway's (resilience.Gateway applies one per region and channel); the request's
// lease bounds it too.
func (s *Service) callChannel(ctx context.Context, op string, p *core.Payment, call func(context.Context) error) error {
	return s.traceChannel(ctx, op, call, attribute.String("payment.channel", string(p.Channel)),
		attribute.String("payment.id", p.ID))
}

// callBank runs one bank call about payout po in its own span, as callChannel does.
func (s *Service) callBank(ctx context.Context, op string, po *core.Payout, call func(context.Context) error) error {
	return s.traceChannel(ctx, op, call, attribute.String("payment.channel", string(core.ChannelBankTransfer)),
		attribute.String("payout.id", po.ID))
}

func (s *Service) traceChannel(ctx context.Context, op string, call func(context.Context) error, attrs ...attribute.KeyValue) error {
	ctx, span := s.tracer.Start(ctx, "channel "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, attribute.String("region", s.cfg.Region))...))
	defer span.End()
	start := time.Now()
	err := call(ctx)
	span.SetAttributes(attribute.Int64("channel.duration_ms", time.Since(start).Milliseconds()))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "outcome unknown")
	}
	return err
}

// channelError turns a failed channel call into the request's answer: a channel that
// certainly did nothing is a 503 (not stored; a retry with the same key tries again); any
// other failure has an unknown outcome and answers 202 with obj as it stands.
func channelError(k *idemKey, err error, obj any) error {
	if errors.Is(err, core.ErrNotExecuted) {
		return core.Errorf(core.CodeChannelUnavailable, "The payment channel is unavailable; nothing was done. Retry with the same Idempotency-Key.")
	}
	interim(k, obj)
	return nil
}

// finishNotFound stores a not-found answer as the request's reply; other errors abort the phase.
func finishNotFound(k *idemKey, err error) (string, error) {
	if core.ErrorCode(err) == core.CodeNotFound {
		return k.finish(nil, err), nil
	}
	return "", err
}

func asCoded(err error, e **core.Error) bool { return errors.As(err, e) }

func deref64(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
