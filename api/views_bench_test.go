package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/views"
)

// The view benchmarks measure ingestion over real loopback TCP against the
// real server (Postgres visibility read + one Redis script call per view),
// with 32 concurrent clients each sending distinct viewers, so every request
// is counted (the cap on anonymous viewers per IP is lifted: they all come
// from the loopback address). BenchmarkViewRecordRedisOnly is the floor: the same Redis
// script called directly, with the same concurrency.

const benchClients = 32

type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) quantile(q int) time.Duration {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return 0
	}
	return l.all[len(l.all)*q/100]
}

// runConcurrent calls fn b.N times from benchClients goroutines and reports
// throughput and p99 latency.
func runConcurrent(b *testing.B, fn func(i int64) error) { runClients(b, benchClients, fn) }

// runClients is runConcurrent with a chosen number of concurrent clients.
func runClients(b *testing.B, clients int, fn func(i int64) error) {
	var next atomic.Int64
	var lat latencies
	var failures atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N/clients+1)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					failures.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			lat.add(local)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d calls failed", f, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(lat.quantile(50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.quantile(99).Microseconds())/1000, "p99-ms")
}

func viewBenchEnv(b *testing.B) (*testEnv, string) {
	e := newEnv(b, func(c *api.Config) { c.ViewRateLimit, c.ViewAnonPerIP = 1<<30, 1<<30 })
	_, owner := e.register("viewbench")
	id := e.video(owner, dbtest.VideoOpts{})
	return e, id
}

func BenchmarkViewCountHTTP(b *testing.B) {
	e, id := viewBenchEnv(b)
	postViews(b, e.h, id)
}

// postViews runs the view benchmark's load: anonymous views of video id,
// each from a distinct viewer, sent by benchClients clients over loopback
// to h.
func postViews(b *testing.B, h http.Handler, id string) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	url := srv.URL + "/v1/videos/" + id + "/view"
	run := uuid.NewString()
	runConcurrent(b, func(i int64) error {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"source":"feed"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", fmt.Sprintf("bench-%s-%d", run, i))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func BenchmarkViewRecordRedisOnly(b *testing.B) {
	e, id := viewBenchEnv(b)
	counter := views.NewCounter(e.rdb, "bench", views.DedupeWindow)
	vid := uuid.MustParse(id)
	run := uuid.NewString()
	runConcurrent(b, func(i int64) error {
		_, _, err := counter.Record(context.Background(), views.View{VideoID: vid, Viewer: fmt.Sprintf("a:%s-%d", run, i), Source: "feed"})
		return err
	})
}

func BenchmarkGetVideoHTTP(b *testing.B) {
	e, id := viewBenchEnv(b)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	url := srv.URL + "/v1/videos/" + id
	runConcurrent(b, func(int64) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// TestViewBenchmarkCountsExactly runs the ingestion path the benchmark uses
// and checks that every distinct viewer was counted once.
func TestViewBenchmarkCountsExactly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ViewRateLimit, c.ViewAnonPerIP = 1<<30, 1<<30 })
	_, owner := e.register("viewexact")
	id := e.video(owner, dbtest.VideoOpts{})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	var wg sync.WaitGroup
	var counted atomic.Int64
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", srv.URL+"/v1/videos/"+id+"/view", nil)
			req.Header.Set("User-Agent", fmt.Sprintf("exact-%d", i%100))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Counted bool }
			_ = jsonDecode(resp, &body)
			if body.Counted {
				counted.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(100), counted.Load(), "100 distinct viewers, each sent twice")
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
