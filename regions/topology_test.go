package regions_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/regions"
)

const ms = time.Millisecond

func TestDefaultTopologyNearest(t *testing.T) {
	topo := regions.DefaultTopology()
	tests := []struct {
		from string
		want []string
	}{
		{"us-east", []string{"us-east", "eu-west", "ap-south"}},
		{"eu-west", []string{"eu-west", "us-east", "ap-south"}}, // 40 ms before 70 ms
		{"ap-south", []string{"ap-south", "eu-west", "us-east"}},
		{"mars-north", nil},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			if got := topo.Nearest(tt.from); !slices.Equal(got, tt.want) {
				t.Errorf("Nearest(%q) = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
	if got, want := topo.Regions(), []string{"ap-south", "eu-west", "us-east"}; !slices.Equal(got, want) {
		t.Errorf("Regions() = %v, want %v", got, want)
	}
	if d, ok := topo.Latency("ap-south", "us-east"); !ok || d != 110*ms {
		t.Errorf("Latency(ap-south, us-east) = %v, %v; want 110ms, true", d, ok)
	}
	if d, ok := topo.Latency("eu-west", "eu-west"); !ok || d != 0 {
		t.Errorf("Latency(eu-west, eu-west) = %v, %v; want 0, true", d, ok)
	}
	if err := topo.Check("us-west"); !errors.Is(err, regions.ErrUnknownRegion) {
		t.Errorf("Check(us-west) = %v, want ErrUnknownRegion", err)
	}
	// Nearest hands out copies: changing one must not change the topology.
	topo.Nearest("us-east")[0] = "changed"
	if got := topo.Nearest("us-east")[0]; got != "us-east" {
		t.Errorf("Nearest shares its slice: first region is now %q", got)
	}
}

func TestTopologyNearestTies(t *testing.T) {
	// Equal latencies are ordered by name, so every node fails over in the same order; a
	// region at zero latency from another still comes after the region itself.
	topo, err := regions.NewTopology(regions.Latencies{
		"zz-one":   {"bb-two": 0, "aa-three": 10 * ms, "cc-four": 10 * ms},
		"bb-two":   {"zz-one": 0, "aa-three": 5 * ms, "cc-four": 5 * ms},
		"aa-three": {"zz-one": 10 * ms, "bb-two": 5 * ms, "cc-four": 1 * ms},
		"cc-four":  {"zz-one": 10 * ms, "bb-two": 5 * ms, "aa-three": 1 * ms},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := topo.Nearest("zz-one"), []string{"zz-one", "bb-two", "aa-three", "cc-four"}; !slices.Equal(got, want) {
		t.Errorf("Nearest(zz-one) = %v, want %v", got, want)
	}
	if got, want := topo.Nearest("bb-two"), []string{"bb-two", "zz-one", "aa-three", "cc-four"}; !slices.Equal(got, want) {
		t.Errorf("Nearest(bb-two) = %v, want %v", got, want)
	}
}

func TestTopologyValidation(t *testing.T) {
	tests := []struct {
		name     string
		m        regions.Latencies
		wantErrs []error  // every one must be wrapped
		wantText []string // and every one of these in the message
	}{
		{
			name:     "no regions",
			m:        regions.Latencies{},
			wantText: []string{"no regions"},
		},
		{
			name: "asymmetric",
			m: regions.Latencies{
				"us-east": {"eu-west": 40 * ms},
				"eu-west": {"us-east": 45 * ms},
			},
			wantErrs: []error{regions.ErrAsymmetricLatency},
			wantText: []string{"eu-west→us-east is 45ms but us-east→eu-west is 40ms"},
		},
		{
			name: "missing pair",
			m: regions.Latencies{
				"us-east":  {"eu-west": 40 * ms, "ap-south": 110 * ms},
				"eu-west":  {"us-east": 40 * ms},
				"ap-south": {"us-east": 110 * ms},
			},
			wantErrs: []error{regions.ErrMissingLatency},
			wantText: []string{"missing latency between ap-south and eu-west"},
		},
		{
			name: "one direction missing",
			m: regions.Latencies{
				"us-east": {"eu-west": 40 * ms},
				"eu-west": {},
			},
			wantErrs: []error{regions.ErrMissingLatency},
			wantText: []string{"missing latency eu-west→us-east (us-east→eu-west is 40ms)"},
		},
		{
			name: "unknown region in a row",
			m: regions.Latencies{
				"us-east": {"eu-west": 40 * ms, "us-west": 60 * ms},
				"eu-west": {"us-east": 40 * ms},
			},
			wantErrs: []error{regions.ErrUnknownRegion},
			wantText: []string{`latency us-east→us-west: unknown region "us-west"`},
		},
		{
			name: "bad name",
			m: regions.Latencies{
				"US_East": {"eu-west": 40 * ms},
				"eu-west": {"US_East": 40 * ms},
			},
			wantErrs: []error{regions.ErrInvalidRegionName},
			wantText: []string{`"US_East"`},
		},
		{
			name: "negative and self latency",
			m: regions.Latencies{
				"us-east": {"us-east": 3 * ms, "eu-west": -40 * ms},
				"eu-west": {"us-east": -40 * ms},
			},
			wantErrs: []error{regions.ErrInvalidLatency},
			wantText: []string{"latency us-east→us-east is 3ms", "between eu-west and us-east is -40ms"},
		},
		{
			name: "every problem is reported",
			m: regions.Latencies{
				"us-east":  {"eu-west": 40 * ms, "ap-south": 110 * ms},
				"eu-west":  {"us-east": 41 * ms},
				"ap-south": {"us-east": 110 * ms, "sa-east": 9 * ms},
			},
			wantErrs: []error{regions.ErrAsymmetricLatency, regions.ErrMissingLatency, regions.ErrUnknownRegion},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo, err := regions.NewTopology(tt.m)
			if err == nil {
				t.Fatalf("NewTopology succeeded (%v), want an error", topo.Regions())
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("error %q does not wrap %v", err, want)
				}
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestValidateRegionName(t *testing.T) {
	for _, name := range []string{"us-east", "eu-west", "ap-south", "eu2", "us-east-1"} {
		if err := regions.ValidateRegionName(name); err != nil {
			t.Errorf("ValidateRegionName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "us", "US-EAST", "us_east", "us-east-", "-us", "1us", "us/east", strings.Repeat("a", 33)} {
		if err := regions.ValidateRegionName(name); !errors.Is(err, regions.ErrInvalidRegionName) {
			t.Errorf("ValidateRegionName(%q) = %v, want ErrInvalidRegionName", name, err)
		}
	}
}
