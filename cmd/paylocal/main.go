// Command paylocal runs the platform on this machine, in the background.
//
//	paylocal up   [-dir .local] [-bin bin] [-consul .local/bin/consul] [-regions a,b,c] [-nodes N] [-database patroni|single] [-monitoring=false]
//	paylocal down [-dir .local]
//	paylocal region kill|start NAME   kill -9 a region's nodes and database member; start them again
//	paylocal status [-dir .local]
//	paylocal pg start -dir DIR     start a throwaway PostgreSQL, print its URL
//	paylocal pg stop -dir DIR      stop it
//	paylocal prom-sd -consul-addr A -listen B   serve Prometheus's HTTP service discovery of payd and payedge from Consul
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/deploy/localpg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "paylocal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: paylocal up|down|status|pg start|pg stop [flags]")
	}
	cmd, args := args[0], args[1:]
	var region string
	if (cmd == "pg" || cmd == "region") && len(args) > 0 {
		cmd, args = cmd+" "+args[0], args[1:]
	}
	if strings.HasPrefix(cmd, "region ") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		region, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("paylocal "+cmd, flag.ContinueOnError)
	dir := fs.String("dir", ".local", "state directory")
	bin := fs.String("bin", "bin", "directory of payd, payedge and paywan")
	consul := fs.String("consul", "", "consul binary: the multi-region platform (three regions, Consul, WAN emulation); empty: one node")
	regions := fs.String("regions", "", "comma-separated region names (default: us-east,eu-west,ap-south with -consul, else us-east)")
	nodes := fs.Int("nodes", 0, "payd nodes per region (default 2 with -consul, else 1)")
	database := fs.String("database", "", "patroni: a Patroni cluster, a PostgreSQL member per region, synchronous replication (default with -consul); single: one PostgreSQL server")
	monitoring := fs.Bool("monitoring", true, "up: start Prometheus and Alertmanager too (multi-region platform, when installed)")
	consulAddr := fs.String("consul-addr", "", "prom-sd: the Consul agent to read payd and payedge from")
	listen := fs.String("listen", "127.0.0.1:0", "prom-sd: the address to serve /sd on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch cmd {
	case "prom-sd":
		return serveSD(ctx, *consulAddr, *listen)
	case "up":
		var rs []string
		if *regions != "" {
			rs = strings.Split(*regions, ",")
		}
		if *database == "" {
			*database = "single"
			if *consul != "" {
				*database = "patroni"
			}
		}
		if *database != "patroni" && *database != "single" {
			return fmt.Errorf("-database %q: patroni or single", *database)
		}
		_, err := localcluster.Up(ctx, localcluster.Options{Dir: *dir, Bin: *bin, Consul: *consul,
			Regions: rs, NodesPerRegion: *nodes, Patroni: *database == "patroni", Monitoring: *monitoring, Out: os.Stdout})
		return err
	case "region kill":
		nodes, err := localcluster.KillRegion(*dir, region)
		for _, n := range nodes {
			fmt.Printf("killed payd %s (pid %d)\n", n.ID, n.PID)
		}
		if c, lerr := localcluster.Load(*dir); lerr == nil && err == nil && c.Patroni != nil {
			if _, merr := c.Patroni.Member(region); merr == nil {
				fmt.Printf("killed database member %s (Patroni and PostgreSQL)\n", region)
			}
		}
		return err
	case "region start":
		return localcluster.StartRegion(ctx, *dir, *bin, region, os.Stdout)
	case "down":
		return localcluster.Down(*dir, nil, os.Stdout)
	case "status":
		return localcluster.Status(*dir, os.Stdout)
	case "pg start":
		_ = localpg.StopDir(*dir)
		if err := os.RemoveAll(*dir); err != nil {
			return err
		}
		s, err := localpg.Start(ctx, *dir, localpg.Options{})
		if err != nil {
			return err
		}
		fmt.Println(s.URL())
		return nil
	case "pg stop":
		if err := localpg.StopDir(*dir); err != nil {
			return err
		}
		return os.RemoveAll(*dir)
	}
	return fmt.Errorf("unknown command %q", cmd)
}
