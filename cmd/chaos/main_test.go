package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"list", []string{"-list"}, 0, "channel-duplicate-notifications"},
		{"unknown experiment", []string{"-experiments", "node-kill,bogus"}, 2, "unknown experiment bogus"},
		{"no platform", []string{"-cluster", filepath.Join(t.TempDir(), "cluster.json")}, 2, "is the platform up?"},
		{"bad endpoints", []string{"-endpoints", "us-east"}, 2, "region=URL"},
		{"remote without database", []string{"-endpoints", "us-east=http://127.0.0.1:1", "-admin-token", "adm_x"}, 2, "database URL"},
		{"bad flag", []string{"-nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
				t.Errorf("exit %d, want %d; output:\n%s%s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
}
