package host

// This file renders the status report in the Prometheus text exposition
// format (version 0.0.4, which Prometheus and OpenMetrics scrapers read):
// one family per figure, the per-app ones labelled app="NAME".

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// appMetric is one per-app figure of the metrics output.
type appMetric struct {
	name, typ, help string
	value           func(*AppReport) float64
}

var appMetrics = []appMetric{
	{"fcgihost_app_workers", "gauge", "VMs in the pool", func(a *AppReport) float64 { return float64(a.Workers) }},
	{"fcgihost_app_busy", "gauge", "VMs serving a request now", func(a *AppReport) float64 { return float64(a.Busy) }},
	{"fcgihost_app_idle", "gauge", "VMs free now", func(a *AppReport) float64 { return float64(a.Idle) }},
	{"fcgihost_app_max_busy", "gauge", "most VMs busy at once since start", func(a *AppReport) float64 { return float64(a.MaxBusy) }},
	{"fcgihost_app_queued", "gauge", "requests waiting for a VM now", func(a *AppReport) float64 { return float64(a.Queued) }},
	{"fcgihost_app_max_queued", "gauge", "most requests waiting at once since start", func(a *AppReport) float64 { return float64(a.MaxQueued) }},
	{"fcgihost_app_queue_full_total", "counter", "requests refused with 503 because the queue was full or the wait passed queue_timeout", func(a *AppReport) float64 { return float64(a.QueueFull) }},
	{"fcgihost_app_in_flight", "gauge", "requests of the app being handled now (queued or running)", func(a *AppReport) float64 { return float64(a.InFlight) }},
	{"fcgihost_app_requests_total", "counter", "requests answered", func(a *AppReport) float64 { return float64(a.Requests) }},
	{"fcgihost_app_errors_total", "counter", "requests failed by a script error or another 5xx cause", func(a *AppReport) float64 { return float64(a.Errors) }},
	{"fcgihost_app_timeouts_total", "counter", "requests interrupted at the app's timeout", func(a *AppReport) float64 { return float64(a.Timeouts) }},
	{"fcgihost_app_aborted_total", "counter", "requests cancelled because the client went away", func(a *AppReport) float64 { return float64(a.Aborted) }},
	{"fcgihost_app_slow_total", "counter", "requests that ran past the app's slowlog duration", func(a *AppReport) float64 { return float64(a.Slow) }},
	{"fcgihost_app_recycled_total", "counter", "VMs replaced after max_requests", func(a *AppReport) float64 { return float64(a.Recycled) }},
	{"fcgihost_app_discarded_total", "counter", "VMs thrown away after a timeout, abort or crash", func(a *AppReport) float64 { return float64(a.Discarded) }},
	{"fcgihost_app_vm_starts_total", "counter", "VMs started (preload, recycling, reloads)", func(a *AppReport) float64 { return float64(a.VMStarts) }},
	{"fcgihost_app_reloads_total", "counter", "successful reloads after the first load", func(a *AppReport) float64 { return float64(a.Reloads) }},
	{"fcgihost_app_last_reload_timestamp_seconds", "gauge", "when the app was last compiled (good or bad), unix time", func(a *AppReport) float64 {
		if a.LastReload == nil {
			return 0
		}
		return float64(a.LastReload.UnixNano()) / 1e9
	}},
	{"fcgihost_app_last_reload_failed", "gauge", "1 if the last compile failed (the previous version keeps serving)", func(a *AppReport) float64 {
		if a.LastReloadError != nil {
			return 1
		}
		return 0
	}},
	{"fcgihost_app_memory_bytes", "gauge", "estimated memory per VM (the live Go heap shared over all VMs)", func(a *AppReport) float64 { return float64(a.MemoryBytes) }},
	{"fcgihost_app_limit_workers", "gauge", "configured workers", func(a *AppReport) float64 { return float64(a.Limits.Workers) }},
	{"fcgihost_app_limit_max_requests", "gauge", "configured max_requests (0 = never recycle)", func(a *AppReport) float64 { return float64(a.Limits.MaxRequests) }},
	{"fcgihost_app_limit_queue_size", "gauge", "configured queue_size", func(a *AppReport) float64 { return float64(a.Limits.QueueSize) }},
	{"fcgihost_app_limit_queue_timeout_seconds", "gauge", "configured queue_timeout", func(a *AppReport) float64 { return durSeconds(a.Limits.QueueTimeout) }},
	{"fcgihost_app_limit_timeout_seconds", "gauge", "configured timeout", func(a *AppReport) float64 { return durSeconds(a.Limits.Timeout) }},
	{"fcgihost_app_limit_memory_bytes", "gauge", "configured memory_limit per VM", func(a *AppReport) float64 { return float64(a.Limits.MemoryLimit) }},
	{"fcgihost_app_limit_max_body_bytes", "gauge", "configured max_body", func(a *AppReport) float64 { return float64(a.Limits.MaxBody) }},
	{"fcgihost_app_limit_slowlog_seconds", "gauge", "configured slowlog (0 = off)", func(a *AppReport) float64 { return durSeconds(a.Limits.Slowlog) }},
}

func durSeconds(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// promWriter writes families of samples.
type promWriter struct {
	w *bufio.Writer
}

func (p promWriter) family(name, typ, help string) {
	p.w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes name{labels} v; labels are name, value pairs.
func (p promWriter) sample(name string, v float64, labels ...string) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			p.w.WriteString(labels[i] + `="` + labelEscaper.Replace(labels[i+1]) + `"`)
		}
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	p.w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func writeMetrics(out io.Writer, rep *StatusReport) {
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	p := promWriter{bw}
	gauge := func(name, help string, v float64) {
		p.family(name, "gauge", help)
		p.sample(name, v)
	}
	counter := func(name, help string, v float64) {
		p.family(name, "counter", help)
		p.sample(name, v)
	}
	gauge("fcgihost_start_time_seconds", "when fcgihost started, unix time", float64(rep.StartTime.Unix()))
	gauge("fcgihost_uptime_seconds", "seconds since start", float64(rep.UptimeS))
	counter("fcgihost_accepted_total", "requests received", float64(rep.Accepted))
	counter("fcgihost_panics_total", "Go panics recovered while serving", float64(rep.Panics))
	if rep.ListenQueue != nil {
		gauge("fcgihost_listen_queue", "connections waiting in the FastCGI listeners' accept queue", float64(*rep.ListenQueue))
		gauge("fcgihost_listen_queue_max", "most connections seen waiting in the accept queue", float64(*rep.MaxListenQueue))
		gauge("fcgihost_listen_queue_length", "accept queue capacity (listen backlog)", float64(*rep.ListenQueueLen))
	}
	if f := rep.FastCGI; f != nil {
		counter("fcgihost_fastcgi_connections_total", "FastCGI connections accepted", float64(f.Connections))
		counter("fcgihost_fastcgi_connections_rejected_total", "FastCGI connections closed at accept (max_conns, allowed clients)", float64(f.Rejected))
		gauge("fcgihost_fastcgi_active_connections", "FastCGI connections open now", float64(f.ActiveConns))
		gauge("fcgihost_fastcgi_active_requests", "FastCGI requests in progress now", float64(f.ActiveRequests))
		counter("fcgihost_fastcgi_requests_total", "FastCGI requests handed to the host", float64(f.Requests))
		counter("fcgihost_fastcgi_requests_refused_total", "FastCGI requests refused (overload, role, params limits)", float64(f.Refused))
	}
	if len(rep.Gateways) > 0 {
		protos := make([]string, 0, len(rep.Gateways))
		for k := range rep.Gateways {
			protos = append(protos, k)
		}
		sort.Strings(protos)
		for _, f := range []struct {
			name, typ, help string
			v               func(*GatewayReport) float64
		}{
			{"fcgihost_gateway_connections_total", "counter", "SCGI/uwsgi connections accepted", func(g *GatewayReport) float64 { return float64(g.Connections) }},
			{"fcgihost_gateway_active_connections", "gauge", "SCGI/uwsgi connections open now", func(g *GatewayReport) float64 { return float64(g.ActiveConns) }},
			{"fcgihost_gateway_requests_total", "counter", "SCGI/uwsgi requests handed to the host", func(g *GatewayReport) float64 { return float64(g.Requests) }},
			{"fcgihost_gateway_bad_headers_total", "counter", "SCGI/uwsgi connections closed for a malformed or stalled header", func(g *GatewayReport) float64 { return float64(g.BadHeaders) }},
		} {
			p.family(f.name, f.typ, f.help)
			for _, k := range protos {
				p.sample(f.name, f.v(rep.Gateways[k]), "gateway", k)
			}
		}
	}
	gauge("fcgihost_heap_bytes", "live Go heap of the process", float64(rep.Process.HeapBytes))
	gauge("fcgihost_goroutines", "goroutines of the process", float64(rep.Process.Goroutines))
	gauge("fcgihost_vms", "VMs in all pools", float64(rep.Process.VMs))

	names := make([]string, 0, len(rep.Apps))
	for n := range rep.Apps {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return
	}
	p.family("fcgihost_app_info", "gauge", "one per app, value 1: engine, style and version (a hash of its files)")
	for _, n := range names {
		a := rep.Apps[n]
		p.sample("fcgihost_app_info", 1, "app", n, "engine", a.Engine, "style", a.Style, "version", a.Version)
	}
	for _, m := range appMetrics {
		p.family(m.name, m.typ, m.help)
		for _, n := range names {
			p.sample(m.name, m.value(rep.Apps[n]), "app", n)
		}
	}
	p.family("fcgihost_app_responses_total", "counter", "responses by status class")
	for _, n := range names {
		a := rep.Apps[n]
		for _, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
			p.sample("fcgihost_app_responses_total", float64(a.Status[c]), "app", n, "class", c)
		}
	}
	p.family("fcgihost_app_latency_seconds", "summary", "request latency since start (log-scale histogram estimate, within 9%)")
	for _, n := range names {
		a := rep.Apps[n]
		for _, lq := range latencyQuantiles {
			p.sample("fcgihost_app_latency_seconds", a.LatencyMS[lq.key]/1000, "app", n, "quantile", strconv.FormatFloat(lq.q, 'g', -1, 64))
		}
		p.sample("fcgihost_app_latency_seconds_count", float64(a.Requests), "app", n)
	}
}
