package loadtest

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/core"
)

// Over many draws with a fixed seed, each operation comes up in proportion to its weight.
func TestMixProportions(t *testing.T) {
	mix, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	counts := map[OpType]int{}
	for i := range n {
		// As the generator draws: one source per operation, seeded with (seed, seq).
		counts[mix.Pick(rand.New(rand.NewPCG(42, uint64(i))))]++
	}
	want := map[OpType]float64{OpCreateAuto: 0.50, OpCreateCapture: 0.20, OpRefund: 0.10, OpGet: 0.15, OpList: 0.05}
	for op, share := range want {
		got := float64(counts[op]) / n
		if math.Abs(got-share) > 0.005 {
			t.Errorf("%s: drawn %.4f of the time, want %.2f ± 0.005", op, got, share)
		}
		if mix.Share(op) != share {
			t.Errorf("Share(%s) = %v, want %v", op, mix.Share(op), share)
		}
	}
	if len(counts) != 5 {
		t.Errorf("drew %v", counts)
	}
	// A zero weight is never drawn.
	only, err := ParseMix("get=0,list=3")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		if op := only.Pick(r); op != OpList {
			t.Fatalf("drew %s with weight 0", op)
		}
	}
	if got := only.Names(); len(got) != 1 || got[0] != OpList {
		t.Errorf("Names() = %v", got)
	}
}

func TestParseMixErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"create_auto", "not name=weight"},
		{"create_auto=50,", "not name=weight"},
		{"teleport=5", "unknown operation"},
		{"get=-1", "non-negative integer"},
		{"get=1.5", "non-negative integer"},
		{"get=x", "non-negative integer"},
		{"get=1,get=2", "twice"},
		{"get=0,list=0", "every weight is zero"},
		{"get=2000000", "above"},
	} {
		_, err := ParseMix(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMix(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
	m, err := ParseMix(" create_auto = 3 , refund=1 ")
	if err != nil || m.String() != "create_auto=3,refund=1" {
		t.Errorf("ParseMix with spaces: %v %q", err, m.String())
	}
	again, err := ParseMix(m.String())
	if err != nil || again.String() != m.String() {
		t.Errorf("round trip: %v %q", err, again.String())
	}
}

func TestParseChannels(t *testing.T) {
	w, err := ParseChannels(DefaultChannels)
	if err != nil {
		t.Fatal(err)
	}
	cards := w.Filter(func(c core.Channel) bool { return c.IsCard() })
	if cards.String() != "card=60,debit_card=20" {
		t.Errorf("card channels %q", cards.String())
	}
	if _, err := ParseChannels("paypal=1"); err == nil || !strings.Contains(err.Error(), "unknown channel") {
		t.Errorf("ParseChannels(paypal) = %v", err)
	}
	if !(Weighted[core.Channel]{}).Empty() || w.Empty() {
		t.Error("Empty is wrong")
	}
}
