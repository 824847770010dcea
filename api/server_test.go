package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

func TestServiceRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	res := e.do(req{method: "GET", path: "/"})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, map[string]any{"message": "Welcome to LOKIZ API", "version": "test", "environment": "development"}, res.Body)

	res = e.do(req{method: "GET", path: "/health"})
	require.Equal(t, map[string]any{"status": "healthy"}, res.Body)

	res = e.do(req{method: "GET", path: "/ready"})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, map[string]any{"status": "ready", "checks": map[string]any{"postgres": "ok", "redis": "ok"}}, res.Body)

	res = e.do(req{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "3.1.0", res.Body["openapi"])
	require.Contains(t, res.Body["paths"].(map[string]any), "/v1/auth/register")

	res = e.do(req{method: "GET", path: "/docs"})
	require.Equal(t, http.StatusOK, res.Status)
	page := string(res.Raw)
	require.Contains(t, page, `url: "/openapi.json"`)
	// Every asset the page loads is served by this binary: /docs works offline.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		require.True(t, strings.HasPrefix(m[1], "/docs/assets/"), "asset %s is not local", m[1])
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest("GET", m[1], nil))
		require.Equal(t, http.StatusOK, rec.Code, m[1])
		require.Greater(t, rec.Body.Len(), 1000, m[1])
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()

	t.Run("DrainingAnswers503", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.Drain()
		res := e.do(req{method: "GET", path: "/ready"})
		require.Equal(t, http.StatusServiceUnavailable, res.Status)
		require.Equal(t, "unavailable", errorCode(res))
		require.Equal(t, "the server is shutting down", errorDetail(res))
		// Liveness is unaffected.
		require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/health"}).Status)
	})

	t.Run("RedisDownAnswers503", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		// Nothing listens on port 1: a real client that cannot connect.
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { _ = dead.Close() })
		cfg := testConfig()
		qc := asynq.NewClientFromRedisClient(dead)
		srv, err := api.New(cfg, api.Deps{Store: store, Redis: dead, Logger: slog.New(slog.DiscardHandler),
			Tasks: tasks.NewClient(qc), Storage: newLocalStorage(t, cfg), Views: views.NewCounter(dead, "k", views.DedupeWindow)})
		require.NoError(t, err)
		e := &testEnv{t: t, store: store, srv: srv, h: srv.Handler(), ip: "10.1.1.1"}
		res := e.do(req{method: "GET", path: "/ready"})
		require.Equal(t, http.StatusServiceUnavailable, res.Status)
		require.Equal(t, "redis is unreachable", errorDetail(res))
		require.Equal(t, map[string]any{"postgres": "ok", "redis": "unreachable"}, res.Body["checks"])
	})
}

func TestEdgeBehaviour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("edgeuser")

	t.Run("UnknownRouteIsJSON404", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/nothing-here", unspecified: true})
		require.Equal(t, http.StatusNotFound, res.Status)
		require.Equal(t, "not_found", errorCode(res))
	})
	t.Run("WrongMethodIsJSON405", func(t *testing.T) {
		res := e.do(req{method: "DELETE", path: "/v1/auth/login", unspecified: true})
		require.Equal(t, http.StatusMethodNotAllowed, res.Status)
		require.Equal(t, "method_not_allowed", errorCode(res))
	})
	t.Run("TrailingSlashNeedsNoRedirect", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/auth/me/", token: token})
		require.Equal(t, http.StatusOK, res.Status)
		res = e.do(req{method: "GET", path: "/health/"})
		require.Equal(t, http.StatusOK, res.Status)
	})
	t.Run("BodyOver1MiBIs413", func(t *testing.T) {
		big := `{"bio": "` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
		res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: big})
		require.Equal(t, http.StatusRequestEntityTooLarge, res.Status)
		require.Equal(t, "payload_too_large", errorCode(res))
	})
	t.Run("ChunkedBodyOver1MiBIs413", func(t *testing.T) {
		big := `{"bio": "` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
		r := httptest.NewRequest("PATCH", "/v1/users/me", strings.NewReader(big))
		r.ContentLength = -1 // unknown length: the reader enforces the limit
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, "payload_too_large", body["code"])
	})
	t.Run("RequestIDIsEchoedOrMade", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/health", headers: map[string]string{"X-Request-ID": "abc-123"}})
		require.Equal(t, "abc-123", res.Header.Get("X-Request-ID"))
		res = e.do(req{method: "GET", path: "/health", headers: map[string]string{"X-Request-ID": "bad id\nwith newline"}})
		require.Regexp(t, `^[0-9a-f]{24}$`, res.Header.Get("X-Request-ID"))
		res = e.do(req{method: "GET", path: "/v1/users/not-a-uuid"})
		require.Equal(t, res.Header.Get("X-Request-ID"), res.Body["request_id"], "errors quote the request id")
	})
	t.Run("CORS", func(t *testing.T) {
		r := httptest.NewRequest("OPTIONS", "/v1/auth/login", nil)
		r.Header.Set("Origin", "https://app.lokiz.dev")
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "PATCH")
		require.Equal(t, "authorization, content-type", rec.Header().Get("Access-Control-Allow-Headers"))
		require.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))
	})
	t.Run("AccessLogHasOneLinePerRequest", func(t *testing.T) {
		e.do(req{method: "GET", path: "/health", headers: map[string]string{"X-Request-ID": "log-probe-1"}})
		lines := 0
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, `"request_id":"log-probe-1"`) {
				lines++
				require.Contains(t, line, `"msg":"http request"`)
				require.Contains(t, line, `"route":"/health"`)
				require.Contains(t, line, `"status":200`)
			}
		}
		require.Equal(t, 1, lines)
	})
	t.Run("MetricsCountByRouteTemplate", func(t *testing.T) {
		e.do(req{method: "GET", path: "/v1/users/00000000-0000-0000-0000-000000000001"})
		res := e.do(req{method: "GET", path: "/metrics", unspecified: true})
		require.Equal(t, http.StatusNotFound, res.Status, "metrics are not on the public api")
		rec := httptest.NewRecorder()
		e.srv.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		body := rec.Body.String()
		require.Contains(t, body, `lokiz_http_requests_total{method="GET",route="/v1/users/:user_id",status="404"} 1`)
		require.Contains(t, body, "lokiz_http_request_duration_seconds_bucket")
		require.Contains(t, body, "go_goroutines")
		require.NotContains(t, body, "00000000-0000-0000-0000-000000000001", "raw paths never become labels")
	})
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.CORSOrigins = []string{"https://app.lokiz.dev"} })
	res := e.do(req{method: "GET", path: "/health", headers: map[string]string{"Origin": "https://app.lokiz.dev"}})
	require.Equal(t, "https://app.lokiz.dev", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Values("Vary"), "Origin")
	res = e.do(req{method: "GET", path: "/health", headers: map[string]string{"Origin": "https://evil.example.com"}})
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
}

// TestEveryRouteIsDocumented keeps the route table and api/openapi.yaml in
// step: a route without an operation, or an operation without a route,
// fails the build.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPIYAML(), &doc))
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`[:*]([a-z_]+)`)
	var undocumented []string
	for _, r := range e.srv.Routes() {
		if strings.HasPrefix(r.Path, "/docs/assets") || r.Method == "HEAD" {
			continue // Swagger UI's static files; HEAD mirrors GET
		}
		key := r.Method + " " + param.ReplaceAllString(r.Path, "{$1}")
		if !documented[key] {
			undocumented = append(undocumented, key)
		}
		delete(documented, key)
	}
	var unrouted []string
	for key := range documented {
		unrouted = append(unrouted, key)
	}
	sort.Strings(undocumented)
	sort.Strings(unrouted)
	require.Empty(t, undocumented, "routes missing from api/openapi.yaml")
	require.Empty(t, unrouted, "operations in api/openapi.yaml with no route")
}

func TestPanicsBecomeJSON500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A request whose handler panics: the test hook route exists only here.
	e.srv.HandleForTest("GET", "/v1/test/panic", func() { panic("boom with internal detail") })
	res := e.do(req{method: "GET", path: "/v1/test/panic", unspecified: true})
	require.Equal(t, http.StatusInternalServerError, res.Status)
	require.Equal(t, "internal error", errorDetail(res))
	require.NotContains(t, string(res.Raw), "boom")
	require.Contains(t, e.logs.String(), "boom with internal detail", "the panic is logged for operators")
}
