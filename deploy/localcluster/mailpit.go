package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// mailpit starts Mailpit, the SMTP server (with a web UI and an API) the nodes email payer
// notices to; it lies next to the Consul binary (.local/bin/mailpit, built by `make tools`).
// It drops a message whose Message-ID it already holds (--ignore-duplicate-ids), as the
// notices' idempotency at the provider expects. Without the binary the platform runs
// without email notices and says so.
func (l *launcher) mailpit(ctx context.Context) error {
	say := func(format string, args ...any) { fmt.Fprintf(l.opt.Out, format+"\n", args...) }
	bin := filepath.Join(filepath.Dir(l.opt.Consul), "mailpit")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		say("email notices off: no %s (deploy/tools/mailpit/build.sh builds it)", bin)
		return nil
	}
	smtpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	db, _ := filepath.Abs(filepath.Join(l.opt.Dir, "mailpit.db"))
	pid, logPath, err := l.start("mailpit", nil, bin, "--smtp", smtpAddr, "--listen", httpAddr, "--database", db,
		"--ignore-duplicate-ids", "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check")
	l.c.Services = append(l.c.Services, Service{Name: "mailpit", Addr: httpAddr, PID: pid, Log: logPath})
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+httpAddr+"/api/v1/messages", pid, logPath, status200); err != nil {
		return err
	}
	l.c.Mailpit, l.c.MailpitSMTP = "http://"+httpAddr, smtpAddr
	say("mailpit on %s (SMTP %s): payer notices by email; its API: %s/api/v1/messages", l.c.Mailpit, smtpAddr, l.c.Mailpit)
	return nil
}

// noticeFlags are a node's flags for payer notices: email to Mailpit, SMS to the channel
// simulator's SMS endpoint.
func (l *launcher) noticeFlags() []string {
	var flags []string
	if l.c.MailpitSMTP != "" {
		flags = append(flags, "-smtp-addr", l.c.MailpitSMTP, "-smtp-tls", "none")
	}
	if l.c.ChannelSim != "" {
		flags = append(flags, "-sms-url", l.c.ChannelSim+"/sms/messages")
	}
	return flags
}
