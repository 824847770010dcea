package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
)

// A client that goes away mid-request is not a server error: the request
// is recorded as 499, logged below ERROR, and counted apart from 5xx.
func TestClientGoneIsNotAServerError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("qzgone_user")
	for _, path := range []string{"/v1/videos/", "/v1/users/me", "/v1/notifications/"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // gone before the handler reads anything
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		r.RemoteAddr = e.ip + ":1234"
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		require.Equal(t, 499, w.Code, "%s: %s", path, w.Body.String())
	}
	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
	gone := 0
	for _, l := range e.logs.Lines(t, "http request") {
		if l["status"] == float64(499) {
			require.Equal(t, "INFO", l["level"], "%v", l)
			gone++
		}
	}
	require.Equal(t, 3, gone, "each request is in the access log as 499")

	w := httptest.NewRecorder()
	e.srv.Metrics().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	var lines []string
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(l, "lokiz_http_requests_total{") && strings.Contains(l, `status="499"`) {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3, "%s", body)
	require.NotContains(t, string(body), `status="500"`)
}

// PostgreSQL out of reach (down, restarting) is a 503 with Retry-After
// and a warning, not a 500 at ERROR (the chaos suite saw 500s while its
// PostgreSQL restarted).
func TestDatabaseDownIs503(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/lokiz?connect_timeout=2&sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := newEnvWithStore(t, db.NewStore(pool))
	for _, path := range []string{"/v1/videos/", "/v1/users/" + uuid.NewString(), "/v1/search/users?q=mina"} {
		res := e.do(req{method: "GET", path: path, unspecified: true})
		require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s: %s", path, res.Raw)
		require.Equal(t, "unavailable", res.Body["code"], "%s", res.Raw)
		require.Equal(t, "dependency_unavailable", reason(res))
		require.Equal(t, "2", res.Header.Get("Retry-After"))
		require.NotContains(t, string(res.Raw), "127.0.0.1", "no internals leak")
	}
	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
	require.Positive(t, e.logs.Count("dependency unavailable"))
}
