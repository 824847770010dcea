package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The api benchmarks drive the real handler over a real Postgres and Redis.
// /health, which touches neither, is the baseline the others are read
// against (docs/benchmarks.md): shared machines are noisy, ratios less so.

func benchEnv(b *testing.B) (*testEnv, string, string) {
	e := newEnv(b)
	token, id := e.register("benchuser")
	return e, token, id
}

func serve(b *testing.B, h http.Handler, method, path, token string, body []byte) {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
}

func BenchmarkHealth(b *testing.B) {
	e, _, _ := benchEnv(b)
	for b.Loop() {
		serve(b, e.h, "GET", "/health", "", nil)
	}
}

// BenchmarkAuthMe: token check (JWT + the user's row) and the caller's
// account with its profile counts.
func BenchmarkAuthMe(b *testing.B) {
	e, token, _ := benchEnv(b)
	for b.Loop() {
		serve(b, e.h, "GET", "/v1/auth/me", token, nil)
	}
}

func BenchmarkGetUser(b *testing.B) {
	e, token, id := benchEnv(b)
	for b.Loop() {
		serve(b, e.h, "GET", "/v1/users/"+id, token, nil)
	}
}

// BenchmarkBatchUsers100 asks for 100 users in one call: one query.
func BenchmarkBatchUsers100(b *testing.B) {
	e, token, _ := benchEnv(b)
	ids := make([]string, 100)
	for i := range ids {
		_, ids[i] = e.register(fmt.Sprintf("batch%03d", i))
	}
	body, _ := json.Marshal(map[string]any{"user_ids": ids})
	for b.Loop() {
		serve(b, e.h, "POST", "/v1/users/batch-info", token, body)
	}
}
