package localcluster

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/paycenter/paycenter/deploy/localprom"
)

// monitoring starts what watches the platform: the service-discovery bridge from Consul
// (paylocal prom-sd), Alertmanager and Prometheus (deploy/localprom), with the platform's
// alerting rules and every notification sent to payd's receiver through each region's
// endpoint (so that a dead region does not lose them; payd records repeats once). Without
// Prometheus installed it says so and the platform runs without it.
func (l *launcher) monitoring(ctx context.Context, sec secrets) error {
	say := func(format string, args ...any) { fmt.Fprintf(l.opt.Out, format+"\n", args...) }
	if err := localprom.Installed(); err != nil {
		say("monitoring off: %v", err)
		return nil
	}
	sdAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pid, logPath, err := l.start("prom-sd", nil, filepath.Join(l.opt.Bin, "paylocal"), "prom-sd", "-consul-addr", l.c.ConsulAddr, "-listen", sdAddr)
	l.c.Services = append(l.c.Services, Service{Name: "prom-sd", Addr: sdAddr, PID: pid, Log: logPath})
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+sdAddr+"/sd", pid, logPath, func(res *http.Response) bool { return res.StatusCode == 200 }); err != nil {
		return err
	}
	var hooks []string
	for _, r := range l.c.Regions {
		hooks = append(hooks, r.Endpoint+"/v1/admin/alertmanager")
	}
	dir, _ := filepath.Abs(filepath.Join(l.opt.Dir, "monitoring"))
	st, err := localprom.Start(ctx, localprom.Options{Dir: dir, SDURL: "http://" + sdAddr + "/sd", WebhookURLs: hooks, BearerToken: sec.AdminToken,
		EmailSMTP: l.c.MailpitSMTP})
	if st != nil {
		l.c.Services = append(l.c.Services,
			Service{Name: "alertmanager", Addr: st.Alertmanager.Addr, PID: st.Alertmanager.PID, Log: st.Alertmanager.Log},
			Service{Name: "prometheus", Addr: st.Prometheus.Addr, PID: st.Prometheus.PID, Log: st.Prometheus.Log})
		l.c.Prometheus, l.c.Alertmanager = st.PrometheusURL(), st.AlertmanagerURL()
	}
	if err != nil {
		return err
	}
	to := ""
	if l.c.MailpitSMTP != "" {
		to = " and operators@paycenter.local (Mailpit)"
	}
	say("prometheus %s (rules: deploy/helm/paycenter/rules), alertmanager %s -> payd /v1/admin/alertmanager%s", l.c.Prometheus, l.c.Alertmanager, to)
	return nil
}
