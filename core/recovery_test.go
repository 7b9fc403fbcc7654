package core

import "testing"

func TestRecoveryCodes(t *testing.T) {
	codes := NewRecoveryCodes()
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || NormalizeRecoveryCode(c) == "" || seen[c] {
			t.Fatalf("code %q: malformed or repeated", c)
		}
		seen[c] = true
	}
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	for in, want := range map[string]string{
		"7K2M-9QXD-4TNB-H3PW":      "7K2M9QXD4TNBH3PW",
		"7k2m 9qxd 4tnb h3pw":      "7K2M9QXD4TNBH3PW",
		"OK2M-9QXD-4TNB-H3PI":      "0K2M9QXD4TNBH3P1",
		"123456":                   "",
		"7K2M-9QXD-4TNB-H3P":       "",
		"7K2M-9QXD-4TNB-H3PWX":     "",
		"7K2M-9QXD-4TNB-H3PU":      "",
		"7K2M-9QXD-4TNB-H3P\u00e9": "",
	} {
		if got := NormalizeRecoveryCode(in); got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", in, got, want)
		}
	}
	if RecoveryCodeHash("usr_1", "7k2m-9qxd-4tnb-h3pw") != RecoveryCodeHash("usr_1", "7K2M9QXD4TNBH3PW") ||
		RecoveryCodeHash("usr_1", codes[0]) == RecoveryCodeHash("usr_2", codes[0]) {
		t.Error("the hash does not depend on the normalised code and the user alone")
	}
}
