package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/dashboard"
)

func TestNewHandler(t *testing.T) {
	t.Parallel()

	t.Run("RequiresPassword", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
		t.Cleanup(func() { _ = rdb.Close() })

		h, err := dashboard.NewHandler(dashboard.Options{Redis: rdb, User: testUser})
		require.ErrorContains(t, err, "password is required")
		require.Nil(t, h)
	})

	t.Run("RequiresRedis", func(t *testing.T) {
		t.Parallel()
		h, err := dashboard.NewHandler(dashboard.Options{User: testUser, Password: testPassword})
		require.ErrorContains(t, err, "Redis client is required")
		require.Nil(t, h)
	})

	t.Run("UserDefaultsToAdmin", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
		t.Cleanup(func() { _ = rdb.Close() })
		h, err := dashboard.NewHandler(dashboard.Options{Redis: rdb, Password: testPassword})
		require.NoError(t, err)

		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
		require.NoError(t, err)
		req.SetBasicAuth("admin", testPassword)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	})
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()

	// Each protected path with the status it answers once authenticated.
	paths := map[string]int{
		"/":                      http.StatusFound,
		"/monitoring/":           http.StatusOK,
		"/monitoring/api/queues": http.StatusOK,
		"/metrics":               http.StatusOK,
	}
	tests := []struct {
		name     string
		user     string
		password string
		noAuth   bool
	}{
		{name: "NoCredentials", noAuth: true},
		{name: "WrongPassword", user: testUser, password: "wrong"},
		{name: "WrongUser", user: "root", password: testPassword},
		{name: "EmptyCredentials", user: "", password: ""},
		{name: "PasswordPrefix", user: testUser, password: testPassword[:5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for p := range paths {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p, nil)
				require.NoError(t, err)
				if !tt.noAuth {
					req.SetBasicAuth(tt.user, tt.password)
				}
				rec := httptest.NewRecorder()
				b.handler.ServeHTTP(rec, req)
				require.Equal(t, http.StatusUnauthorized, rec.Code, p)
				require.Equal(t, `Basic realm="lokiz"`, rec.Header().Get("WWW-Authenticate"), p)
				require.NotContains(t, rec.Body.String(), "asynq", p)
			}
		})
	}

	t.Run("RightCredentials", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for p, status := range paths {
			rec := do(t, b.handler, http.MethodGet, p, true, nil)
			require.Equal(t, status, rec.Code, p)
			require.Empty(t, rec.Header().Get("WWW-Authenticate"), p)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)

	rec := do(t, b.handler, http.MethodGet, "/health", false, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func TestRootRedirectsToMonitoring(t *testing.T) {
	t.Parallel()
	b := setup(t)

	rec := do(t, b.handler, http.MethodGet, "/", true, nil)
	require.Equal(t, http.StatusFound, rec.Code)
	require.Equal(t, "/monitoring/", rec.Header().Get("Location"))
}

func TestMonitoring(t *testing.T) {
	t.Parallel()

	t.Run("ServesTheUI", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		rec := do(t, b.handler, http.MethodGet, "/monitoring/", true, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Header().Get("Content-Type"), "text/html")
		body := rec.Body.String()
		require.Contains(t, body, "<html")
		// asynqmon renders its root path into the page for the app's router.
		require.Contains(t, body, `window.FLAG_ROOT_PATH="\/monitoring"`)

		// The app's script comes from under the same root, through the same auth.
		m := regexp.MustCompile(`src="(/monitoring/static/js/main\.[^"]+\.js)"`).FindStringSubmatch(body)
		require.Len(t, m, 2, "no main script in %s", body)
		rec = do(t, b.handler, http.MethodGet, m[1], true, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Header().Get("Content-Type"), "javascript")
		require.Equal(t, http.StatusUnauthorized, do(t, b.handler, http.MethodGet, m[1], false, nil).Code)
	})

	t.Run("BarePathRedirects", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		rec := do(t, b.handler, http.MethodGet, "/monitoring", true, nil)
		// ServeMux adds the slash itself (the status code varies by Go release).
		require.GreaterOrEqual(t, rec.Code, 300)
		require.Less(t, rec.Code, 400)
		require.Equal(t, "/monitoring/", rec.Header().Get("Location"))
	})

	t.Run("ListsQueues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		queue := uniqueQueue(t)
		enqueue(t, b.client, queue)

		rec := do(t, b.handler, http.MethodGet, "/monitoring/api/queues", true, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var resp struct {
			Queues []struct {
				Queue   string `json:"queue"`
				Size    int    `json:"size"`
				Pending int    `json:"pending"`
				Paused  bool   `json:"paused"`
			} `json:"queues"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		var found bool
		for _, q := range resp.Queues {
			if q.Queue == queue {
				found = true
				require.Equal(t, 1, q.Size)
				require.Equal(t, 1, q.Pending)
				require.False(t, q.Paused)
			}
		}
		require.True(t, found, "queue %s missing from %s", queue, rec.Body.String())
	})

	t.Run("PausesQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		queue := uniqueQueue(t)
		enqueue(t, b.client, queue)

		rec := do(t, b.handler, http.MethodPost, "/monitoring/api/queues/"+queue+":pause", true, nil)
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())

		info, err := asynq.NewInspectorFromRedisClient(b.redis).GetQueueInfo(queue)
		require.NoError(t, err)
		require.True(t, info.Paused)
	})

	t.Run("RejectsCrossSiteWrites", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		queue := uniqueQueue(t)
		enqueue(t, b.client, queue)

		// A page on another site submitting a form with the browser's cached
		// credentials.
		rec := do(t, b.handler, http.MethodPost, "/monitoring/api/queues/"+queue+":pause", true,
			http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
		require.Equal(t, http.StatusForbidden, rec.Code)

		info, err := asynq.NewInspectorFromRedisClient(b.redis).GetQueueInfo(queue)
		require.NoError(t, err)
		require.False(t, info.Paused)
	})
	t.Run("ReadOnlyAndPrometheus", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		h, err := dashboard.NewHandler(dashboard.Options{
			Redis: b.redis, User: testUser, Password: testPassword,
			ReadOnly: true, PrometheusAddress: "http://prometheus.test:9090",
		})
		require.NoError(t, err)
		queue := uniqueQueue(t)
		enqueue(t, b.client, queue)

		rec := do(t, h, http.MethodGet, "/monitoring/", true, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `window.FLAG_READ_ONLY="true"`)
		require.Contains(t, rec.Body.String(), `prometheus.test:9090`)

		rec = do(t, h, http.MethodPost, "/monitoring/api/queues/"+queue+":pause", true, nil)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		info, err := asynq.NewInspectorFromRedisClient(b.redis).GetQueueInfo(queue)
		require.NoError(t, err)
		require.False(t, info.Paused)
	})
}

// TestAPIMetrics: the api's metrics, handed over by `lokiz dev`, are served
// at /metrics/api behind the same basic auth; without them the path is not
// served.
func TestAPIMetrics(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
	t.Cleanup(func() { _ = rdb.Close() })
	apiMetrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("lokiz_http_requests_total 1\n"))
	})
	h, err := dashboard.NewHandler(dashboard.Options{Redis: rdb, User: testUser, Password: testPassword, APIMetrics: apiMetrics})
	require.NoError(t, err)

	rec := do(t, h, http.MethodGet, "/metrics/api", false, nil)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.NotContains(t, rec.Body.String(), "lokiz_http")
	rec = do(t, h, http.MethodGet, "/metrics/api", true, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "lokiz_http_requests_total 1\n", rec.Body.String())

	b := setup(t)
	require.Equal(t, http.StatusNotFound, do(t, b.handler, http.MethodGet, "/metrics/api", true, nil).Code)
}
