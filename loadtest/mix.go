package loadtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// OpType is the kind of an operation of the mix.
type OpType string

// The operation types.
const (
	// OpCreateAuto creates a payment with automatic capture, on any channel.
	OpCreateAuto OpType = "create_auto"
	// OpCreateCapture creates a card payment with manual capture, then captures it.
	OpCreateCapture OpType = "create_capture"
	// OpRefund refunds part or all of a card payment this run captured.
	OpRefund OpType = "refund"
	// OpGet reads a payment this run created.
	OpGet OpType = "get"
	// OpList reads the first page of a merchant's payments.
	OpList OpType = "list"
)

// OpTypes lists every operation type, in report order.
var OpTypes = []OpType{OpCreateAuto, OpCreateCapture, OpRefund, OpGet, OpList}

// Valid reports whether o is a known operation type.
func (o OpType) Valid() bool {
	for _, k := range OpTypes {
		if o == k {
			return true
		}
	}
	return false
}

// DefaultMix is the operation mix used when Config.Mix is empty.
const DefaultMix = "create_auto=50,create_capture=20,refund=10,get=15,list=5"

// DefaultChannels is the channel mix of create_auto when Config.Channels is empty.
const DefaultChannels = "card=60,debit_card=20,wechat_pay=8,alipay=7,bank_transfer=5"

// Weighted is a set of names with integer weights, drawn in proportion to them. The zero
// value is empty.
type Weighted[T ~string] struct {
	names   []T
	weights []int
	total   int
}

// Mix is the operation mix: operation types with their weights.
type Mix = Weighted[OpType]

// ParseMix parses an operation mix such as "create_auto=50,refund=10,get=40". Weights are
// non-negative integers, at least one positive; each type appears at most once.
func ParseMix(s string) (Mix, error) {
	return parseWeighted(s, "operation", func(o OpType) bool { return o.Valid() }, opNames())
}

// ParseChannels parses a channel mix such as "card=70,alipay=30".
func ParseChannels(s string) (Weighted[core.Channel], error) {
	names := make([]string, len(core.Channels))
	for i, c := range core.Channels {
		names[i] = string(c)
	}
	return parseWeighted(s, "channel", func(c core.Channel) bool { return c.Valid() }, strings.Join(names, ", "))
}

func opNames() string {
	names := make([]string, len(OpTypes))
	for i, o := range OpTypes {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

func parseWeighted[T ~string](s, what string, valid func(T) bool, known string) (Weighted[T], error) {
	var w Weighted[T]
	s = strings.TrimSpace(s)
	if s == "" {
		return w, fmt.Errorf("empty %s mix: give name=weight pairs such as %q", what, "a=1,b=2")
	}
	seen := map[T]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Weighted[T]{}, fmt.Errorf("%s mix: %q is not name=weight", what, part)
		}
		n := T(strings.TrimSpace(name))
		if !valid(n) {
			return Weighted[T]{}, fmt.Errorf("%s mix: unknown %s %q (known: %s)", what, what, n, known)
		}
		if seen[n] {
			return Weighted[T]{}, fmt.Errorf("%s mix: %q appears twice", what, n)
		}
		seen[n] = true
		wt, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || wt < 0 {
			return Weighted[T]{}, fmt.Errorf("%s mix: the weight of %q must be a non-negative integer, not %q", what, n, val)
		}
		if wt > 1_000_000 {
			return Weighted[T]{}, fmt.Errorf("%s mix: the weight of %q is above 1000000", what, n)
		}
		w.names = append(w.names, n)
		w.weights = append(w.weights, wt)
		w.total += wt
	}
	if w.total == 0 {
		return Weighted[T]{}, fmt.Errorf("%s mix %q: every weight is zero", what, s)
	}
	return w, nil
}

// Empty reports whether w has nothing to draw.
func (w Weighted[T]) Empty() bool { return w.total == 0 }

// Pick draws a name with probability proportional to its weight. w must not be empty.
func (w Weighted[T]) Pick(r *rand.Rand) T {
	n := r.IntN(w.total)
	for i, wt := range w.weights {
		if n < wt {
			return w.names[i]
		}
		n -= wt
	}
	return w.names[len(w.names)-1] // unreachable
}

// Share is name's weight as a fraction of the total (0 for an absent name or an empty w).
func (w Weighted[T]) Share(name T) float64 {
	if w.total == 0 {
		return 0
	}
	for i, n := range w.names {
		if n == name {
			return float64(w.weights[i]) / float64(w.total)
		}
	}
	return 0
}

// Names lists the names with a positive weight, in the order given.
func (w Weighted[T]) Names() []T {
	var out []T
	for i, n := range w.names {
		if w.weights[i] > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Filter is w restricted to the names keep accepts (possibly empty).
func (w Weighted[T]) Filter(keep func(T) bool) Weighted[T] {
	var out Weighted[T]
	for i, n := range w.names {
		if keep(n) {
			out.names = append(out.names, n)
			out.weights = append(out.weights, w.weights[i])
			out.total += w.weights[i]
		}
	}
	return out
}

// String renders w in the form ParseMix and ParseChannels accept.
func (w Weighted[T]) String() string {
	parts := make([]string, len(w.names))
	for i, n := range w.names {
		parts[i] = string(n) + "=" + strconv.Itoa(w.weights[i])
	}
	return strings.Join(parts, ",")
}
