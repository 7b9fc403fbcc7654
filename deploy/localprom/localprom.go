// Package localprom runs a real Prometheus and Alertmanager on loopback for the local
// platform and for tests: Prometheus discovers every payd and payedge through Consul (a
// node advertises its /metrics address in its service metadata, so killed and restarted
// nodes are followed; Debian's Prometheus has no consul_sd_configs, so discovery goes
// through http_sd_configs answered from Consul by SDHandler, see sd.go), loads the platform's alerting rules (the file the
// Helm chart's PrometheusRule is rendered from, deploy/helm/paycenter/rules) and sends alerts
// to Alertmanager, which routes every notification to payd's webhook receiver
// (POST /v1/admin/alertmanager, with the admin token).
//
// The binaries are Debian's (packages prometheus and prometheus-alertmanager, installed by
// `make ensure-prometheus`): prometheus, prometheus-alertmanager, promtool and amtool.
package localprom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/deploy/helm/paycenter/rules"
	"github.com/paycenter/paycenter/deploy/localpg"
)

// The programs, as Debian names them.
const (
	PrometheusBin   = "prometheus"
	AlertmanagerBin = "prometheus-alertmanager"
	PromtoolBin     = "promtool"
	AmtoolBin       = "amtool"
)

// MetaMetricsAddr is the Consul service metadata key under which payd and payedge advertise
// their /metrics address (cmd/payd and cmd/payedge set it).
const MetaMetricsAddr = "metrics_addr"

// Options says what to scrape and where to send alerts.
type Options struct {
	// Dir holds the configuration, data and logs (Dir/prometheus, Dir/alertmanager).
	Dir string
	// SDURL is the HTTP service discovery endpoint (SDHandler over the platform's Consul).
	// Required.
	SDURL string
	// WebhookURLs receive Alertmanager's notifications (each gets every notification;
	// payd records repeats once). Required.
	WebhookURLs []string
	// BearerToken authorises the notifications (payd's admin token). Required.
	BearerToken string
	// ScrapeInterval and EvalInterval: how often targets are scraped and rules evaluated.
	// Default 5s each (production uses 30s; locally alerts should be quick to see).
	ScrapeInterval, EvalInterval time.Duration
	// GroupWait is how long Alertmanager waits to batch a new group's alerts. Default 5s.
	GroupWait time.Duration
	// Rules is the alerting rules file's content. Default rules.File.
	Rules []byte
	// EmailSMTP, if set, is an SMTP server (host:port, no TLS: the local Mailpit) through
	// which Alertmanager also e-mails every notification to EmailTo, from EmailFrom.
	EmailSMTP, EmailTo, EmailFrom string
}

func (o *Options) withDefaults() {
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = 5 * time.Second
	}
	if o.EvalInterval == 0 {
		o.EvalInterval = 5 * time.Second
	}
	if o.GroupWait == 0 {
		o.GroupWait = 5 * time.Second
	}
	if o.Rules == nil {
		o.Rules = rules.File
	}
	if o.EmailTo == "" {
		o.EmailTo = "operators@paycenter.local"
	}
	if o.EmailFrom == "" {
		o.EmailFrom = "alertmanager@paycenter.local"
	}
}

// Process is one started server.
type Process struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
	Log  string `json:"log"`
}

// Stack is a running Prometheus and Alertmanager.
type Stack struct {
	Prometheus   Process
	Alertmanager Process
}

// PrometheusURL is Prometheus's base URL.
func (s *Stack) PrometheusURL() string { return "http://" + s.Prometheus.Addr }

// AlertmanagerURL is Alertmanager's base URL.
func (s *Stack) AlertmanagerURL() string { return "http://" + s.Alertmanager.Addr }

// Installed reports whether Prometheus and Alertmanager can be run here.
func Installed() error {
	for _, b := range []string{PrometheusBin, AlertmanagerBin} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s is not installed (make ensure-prometheus installs the Debian packages prometheus and prometheus-alertmanager): %w", b, err)
		}
	}
	return nil
}

// Configs writes Alertmanager's and Prometheus's configuration (and the rules and the
// token file) under dir, for Alertmanager at amAddr, and returns their paths.
func Configs(dir, amAddr string, o Options) (promConfig, amConfig string, err error) {
	o.withDefaults()
	switch {
	case o.SDURL == "":
		return "", "", errors.New("localprom: SDURL is required")
	case len(o.WebhookURLs) == 0 || o.BearerToken == "":
		return "", "", errors.New("localprom: WebhookURLs and BearerToken are required")
	}
	pdir, adir := filepath.Join(dir, "prometheus"), filepath.Join(dir, "alertmanager")
	for _, d := range []string{pdir, adir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", "", err
		}
	}
	tokenFile := filepath.Join(adir, "payd.token")
	if err := os.WriteFile(tokenFile, []byte(o.BearerToken), 0o600); err != nil {
		return "", "", err
	}
	var hooks strings.Builder
	for _, u := range o.WebhookURLs {
		fmt.Fprintf(&hooks, "      - url: %q\n        send_resolved: true\n        max_alerts: 50\n        http_config:\n          authorization:\n            type: Bearer\n            credentials_file: %q\n", u, tokenFile)
	}
	var email string
	if o.EmailSMTP != "" {
		// Operators get every notification by e-mail too (Alertmanager's own email sender).
		email = fmt.Sprintf("    email_configs:\n      - to: %q\n        from: %q\n        smarthost: %q\n        require_tls: false\n        send_resolved: true\n",
			o.EmailTo, o.EmailFrom, o.EmailSMTP)
	}
	am := fmt.Sprintf(`# Written by deploy/localprom: every notification goes to payd's webhook receiver (and, with
# an SMTP server, by e-mail to the operators).
route:
  receiver: payd
  group_by: [alertname, region]
  group_wait: %s
  group_interval: 30s
  repeat_interval: 1h
receivers:
  - name: payd
    webhook_configs:
%s%s`, promDuration(o.GroupWait), hooks.String(), email)
	amConfig = filepath.Join(adir, "alertmanager.yml")
	if err := os.WriteFile(amConfig, []byte(am), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(pdir, rules.FileName), o.Rules, 0o644); err != nil {
		return "", "", err
	}
	prom := fmt.Sprintf(`# Written by deploy/localprom.
global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[2]s
rule_files: [%[3]q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%[4]q]
scrape_configs:
  # Every payd and payedge registered in Consul that advertises a /metrics address, unhealthy
  # (drained, stopping) instances too, as the chart's metrics Service publishes unready ones;
  # labels region, instance (the node ID), service, consul_health. honor_labels keeps the
  # region label that payd's channel metrics carry themselves.
  - job_name: paycenter
    honor_labels: true
    http_sd_configs:
      - url: %[5]q
        refresh_interval: %[1]s
`, promDuration(o.ScrapeInterval), promDuration(o.EvalInterval), filepath.Join(pdir, rules.FileName), amAddr, o.SDURL)
	promConfig = filepath.Join(pdir, "prometheus.yml")
	if err := os.WriteFile(promConfig, []byte(prom), 0o644); err != nil {
		return "", "", err
	}
	return promConfig, amConfig, nil
}

// promDuration writes d as Prometheus does (whole seconds or milliseconds).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// Start writes the configuration and starts Alertmanager, then Prometheus, detached (they
// outlive the caller until Stop, or StopProcess on their PIDs), and waits for both to be
// ready.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, 3)
	for i := range addrs {
		p, err := localpg.FreePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	promAddr, amAddr := addrs[0], addrs[1]
	promConfig, amConfig, err := Configs(dir, amAddr, o)
	if err != nil {
		return nil, err
	}
	s := &Stack{}
	s.Alertmanager, err = start(filepath.Join(dir, "alertmanager.log"), AlertmanagerBin, "--config.file="+amConfig,
		"--storage.path="+filepath.Join(dir, "alertmanager", "data"), "--web.listen-address="+amAddr,
		"--cluster.listen-address=", "--log.level=warn")
	s.Alertmanager.Addr = amAddr
	if err == nil {
		err = waitReady(ctx, "http://"+amAddr+"/-/ready", s.Alertmanager)
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	s.Prometheus, err = start(filepath.Join(dir, "prometheus.log"), PrometheusBin, "--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus", "data"), "--web.listen-address="+promAddr,
		"--storage.tsdb.retention.time=2d", "--log.level=warn")
	s.Prometheus.Addr = promAddr
	if err == nil {
		err = waitReady(ctx, "http://"+promAddr+"/-/ready", s.Prometheus)
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return s, nil
}

func start(logPath, bin string, args ...string) (Process, error) {
	p := Process{Log: logPath}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return p, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return p, err
	}
	p.PID = cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reaped if it dies while the caller runs
	return p, nil
}

func waitReady(ctx context.Context, url string, p Process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || syscall.Kill(p.PID, 0) != nil {
			b, _ := os.ReadFile(p.Log)
			if len(b) > 2000 {
				b = b[len(b)-2000:]
			}
			return fmt.Errorf("%s did not become ready; its log:\n%s", url, b)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops both servers (SIGTERM, then SIGKILL after 10 s) and waits for them to exit.
func (s *Stack) Stop() {
	for _, p := range []Process{s.Prometheus, s.Alertmanager} {
		StopProcess(p.PID, 10*time.Second)
	}
}

// StopProcess sends SIGTERM to pid, then SIGKILL after grace, and waits until it is gone.
func StopProcess(pid int, grace time.Duration) {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(grace)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
