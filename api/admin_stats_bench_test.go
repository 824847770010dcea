package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

// statsBenchServer is one api over the discovery seed, with its own
// active-user keys, behind a loopback HTTP server.
type statsBenchServer struct {
	e      *testEnv
	srv    *httptest.Server
	client *http.Client
}

func newStatsBenchServer(b *testing.B, d *discoveryBench, dauOff bool, dedup time.Duration) *statsBenchServer {
	e := newEnvWithStore(b, d.e.store, func(c *api.Config) {
		c.ActivityPrefix = "bench:" + uuid.NewString() + ":"
		c.ActivityDisabled = dauOff
		c.ActivityDedup = dedup
	})
	s := &statsBenchServer{e: e, srv: httptest.NewServer(e.h),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}}
	b.Cleanup(s.srv.Close)
	return s
}

func (s *statsBenchServer) get(path, token string) error {
	req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return nil
}

// benchAdmin returns the seed's admin, made once and kept with the seed.
func benchAdmin(b *testing.B, d *discoveryBench) uuid.UUID {
	var id uuid.UUID
	err := d.e.store.Pool().QueryRow(context.Background(), "SELECT id FROM users WHERE username = 'bench_stats_admin'").Scan(&id)
	if err == pgx.ErrNoRows {
		return dbtest.CreateUser(b, d.e.store, dbtest.UserOpts{Username: "bench_stats_admin", Role: lokiz.RoleAdmin}).ID
	} else if err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkAdminStats times GET /v1/admin/stats on the 200,000-video
// discovery seed: cold (the cache dropped before every request, so each one
// runs every count) and cached (the answer of the last 30 s), against the
// profile read GET /v1/users/{id} of the same run as the baseline.
func BenchmarkAdminStats(b *testing.B) {
	d := newDiscoveryBench(b)
	s := newStatsBenchServer(b, d, false, 0)
	token := s.e.tokenFor(benchAdmin(b, d))
	profile := "/v1/users/" + d.viewer.String()
	for _, clients := range discoveryClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var base percentiles
			b.Run("baseline=profile", func(b *testing.B) {
				base = measure(b, clients, func(int64) error { return s.get(profile, token) })
			})
			b.Run("cache=cold", func(b *testing.B) {
				got := measure(b, clients, func(int64) error {
					api.ResetAdminStatsCache(s.e.srv)
					return s.get("/v1/admin/stats", token)
				})
				reportRatio(b, got, base, "profile")
			})
			b.Run("cache=hit", func(b *testing.B) {
				got := measure(b, clients, func(int64) error { return s.get("/v1/admin/stats", token) })
				reportRatio(b, got, base, "profile")
			})
		})
	}
}

// BenchmarkDAUCounting measures what counting active users costs an
// authenticated request: GET /v1/users/me from 256 signed-in users in
// turn, on two servers over the same seed in the same run, one with the
// counting off (the baseline) and two with it on. dau=on is the default
// (a user goes to Redis at most once per 5 minutes per process: after the
// warm-up the 256 users cost a map lookup); dau=on-every sends every
// request's user to Redis (the dedup window set to 1 ns), the cost of a
// user's first request in a window.
func BenchmarkDAUCounting(b *testing.B) {
	d := newDiscoveryBench(b)
	off := newStatsBenchServer(b, d, true, 0)
	on := newStatsBenchServer(b, d, false, 0)
	every := newStatsBenchServer(b, d, false, time.Nanosecond)
	users := d.searchers
	for _, clients := range discoveryClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var base percentiles
			b.Run("dau=off", func(b *testing.B) {
				base = measure(b, clients, func(i int64) error { return off.get("/v1/users/me", users[int(i)%len(users)]) })
			})
			b.Run("dau=on", func(b *testing.B) {
				got := measure(b, clients, func(i int64) error { return on.get("/v1/users/me", users[int(i)%len(users)]) })
				reportRatio(b, got, base, "off")
			})
			b.Run("dau=on-every", func(b *testing.B) {
				got := measure(b, clients, func(i int64) error { return every.get("/v1/users/me", users[int(i)%len(users)]) })
				reportRatio(b, got, base, "off")
			})
		})
	}
}
