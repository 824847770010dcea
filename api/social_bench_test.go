package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// seedSize is the size of a seeded database: users, videos (owned by the
// first owners users, in turn), and likesPerUser distinct likes per user.
type seedSize struct{ users, videos, owners, likesPerUser int }

// The social benchmarks run on a seeded database of 10,000 users, 100,000
// videos and 1,000,000 likes (100 per user), built once per machine by
// dbtest.Seeded and kept between runs. The discovery benchmarks (issue 6)
// use twice that: the size of the issue's
// `lokiz seed --users 20000 --videos 200000 --likes 2000000`.
var (
	socialSeedSize    = seedSize{users: 10_000, videos: 100_000, owners: 1_000, likesPerUser: 100}
	discoverySeedSize = seedSize{users: 20_000, videos: 200_000, owners: 2_000, likesPerUser: 100}
)

func seedSocial(ctx context.Context, pool *pgxpool.Pool) error {
	return seedSocialSized(ctx, pool, socialSeedSize)
}

// seedSocialSized fills an empty database. User n's k-th like is video
// (37n + 1009k) mod videos: 1009 is prime and does not divide the video
// counts used, so a user's likes hit distinct videos.
func seedSocialSized(ctx context.Context, pool *pgxpool.Pool, size seedSize) error {
	_, err := pool.Exec(ctx, fmt.Sprintf(`
INSERT INTO users (id, username, email, hashed_password, credits)
SELECT gen_random_uuid(), 'seed' || i, 'seed' || i || '@example.com', 'x', 0
FROM generate_series(1, %[1]d) i;

CREATE TEMP TABLE seed_users AS SELECT id, row_number() OVER (ORDER BY username) AS rn FROM users;

INSERT INTO videos (id, user_id, status, caption, created_at, object_key, thumbnail_key, duration_seconds)
SELECT gen_random_uuid(), u.id, 'completed', 'seeded video ' || i, now() - (i || ' seconds')::interval,
       'videos/seed.mp4', 'thumbnails/seed.jpg', 5
FROM generate_series(1, %[2]d) i
JOIN seed_users u ON u.rn = 1 + (i %% %[3]d);

CREATE TEMP TABLE seed_videos AS SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS rn FROM videos;
CREATE INDEX ON seed_videos (rn);

INSERT INTO likes (id, user_id, video_id)
SELECT gen_random_uuid(), u.id, v.id
FROM seed_users u
CROSS JOIN generate_series(0, %[4]d - 1) k
JOIN seed_videos v ON v.rn = (u.rn * 37 + k * 1009) %% %[2]d;

UPDATE videos v SET like_count = c.n
FROM (SELECT video_id, count(*) AS n FROM likes GROUP BY video_id) c
WHERE c.video_id = v.id;
`, size.users, size.videos, size.owners, size.likesPerUser))
	return err
}

type socialBench struct {
	e      *testEnv
	token  string
	viewer uuid.UUID
	liked  []string // 100 video ids the viewer liked
	owner  uuid.UUID
}

func newSocialBench(b *testing.B) *socialBench {
	pool := dbtest.Seeded(b, "social", seedSocial)
	store := db.NewStore(pool)
	e := newEnvWithStore(b, store)
	ctx := context.Background()
	var sb socialBench
	sb.e = e
	if err := pool.QueryRow(ctx, "SELECT id FROM users WHERE username = 'seed42'").Scan(&sb.viewer); err != nil {
		b.Fatal(err)
	}
	rows, err := pool.Query(ctx, "SELECT video_id FROM likes WHERE user_id = $1 LIMIT 50", sb.viewer)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		sb.liked = append(sb.liked, id.String())
	}
	rows.Close()
	for len(sb.liked) < 100 { // the other half: videos most likely not liked
		sb.liked = append(sb.liked, uuid.NewString())
	}
	if err := pool.QueryRow(ctx, "SELECT user_id FROM videos GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1").Scan(&sb.owner); err != nil {
		b.Fatal(err)
	}
	sb.token = e.tokenFor(sb.viewer)
	return &sb
}

func BenchmarkLikesCheckBatch100(b *testing.B) {
	sb := newSocialBench(b)
	srv := httptest.NewServer(sb.e.h)
	defer srv.Close()
	body, _ := json.Marshal(map[string]any{"video_ids": sb.liked})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	forClients(b, func(b *testing.B, clients int) {
		runClients(b, clients, func(int64) error {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/likes/check-batch", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+sb.token)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var out struct {
				LikedVideos map[string]bool `json:"liked_videos"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				return err
			}
			if len(out.LikedVideos) != 100 {
				return http.ErrAbortHandler
			}
			return nil
		})
	})
}

// forClients runs the benchmark with 1, 8 and 32 concurrent clients: one
// client shows the request's own latency, more show it under load on 2 cores.
func forClients(b *testing.B, fn func(b *testing.B, clients int)) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { fn(b, n) })
	}
}

func BenchmarkGetUserSeeded(b *testing.B) {
	sb := newSocialBench(b)
	srv := httptest.NewServer(sb.e.h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	url := srv.URL + "/v1/users/" + sb.owner.String()
	forClients(b, func(b *testing.B, clients int) {
		runClients(b, clients, func(int64) error {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+sb.token)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return http.ErrAbortHandler
			}
			return nil
		})
	})
}
