// Package metrics exposes the service's Prometheus metrics: request latency per route, and per
// projector its checkpoint, its lag behind the log's head and its health, and the dead-letter
// count. Projection figures are read at scrape time, so they are never stale.
package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portal-access/backend/internal/eventstore"
)

// Projector is what the metrics read of one live projector.
type Projector interface {
	Name() string
	Position() eventstore.Position
	Healthy() bool
	Applied() int64
}

// Source gives the figures read at scrape time.
type Source struct {
	// Projectors lists the live projectors (they change when a rebuild switches generation).
	Projectors func() []Projector
	// Head is the log's last position.
	Head func(context.Context) (eventstore.Position, error)
	// DeadLetters counts the events parked in the dead-letter stream.
	DeadLetters func(context.Context) (int64, error)
}

// Metrics is the registry and the HTTP instrumentation.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
}

// New registers the service's metrics (and the Go runtime's).
func New(src Source) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "portal", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP request latency by route (the route pattern, not the path), method and status.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"method", "route", "status"})}
	reg.MustRegister(m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&projectionCollector{src: src})
	return m
}

// Middleware observes every request's latency under its route pattern (unmatched routes
// under "unmatched", so that probes cannot blow up the label set).
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.duration.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}

var (
	descCheckpoint = prometheus.NewDesc("portal_projection_checkpoint_position", "The log position (commit) the projector has applied.", []string{"projection"}, nil)
	descLag        = prometheus.NewDesc("portal_projection_lag_positions", "How far the projector is behind the log's head, in log positions (commit).", []string{"projection"}, nil)
	descHealthy    = prometheus.NewDesc("portal_projection_healthy", "1 while the projector applies events, 0 once an event was parked in the dead-letter stream.", []string{"projection"}, nil)
	descApplied    = prometheus.NewDesc("portal_projection_applied_events_total", "Events applied by the projector since the process started.", []string{"projection"}, nil)
	descHead       = prometheus.NewDesc("portal_eventstore_head_position", "The log's last position (commit).", nil, nil)
	descDeadLetter = prometheus.NewDesc("portal_projection_deadletter_events", "Events parked in the dead-letter stream.", nil, nil)
	descScrapeErr  = prometheus.NewDesc("portal_metrics_source_up", "1 when the source could be read at this scrape.", []string{"source"}, nil)
)

type projectionCollector struct{ src Source }

func (p *projectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCheckpoint, descLag, descHealthy, descApplied, descHead, descDeadLetter, descScrapeErr} {
		ch <- d
	}
}

func (p *projectionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := func(name string, ok bool) {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, v, name)
	}
	head, herr := eventstore.Position{}, error(nil)
	if p.src.Head != nil {
		head, herr = p.src.Head(ctx)
		up("eventstore", herr == nil)
		if herr == nil {
			ch <- prometheus.MustNewConstMetric(descHead, prometheus.GaugeValue, float64(head.Commit))
		}
	}
	if p.src.DeadLetters != nil {
		n, err := p.src.DeadLetters(ctx)
		up("redis", err == nil)
		if err == nil {
			ch <- prometheus.MustNewConstMetric(descDeadLetter, prometheus.GaugeValue, float64(n))
		}
	}
	if p.src.Projectors == nil {
		return
	}
	for _, r := range p.src.Projectors() {
		pos := r.Position()
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, float64(pos.Commit), r.Name())
		if herr == nil && p.src.Head != nil {
			lag := 0.0
			if pos.Commit < head.Commit {
				lag = float64(head.Commit - pos.Commit)
			}
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag, r.Name())
		}
		healthy := 0.0
		if r.Healthy() {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, r.Name())
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(r.Applied()), r.Name())
	}
}
