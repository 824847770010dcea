// Package dashboard is the operator's window onto LOKIZ, served by
// `lokiz dashboard` (DASHBOARD_ADDR, :8081 by default). NewHandler returns one
// http.Handler with these routes:
//
//	GET  /health       liveness, the only route without authentication
//	GET  /             redirect to /monitoring/
//	     /monitoring/  asynqmon: queues, tasks, servers and the scheduler,
//	                   with its JSON API under /monitoring/api/
//	GET  /metrics      Prometheus text format, from a registry of our own
//	GET  /metrics/api  the api's metrics, when the api runs in this process
//	                   (Options.APIMetrics: `lokiz dev`)
//
// Everything but /health sits behind HTTP basic auth because asynqmon can
// delete, run and archive tasks and pause queues, and task payloads name
// users' rows. Basic auth is enough for an internal port; put the dashboard
// behind TLS (or keep it off the public network) because the credentials
// travel with every request.
//
// /metrics reports the asynq queues under the metric names of asynq's own
// x/metrics collector (asynq_queue_size, asynq_tasks_enqueued_total, …), so
// that asynqmon's charts (Options.PrometheusAddress) and existing asynq
// Grafana boards work unchanged, plus Go runtime and process metrics.
//
// The package borrows the caller's Redis client and never closes it: the
// process that built the client closes it after the HTTP server has drained
// (STYLE.md B10).
package dashboard
