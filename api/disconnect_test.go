package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
