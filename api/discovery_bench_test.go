package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/trending"
)

// The discovery benchmarks (issue 6) run on the social seed at twice its
// size (discoverySeedSize) with text added to it, kept as a seeded
// database of its own ("discovery") so that the social benchmarks keep
// their data: every user gets a username and a
// display name from a list of common (romanized and Korean) names, every
// video a caption of 3–8 words in English (70%) or Korean (30%) ending in
// 1–3 of 4,200 hashtags, picked with a skew so that a few words and tags
// are common and most are rare, and about 92,000 searches (10 per user,
// repeats dropped) of the last three days feed the keyword suggestions.
//
// The requests are sent over loopback TCP with signed-in callers, by 8
// concurrent clients (the fixed concurrency the targets are read at) and
// by 1 (the request's own latency); p50 and p99 come from runClients.
var discoveryClients = []int{1, 8}

// The names, words and tags of the seed. The first 24 given names exist
// in both scripts, so that "minji" and "민지" find the same people.
const seedDiscoverySQL = `
SELECT setseed(0.6);

CREATE TEMP TABLE seed_given (rn int, en text, ko text);
INSERT INTO seed_given (rn, en, ko)
SELECT n, en, ko FROM unnest(
  ARRAY['minji','seojun','jiwoo','haeun','doyun','seoyeon','hajun','jiho','yuna','eunwoo','subin','jimin',
        'taeyang','sora','hana','yejin','minho','jisoo','dahyun','junho','chaewon','siwoo','hyunwoo','soyeon',
        'alex','sam','chris','jordan','taylor','emma','liam','olivia','noah','mia','lucas','sofia','ethan','chloe','leo','nora'],
  ARRAY['민지','서준','지우','하은','도윤','서연','하준','지호','유나','은우','수빈','지민',
        '태양','소라','하나','예진','민호','지수','다현','준호','채원','시우','현우','소연']
) WITH ORDINALITY AS t(en, ko, n);

CREATE TEMP TABLE seed_family (rn int, en text, ko text);
INSERT INTO seed_family (rn, en, ko)
SELECT n - 1, en, ko FROM unnest(
  ARRAY['Kim','Lee','Park','Choi','Jung','Kang','Cho','Yoon','Jang','Lim'],
  ARRAY['김','이','박','최','정','강','조','윤','장','임']
) WITH ORDINALITY AS t(en, ko, n);

-- seedN keeps its email; its username becomes <given name>_N.
CREATE TEMP TABLE seed_people AS
SELECT u.id, n, g.en AS given_en, g.ko AS given_ko, f.en AS family_en, f.ko AS family_ko
FROM (SELECT id, substring(email FROM '^seed([0-9]+)@')::int AS n FROM users) u
JOIN seed_given g ON g.rn = 1 + u.n % 40
JOIN seed_family f ON f.rn = (u.n / 40) % 10;

UPDATE users u SET
  username = p.given_en || '_' || p.n,
  display_name = CASE WHEN p.given_ko IS NOT NULL AND p.n % 5 < 3 THEN p.family_ko || p.given_ko
                      ELSE initcap(p.given_en) || ' ' || p.family_en END
FROM seed_people p WHERE p.id = u.id;

CREATE TEMP TABLE seed_words (lang text, rn int, word text);
INSERT INTO seed_words (lang, rn, word)
SELECT 'en', n, w FROM unnest(ARRAY[
  'my','new','morning','routine','dance','practice','cover','with','day','easy','quick','food','recipe',
  'street','travel','seoul','cafe','coffee','study','workout','cat','dog','outfit','makeup','tutorial',
  'review','game','funny','sunset','beach','night','city','rain','music','guitar','piano','challenge',
  'tips','life','hack','art','drawing','skate','camping','hiking','baking','bread','ramen','kimchi',
  'busan','jeju','vlog','puppy','unboxing','haul','highlights','singing','korean','homemade','spicy']) WITH ORDINALITY AS t(w, n);
INSERT INTO seed_words (lang, rn, word)
SELECT 'ko', n, w FROM unnest(ARRAY[
  '오늘의','일상','브이로그','댄스','연습','커버','먹방','맛집','여행','서울','카페','커피','공부','운동',
  '고양이','강아지','코디','메이크업','리뷰','게임','노래','요리','레시피','캠핑','바다','야경','부산',
  '제주','라면','김치','빵','산책','주말','친구랑','처음으로','드디어','진짜','맛있는','귀여운','챌린지']) WITH ORDINALITY AS t(w, n);

-- Tags: every base word alone first (the common ones), then with a
-- suffix, then numbered: a long tail of about 4,000 tags.
CREATE TEMP TABLE seed_tags (id uuid, lang text, rn int, name text);
INSERT INTO seed_tags (id, lang, rn, name)
SELECT gen_random_uuid(), b.lang, row_number() OVER (PARTITION BY b.lang ORDER BY s.n, b.n), b.w || s.suffix
FROM (SELECT 'en' AS lang, n, w FROM unnest(ARRAY[
        'dance','kpop','food','mukbang','travel','seoul','cafe','ootd','makeup','cat','dog','puppy','fitness',
        'workout','study','recipe','cooking','baking','art','music','cover','guitar','game','funny','comedy',
        'vlog','daily','beach','sunset','camping','hiking','skate','fashion','beauty','challenge','trend',
        'korea','busan','jeju','ramen']) WITH ORDINALITY AS t(w, n)
      UNION ALL
      SELECT 'ko', n, w FROM unnest(ARRAY[
        '댄스','먹방','여행','일상','브이로그','맛집','카페','서울','고양이','강아지','운동','공부','요리',
        '코디','메이크업','챌린지','노래','캠핑','바다','데일리']) WITH ORDINALITY AS t(w, n)) b
CROSS JOIN (SELECT n, suffix FROM unnest(ARRAY['','challenge','tips','daily','vlog','lover','life','time','korea','official'])
              WITH ORDINALITY AS t(suffix, n)
            UNION ALL
            SELECT 10 + k, k::text FROM generate_series(1, 60) k) s;
CREATE INDEX ON seed_tags (lang, rn);

INSERT INTO hashtags (id, name, created_at)
SELECT id, name, now() - interval '60 days' FROM seed_tags;

CREATE TEMP TABLE seed_lang AS
SELECT lang, count(*)::int AS n FROM seed_words GROUP BY lang;
CREATE TEMP TABLE seed_taglang AS
SELECT lang, count(*)::int AS n FROM seed_tags GROUP BY lang;

CREATE TEMP TABLE seed_v AS
SELECT id, created_at, CASE WHEN random() < 0.3 THEN 'ko' ELSE 'en' END AS lang,
       1 + floor(random() * 3)::int AS ntags, 3 + floor(random() * 6)::int AS nwords
FROM videos;
ANALYZE seed_v;
ANALYZE seed_tags;
ANALYZE seed_words;

-- Picks skewed to the front of each list: rank = n * random()^k.
INSERT INTO video_hashtags (video_id, hashtag_id, created_at)
SELECT p.id, t.id, p.created_at
FROM (SELECT v.id, v.created_at, v.lang, 1 + floor(power(random(), 3) * tl.n)::int AS pick
        FROM seed_v v JOIN seed_taglang tl ON tl.lang = v.lang
        CROSS JOIN LATERAL generate_series(1, v.ntags) AS k) p
JOIN seed_tags t ON t.lang = p.lang AND t.rn = p.pick
ON CONFLICT DO NOTHING;

UPDATE hashtags h SET use_count = c.n
FROM (SELECT hashtag_id, count(*) AS n FROM video_hashtags GROUP BY hashtag_id) c
WHERE c.hashtag_id = h.id;

CREATE TEMP TABLE seed_vwords AS
SELECT p.id, string_agg(w.word, ' ' ORDER BY p.k) AS words
FROM (SELECT v.id, v.lang, k, 1 + floor(power(random(), 2) * sl.n)::int AS pick
        FROM seed_v v JOIN seed_lang sl ON sl.lang = v.lang
        CROSS JOIN LATERAL generate_series(1, v.nwords) AS k) p
JOIN seed_words w ON w.lang = p.lang AND w.rn = p.pick
GROUP BY p.id;

CREATE TEMP TABLE seed_vtags AS
SELECT vh.video_id AS id, string_agg('#' || h.name, ' ' ORDER BY h.name) AS tags
FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id
GROUP BY vh.video_id;

UPDATE videos v SET caption = w.words || coalesce(' ' || t.tags, '')
FROM seed_vwords w LEFT JOIN seed_vtags t ON t.id = w.id
WHERE w.id = v.id;

-- Searches: 10 per user over the last three days, drawn with a skew from
-- tags, words, two-word phrases and names.
CREATE TEMP TABLE seed_queries AS
SELECT row_number() OVER (ORDER BY grp, rn) AS rn, q FROM (
  SELECT 1 AS grp, rn, name AS q FROM seed_tags WHERE rn <= 60
  UNION ALL SELECT 2, rn, word FROM seed_words
  UNION ALL SELECT 3, a.rn * 100 + b.rn, a.word || ' ' || b.word
            FROM seed_words a JOIN seed_words b ON a.lang = b.lang AND a.rn < 12 AND b.rn < 12 AND a.rn <> b.rn
  UNION ALL SELECT 4, rn, en FROM seed_given
  UNION ALL SELECT 4, rn, ko FROM seed_given WHERE ko IS NOT NULL) q;
CREATE INDEX ON seed_queries (rn);

INSERT INTO search_history (id, user_id, query, normalized, created_at)
SELECT gen_random_uuid(), p.user_id, q.q, q.q, now() - random() * interval '3 days'
FROM (SELECT u.id AS user_id, 1 + floor(power(random(), 3) * (SELECT count(*) FROM seed_queries))::int AS pick
        FROM users u CROSS JOIN generate_series(1, 10) k) p
JOIN seed_queries q ON q.rn = p.pick
ON CONFLICT DO NOTHING;
`

// seedDiscovery is the social seed plus the text of seedDiscoverySQL.
//
// Keeping the GIN indexes of users and videos (trigrams, short_grams) up
// to date through some 300,000 row writes took most of the seeding time,
// so they are dropped first and built again from their own definitions at
// the end. The bulk updates leave the videos in no particular order on
// disk, where a table that grows by uploads keeps them roughly in upload
// order, which is what the newest-first scans of the feeds and of search
// read: the table is rewritten in that order. Then everything is vacuumed,
// as autovacuum would have, so that index-only scans need not visit the
// tables.
func seedDiscovery(ctx context.Context, pool *pgxpool.Pool) error {
	var gin []string // CREATE INDEX statements
	rows, err := pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = 'public' AND tablename IN ('users', 'videos') AND indexdef LIKE '% USING gin %'`)
	if err != nil {
		return err
	}
	var drop []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		drop, gin = append(drop, "DROP INDEX "+name), append(gin, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	steps := drop
	steps = append(steps, "seedSocial", seedDiscoverySQL,
		"CREATE INDEX seed_upload_order ON videos (created_at DESC, id DESC)",
		"CLUSTER videos USING seed_upload_order",
		"DROP INDEX seed_upload_order",
		"VACUUM (FULL) users",
		"VACUUM (FULL) hashtags")
	steps = append(steps, gin...)
	steps = append(steps, "VACUUM")
	for _, step := range steps {
		var err error
		if step == "seedSocial" {
			err = seedSocialSized(ctx, pool, discoverySeedSize)
		} else {
			_, err = pool.Exec(ctx, step)
		}
		if err != nil {
			return fmt.Errorf("%.40s: %w", step, err)
		}
	}
	return nil
}

// discoveryBench is the server over the discovery seed with its callers:
// viewer follows the 200 most prolific authors (as in BenchmarkFeedSeeded),
// and searchers are 256 other users, so that concurrent searches do not
// queue on one caller's search history row.
type discoveryBench struct {
	e         *testEnv
	srv       *httptest.Server
	client    *http.Client
	viewer    uuid.UUID
	token     string
	searchers []string // tokens
}

func newDiscoveryBench(b *testing.B) *discoveryBench {
	pool := dbtest.Seeded(b, "discovery20k", seedDiscovery)
	e := newEnvWithStore(b, db.NewStore(pool), func(c *api.Config) { c.SearchRateLimit = 1 << 30 })
	ctx := context.Background()
	d := &discoveryBench{e: e}
	if err := pool.QueryRow(ctx, "SELECT id FROM users WHERE email = 'seed42@example.com'").Scan(&d.viewer); err != nil {
		b.Fatal(err)
	}
	d.token = e.tokenFor(d.viewer)
	// The seed is kept between runs, so this is written to be repeatable.
	if _, err := pool.Exec(ctx, `INSERT INTO follows (id, follower_id, following_id)
		SELECT gen_random_uuid(), $1, user_id FROM (
			SELECT user_id FROM videos WHERE user_id <> $1 GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 200) a
		ON CONFLICT DO NOTHING`, d.viewer); err != nil {
		b.Fatal(err)
	}
	rows, err := pool.Query(ctx, "SELECT id FROM users WHERE id <> $1 ORDER BY email LIMIT 256", d.viewer)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		d.searchers = append(d.searchers, e.tokenFor(id))
	}
	rows.Close()
	// Keyword suggestions count the searches of the last 7 days. The
	// seed's are spread over the three days before it was built; once they
	// are more than a day older than that, they are spread over the last
	// three days again, so that the suggestions do not thin out as the
	// kept seed ages.
	if _, err := pool.Exec(ctx, `UPDATE search_history SET created_at = now() - random() * interval '3 days'
		WHERE (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at) FROM search_history) < now() - interval '60 hours'`); err != nil {
		b.Fatal(err)
	}
	// The keyword searchers (migration 00013) of those searches, as the api
	// would have recorded them: each user's once, on the day of the latest;
	// the insert's trigger fills the daily counts in one grouped statement.
	if _, err := pool.Exec(ctx, `TRUNCATE search_keyword_users, search_keyword_days;
		INSERT INTO search_keyword_users (user_id, normalized, day)
		SELECT user_id, normalized, (created_at AT TIME ZONE 'UTC')::date FROM search_history`); err != nil {
		b.Fatal(err)
	}
	// Autovacuum is off on this machine's server. Without this, the
	// planner would still believe follows and feed_inbox empty (rows=1 estimates: the
	// personalized candidates took 180 ms instead of 100 ms) and every run
	// would leave the searches' dead rows behind.
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) follows, feed_inbox, search_history, search_keyword_users, search_keyword_days"); err != nil {
		b.Fatal(err)
	}
	// The trending ranking, with a window wide enough for the kept seed.
	scores, err := e.store.TrendingScores(ctx, db.TrendingScoresParams{WindowHours: 24 * 365 * 10, Lim: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, len(scores))
	for i, r := range scores {
		ids[i] = r.ID
	}
	if err := trending.New(e.rdb).Publish(ctx, "discovery-bench", ids); err != nil {
		b.Fatal(err)
	}
	d.srv = httptest.NewServer(e.h)
	b.Cleanup(d.srv.Close)
	d.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients * 2}}
	return d
}

// get sends a GET as the caller with token, decodes a 200 answer into out
// and returns its header.
func (d *discoveryBench) get(path, token string, out any) (http.Header, error) {
	req, _ := http.NewRequest("GET", d.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return resp.Header, json.NewDecoder(resp.Body).Decode(out)
}

type feedPageBody struct {
	Videos []struct {
		ID string `json:"id"`
	} `json:"videos"`
	NextCursor *string `json:"next_cursor"`
	Algorithm  string  `json:"algorithm"`
}

// feedPage loads one full page of algorithm as the viewer.
func (d *discoveryBench) feedPage(path, algorithm string) (feedPageBody, error) {
	var page feedPageBody
	if _, err := d.get(path, d.token, &page); err != nil {
		return page, err
	}
	if len(page.Videos) != 20 || page.Algorithm != algorithm {
		return page, fmt.Errorf("GET %s: %d videos from %q", path, len(page.Videos), page.Algorithm)
	}
	return page, nil
}

// percentiles is the p50 and p99 of one measurement.
type percentiles struct{ p50, p99 time.Duration }

// measure is runClients that also hands the percentiles back, for the
// ratios against a baseline of the same run. Untimed, it first sends 4
// requests per client, so that the timed ones find warm connections with
// their statements prepared and planned.
func measure(b *testing.B, clients int, fn func(i int64) error) percentiles {
	var warm sync.WaitGroup
	for c := range clients {
		warm.Add(1)
		go func() {
			defer warm.Done()
			for k := range 4 {
				_ = fn(int64(c*4 + k))
			}
		}()
	}
	warm.Wait()
	var lat latencies
	runClients(b, clients, func(i int64) error {
		t0 := time.Now()
		err := fn(i)
		lat.add([]time.Duration{time.Since(t0)})
		return err
	})
	return percentiles{p50: lat.quantile(50), p99: lat.quantile(99)}
}

// reportRatio reports p50 and p99 of got as multiples of base's.
func reportRatio(b *testing.B, got, base percentiles, name string) {
	if base.p50 > 0 && base.p99 > 0 {
		b.ReportMetric(float64(got.p50)/float64(base.p50), "p50-x-"+name)
		b.ReportMetric(float64(got.p99)/float64(base.p99), "p99-x-"+name)
	}
}

// BenchmarkDiscoveryFeedPages times the first and the tenth page (20
// videos each, signed in) of every feed. The tenth page's cursor is reached
// by following next_cursor from the first page, untimed, until page 9
// hands it out; every timed request then asks for that same page. The
// trending and personalized cursors point into a stored ranking, which is
// kept for an hour: each timed answer must still be a full page of the
// right feed, or the benchmark fails. page=10 reports its percentiles as
// multiples of page=1's at the same concurrency.
func BenchmarkDiscoveryFeedPages(b *testing.B) {
	d := newDiscoveryBench(b)
	for _, algorithm := range []string{"latest", "following", "trending", "personalized"} {
		path := "/v1/videos/feed?page_size=20&algorithm=" + algorithm
		for _, clients := range discoveryClients {
			b.Run(fmt.Sprintf("algorithm=%s/clients=%d", algorithm, clients), func(b *testing.B) {
				var first percentiles
				b.Run("page=1", func(b *testing.B) {
					first = measure(b, clients, func(int64) error {
						_, err := d.feedPage(path, algorithm)
						return err
					})
				})
				b.Run("page=10", func(b *testing.B) {
					tenth := path + "&cursor=" + url.QueryEscape(d.tenthPageCursor(b, path, algorithm))
					got := measure(b, clients, func(int64) error {
						_, err := d.feedPage(tenth, algorithm)
						return err
					})
					reportRatio(b, got, first, "page1")
				})
			})
		}
	}
}

// tenthPageCursor follows next_cursor from the first page of a feed to the
// cursor of page 10, and checks that page 10 repeats no earlier video.
func (d *discoveryBench) tenthPageCursor(b *testing.B, path, algorithm string) string {
	seen := map[string]bool{}
	cursor := ""
	for n := 1; n <= 10; n++ {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		page, err := d.feedPage(p, algorithm)
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range page.Videos {
			if seen[v.ID] {
				b.Fatalf("%s: page %d repeats video %s", algorithm, n, v.ID)
			}
			seen[v.ID] = true
		}
		if n == 10 {
			break
		}
		if page.NextCursor == nil {
			b.Fatalf("%s ends at page %d", algorithm, n)
		}
		cursor = *page.NextCursor
	}
	return cursor
}

// discoverySearches are the searched queries: a common and a rarer word,
// Korean words of two and four syllables (a two-syllable word has no
// trigram inside it for pg_trgm to look up), names in both scripts, and
// what a user has typed so far for autocomplete. Each exists in the seed.
var discoverySearches = []struct {
	route, q string
	key      string // the answer's list that must not be empty
}{
	{"videos", "dance", "videos"},
	{"videos", "kimchi", "videos"},
	{"videos", "브이로그", "videos"},
	{"videos", "댄스", "videos"},
	{"users", "minji", "users"},
	{"users", "park", "users"},
	{"users", "민지", "users"},
	{"all", "dance", "videos"},
	{"all", "댄스", "videos"},
	{"autocomplete", "da", "suggestions"},
	{"autocomplete", "min", "suggestions"},
	{"autocomplete", "#da", "suggestions"},
	{"autocomplete", "@ji", "suggestions"},
	{"autocomplete", "댄", "suggestions"},
}

// BenchmarkDiscoverySearch times the search routes and autocomplete with
// the queries of discoverySearches, each request from one of 256 signed-in
// users in turn (a signed-in search is also written to the caller's
// history). The baseline, measured first at the same concurrency, is the
// profile read GET /v1/users/{id} of the other seeded benchmarks; each
// search reports its percentiles as multiples of the baseline's. /health
// shows the floor: what the harness, HTTP and the middleware cost.
//
// Autocomplete keeps the hashtag and keyword part of an answer in Redis
// for 30 s per prefix. cache=hit measures that (every request but the
// first of a prefix in 30 s); cache=miss deletes the entry before each
// request, which costs one more Redis call, and reports the share of
// requests that did miss (another client may have filled the entry in
// between).
func BenchmarkDiscoverySearch(b *testing.B) {
	d := newDiscoveryBench(b)
	database := d.e.store.Pool().Config().ConnConfig.Database
	for _, clients := range discoveryClients {
		b.Run(fmt.Sprintf("route=health/clients=%d", clients), func(b *testing.B) {
			measure(b, clients, func(int64) error {
				var out map[string]any
				_, err := d.get("/health", "", &out)
				return err
			})
		})
		var base percentiles
		b.Run(fmt.Sprintf("route=profile/clients=%d", clients), func(b *testing.B) {
			path := "/v1/users/" + d.viewer.String()
			base = measure(b, clients, func(i int64) error {
				var out map[string]any
				_, err := d.get(path, d.searchers[int(i)%len(d.searchers)], &out)
				return err
			})
		})
		for _, s := range discoverySearches {
			path := "/v1/search"
			if s.route != "all" {
				path += "/" + s.route
			}
			path += "?q=" + url.QueryEscape(s.q)
			var misses atomic.Int64
			check := func(token string) error {
				var out map[string]json.RawMessage
				header, err := d.get(path, token, &out)
				if err != nil {
					return err
				}
				var list []json.RawMessage
				if err := json.Unmarshal(out[s.key], &list); err != nil || len(list) == 0 {
					return fmt.Errorf("GET %s: no %s", path, s.key)
				}
				if header.Get("X-Cache") == "miss" {
					misses.Add(1)
				}
				return nil
			}
			run := func(b *testing.B, before func()) {
				if err := check(d.token); err != nil {
					b.Fatal(err)
				}
				got := measure(b, clients, func(i int64) error {
					before()
					return check(d.searchers[int(i)%len(d.searchers)])
				})
				reportRatio(b, got, base, "profile")
			}
			name := fmt.Sprintf("route=%s/q=%s/clients=%d", s.route, s.q, clients)
			if s.route != "autocomplete" || strings.HasPrefix(s.q, "@") {
				b.Run(name, func(b *testing.B) { run(b, func() {}) })
				continue
			}
			kind, prefix := "", s.q
			if rest, ok := strings.CutPrefix(s.q, "#"); ok {
				kind, prefix = "hashtag", rest
			}
			key := "lokiz:autocomplete:" + database + ":" + kind + ":" + strings.ToLower(prefix)
			b.Run(name+"/cache=hit", func(b *testing.B) { run(b, func() {}) })
			b.Run(name+"/cache=miss", func(b *testing.B) {
				misses.Store(0)
				run(b, func() { d.e.rdb.Del(context.Background(), key) })
				b.ReportMetric(float64(misses.Load())/float64(b.N+4*clients+1), "miss-share")
				if misses.Load() == 0 {
					b.Fatalf("no request missed the cache: is %s its key?", key)
				}
			})
		}
	}
}
