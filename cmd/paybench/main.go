// Command paybench measures create-and-capture payments per second through a payd node's
// full stack (HTTP, authentication, idempotency keys, serializable phases, ledger, outbox)
// against a local PostgreSQL, with latency percentiles.
//
//	paybench [-duration 20s] [-concurrency 16] [-merchants 8] [-database-url URL]
//
// Without -database-url it starts a throwaway PostgreSQL and removes it afterwards.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/simchannel"
	"github.com/paycenter/paycenter/deploy/localpg"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "paybench:", err)
		os.Exit(1)
	}
}

func run() error {
	duration := flag.Duration("duration", 20*time.Second, "how long to measure")
	concurrency := flag.Int("concurrency", 16, "concurrent clients")
	merchants := flag.Int("merchants", 8, "merchants the clients spread over")
	dbURL := flag.String("database-url", "", "PostgreSQL URL (default: start a throwaway server)")
	maxConns := flag.Int("max-conns", 32, "database connections")
	flag.Parse()
	ctx := context.Background()

	if *dbURL == "" {
		dir, err := os.MkdirTemp("", "paybench-pg-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Println("starting a throwaway PostgreSQL ...")
		srv, err := localpg.Start(ctx, dir, localpg.Options{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		conn, err := pgx.Connect(ctx, srv.URL())
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE bench"); err != nil {
			return err
		}
		conn.Close(ctx)
		*dbURL = srv.DatabaseURL("bench")
	}
	db, err := postgres.Open(ctx, *dbURL, int32(*maxConns))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, nil); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := postgres.NewService(db, simchannel.New(), postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("b"), 32), Logger: quiet})
	if err != nil {
		return err
	}
	if err := svc.RegisterRegion(ctx); err != nil {
		return err
	}
	admin := "bench-admin-token-000000"
	api, err := httpapi.NewServer(svc, svc, svc, httpapi.Config{AdminToken: admin, Logger: quiet})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: api}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency * 2}}

	keys := make([]string, *merchants)
	for i := range keys {
		m, err := svc.CreateMerchant(ctx, fmt.Sprintf("bench-%d", i), "us-east")
		if err != nil {
			return err
		}
		keys[i] = m.SecretKey
	}

	post := func(key, path string, body []byte) (map[string]any, error) {
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", core.RandomToken(16))
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			return nil, err
		}
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %d %v", path, res.StatusCode, out)
		}
		return out, nil
	}

	fmt.Printf("measuring for %s with %d clients over %d merchants (create with manual capture, then capture) ...\n", *duration, *concurrency, *merchants)
	var (
		mu       sync.Mutex
		total    = hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
		creates  = hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
		done     atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	retriesBefore := db.SerializationRetries()
	start := time.Now()
	deadline := start.Add(*duration)
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := keys[w%len(keys)]
			for i := 0; time.Now().Before(deadline); i++ {
				body, _ := json.Marshal(map[string]any{"amount": 1000 + i%5000, "currency": "usd", "channel": "card",
					"capture_method": "manual", "merchant_reference": fmt.Sprintf("b%d-%d-%d", w, i, start.UnixNano()),
					"payment_method": map[string]any{"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}}})
				t0 := time.Now()
				p, err := post(key, "/v1/payments", body)
				t1 := time.Now()
				if err == nil {
					_, err = post(key, "/v1/payments/"+p["id"].(string)+"/capture", []byte("{}"))
				}
				t2 := time.Now()
				if err != nil {
					failures.Add(1)
					continue
				}
				mu.Lock()
				_ = creates.RecordValue(t1.Sub(t0).Microseconds())
				_ = total.RecordValue(t2.Sub(t0).Microseconds())
				mu.Unlock()
				if n := done.Add(1); n%1000 == 0 {
					fmt.Printf("\r  %d payments, %.0f/s ", n, float64(n)/time.Since(start).Seconds())
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	ms := func(us int64) float64 { return float64(us) / 1000 }
	n := done.Load()
	fmt.Printf("\r%-60s\n", "")
	fmt.Printf("payments created and captured: %d in %.1f s (%d failed)\n", n, elapsed.Seconds(), failures.Load())
	fmt.Printf("throughput:                    %.1f payments/s (%.1f requests/s)\n", float64(n)/elapsed.Seconds(), 2*float64(n)/elapsed.Seconds())
	fmt.Printf("create+capture latency:        p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", ms(total.ValueAtQuantile(50)), ms(total.ValueAtQuantile(99)), ms(total.Max()))
	fmt.Printf("create latency:                p50 %.2f ms  p99 %.2f ms\n", ms(creates.ValueAtQuantile(50)), ms(creates.ValueAtQuantile(99)))
	fmt.Printf("serialization retries:         %d", db.SerializationRetries()-retriesBefore)
	byTx := db.SerializationRetriesByTx()
	names := make([]string, 0, len(byTx))
	for name := range byTx {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return byTx[names[i]] > byTx[names[j]] })
	for i, name := range names {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Printf("%s%s %d", sep, name, byTx[name])
	}
	if len(names) > 0 {
		fmt.Print(")")
	}
	fmt.Println()
	rep, err := svc.CheckLedger(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("ledger balanced:               %v (%d journals)\n", rep.Balanced, rep.Journals)
	fmt.Printf("paybench: payments_per_s=%.1f p50_ms=%.2f p99_ms=%.2f concurrency=%d\n", float64(n)/elapsed.Seconds(), ms(total.ValueAtQuantile(50)), ms(total.ValueAtQuantile(99)), *concurrency)
	return nil
}
