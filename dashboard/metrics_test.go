package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/dashboard"
)

func TestMetrics(t *testing.T) {
	t.Parallel()

	t.Run("ReportsQueuesAndRuntime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		queue := uniqueQueue(t)
		enqueue(t, b.client, queue)
		enqueue(t, b.client, queue)
		enqueue(t, b.client, queue, asynq.ProcessIn(time.Hour))

		rec := do(t, b.handler, http.MethodGet, "/metrics", true, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
		lines := sampleLines(rec.Body.String())

		q := `queue="` + queue + `"`
		for _, want := range []string{
			`asynq_queue_size{` + q + `} 3`,
			`asynq_tasks_enqueued_total{` + q + `,state="pending"} 2`,
			`asynq_tasks_enqueued_total{` + q + `,state="scheduled"} 1`,
			`asynq_tasks_enqueued_total{` + q + `,state="active"} 0`,
			`asynq_tasks_processed_total{` + q + `} 0`,
			`asynq_tasks_failed_total{` + q + `} 0`,
			`asynq_queue_paused_total{` + q + `} 0`,
			`lokiz_dashboard_asynq_up 1`,
		} {
			require.Contains(t, lines, want)
		}
		for _, prefix := range []string{
			"go_goroutines ",
			"go_memstats_heap_alloc_bytes ",
			"process_start_time_seconds ",
			"asynq_queue_latency_seconds{" + q + "} ",
			"asynq_queue_memory_usage_approx_bytes{" + q + "} ",
			`promhttp_metric_handler_requests_total{code="200"} `,
		} {
			require.True(t, hasPrefix(lines, prefix), "no sample starting with %q", prefix)
		}
	})

	t.Run("SurvivesRedisOutage", func(t *testing.T) {
		t.Parallel()
		// Nothing listens on port 1; the scrape must still answer with the
		// runtime metrics and flag the missing queue data.
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
		t.Cleanup(func() { _ = rdb.Close() })
		h, err := dashboard.NewHandler(dashboard.Options{Redis: rdb, User: testUser, Password: testPassword, Logger: testLogger(t)})
		require.NoError(t, err)

		rec := do(t, h, http.MethodGet, "/metrics", true, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		lines := sampleLines(rec.Body.String())
		require.Contains(t, lines, "lokiz_dashboard_asynq_up 0")
		require.True(t, hasPrefix(lines, "go_goroutines "))
		require.False(t, hasPrefix(lines, "asynq_queue_size"))
	})
}

// sampleLines returns the sample lines of a Prometheus text exposition,
// without the # HELP and # TYPE comments.
func sampleLines(body string) []string {
	var out []string
	for line := range strings.SplitSeq(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
