package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// TestReadOnlyPostsAreRoutes: every POST that does not pin its caller is a
// route of the table (a typo would pin callers for nothing).
func TestReadOnlyPostsAreRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	posts := map[string]bool{}
	for _, r := range e.srv.Routes() {
		if r.Method == http.MethodPost {
			posts[r.Path] = true
		}
	}
	for path := range api.ReadOnlyPosts {
		require.True(t, posts[path], path)
	}
}

// TestReadYourWritesPins: with a read replica (here a second pool on the
// same database), a signed-in caller's write pins their reads to the
// primary for the window, before the handler answers; reads (a batch
// lookup sent as POST among them) do not; a routed search that records
// history does. Without a replica nothing is
// written to Redis.
func TestReadYourWritesPins(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewDB(t)
	rp, err := db.OpenReplicaPool(url, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(rp.Close)
	r := db.NewReplica(context.Background(), pool, rp, db.ReplicaOptions{})
	require.Equal(t, db.ReplicaUp, r.State())
	const window = 3 * time.Second
	e := newEnvWithStore(t, db.NewStoreWithReplica(r), func(c *api.Config) { c.ReadAfterWrite = window })
	ctx := context.Background()
	token, id := e.register("pinned_pat")
	pin := api.ReadPinPrefix + id
	ttl := func() time.Duration {
		d, err := e.rdb.PTTL(ctx, pin).Result()
		require.NoError(t, err)
		return d
	}
	require.Equal(t, time.Duration(-2), ttl(), "registering (no token yet) pins nothing")

	res := e.do(req{method: "GET", path: "/v1/users/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status)
	res = e.do(req{method: "POST", path: "/v1/users/batch-info", token: token, body: map[string]any{"user_ids": []string{id}}})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, time.Duration(-2), ttl(), "reads pin nothing")
	before := r.Reads(db.ReadReplica)
	res = e.do(req{method: "GET", path: "/v1/users/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Greater(t, r.Reads(db.ReadReplica), before, "a profile is read from the replica")

	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "Pat"}})
	require.Equal(t, http.StatusOK, res.Status)
	require.InDelta(t, float64(window), float64(ttl()), float64(time.Second), "pinned for the window")
	pinned := r.Reads(db.ReadPinned)
	res = e.do(req{method: "GET", path: "/v1/users/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "Pat", res.Body["display_name"])
	require.Greater(t, r.Reads(db.ReadPinned), pinned, "the writer's profile read went to the primary")

	// A search that records the caller's history pins them too.
	other, otherID := e.register("searcher_sam")
	res = e.do(req{method: "GET", path: "/v1/search/users?q=pat", token: other})
	require.Equal(t, http.StatusOK, res.Status)
	d, err := e.rdb.PTTL(ctx, api.ReadPinPrefix+otherID).Result()
	require.NoError(t, err)
	require.Positive(t, d)

	// Without a replica: no pin.
	plain := newEnv(t, func(c *api.Config) { c.ReadAfterWrite = window })
	token, id = plain.register("plain_pat")
	res = plain.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "Pat"}})
	require.Equal(t, http.StatusOK, res.Status)
	n, err := plain.rdb.Exists(ctx, api.ReadPinPrefix+id).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}
