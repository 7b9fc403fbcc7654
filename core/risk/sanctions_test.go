package risk

import (
	"math"
	"os"
	"testing"
)

func TestJaroWinkler(t *testing.T) {
	// Reference values of the Jaro-Winkler similarity (Winkler 1990; also those of common
	// implementations).
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"MARTHA", "MARHTA", 0.9611},
		{"DWAYNE", "DUANE", 0.84},
		{"DIXON", "DICKSONX", 0.8133},
		{"JELLYFISH", "SMELLYFISH", 0.8963},
		{"ABC", "ABC", 1},
		{"ABC", "XYZ", 0},
		{"", "", 1},
	} {
		if got := JaroWinkler(tc.a, tc.b); math.Abs(got-tc.want) > 0.0005 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestScreenSanctions(t *testing.T) {
	f, err := os.Open("testdata/sdn_sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := ParseSDN(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Parties) != 6 || l.Parties[2].Type != "individual" || l.Parties[0].Type != "" {
		t.Fatalf("parsed %+v", l.Parties)
	}
	for _, tc := range []struct {
		name string
		want string // ent_num, or "" for no match
	}{
		{"Korvania General Trading FZE", "173"},
		{"KORVANIA GENERAL TRADNG FZE", "173"}, // a dropped letter
		{"Ivan Sergeyevich Petrovanov", "306"}, // order turned round
		{"Ivan Sergeevich Petrovanov", "306"},  // a transliteration
		{"Zelmora Shipping Lines Ltd.", "424"}, // punctuation
		{"Aerocaribe Transportes SA", "36"},    // punctuation dropped
		{"Acme Widgets Inc", ""},               // unrelated
		{"Korvanian Florists", ""},             // one word alike
		{"Ocean Breeze Holidays", ""},          // shares a first word
		{"Delphine Marlowe", "512"},            // part of a name: for an analyst to clear
		{"Zelmora", ""},                        // too little in common
		{"Ivan Petrov", ""},                    // another man's name
	} {
		m := l.Screen(tc.name)
		got := ""
		if len(m) > 0 {
			got = m[0].Party.EntNum
		}
		if got != tc.want {
			t.Errorf("Screen(%q) = %q (%v), want %q", tc.name, got, m, tc.want)
		}
	}
}
