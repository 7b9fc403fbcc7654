package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// WriteHTML writes a self-contained HTML report: throughput and latency over time as inline
// SVG line charts, and the summary table. It loads nothing from the network.
func WriteHTML(w io.Writer, r *Report) error {
	xs := make([]float64, len(r.Series))
	tput, ok, errs := make([]float64, len(r.Series)), make([]float64, len(r.Series)), make([]float64, len(r.Series))
	p50, p99, sp99 := make([]float64, len(r.Series)), make([]float64, len(r.Series)), make([]float64, len(r.Series))
	warmup := 0.0
	for i, p := range r.Series {
		xs[i] = p.T + p.Width/2
		tput[i] = p.ThroughputPerS
		if p.Width > 0 {
			ok[i] = float64(p.OK) / p.Width
			errs[i] = float64(p.Errors) / p.Width
		}
		p50[i], p99[i], sp99[i] = p.P50, p.P99, p.ServiceP99
		if p.Warmup {
			warmup = p.T + p.Width
		}
	}
	tputSeries := []chartSeries{
		{Name: "completed/s", Color: "#1f77b4", Values: tput},
		{Name: "ok/s", Color: "#2ca02c", Values: ok},
		{Name: "errors/s", Color: "#d62728", Values: errs},
	}
	latSeries := []chartSeries{
		{Name: "p50", Color: "#1f77b4", Values: p50},
		{Name: "p99", Color: "#d62728", Values: p99},
	}
	if r.Config.Mode == "open" {
		latSeries = append(latSeries, chartSeries{Name: "service p99", Color: "#ff7f0e", Values: sp99, Dashed: true})
	}
	data := struct {
		R          *Report
		Title      string
		Describe   string
		Throughput template.HTML
		Latency    template.HTML
		Rows       []OpSummary
		Codes      []codeRow
		Open       bool
	}{
		R:          r,
		Title:      "loadtest " + r.RunID,
		Describe:   r.Describe(),
		Throughput: lineChart("Throughput (operations completed per second)", "ops/s", xs, tputSeries, warmup),
		Latency:    lineChart("Latency by completion second (ms, from the intended start)", "ms", xs, latSeries, warmup),
		Rows:       append(slices.Clone(r.Ops), r.Overall),
		Open:       r.Config.Mode == "open",
	}
	for _, s := range r.Ops {
		for _, c := range slices.Sorted(maps.Keys(s.ErrorsByCode)) {
			data.Codes = append(data.Codes, codeRow{Op: s.Op, Code: c, Count: s.ErrorsByCode[c]})
		}
	}
	return htmlReport.Execute(w, data)
}

type codeRow struct {
	Op, Code string
	Count    int64
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.overall td { font-weight: bold; border-top: 2px solid #888; }
.meta { color: #555; }
svg { display: block; margin: 1em 0; }
</style>
</head>
<body>
<h1>Load test {{.R.RunID}}</h1>
<p class="meta">{{.Describe}}<br>
started {{.R.StartedAt.Format "2006-01-02 15:04:05 UTC"}}; measured {{f1 .R.MeasuredS}} s, elapsed {{f1 .R.ElapsedS}} s; {{.R.WarmupOps}} warmup operations excluded{{if .R.Interrupted}}; <strong>interrupted</strong>{{end}}<br>
mix {{.R.Config.Mix}}; channels {{.R.Config.Channels}}; decline share {{.R.Config.DeclineShare}}</p>
<h2>Over time</h2>
{{.Throughput}}
{{.Latency}}
<h2>Summary</h2>
<p class="meta">Latencies in ms from each operation's intended start{{if .Open}} (corrected for coordinated omission); service latencies from the actual send{{end}}.</p>
<table id="summary">
<tr><th>op</th><th>count</th><th>ok</th><th>declined</th><th>errors</th><th>unfinished</th><th>dropped</th><th>ops/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>service p50</th><th>service p99</th></tr>
{{range .Rows}}<tr{{if eq .Op "overall"}} class="overall"{{end}}><td>{{.Op}}</td><td>{{.Count}}</td><td>{{.OK}}</td><td>{{.Declined}}</td><td>{{.Errors}}</td><td>{{.Unfinished}}</td><td>{{.Dropped}}</td><td>{{f1 .ThroughputPerS}}</td><td>{{ms .Latency.P50}}</td><td>{{ms .Latency.P90}}</td><td>{{ms .Latency.P99}}</td><td>{{ms .Latency.P999}}</td><td>{{ms .Latency.Max}}</td><td>{{ms .Service.P50}}</td><td>{{ms .Service.P99}}</td></tr>
{{end}}</table>
{{if .Codes}}<h2>Errors by code</h2>
<table id="errors">
<tr><th>op</th><th>code</th><th>count</th></tr>
{{range .Codes}}<tr><td>{{.Op}}</td><td>{{.Code}}</td><td>{{.Count}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Substitutions}}<p class="meta">Substituted (nothing to act on yet): {{range $k, $v := .R.Substitutions}}{{$k}} {{$v}} {{end}}</p>{{end}}
</body>
</html>
`))

// chartSeries is one line of a chart.
type chartSeries struct {
	Name   string
	Color  string
	Values []float64
	Dashed bool
}

// Chart geometry.
const (
	chartW, chartH         = 900, 300
	padL, padR, padT, padB = 64, 16, 34, 40
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	legendStep             = 110 // legend entries, right-aligned above the plot
)

// lineChart renders series over xs (seconds) as an SVG line chart with axes, grid and a
// legend; the area before warmupEnd is shaded. Every text is escaped; the SVG is built from
// numbers and those texts only.
func lineChart(title, unit string, xs []float64, series []chartSeries, warmupEnd float64) template.HTML {
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, padL, esc(title))
	xmax := 1.0
	for _, x := range xs {
		xmax = math.Max(xmax, x)
	}
	xmax = math.Ceil(xmax)
	ymax := 0.0
	for _, s := range series {
		for _, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				ymax = math.Max(ymax, v)
			}
		}
	}
	yticks := niceTicks(ymax, 5)
	ytop := yticks[len(yticks)-1]
	px := func(x float64) float64 { return padL + x/xmax*plotW }
	py := func(y float64) float64 { return padT + plotH - y/ytop*plotH }
	if warmupEnd > 0 {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#eee"/>`, padL, padT, px(math.Min(warmupEnd, xmax))-padL, plotH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#888">warmup</text>`, padL+4, padT+12)
	}
	for _, t := range yticks {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, padL, y, padL+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>`, padL-6, y+4, formatTick(t))
	}
	for _, t := range niceTicks(xmax, 10) {
		if t > xmax {
			break
		}
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888"/>`, x, padT+plotH, x, padT+plotH+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>`, x, padT+plotH+16, formatTick(t))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`, padL, padT, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="middle">seconds since start</text>`, padL+plotW/2, chartH-6)
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="11" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`, padT+plotH/2, padT+plotH/2, esc(unit))
	for i, s := range series {
		var pts []string
		for j, v := range s.Values {
			if j < len(xs) && !math.IsNaN(v) && !math.IsInf(v, 0) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(v)))
			}
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline class="series" fill="none" stroke="%s" stroke-width="1.6"%s points="%s"><title>%s</title></polyline>`,
				esc(s.Color), dash, strings.Join(pts, " "), esc(s.Name))
		}
		lx := chartW - padR - (len(series)-i)*legendStep
		fmt.Fprintf(&b, `<line x1="%d" y1="14" x2="%d" y2="14" stroke="%s" stroke-width="2"%s/>`, lx, lx+18, esc(s.Color), dash)
		fmt.Fprintf(&b, `<text x="%d" y="18" font-size="11">%s</text>`, lx+22, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built from numbers and escaped text
}

// niceTicks returns about n+1 round tick values from 0 to at least max.
func niceTicks(max float64, n int) []float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := 0.0; ; v += step {
		out = append(out, v)
		if v >= max-1e-9 {
			break
		}
	}
	return out
}

func formatTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
