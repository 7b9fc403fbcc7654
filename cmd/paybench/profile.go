package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profileSeconds is how long the CPU profile of a run of the given duration lasts: 10 s,
// or the duration if shorter, and at least 1 s.
func profileSeconds(d time.Duration) int {
	return max(1, int(min(d, 10*time.Second)/time.Second))
}

// startProfile fetches, after delay, a CPU profile of secs seconds from the pprof handler at
// http://addr/debug/pprof/profile and writes it to file, in the background. The returned
// function waits for it to be done and returns its error.
func startProfile(ctx context.Context, addr string, delay time.Duration, secs int, file string) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			done <- ctx.Err()
			return
		case <-t.C:
		}
		done <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), secs, file)
	}()
	return func() error { return <-done }
}

// fetchProfile GETs the profile at url (which lasts secs seconds) and writes it to file.
func fetchProfile(ctx context.Context, url string, secs int, file string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("profile: %s: %s: %s", url, res.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: writing %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("profile: writing %s: %w", file, err)
	}
	return nil
}
