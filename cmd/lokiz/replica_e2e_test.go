package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/internal/testproc"
)

// TestReadReplica runs `lokiz api` over a private primary and a real
// streaming replica of it (pg_basebackup), and proves with the replica's
// replay paused (a change on the primary is then invisible on the replica)
// that: (a) feeds, search, profiles and lists are read from the replica;
// (b) a caller who just wrote reads the primary for the read-your-writes
// window while others read the replica, and the replica again after it;
// (c) with the replica stopped every read still answers 200 (from the
// primary), the metrics say it is down, and reads return to it once it is
// back; (d) nothing is written on the replica: no statement met its
// read-only refusal, while a search that records history wrote on the
// primary.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary, replica, store := primaryWithReplica(t)

	apiAddr, metricsAddr := freeAddr(t), freeAddr(t)
	const window = 2 * time.Second
	logs := &testkit.LogBuffer{}
	c := runRoleForTest(t, map[string]string{
		"LOKIZ_ENV": "development", "DATABASE_URL": primary.URL("lokiz"), "DATABASE_READ_URL": replica.URL("lokiz"),
		"DATABASE_READ_AFTER_WRITE": window.String(), "DATABASE_READ_CHECK_INTERVAL": "200ms",
		// No lag bound: the test pauses replay and reads the old view on
		// purpose (TestReadReplicaLagBound covers the bound).
		"DATABASE_READ_MAX_LAG": "0",
		"REDIS_URL":             redisURL(), "HTTP_ADDR": apiAddr, "PUBLIC_BASE_URL": "http://" + apiAddr, "METRICS_ADDR": metricsAddr,
		"SECRET_KEY": strings.Repeat("r", 40), "BCRYPT_COST": "4", "LOG_FORMAT": "json", "STORAGE_DIR": t.TempDir(),
		// Anonymous first pages are not cached: every read reaches Postgres.
		"SHUTDOWN_TIMEOUT": "5s", "FEED_CACHE_TTL": "0",
	}, "api", logs)
	metric := func(name string) float64 { return scrapeMetric(t, "http://"+metricsAddr+"/metrics", name) }
	replicaReads := func() float64 {
		return metric(`lokiz_db_routed_reads_total{reason="replica",target="replica"}`)
	}
	require.Equal(t, 1.0, metric("lokiz_db_replica_up"))

	aliceToken, aliceID := c.register("alice_rr")
	bobToken, _ := c.register("bob_rr")
	alice := uuid.MustParse(aliceID)
	first := dbtest.Video(t, store, dbtest.VideoOpts{Owner: alice, NoMedia: true, Caption: "firstclip"}).ID.String()
	testproc.WaitReplayed(t, primary, replica)
	testproc.SetReplay(t, replica, false)

	// (a) Changes made on the primary while replay is paused are missing
	// from every replica-allowed read.
	second := dbtest.Video(t, store, dbtest.VideoOpts{Owner: alice, NoMedia: true, Caption: "secondclip"}).ID.String()
	renamed := "Alice Renamed"
	dbtest.SetUser(t, store, alice, dbtest.UserChange{DisplayName: &renamed})
	carol := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.Follow(t, store, dbtest.FollowOpts{Follower: carol.ID, Following: alice})
	before := replicaReads()
	require.Equal(t, []string{first}, videoIDs(t, c, "/v1/videos", ""), "the latest feed comes from the replica")
	require.Equal(t, []string{first}, videoIDs(t, c, "/v1/users/"+aliceID+"/videos", ""), "a profile's videos too")
	require.Empty(t, videoIDs(t, c, "/v1/search/videos?q=secondclip", ""), "search too")
	require.NotEqual(t, renamed, profileName(t, c, aliceID, ""), "the profile too")
	status, out := c.call("GET", "/v1/follows/users/"+aliceID+"/followers", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, out["followers"], "and the lists: %v", out)
	require.Greater(t, replicaReads(), before, "the reads were counted as the replica's")
	// The primary has all of it: a route that is not replica-allowed
	// (a video by id) sees the new video.
	status, _ = c.call("GET", "/v1/videos/"+second, "", nil)
	require.Equal(t, http.StatusOK, status)

	// (b) Read-your-writes: alice changes her profile through the api; she
	// reads it back from the primary, bob still gets the replica's view.
	status, out = c.call("PATCH", "/v1/users/me", aliceToken, map[string]any{"display_name": "Alice Own"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	pinnedBefore := metric(`lokiz_db_routed_reads_total{reason="read_your_writes",target="primary"}`)
	require.Equal(t, "Alice Own", profileName(t, c, aliceID, aliceToken), "the writer reads her change")
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", aliceToken), "and the primary's feed")
	require.Greater(t, metric(`lokiz_db_routed_reads_total{reason="read_your_writes",target="primary"}`), pinnedBefore)
	require.NotEqual(t, "Alice Own", profileName(t, c, aliceID, bobToken), "another caller reads the replica")
	time.Sleep(window + 200*time.Millisecond)
	require.NotEqual(t, "Alice Own", profileName(t, c, aliceID, aliceToken), "after the window the writer reads the replica again")

	// (d) A signed-in search records the query: a write, on the primary,
	// which also pins bob's reads.
	status, _ = c.call("GET", "/v1/search/videos?q=firstclip", bobToken, nil)
	require.Equal(t, http.StatusOK, status)
	var remembered int
	require.NoError(t, store.Pool().QueryRow(ctx, "SELECT count(*) FROM search_history WHERE query = 'firstclip'").Scan(&remembered))
	require.Equal(t, 1, remembered, "the search was remembered on the primary")
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", bobToken), "bob, who just wrote, reads the primary")

	testproc.SetReplay(t, replica, true)
	testproc.WaitReplayed(t, primary, replica)
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""), "the replica caught up")

	// (c) The replica stops: every read answers 200 at once (a failed
	// replica statement runs again on the primary), and the health check
	// marks it down.
	require.NoError(t, replica.Stop())
	deadline := time.Now().Add(time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""), "read %d with the replica stopped", n)
		require.Equal(t, "Alice Own", profileName(t, c, aliceID, ""))
	}
	require.Eventually(t, func() bool { return metric("lokiz_db_replica_up") == 0 }, 5*time.Second, 50*time.Millisecond)
	downBefore := metric(`lokiz_db_routed_reads_total{reason="replica_down",target="primary"}`)
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""))
	require.Greater(t, metric(`lokiz_db_routed_reads_total{reason="replica_down",target="primary"}`), downBefore)
	require.GreaterOrEqual(t, logs.Count("read replica down: reads go to the primary"), 1)

	// Back: reads return to the replica within the check interval.
	replica.Start(t)
	require.Eventually(t, func() bool { return metric("lokiz_db_replica_up") == 1 }, 30*time.Second, 50*time.Millisecond)
	testproc.WaitReplayed(t, primary, replica)
	testproc.SetReplay(t, replica, false)
	third := dbtest.Video(t, store, dbtest.VideoOpts{Owner: alice, NoMedia: true}).ID.String()
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""), "the feed is the replica's again")
	status, _ = c.call("GET", "/v1/videos/"+third, "", nil)
	require.Equal(t, http.StatusOK, status)
	testproc.SetReplay(t, replica, true)

	// (d) No statement was refused as a write by the replica.
	require.Zero(t, logs.Count("a write statement was sent to the read replica; retried on the primary"), "logs:\n%s", logs)
	require.Greater(t, metric(`lokiz_db_routed_reads_total{reason="write",target="primary"}`), 0.0)
}

// TestReadReplicaLagBound: with DATABASE_READ_MAX_LAG set, a replica whose
// replay stopped is taken out of reads once its lag passes the bound (the
// primary's newer rows show), and back in once it has caught up.
func TestReadReplicaLagBound(t *testing.T) {
	t.Parallel()
	primary, replica, store := primaryWithReplica(t)

	apiAddr, metricsAddr := freeAddr(t), freeAddr(t)
	c := runRoleForTest(t, map[string]string{
		"LOKIZ_ENV": "development", "DATABASE_URL": primary.URL("lokiz"), "DATABASE_READ_URL": replica.URL("lokiz"),
		"DATABASE_READ_AFTER_WRITE": "4s", "DATABASE_READ_CHECK_INTERVAL": "200ms", "DATABASE_READ_MAX_LAG": "3s",
		"REDIS_URL": redisURL(), "HTTP_ADDR": apiAddr, "PUBLIC_BASE_URL": "http://" + apiAddr, "METRICS_ADDR": metricsAddr,
		"SECRET_KEY": strings.Repeat("l", 40), "BCRYPT_COST": "4", "LOG_FORMAT": "json", "STORAGE_DIR": t.TempDir(),
		"SHUTDOWN_TIMEOUT": "5s", "FEED_CACHE_TTL": "0",
	}, "api", &testkit.LogBuffer{})
	metric := func(name string) float64 { return scrapeMetric(t, "http://"+metricsAddr+"/metrics", name) }
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	first := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID, NoMedia: true}).ID.String()
	testproc.WaitReplayed(t, primary, replica)
	require.Eventually(t, func() bool { return metric("lokiz_db_replica_up") == 1 }, 10*time.Second, 50*time.Millisecond)

	// A fresh commit replayed just before the pause: the lag (the age of
	// the last replayed commit) starts near zero.
	dbtest.CreateUser(t, store, dbtest.UserOpts{})
	testproc.WaitReplayed(t, primary, replica)
	testproc.SetReplay(t, replica, false)
	second := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID, NoMedia: true}).ID.String()
	require.Equal(t, []string{first}, videoIDs(t, c, "/v1/videos", ""), "within the bound the replica serves")
	require.Eventually(t, func() bool { return metric("lokiz_db_replica_up") == 0 }, 15*time.Second, 50*time.Millisecond,
		"the lag passes 3s")
	require.Greater(t, metric("lokiz_db_replica_lag_seconds"), 3.0)
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""), "a lagging replica serves no reads")
	require.Greater(t, metric(`lokiz_db_routed_reads_total{reason="replica_lagging",target="primary"}`), 0.0)

	testproc.SetReplay(t, replica, true)
	require.Eventually(t, func() bool { return metric("lokiz_db_replica_up") == 1 }, 10*time.Second, 50*time.Millisecond)
	before := metric(`lokiz_db_routed_reads_total{reason="replica",target="replica"}`)
	require.Equal(t, []string{second, first}, videoIDs(t, c, "/v1/videos", ""))
	require.Greater(t, metric(`lokiz_db_routed_reads_total{reason="replica",target="replica"}`), before)
}

// videoIDs are the ids of the videos a list route answers, in order.
func videoIDs(t *testing.T, c *devClient, path, token string) []string {
	t.Helper()
	status, out := c.call("GET", path, token, nil)
	require.Equal(t, http.StatusOK, status, "%s: %v", path, out)
	ids := []string{}
	list, _ := out["videos"].([]any)
	for _, v := range list {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	return ids
}

// profileName is a profile's display name as caller (token) sees it.
func profileName(t *testing.T, c *devClient, id, token string) string {
	t.Helper()
	status, out := c.call("GET", "/v1/users/"+id, token, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	name, _ := out["display_name"].(string)
	return name
}

// scrapeMetric reads one sample (name with its labels, as the exposition
// format writes it) from a Prometheus endpoint; -1 when absent.
func scrapeMetric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			require.NoError(t, err)
			return v
		}
	}
	return -1
}

// primaryWithReplica starts a private PostgreSQL with a migrated "lokiz"
// database and a streaming replica of it (pg_basebackup), and returns both
// with a store on the primary.
func primaryWithReplica(t *testing.T) (primary, replica *testproc.Postgres, store *db.Store) {
	t.Helper()
	ctx := context.Background()
	primary = testproc.StartPostgres(t)
	pc, err := pgx.Connect(ctx, primary.URL("postgres"))
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "CREATE DATABASE lokiz")
	require.NoError(t, err)
	require.NoError(t, pc.Close(ctx))
	pool, err := db.Open(ctx, primary.URL("lokiz"), db.PoolOptions{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = db.Migrate(ctx, pool)
	require.NoError(t, err)
	return primary, testproc.StartReplica(t, primary), db.NewStore(pool)
}
