// Command paywan emulates the wide-area network between the local cluster's regions: it
// runs Toxiproxy (as a library) with one proxy per cross-region link — a region's nodes to the
// database, a regional endpoint to another region's nodes — each adding that link's one-way
// latency in both directions. Toxiproxy's own REST API is served on -api, so tests and
// chaos experiments can cut a link or add a spike at run time
// (POST /proxies/NAME {"enabled": false}).
//
//	paywan -api 127.0.0.1:8474 -config .local/wan.json
//
// The config is a JSON array of links: {"name", "listen", "upstream", "latency_ms",
// "jitter_ms"}.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Link is one emulated network path.
type Link struct {
	Name      string `json:"name"`
	Listen    string `json:"listen"`
	Upstream  string `json:"upstream"`
	LatencyMS int    `json:"latency_ms"`
	JitterMS  int    `json:"jitter_ms"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "paywan:", err)
		os.Exit(1)
	}
}

func run() error {
	api := flag.String("api", "127.0.0.1:8474", "address of Toxiproxy's REST API")
	config := flag.String("config", "", "JSON file of links (required)")
	flag.Parse()
	b, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	var links []Link
	if err := json.Unmarshal(b, &links); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	logger := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	for _, l := range links {
		p := toxiproxy.NewProxy(server, l.Name, l.Listen, l.Upstream)
		if err := server.Collection.Add(p, true); err != nil {
			return fmt.Errorf("link %s: %w", l.Name, err)
		}
		if l.LatencyMS > 0 {
			for _, stream := range []string{"upstream", "downstream"} {
				t, _ := json.Marshal(map[string]any{"name": "wan_" + stream, "type": "latency", "stream": stream, "toxicity": 1.0,
					"attributes": map[string]int{"latency": l.LatencyMS, "jitter": l.JitterMS}})
				if _, err := p.Toxics.AddToxicJson(bytes.NewReader(t)); err != nil {
					return fmt.Errorf("link %s latency: %w", l.Name, err)
				}
			}
		}
		fmt.Printf("link %-28s %s -> %s  +%d ms each way\n", l.Name, l.Listen, l.Upstream, l.LatencyMS)
	}
	host, port, err := net.SplitHostPort(*api)
	if err != nil {
		return err
	}
	go server.Listen(host, port)
	fmt.Printf("toxiproxy API on http://%s\n", *api)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return server.Collection.Clear()
}
