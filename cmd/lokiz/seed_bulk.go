package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// bulkSize is the size of a bulk seed (`lokiz seed -bulk`).
type bulkSize struct {
	users, videos, likes, follows int
}

// bulkPrefix starts the username of every bulk-seeded account: bulk_000001,
// bulk_000002, ... Their e-mail is <username>@load.lokiz.dev.
const bulkPrefix = "bulk_"

// bulkTags and bulkWords make the captions: two words and two hashtags per
// video, so that search and the hashtag pages have something to find.
var (
	bulkTags = []string{"lokiz", "dance", "cats", "food", "travel", "music", "glitch", "sunset",
		"comedy", "fitness", "art", "gaming", "diy", "fashion", "nature", "coffee", "city", "retro",
		"먹방", "여행"}
	bulkWords = []string{"morning", "river", "neon", "quiet", "storm", "garden", "street", "velvet",
		"orbit", "paper", "summer", "winter", "ocean", "mountain", "window", "thunder", "kitchen",
		"harbor", "meadow", "signal"}
)

// check refuses sizes the seed cannot satisfy.
func (s bulkSize) check() error {
	switch {
	case s.users < 2 || s.users > 999_999:
		return errors.New("-users must be between 2 and 999999")
	case s.videos < 1 || s.videos > 10_000_000:
		return errors.New("-videos must be between 1 and 10000000")
	case s.likes < 0 || int64(s.likes) > int64(s.users)*int64(s.videos):
		return errors.New("-likes must be between 0 and users × videos")
	case s.follows < 0 || int64(s.follows) > int64(s.users)*int64(s.users-1):
		return errors.New("-follows must be between 0 and users × (users - 1)")
	}
	return nil
}

// stride returns a step coprime to n (and not a multiple of it), so that
// k·stride mod n visits distinct residues for k < n.
func stride(n, from int) int {
	gcd := func(a, b int) int {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	s := from
	for n > 1 && gcd(s, n) != 1 {
		s++
	}
	return s
}

// seedBulk fills the database with set-based SQL in one transaction: users
// (all with password), videos owned round-robin by the users, each with two
// words and two hashtags in the caption, likes spread evenly over the users
// (user n's k-th like is video (37n + k·step) mod videos, distinct for one
// user), follows likewise, then the like and hashtag counters and ANALYZE.
// It refuses a database that already holds bulk accounts.
func (a *app) seedBulk(ctx context.Context, size bulkSize, password string) (time.Duration, error) {
	start := time.Now()
	var existing int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE username LIKE 'bulk\_%'`).Scan(&existing); err != nil {
		return 0, err
	}
	if existing > 0 {
		return 0, fmt.Errorf("the database already has %d bulk accounts: bulk seeding is for an empty database", existing)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.Auth.BcryptCost)
	if err != nil {
		return 0, fmt.Errorf("hash password: %w", err)
	}
	likesPerUser := (size.likes + size.users - 1) / size.users
	followsPerUser := (size.follows + size.users - 1) / size.users
	steps := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, username, email, hashed_password, display_name, credits)
		  SELECT gen_random_uuid(), $1 || lpad(i::text, 6, '0'), $1 || lpad(i::text, 6, '0') || '@load.lokiz.dev',
		         $2, 'Load ' || i, 0
		  FROM generate_series(1, $3::int) i`, []any{bulkPrefix, string(hash), size.users}},
		{`CREATE TEMP TABLE bulk_users ON COMMIT DROP AS
		  SELECT id, substr(username, 6)::int - 1 AS rn FROM users WHERE username LIKE 'bulk\_%'`, nil},
		{`CREATE UNIQUE INDEX ON bulk_users (rn)`, nil},
		{`INSERT INTO hashtags (id, name) SELECT gen_random_uuid(), t FROM unnest($1::text[]) t
		  ON CONFLICT (name) DO NOTHING`, []any{bulkTags}},
		// Video i is i minutes old, so the newest-first feeds have an order.
		{`CREATE TEMP TABLE bulk_videos ON COMMIT DROP AS
		  SELECT gen_random_uuid() AS id, i AS rn, now() - i * interval '1 minute' AS created_at,
		         $1::text[] AS words, $2::text[] AS tags,
		         1 + (i * 7) % cardinality($1::text[]) AS w1, 1 + (i * 11 + 3) % cardinality($1::text[]) AS w2,
		         1 + i % cardinality($2::text[]) AS t1, 1 + (i * 3 + 1) % cardinality($2::text[]) AS t2
		  FROM generate_series(0, $3::int - 1) i`, []any{bulkWords, bulkTags, size.videos}},
		{`CREATE UNIQUE INDEX ON bulk_videos (rn)`, nil},
		{`INSERT INTO videos (id, user_id, status, caption, created_at, updated_at, object_key, thumbnail_key,
		                     content_type, size_bytes, duration_seconds, width, height)
		  SELECT v.id, u.id, 'completed',
		         v.words[v.w1] || ' ' || v.words[v.w2] || ' #' || v.tags[v.t1] ||
		           CASE WHEN v.t2 <> v.t1 THEN ' #' || v.tags[v.t2] ELSE '' END,
		         v.created_at, v.created_at, 'videos/bulk.mp4', 'thumbnails/bulk.jpg', 'video/mp4', 1048576, 15, 720, 1280
		  FROM bulk_videos v JOIN bulk_users u ON u.rn = v.rn % $1::int
		  ORDER BY v.created_at`, []any{size.users}},
		{`INSERT INTO video_hashtags (video_id, hashtag_id, created_at)
		  SELECT v.id, h.id, v.created_at
		  FROM bulk_videos v CROSS JOIN LATERAL (VALUES (v.t1), (v.t2)) t(i)
		  JOIN hashtags h ON h.name = v.tags[t.i]
		  ON CONFLICT DO NOTHING`, nil},
		{`INSERT INTO likes (id, user_id, video_id, created_at)
		  SELECT gen_random_uuid(), u.id, v.id, now() - (random() * interval '2 days')
		  FROM bulk_users u CROSS JOIN generate_series(0, $1::int - 1) k
		  JOIN bulk_videos v ON v.rn = (u.rn * 37 + k * $2::int) % $3::int
		  ORDER BY u.rn, k LIMIT $4::int`, []any{likesPerUser, stride(size.videos, 1009), size.videos, size.likes}},
		// User n follows users n+1, n+2, ... (mod users): never themselves.
		{`INSERT INTO follows (id, follower_id, following_id, created_at)
		  SELECT gen_random_uuid(), u.id, f.id, now() - (random() * interval '7 days')
		  FROM bulk_users u CROSS JOIN generate_series(1, $1::int) k
		  JOIN bulk_users f ON f.rn = (u.rn + k) % $2::int
		  ORDER BY u.rn, k LIMIT $3::int`, []any{followsPerUser, size.users, size.follows}},
		{`UPDATE videos v SET like_count = c.n
		  FROM (SELECT video_id, count(*) AS n FROM likes GROUP BY video_id) c
		  WHERE c.video_id = v.id`, nil},
		{`UPDATE hashtags h SET use_count = c.n
		  FROM (SELECT hashtag_id, count(*) AS n FROM video_hashtags GROUP BY hashtag_id) c
		  WHERE c.hashtag_id = h.id`, nil},
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("%.60s: %w", s.sql, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bulk seed: %w", err)
	}
	if _, err := a.pool.Exec(ctx, "ANALYZE"); err != nil {
		return 0, fmt.Errorf("bulk seed: analyze: %w", err)
	}
	return time.Since(start), nil
}
