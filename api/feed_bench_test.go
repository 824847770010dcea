package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/trending"
)

// BenchmarkFeedSeeded serves the first page (20 items, signed in, with the
// caller's flags) of each feed on the social seed: latest over 100,000
// videos, following over the 200 most prolific authors (20,000 videos), and
// trending over a published ranking of the best 1,000.
func BenchmarkFeedSeeded(b *testing.B) {
	sb := newSocialBench(b)
	ctx := context.Background()
	pool := sb.e.store.Pool()
	// The seed is kept between runs, so this is written to be repeatable.
	if _, err := pool.Exec(ctx, `INSERT INTO follows (id, follower_id, following_id)
		SELECT gen_random_uuid(), $1, user_id FROM (
			SELECT user_id FROM videos WHERE user_id <> $1 GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 200) a
		ON CONFLICT DO NOTHING`, sb.viewer); err != nil {
		b.Fatal(err)
	}
	// Autovacuum may be off (it is on the CI machine): without statistics the
	// planner takes the follows table for empty.
	if _, err := pool.Exec(ctx, "ANALYZE follows, feed_inbox"); err != nil {
		b.Fatal(err)
	}
	// The seed's videos age past the 7-day window between runs; the
	// benchmark ranks them with a wide one.
	rows, err := sb.e.store.TrendingScores(ctx, db.TrendingScoresParams{WindowHours: 24 * 365 * 10, Lim: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	if err := trending.New(sb.e.rdb).Publish(ctx, "bench", ids); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sb.e.h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	for _, algorithm := range []string{"latest", "following", "trending", "personalized"} {
		b.Run("algorithm="+algorithm, func(b *testing.B) {
			url := srv.URL + "/v1/videos/feed?page_size=20&algorithm=" + algorithm
			forClients(b, func(b *testing.B, clients int) {
				runClients(b, clients, func(int64) error {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Authorization", "Bearer "+sb.token)
					resp, err := client.Do(req)
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					var out struct {
						Videos    []json.RawMessage `json:"videos"`
						Algorithm string            `json:"algorithm"`
					}
					if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
						return err
					}
					if resp.StatusCode != http.StatusOK || len(out.Videos) != 20 || out.Algorithm != algorithm {
						return http.ErrAbortHandler
					}
					return nil
				})
			})
		})
	}
}

// BenchmarkFeedAnonymousFirstPage is the app's cold open: the first page
// of the latest feed for a signed-out caller, on the social seed, with the
// Redis page cache off (the baseline) and on.
func BenchmarkFeedAnonymousFirstPage(b *testing.B) {
	pool := dbtest.Seeded(b, "social", seedSocial)
	for _, ttl := range []time.Duration{0, 5 * time.Second} {
		b.Run(fmt.Sprintf("cache=%s", ttl), func(b *testing.B) {
			e := newEnvWithStore(b, db.NewStore(pool), func(c *api.Config) { c.FeedCacheTTL = ttl })
			if keys, _ := e.rdb.Keys(context.Background(), "lokiz:feedcache:*").Result(); len(keys) > 0 {
				e.rdb.Del(context.Background(), keys...)
			}
			srv := httptest.NewServer(e.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
			forClients(b, func(b *testing.B, clients int) {
				runClients(b, clients, func(int64) error {
					resp, err := client.Get(srv.URL + "/v1/videos/feed")
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					var out struct {
						Videos []json.RawMessage `json:"videos"`
					}
					if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
						return err
					}
					if resp.StatusCode != http.StatusOK || len(out.Videos) != 20 {
						return http.ErrAbortHandler
					}
					return nil
				})
			})
		})
	}
}
