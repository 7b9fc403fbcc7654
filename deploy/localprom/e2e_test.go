//go:build linux

package localprom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core/postgres/pgtest"
	"github.com/paycenter/paycenter/deploy/helm/paycenter/rules"
	"github.com/paycenter/paycenter/deploy/localpg"
	"github.com/paycenter/paycenter/deploy/localprom"
	"github.com/paycenter/paycenter/internal/eventually"
	"github.com/paycenter/paycenter/internal/mailpittest"
	"github.com/paycenter/paycenter/regions/consultest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminToken = "adm_e2e_monitoring_0123456789"

// e2eLimit bounds each wait of the end-to-end test. The chain it waits for is several
// periodic steps in separate processes (detector run 1 s, scrape 1 s, rule evaluation 1 s,
// for: 1 s, Alertmanager's group wait 1 s, the webhook), each of which a busy 2-core
// machine running -race can delay by seconds; it is a bound on a failing test, not a
// timing assertion.
const e2eLimit = 2 * time.Minute

// A real Prometheus discovers two payd nodes through Consul and scrapes them; a burst of
// declined payments (card testing) makes the decline-burst detector raise an alert, its
// metric fires the platform's rule in Prometheus, Alertmanager notifies payd's webhook
// receiver, and payd records the notification in its alerts.
func TestAlertReachesPaydThroughPrometheusAndAlertmanager(t *testing.T) {
	tool(t, localprom.PrometheusBin)
	tool(t, localprom.AlertmanagerBin)
	consul := consultest.Start(t)
	dbURL := pgtest.NewDatabase(t)
	dir := t.TempDir()
	payd := filepath.Join(dir, "payd")
	if out, err := exec.Command("go", "build", "-o", payd, "github.com/paycenter/paycenter/cmd/payd").CombinedOutput(); err != nil {
		t.Fatalf("go build payd: %v\n%s", err, out)
	}
	var nodes []string
	for i := 1; i <= 2; i++ {
		nodes = append(nodes, startPayd(t, payd, dir, fmt.Sprintf("us-east-%d", i), dbURL, consul.HTTPAddr))
	}
	sd := httptest.NewServer(localprom.SDHandler(consul.Client, []string{"payd", "payedge"}))
	t.Cleanup(sd.Close)

	// The platform's rules, with every for: shortened to 1s so that the test waits for the
	// chain, not for the durations (promtool's unit tests check those).
	fast := regexp.MustCompile(`(?m)^(\s+for: ).*$`).ReplaceAll(rules.File, []byte("${1}1s"))
	var hooks []string
	for _, n := range nodes {
		hooks = append(hooks, n+"/v1/admin/alertmanager")
	}
	mail := mailpittest.Start(t)
	stack, err := localprom.Start(context.Background(), localprom.Options{Dir: filepath.Join(dir, "mon"), SDURL: sd.URL,
		WebhookURLs: hooks, BearerToken: adminToken, ScrapeInterval: time.Second, EvalInterval: time.Second,
		GroupWait: time.Second, Rules: fast, EmailSMTP: mail.SMTPAddr, EmailTo: "oncall@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop)

	// Prometheus scrapes both nodes.
	eventually.True(t, e2eLimit, "Prometheus scraping both payd nodes", func() bool {
		var res struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		return promQuery(stack.PrometheusURL(), `up{service="payd", region="us-east"} == 1`, &res) && len(res.Data.Result) == 2
	})

	// Card testing: declined payments (insufficient_funds) from one merchant, 25 at once,
	// then a steady trickle while the test waits, so that the payments counter's rate is
	// seen across scrapes (a burst within one scrape interval shows no increase).
	var m struct {
		ID        string `json:"id"`
		SecretKey string `json:"secret_key"`
	}
	call(t, nodes[0], "POST", "/v1/admin/merchants", adminToken, "", `{"name":"Shop","home_region":"us-east"}`, &m)
	decline := func(i int) error {
		body := fmt.Sprintf(`{"amount":%d,"currency":"usd","channel":"card","merchant_reference":"order-%d",`+
			`"payment_method":{"card":{"number":"4000000000009995","exp_month":12,"exp_year":2034,"cvc":"123"}}}`, 100+i, i)
		return post(nodes[i%2], "/v1/payments", m.SecretKey, "key-"+strconv.Itoa(i), body)
	}
	for i := 0; i < 25; i++ {
		if err := decline(i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	t.Cleanup(func() { stopLoad(); <-loadDone })
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 25; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = decline(i) // errors show in the waits below
			}
		}
	}()

	// The detector's alert, in payd.
	alerts := func(source, name string) bool {
		var list struct {
			Data []struct {
				Source, Detector, Status string
				Labels                   map[string]string
			} `json:"data"`
		}
		call(t, nodes[1], "GET", "/v1/admin/alerts?status=firing", adminToken, "", "", &list)
		for _, a := range list.Data {
			if a.Source == source && a.Detector == name {
				return true
			}
		}
		return false
	}
	eventually.True(t, e2eLimit, "the decline-burst detector's alert", func() bool { return alerts("detector", "decline_burst") })
	// Firing in Alertmanager.
	eventually.True(t, e2eLimit, "PaycenterAbnormalTransactionsCritical active in Alertmanager", func() bool {
		res, err := http.Get(stack.AlertmanagerURL() + "/api/v2/alerts?active=true&filter=" +
			url.QueryEscape(`alertname="PaycenterAbnormalTransactionsCritical"`))
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var as []struct {
			Labels map[string]string `json:"labels"`
		}
		return json.NewDecoder(res.Body).Decode(&as) == nil && len(as) > 0 && as[0].Labels["detector"] == "decline_burst" &&
			as[0].Labels["severity"] == "critical"
	})
	// Recorded by payd's receiver.
	eventually.True(t, e2eLimit, "Alertmanager's notification recorded by payd", func() bool {
		return alerts("alertmanager", "PaycenterAbnormalTransactionsCritical")
	})
	// The payments counter feeds the success-rate rule too: every payment failed.
	eventually.True(t, e2eLimit, "PaycenterPaymentSuccessRateLow recorded by payd", func() bool {
		return alerts("alertmanager", "PaycenterPaymentSuccessRateLow")
	})
	// And e-mailed to the operators by Alertmanager, through a real SMTP server.
	eventually.True(t, e2eLimit, "the alert's e-mail to the operators in Mailpit", func() bool {
		ms, err := mail.Messages(context.Background())
		if err != nil {
			return false
		}
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0].Address == "oncall@example.com" && strings.Contains(m.Subject, "PaycenterAbnormalTransactionsCritical") {
				return true
			}
		}
		return false
	})
}

// startPayd starts a payd process (stopped when the test ends) and returns its URL once
// it is ready.
func startPayd(t *testing.T, bin, dir, id, dbURL, consulAddr string) string {
	t.Helper()
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-addr", addr, "-region", "us-east", "-node-id", id, "-channels", "sim",
		"-metrics-addr", "127.0.0.1:0", "-consul-addr", consulAddr, "-detector-interval", "1s", "-shutdown-delay", "100ms")
	cmd.Env = append(os.Environ(), "PAYD_DATABASE_URL="+dbURL, "PAYD_ADMIN_TOKEN="+adminToken,
		"PAYD_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log (last 3000 bytes):\n%s", id, tail(b, 3000))
		}
	})
	u := "http://" + addr
	eventually.True(t, e2eLimit, id+" ready", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited:\n%s", id, tail(b, 3000))
		default:
		}
		res, err := http.Get(u + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return u
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// call makes an API call and decodes a 2xx answer into out; any other answer fails t.
func call(t *testing.T, base, method, path, token, idemKey, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	// A declined payment answers 402 with the payment's ID: the decline is the point here.
	if res.StatusCode >= 300 && res.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// post makes a money-moving call; a 2xx or 402 (declined) answer is success.
func post(base, path, token, idemKey, body string) error {
	req, err := http.NewRequest("POST", base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 && res.StatusCode != http.StatusPaymentRequired {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, b)
	}
	return nil
}

// promQuery runs an instant query; false when Prometheus does not answer yet.
func promQuery(base, q string, out any) bool {
	res, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return false
	}
	defer res.Body.Close()
	return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(out) == nil
}
