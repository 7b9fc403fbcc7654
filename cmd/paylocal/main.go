// Command paylocal runs the platform on this machine, in the background.
//
//	paylocal up   [-dir .local] [-payd bin/payd] [-regions us-east] [-nodes 1]
//	paylocal down [-dir .local]
//	paylocal status [-dir .local]
//	paylocal pg start -dir DIR     start a throwaway PostgreSQL, print its URL
//	paylocal pg stop -dir DIR      stop it
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
	if cmd == "pg" && len(args) > 0 {
		cmd, args = "pg "+args[0], args[1:]
	}
	fs := flag.NewFlagSet("paylocal "+cmd, flag.ContinueOnError)
	dir := fs.String("dir", ".local", "state directory")
	payd := fs.String("payd", "bin/payd", "payd binary")
	regions := fs.String("regions", "us-east", "comma-separated region names")
	nodes := fs.Int("nodes", 1, "payd nodes per region")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch cmd {
	case "up":
		_, err := localcluster.Up(ctx, localcluster.Options{Dir: *dir, Payd: *payd,
			Regions: strings.Split(*regions, ","), NodesPerRegion: *nodes, Out: os.Stdout})
		return err
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
