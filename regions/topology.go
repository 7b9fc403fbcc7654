package regions

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Errors a Topology's validation and lookups wrap; branch on them with errors.Is.
var (
	// ErrUnknownRegion: a region that the topology does not know.
	ErrUnknownRegion = errors.New("unknown region")
	// ErrInvalidRegionName: a region name that is not like "us-east".
	ErrInvalidRegionName = errors.New("invalid region name")
	// ErrAsymmetricLatency: A→B and B→A latencies differ.
	ErrAsymmetricLatency = errors.New("asymmetric latency")
	// ErrMissingLatency: no latency given between two regions of the topology.
	ErrMissingLatency = errors.New("missing latency")
	// ErrInvalidLatency: a negative latency, or a non-zero latency from a region to itself.
	ErrInvalidLatency = errors.New("invalid latency")
)

// regionNameRE is what a region name looks like: "us-east", "eu-west", "ap-south". It is the
// same pattern as core.RegionNameRE (object IDs carry the region), repeated here so that this
// package does not depend on the payment domain.
var regionNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`)

// ValidateRegionName reports whether name can be a region: lower-case letters, digits and
// hyphens, 3 to 32 characters, starting with a letter ("us-east").
func ValidateRegionName(name string) error {
	if !regionNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: want lower-case letters, digits and '-', like \"us-east\"", ErrInvalidRegionName, name)
	}
	return nil
}

// Latencies is a latency matrix: Latencies[a][b] is the one-way latency from region a to
// region b. Every region is a key of the outer map; every pair of distinct regions must have
// a latency in both directions, and both must be equal. A region's latency to itself may be
// left out (it is zero).
type Latencies map[string]map[string]time.Duration

// Topology is the static map of the platform's regions: their names and the latency between
// every two of them. It orders failover: nearest healthy region first. A Topology is
// immutable and safe for concurrent use.
type Topology struct {
	regions []string // sorted
	latency map[string]map[string]time.Duration
	nearest map[string][]string // region → every region by latency from it, itself first
}

// NewTopology validates a latency matrix and returns its Topology. The error lists every
// problem found, each wrapping one of ErrInvalidRegionName, ErrUnknownRegion,
// ErrMissingLatency, ErrAsymmetricLatency or ErrInvalidLatency.
func NewTopology(m Latencies) (*Topology, error) {
	if len(m) == 0 {
		return nil, errors.New("topology: no regions")
	}
	regions := slices.Sorted(maps.Keys(m))
	var errs []error
	for _, a := range regions {
		if err := ValidateRegionName(a); err != nil {
			errs = append(errs, err)
		}
		for _, b := range slices.Sorted(maps.Keys(m[a])) {
			if _, ok := m[b]; !ok {
				errs = append(errs, fmt.Errorf("latency %s→%s: %w %q (not a key of the matrix)", a, b, ErrUnknownRegion, b))
			}
		}
	}
	for i, a := range regions {
		if d, ok := m[a][a]; ok && d != 0 {
			errs = append(errs, fmt.Errorf("latency %s→%s is %v: %w (a region's latency to itself is 0)", a, a, d, ErrInvalidLatency))
		}
		for _, b := range regions[i+1:] {
			ab, okAB := m[a][b]
			ba, okBA := m[b][a]
			switch {
			case !okAB && !okBA:
				errs = append(errs, fmt.Errorf("%w between %s and %s", ErrMissingLatency, a, b))
			case !okAB:
				errs = append(errs, fmt.Errorf("%w %s→%s (%s→%s is %v)", ErrMissingLatency, a, b, b, a, ba))
			case !okBA:
				errs = append(errs, fmt.Errorf("%w %s→%s (%s→%s is %v)", ErrMissingLatency, b, a, a, b, ab))
			case ab != ba:
				errs = append(errs, fmt.Errorf("%w: %s→%s is %v but %s→%s is %v", ErrAsymmetricLatency, a, b, ab, b, a, ba))
			}
			for _, d := range []time.Duration{ab, ba} {
				if d < 0 {
					errs = append(errs, fmt.Errorf("latency between %s and %s is %v: %w (negative)", a, b, d, ErrInvalidLatency))
					break
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("topology: %w", errors.Join(errs...))
	}

	t := &Topology{
		regions: regions,
		latency: make(map[string]map[string]time.Duration, len(regions)),
		nearest: make(map[string][]string, len(regions)),
	}
	for _, a := range regions {
		row := make(map[string]time.Duration, len(regions))
		for _, b := range regions {
			row[b] = m[a][b] // zero for a == b
		}
		t.latency[a] = row
		order := slices.Clone(regions)
		// Itself first (latency 0), then by latency; equal latencies by name, so that the
		// failover order is the same on every node.
		slices.SortFunc(order, func(x, y string) int {
			switch {
			case x == y:
				return 0
			case x == a:
				return -1
			case y == a:
				return 1
			}
			return cmp.Or(cmp.Compare(row[x], row[y]), strings.Compare(x, y))
		})
		t.nearest[a] = order
	}
	return t, nil
}

// DefaultTopology is the local cluster's three regions with plausible one-way latencies:
// us-east↔eu-west 40 ms, eu-west↔ap-south 70 ms, us-east↔ap-south 110 ms.
func DefaultTopology() *Topology {
	const ms = time.Millisecond
	t, err := NewTopology(Latencies{
		"us-east":  {"eu-west": 40 * ms, "ap-south": 110 * ms},
		"eu-west":  {"us-east": 40 * ms, "ap-south": 70 * ms},
		"ap-south": {"us-east": 110 * ms, "eu-west": 70 * ms},
	})
	if err != nil {
		panic(err) // a constant matrix
	}
	return t
}

// Regions returns the topology's region names, sorted.
func (t *Topology) Regions() []string { return slices.Clone(t.regions) }

// Has reports whether region is part of the topology.
func (t *Topology) Has(region string) bool {
	_, ok := t.latency[region]
	return ok
}

// Check returns an error wrapping ErrUnknownRegion when region is not part of the topology.
func (t *Topology) Check(region string) error {
	if !t.Has(region) {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownRegion, region, strings.Join(t.regions, ", "))
	}
	return nil
}

// Latency returns the one-way latency from region a to region b; ok is false when either is
// unknown.
func (t *Topology) Latency(a, b string) (d time.Duration, ok bool) {
	d, ok = t.latency[a][b]
	return d, ok
}

// Nearest returns every region ordered by latency from region from, from itself first; equal
// latencies are ordered by name. It returns nil when from is not part of the topology.
func (t *Topology) Nearest(from string) []string {
	order, ok := t.nearest[from]
	if !ok {
		return nil
	}
	return slices.Clone(order)
}
