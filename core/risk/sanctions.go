package risk

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
)

// SanctionsThreshold is the Jaro-Winkler similarity from which a screened name matches a
// sanctioned one. 0.92 catches transpositions, dropped letters and changed word order
// ("Ivan Petrov" for "PETROV, Ivan") while keeping unrelated names of similar shape below
// it (see the tests' near misses).
const SanctionsThreshold = 0.92

// SanctionedParty is one entry of a sanctions list.
type SanctionedParty struct {
	EntNum  string
	Name    string
	Type    string // individual, vessel, aircraft, or empty for an entity
	Program string
	norm    []string // normalised forms compared against
}

// SanctionsList is a loaded sanctions list.
type SanctionsList struct {
	Parties []SanctionedParty
}

// ParseSDN reads a list in the layout of OFAC's SDN CSV (sdn.csv): no header, columns
// ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
// Vess_flag, Vess_owner, Remarks; "-0-" marks an empty field. Individuals are named
// "LAST, First".
func ParseSDN(r io.Reader) (*SanctionsList, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	l := &SanctionsList{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sanctions list line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" || len(rec) > 0 && strings.HasPrefix(rec[0], "\x1a") {
			continue // blank line, or the DOS end-of-file mark OFAC's files end with
		}
		if len(rec) < 4 {
			return nil, fmt.Errorf("sanctions list line %d: %d fields, want at least 4 (ent_num, SDN_Name, SDN_Type, Program)", line, len(rec))
		}
		field := func(i int) string {
			v := strings.TrimSpace(rec[i])
			if v == "-0-" {
				return ""
			}
			return v
		}
		p := SanctionedParty{EntNum: field(0), Name: field(1), Type: field(2), Program: field(3)}
		if p.Name == "" {
			continue
		}
		p.norm = nameForms(p.Name)
		l.Parties = append(l.Parties, p)
	}
	return l, nil
}

// SanctionsMatch is a screened name found on the list.
type SanctionsMatch struct {
	Party SanctionedParty
	Score float64
}

// Screen returns the parties whose name matches name with a similarity of at least
// SanctionsThreshold, best first.
func (l *SanctionsList) Screen(name string) []SanctionsMatch {
	forms := nameForms(name)
	if len(forms) == 0 || len(forms[0]) < 4 {
		return nil
	}
	var out []SanctionsMatch
	for _, p := range l.Parties {
		best := 0.0
		for _, a := range forms {
			for _, b := range p.norm {
				best = max(best, JaroWinkler(a, b))
			}
		}
		if best >= SanctionsThreshold {
			out = append(out, SanctionsMatch{Party: p, Score: best})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// nameForms are the normalised forms of a name that screening compares: upper case,
// letters and digits only, single spaces; as written, with "LAST, First" turned round, and
// with its words sorted (so word order does not matter).
func nameForms(name string) []string {
	norm := func(s string) string {
		var b strings.Builder
		space := false
		for _, r := range strings.ToUpper(s) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteRune(r)
				space = false
			} else {
				space = true
			}
		}
		return b.String()
	}
	base := norm(name)
	if base == "" {
		return nil
	}
	forms := []string{base}
	if last, first, ok := strings.Cut(name, ","); ok {
		forms = append(forms, norm(first+" "+last))
	}
	words := strings.Fields(base)
	sort.Strings(words)
	return append(forms, strings.Join(words, " "))
}

// JaroWinkler is the Jaro-Winkler similarity of a and b, from 0 (nothing in common) to 1
// (equal), over runes: the Jaro similarity raised for a common prefix of up to 4 runes with
// the standard scaling factor 0.1.
func JaroWinkler(a, b string) float64 {
	ra, rb := []rune(a), []rune(b)
	j := jaro(ra, rb)
	prefix := 0
	for prefix < min(4, len(ra), len(rb)) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return j + float64(prefix)*0.1*(1-j)
}

func jaro(a, b []rune) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	window := max(len(a), len(b))/2 - 1
	window = max(window, 0)
	ma, mb := make([]bool, len(a)), make([]bool, len(b))
	matches := 0
	for i := range a {
		lo, hi := max(0, i-window), min(len(b), i+window+1)
		for k := lo; k < hi; k++ {
			if !mb[k] && a[i] == b[k] {
				ma[i], mb[k] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, k := 0, 0
	for i := range a {
		if !ma[i] {
			continue
		}
		for !mb[k] {
			k++
		}
		if a[i] != b[k] {
			transpositions++
		}
		k++
	}
	m := float64(matches)
	return (m/float64(len(a)) + m/float64(len(b)) + (m-float64(transpositions)/2)/m) / 3
}
