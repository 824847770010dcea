package dashboard

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxScrapesInFlight bounds concurrent /metrics requests: each scrape runs a
// handful of Redis commands per queue (including MEMORY USAGE sampling), and
// a misconfigured scraper must not turn into load on the queue Redis.
const maxScrapesInFlight = 4

// newMetricsHandler serves a registry of our own rather than the global one,
// so that the metrics are exactly the ones listed here and tests can build as
// many handlers as they like without duplicate-registration panics.
func newMetricsHandler(inspector *asynq.Inspector, logger *slog.Logger) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newQueueCollector(inspector, logger),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dashboard: register metrics collector: %w", err)
		}
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: maxScrapesInFlight,
	})
	return promhttp.InstrumentMetricHandler(reg, h), nil
}

// The asynq metric names and labels are those of asynq's x/metrics
// QueueMetricsCollector, because asynqmon's charts query them by name. That
// collector is not used itself: the only published version of
// github.com/hibiken/asynq/x is a 2021 pseudo-version that logs through the
// global log package and hides a failed scrape (it emits nothing), whereas
// this one logs through slog and reports failures in lokiz_dashboard_asynq_up.
var (
	queueTasksDesc = prometheus.NewDesc(
		"asynq_tasks_enqueued_total",
		"Number of tasks in a queue, by state (a gauge despite the name, kept for asynqmon).",
		[]string{"queue", "state"}, nil)
	queueSizeDesc = prometheus.NewDesc(
		"asynq_queue_size",
		"Number of tasks in a queue: pending, active, scheduled, retry, aggregating and archived.",
		[]string{"queue"}, nil)
	queueLatencyDesc = prometheus.NewDesc(
		"asynq_queue_latency_seconds",
		"How long the oldest pending task of a queue has been waiting.",
		[]string{"queue"}, nil)
	queueMemoryDesc = prometheus.NewDesc(
		"asynq_queue_memory_usage_approx_bytes",
		"Approximate Redis memory used by a queue and its tasks (sampled).",
		[]string{"queue"}, nil)
	queueProcessedDesc = prometheus.NewDesc(
		"asynq_tasks_processed_total",
		"Tasks processed by a queue since it was created, succeeded and failed.",
		[]string{"queue"}, nil)
	queueFailedDesc = prometheus.NewDesc(
		"asynq_tasks_failed_total",
		"Tasks of a queue whose processing failed since the queue was created.",
		[]string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc(
		"asynq_queue_paused_total",
		"1 if the queue is paused, 0 otherwise (name kept from asynq's collector).",
		[]string{"queue"}, nil)
	asynqUpDesc = prometheus.NewDesc(
		"lokiz_dashboard_asynq_up",
		"1 if the last scrape read every asynq queue from Redis, 0 if any read failed.",
		nil, nil)
)

// queueCollector reads the state of every asynq queue from Redis at scrape
// time. It keeps no state, so concurrent scrapes are safe.
type queueCollector struct {
	inspector *asynq.Inspector
	logger    *slog.Logger
}

func newQueueCollector(inspector *asynq.Inspector, logger *slog.Logger) *queueCollector {
	return &queueCollector{inspector: inspector, logger: logger}
}

// Describe sends the fixed descriptors, so that registering the collector
// does not reach Redis.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		queueTasksDesc, queueSizeDesc, queueLatencyDesc, queueMemoryDesc,
		queueProcessedDesc, queueFailedDesc, queuePausedDesc, asynqUpDesc,
	} {
		ch <- d
	}
}

// Collect reports every queue it can read. A queue that cannot be read is
// skipped rather than failing the scrape, so that runtime metrics and the
// other queues still arrive; lokiz_dashboard_asynq_up says something was
// missing.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	up := 1.0
	queues, err := c.inspector.Queues()
	if err != nil {
		c.logger.Error("list asynq queues for metrics", slog.Any("error", err))
		up = 0
	}
	for _, q := range queues {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			c.logger.Error("read asynq queue for metrics", slog.String("queue", q), slog.Any("error", err))
			up = 0
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		for state, n := range map[string]int{
			"active":      info.Active,
			"aggregating": info.Aggregating,
			"archived":    info.Archived,
			"completed":   info.Completed,
			"pending":     info.Pending,
			"retry":       info.Retry,
			"scheduled":   info.Scheduled,
		} {
			gauge(queueTasksDesc, float64(n), q, state)
		}
		gauge(queueSizeDesc, float64(info.Size), q)
		gauge(queueLatencyDesc, info.Latency.Seconds(), q)
		gauge(queueMemoryDesc, float64(info.MemoryUsage), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		gauge(queuePausedDesc, paused, q)
		ch <- prometheus.MustNewConstMetric(queueProcessedDesc, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(queueFailedDesc, prometheus.CounterValue, float64(info.FailedTotal), q)
	}
	ch <- prometheus.MustNewConstMetric(asynqUpDesc, prometheus.GaugeValue, up)
}
