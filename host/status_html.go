package host

// This file renders the status report as an HTML page for people: a
// summary (with two rows per SCGI or uwsgi gateway), one overview row per app, then a table per app with each figure
// next to its configured limit. The page refreshes itself.

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"time"
)

// defaultRefresh is how often the HTML page reloads itself, in seconds.
const defaultRefresh = 5

func refreshSeconds(s string) int {
	if s == "" {
		return defaultRefresh
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return defaultRefresh
	}
	return min(n, 3600)
}

type htmlApp struct {
	Name string
	*AppReport
}

// htmlGateway is an SCGI or uwsgi server's row of the summary.
type htmlGateway struct {
	Proto string // "scgi", "uwsgi"
	Label string // "SCGI", "uwsgi"
	*GatewayReport
}

type htmlPage struct {
	*StatusReport
	Refresh int
	Now     time.Time
	// WindowMinutes is the span of the charts.
	WindowMinutes int
	AppList       []htmlApp
	GatewayList   []htmlGateway // by protocol name
}

var statusFuncs = template.FuncMap{
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"ms":     func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) + " ms" },
	"uptime": func(s int64) string { return (time.Duration(s) * time.Second).String() },
	"when":   func(t *time.Time) string { return whenString(t) },
	"clock": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("15:04:05Z")
	},
	"deref":   func(p *int) int { return *p },
	"zeroOff": func(s string) string { return zeroOff(s) },
	"never":   func(n int) string { return neverIfZero(n) },
	"spark":   func(v []float64, label, unit string) template.HTML { return sparkline(v, 96, 22, label, unit) },
	"num":     num,
	"last": func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		return v[len(v)-1]
	},
}

func whenString(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func zeroOff(s string) string {
	if s == "0s" || s == "" {
		return "off"
	}
	return s
}

func neverIfZero(n int) string {
	if n == 0 {
		return "never"
	}
	return strconv.Itoa(n)
}

var statusPage = template.Must(template.New("status").Funcs(statusFuncs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>fcgihost status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;padding:0 1em;max-width:1240px;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.3em 0;background:#fff}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#eee}td.l,th.l{text-align:left}
#apps{width:100%;font-size:13px}#apps th{white-space:normal;vertical-align:bottom}
.spark{vertical-align:middle;margin-right:.3em}.chart{text-align:left}
.details{display:flex;flex-wrap:wrap;gap:0 2em}.details section{min-width:0;max-width:100%}
.bad{color:#b00;font-weight:bold}.muted{color:#777}.path{overflow-wrap:anywhere}
.err{color:#b00;white-space:pre-wrap;text-align:left;max-width:60em}
@media (max-width:760px){
body{margin:.8em auto;padding:0 .6em}
th,td{white-space:normal}
#apps thead{display:none}
#apps,#apps tbody,#apps tr,#apps td{display:block}
#apps tr.app{border:1px solid #ccc;margin:.8em 0}
#apps td{border:0;border-top:1px solid #eee;overflow:hidden}
#apps td,#apps td.l,#apps td.chart{text-align:right}#apps td:first-child{border-top:0;background:#eee;text-align:left}
#apps td[data-label]::before{content:attr(data-label);float:left;color:#555;padding-right:1em}
.details section,.details table{width:100%}
}
</style></head><body>
<h1>fcgihost status</h1>
<p class="muted">pid {{.PID}} · started {{.StartTime.Format "2006-01-02 15:04:05Z"}} · up {{uptime .UptimeS}} · {{if .Refresh}}refreshes every {{.Refresh}}s{{else}}no refresh{{end}} · <a href="?">JSON</a> · <a href="?openmetrics">metrics</a></p>
<table id="summary">
<tr><th class="l">accepted requests</th><td>{{.Accepted}}</td></tr>
<tr><th class="l">listen queue (now / max / length)</th><td>{{if .ListenQueue}}{{deref .ListenQueue}} / {{deref .MaxListenQueue}} / {{deref .ListenQueueLen}}{{else}}<span class="muted">not measured</span>{{end}}</td></tr>
{{with .FastCGI}}<tr><th class="l">FastCGI connections (open / total / rejected)</th><td>{{.ActiveConns}} / {{.Connections}} / {{.Rejected}}</td></tr>
<tr><th class="l">FastCGI requests (active / total / refused)</th><td>{{.ActiveRequests}} / {{.Requests}} / {{.Refused}}</td></tr>{{end}}
{{range .GatewayList}}<tr class="gateway" data-gateway="{{.Proto}}"><th class="l">{{.Label}} connections (open / total / bad header)</th><td>{{.ActiveConns}} / {{.Connections}} / <span{{if .BadHeaders}} class="bad"{{end}}>{{.BadHeaders}}</span></td></tr>
<tr class="gateway" data-gateway="{{.Proto}}"><th class="l">{{.Label}} requests · listeners</th><td>{{.Requests}} · {{.Listeners}}</td></tr>
{{end}}<tr><th class="l">VMs · Go heap · goroutines</th><td>{{.Process.VMs}} · {{bytes .Process.HeapBytes}} · {{.Process.Goroutines}}</td></tr>
<tr><th class="l">panics recovered</th><td{{if .Panics}} class="bad"{{end}}>{{.Panics}}</td></tr>
</table>
<h2>Apps</h2>
<table id="apps">
<thead><tr><th class="l">app</th><th>busy / idle / workers</th><th>queued</th><th>requests</th><th>2xx / 3xx / 4xx / 5xx</th><th>errors / timeouts</th><th class="l">requests/s, last {{.WindowMinutes}} min</th><th class="l">p99, last {{.WindowMinutes}} min</th><th>memory / VM</th><th class="l">last reload</th></tr></thead>
<tbody>
{{range .AppList}}<tr class="app" data-app="{{.Name}}"><td class="l"><a href="#app-{{.Name}}">{{.Name}}</a> <span class="muted">{{.Engine}}</span></td><td data-label="busy / idle / workers">{{.Busy}} / {{.Idle}} / {{.Workers}}</td><td data-label="queued">{{.Queued}}</td><td data-label="requests">{{.Requests}}</td><td data-label="2xx / 3xx / 4xx / 5xx">{{index .Status "2xx"}} / {{index .Status "3xx"}} / {{index .Status "4xx"}} / <span{{if index .Status "5xx"}} class="bad"{{end}}>{{index .Status "5xx"}}</span></td><td data-label="errors / timeouts"><span{{if .Errors}} class="bad"{{end}}>{{.Errors}}</span> / <span{{if .Timeouts}} class="bad"{{end}}>{{.Timeouts}}</span></td>{{with .Recent}}<td class="chart" data-label="requests/s">{{spark .Rate "requests/s" "/s"}}{{num (last .Rate)}}/s</td><td class="chart" data-label="p99">{{spark .P99MS "p99 latency" " ms"}}{{ms (index .LatencyMS "p99")}}</td>{{else}}<td></td><td></td>{{end}}<td data-label="memory / VM">{{bytes .MemoryBytes}}</td><td class="l{{if .LastReloadError}} bad{{end}}" data-label="last reload" title="{{when .LastReload}}">{{clock .LastReload}}{{if .LastReloadError}} (failed){{end}}</td></tr>
{{else}}<tr><td class="l muted" colspan="10">no apps</td></tr>
{{end}}</tbody></table>
<div class="details">
{{range .AppList}}
<section class="app-detail" id="app-{{.Name}}">
<h2>{{.Name}} <span class="muted">{{.Engine}}{{if .Style}}, {{.Style}} style{{end}}</span></h2>
<p class="muted path">{{.Entry}}</p>
<table>
<thead><tr><th class="l">figure</th><th>now</th><th>limit</th></tr></thead>
<tbody>
<tr><td class="l">version</td><td>{{.Version}}</td><td></td></tr>
<tr><td class="l">workers busy / idle</td><td>{{.Busy}} / {{.Idle}}</td><td>{{.Limits.Workers}}</td></tr>
<tr><td class="l">max busy</td><td>{{.MaxBusy}}</td><td>{{.Limits.Workers}}</td></tr>
<tr><td class="l">queued now / max</td><td>{{.Queued}} / {{.MaxQueued}}</td><td>{{.Limits.QueueSize}}</td></tr>
<tr><td class="l">queue full (503) / of them timed out waiting</td><td{{if .QueueFull}} class="bad"{{end}}>{{.QueueFull}} / {{.QueueTimeouts}}</td><td>wait {{.Limits.QueueTimeout}}</td></tr>
<tr><td class="l">requests (in flight)</td><td>{{.Requests}} ({{.InFlight}})</td><td></td></tr>
<tr><td class="l">responses 1xx / 2xx / 3xx / 4xx / 5xx</td><td>{{index .Status "1xx"}} / {{index .Status "2xx"}} / {{index .Status "3xx"}} / {{index .Status "4xx"}} / {{index .Status "5xx"}}</td><td></td></tr>
<tr><td class="l">errors</td><td>{{.Errors}}</td><td></td></tr>
<tr><td class="l">timeouts</td><td>{{.Timeouts}}</td><td>{{.Limits.Timeout}}</td></tr>
<tr><td class="l">slow requests</td><td>{{.Slow}}</td><td>{{zeroOff .Limits.Slowlog}}</td></tr>
<tr><td class="l">aborted by the client</td><td>{{.Aborted}}</td><td></td></tr>
<tr><td class="l">latency p50 / p90 / p99 since start</td><td>{{ms (index .LatencyMS "p50")}} / {{ms (index .LatencyMS "p90")}} / {{ms (index .LatencyMS "p99")}}</td><td></td></tr>
{{with .Recent}}<tr><td class="l">latency p50 / p90 / p99, last {{$.WindowMinutes}} min</td><td>{{ms (index .LatencyMS "p50")}} / {{ms (index .LatencyMS "p90")}} / {{ms (index .LatencyMS "p99")}}</td><td></td></tr>{{end}}
<tr><td class="l">VMs recycled / discarded / started</td><td>{{.Recycled}} / {{.Discarded}} / {{.VMStarts}}</td><td>max requests {{never .Limits.MaxRequests}}</td></tr>
<tr><td class="l">memory per VM (estimate)</td><td>{{bytes .MemoryBytes}}</td><td>{{bytes .Limits.MemoryLimit}}</td></tr>
<tr><td class="l">request body</td><td></td><td>{{bytes .Limits.MaxBody}}</td></tr>
<tr><td class="l">reloads · last</td><td>{{.Reloads}} · {{when .LastReload}}</td><td></td></tr>
{{if .LastReloadError}}<tr><td class="l bad">last reload error</td><td class="err" colspan="2">{{.LastReloadError}}</td></tr>{{end}}
</tbody></table>
</section>
{{end}}</div>
</body></html>
`))

func writeHTML(w io.Writer, rep *StatusReport, refresh int) {
	pg := htmlPage{StatusReport: rep, Refresh: refresh, Now: time.Now(), WindowMinutes: windowSlots * slotSeconds / 60}
	for n, a := range rep.Apps {
		pg.AppList = append(pg.AppList, htmlApp{Name: n, AppReport: a})
	}
	sort.Slice(pg.AppList, func(i, j int) bool { return pg.AppList[i].Name < pg.AppList[j].Name })
	for p, g := range rep.Gateways {
		label := p
		if p == "scgi" {
			label = "SCGI"
		}
		pg.GatewayList = append(pg.GatewayList, htmlGateway{Proto: p, Label: label, GatewayReport: g})
	}
	sort.Slice(pg.GatewayList, func(i, j int) bool { return pg.GatewayList[i].Proto < pg.GatewayList[j].Proto })
	if err := statusPage.Execute(w, pg); err != nil {
		fmt.Fprintf(w, "<p>status page failed: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}
