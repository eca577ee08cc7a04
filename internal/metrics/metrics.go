// Package metrics exposes Kilt's Prometheus metrics on their own listener
// (KILT_METRICS_LISTEN), never on the public one: delivery (sent, failed, abandoned,
// blocked by reason, outbox depth and age), the SMS budget, the hashing pool, and the Go
// runtime. The services report through small interfaces (outbox.Observer); gauges that
// describe state are read when scraped.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kilt/internal/outbox"
)

// Metrics holds Kilt's collectors on a registry of its own.
type Metrics struct {
	Registry *prometheus.Registry

	outboxSent      *prometheus.CounterVec
	outboxFailed    *prometheus.CounterVec
	outboxAbandoned *prometheus.CounterVec
	outboxBlocked   *prometheus.CounterVec
	limits          *prometheus.CounterVec
	flows           *prometheus.CounterVec
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	retained        *prometheus.CounterVec
	desk            deskCounters
}

// New returns the metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		outboxSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_outbox_sent_total",
			Help: "Messages accepted by their transport."}, []string{"channel"}),
		outboxFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_outbox_send_failures_total",
			Help: "Attempts that failed (retried or abandoned), by transport channel."}, []string{"channel"}),
		outboxAbandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_outbox_abandoned_total",
			Help: "Messages given up after a permanent failure or too many attempts."}, []string{"channel"}),
		outboxBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_outbox_blocked_total",
			Help: "Messages Kilt refused to send: destination country, not a mobile number, budget spent."},
			[]string{"channel", "reason"}),
	}
	m.limits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_rate_limit_hits_total",
		Help: "Requests or messages a rate limit refused, by limit."}, []string{"limit"})
	m.flows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_flow_events_total",
		Help: "Flows started and completed, and wrong codes entered, by flow (recovery, registration) and channel."},
		[]string{"flow", "channel", "event"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_http_requests_total",
		Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kilt_http_request_duration_seconds",
		Help: "HTTP request latency by route pattern.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
		[]string{"route"})
	m.retained = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_retention_deleted_rows_total",
		Help: "Rows the retention job deleted because they expired, by table."}, []string{"table"})
	r.MustRegister(m.outboxSent, m.outboxFailed, m.outboxAbandoned, m.outboxBlocked, m.limits, m.flows, m.requests, m.latency,
		m.retained)
	m.desk = newDeskCounters(r)
	for _, f := range []string{"recovery", "registration"} {
		for _, ch := range []string{"email", "sms"} {
			for _, ev := range []string{"started", "completed"} {
				m.flows.WithLabelValues(f, ch, ev)
			}
		}
	}
	return m
}

// Flow counts a flow event.
func (m *Metrics) Flow(flow, channel, event string) {
	m.flows.WithLabelValues(flow, channel, event).Inc()
}

// Request records one HTTP request. route is the matched pattern ("" for none: "unmatched").
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// RetentionDeleted counts n rows of table deleted by the retention job.
func (m *Metrics) RetentionDeleted(table string, n int) {
	m.retained.WithLabelValues(table).Add(float64(n))
}

// RetentionTables makes every pruned table's series exist from zero.
func (m *Metrics) RetentionTables(tables ...string) {
	for _, t := range tables {
		m.retained.WithLabelValues(t)
	}
}

// LimitHit counts a refusal by the named limit.
func (m *Metrics) LimitHit(name string) { m.limits.WithLabelValues(name).Inc() }

// Limits makes every named limit's series exist from zero, so a dashboard sees them all.
func (m *Metrics) Limits(names ...string) {
	for _, n := range names {
		m.limits.WithLabelValues(n)
	}
}

// Sent implements outbox.Observer.
func (m *Metrics) Sent(ch outbox.Channel) { m.outboxSent.WithLabelValues(string(ch)).Inc() }

// Failed implements outbox.Observer.
func (m *Metrics) Failed(ch outbox.Channel, abandoned bool) {
	m.outboxFailed.WithLabelValues(string(ch)).Inc()
	if abandoned {
		m.outboxAbandoned.WithLabelValues(string(ch)).Inc()
	}
}

// Blocked implements outbox.Observer.
func (m *Metrics) Blocked(ch outbox.Channel, reason string) {
	m.outboxBlocked.WithLabelValues(string(ch), reason).Inc()
}

var _ outbox.Observer = (*Metrics)(nil)

// GaugeFunc registers a gauge read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc registers a counter read at scrape time (from a counter kept elsewhere).
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// OutboxDepth registers the outbox's depth and the age of its oldest waiting message,
// read from the store at scrape time (bounded by a short timeout).
func (m *Metrics) OutboxDepth(depth func(ctx context.Context) (int, time.Time, error), now func() time.Time) {
	read := func() (int, time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, oldest, err := depth(ctx)
		if err != nil {
			return -1, time.Time{}
		}
		return n, oldest
	}
	m.GaugeFunc("kilt_outbox_depth", "Messages waiting to be sent (pending or being sent); -1 if the database did not answer.",
		func() float64 { n, _ := read(); return float64(n) })
	m.GaugeFunc("kilt_outbox_oldest_age_seconds", "Age of the oldest message waiting to be sent (0 when none).",
		func() float64 {
			_, oldest := read()
			if oldest.IsZero() {
				return 0
			}
			return now().Sub(oldest).Seconds()
		})
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
