package loadtest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEndpointsFrom(t *testing.T) {
	tgt := Target{Regions: []Region{{"us-east", "http://a"}, {"eu-west", "http://b"}, {"ap-south", "http://c"}}}
	for _, tc := range []struct {
		from string
		want []string
	}{
		{"us-east", []string{"http://a", "http://b", "http://c"}},
		{"eu-west", []string{"http://b", "http://a", "http://c"}},
		{"ap-south", []string{"http://c", "http://b", "http://a"}},
		{"mars", []string{"http://a", "http://b", "http://c"}},
	} {
		if got := tgt.EndpointsFrom(tc.from); !slices.Equal(got, tc.want) {
			t.Errorf("EndpointsFrom(%s) = %v, want %v", tc.from, got, tc.want)
		}
	}
	// Regions outside the default topology: the home region first, then the given order.
	other := Target{Regions: []Region{{"r1", "http://1"}, {"r2", "http://2"}, {"r3", "http://3"}}}
	if got := other.EndpointsFrom("r2"); !slices.Equal(got, []string{"http://2", "http://1", "http://3"}) {
		t.Errorf("EndpointsFrom(r2) = %v", got)
	}
}

func TestEndpointsTarget(t *testing.T) {
	_, fake := newFakePlatform(t, "eu-west")
	ctx := context.Background()
	tgt, err := EndpointsTarget(ctx, []string{fake.Regions[0].Endpoint + "/", " us-east=http://127.0.0.1:1 "}, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Regions[0].Name != "eu-west" || tgt.Regions[0].Endpoint != fake.Regions[0].Endpoint || tgt.Regions[1] != (Region{"us-east", "http://127.0.0.1:1"}) || tgt.AdminToken != "tok" {
		t.Errorf("target %+v", tgt)
	}
	for _, bad := range [][]string{{}, {"us-east=ftp://x"}, {"a=http://x", "a=http://y"}, {"=http://x"}, {"http://127.0.0.1:1"}} {
		if _, err := EndpointsTarget(ctx, bad, "", nil); err == nil {
			t.Errorf("EndpointsTarget(%q) accepted it", bad)
		}
	}
}

func TestClusterTarget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(path, []byte(`{"admin_token": "adm_x", "regions": [
		{"name": "us-east", "endpoint": "http://127.0.0.1:1001", "nodes": []},
		{"name": "eu-west", "endpoint": "http://127.0.0.1:1002", "nodes": []}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tgt, err := ClusterTarget(path)
	if err != nil {
		t.Fatal(err)
	}
	if tgt.AdminToken != "adm_x" || len(tgt.Regions) != 2 || tgt.Endpoint("eu-west") != "http://127.0.0.1:1002" {
		t.Errorf("target %+v", tgt)
	}
	if _, err := ClusterTarget(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing cluster.json was accepted")
	}
}

func TestMerchantsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merchants.json")
	ms := []Merchant{{ID: "mer_1", Name: "a", HomeRegion: "us-east", SecretKey: "sk_1"}, {ID: "mer_2", Name: "b", HomeRegion: "eu-west", SecretKey: "sk_2"}}
	if err := SaveMerchants(path, ms); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v, want 0600", st.Mode(), err)
	}
	back, err := LoadMerchants(path)
	if err != nil || !slices.Equal(back, ms) {
		t.Errorf("LoadMerchants = %+v, %v", back, err)
	}
	_ = os.WriteFile(path, []byte(`{"merchants": [{"id": "mer_1"}]}`), 0o600)
	if _, err := LoadMerchants(path); err == nil {
		t.Error("a merchant without key was accepted")
	}
}
