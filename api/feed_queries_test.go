package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// queryCounter is a pgx tracer that counts the statements sent.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestFeedQueriesPerPage: a signed-in page of a feed, with its authors,
// hashtags and the caller's is_liked, is_bookmarked and is_following_author,
// costs the same number of statements for 2 videos as for 20.
func TestFeedQueriesPerPage(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := newEnvWithStore(t, db.NewStore(pool))

	token, _ := e.register("qpp_viewer")
	now := time.Now()
	for a := range 10 {
		authorToken, author := e.register(fmt.Sprintf("qpp_author%d", a))
		require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
		for i := range 3 {
			id := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-time.Duration(a*3+i) * time.Minute)})
			res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: authorToken,
				body: map[string]any{"caption": fmt.Sprintf("clip %d #qpp%d #tag%d", i, a, i)}})
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
			if i == 0 {
				require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + id, token: token}).Status)
				require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + id, token: token}).Status)
			}
		}
	}

	for _, algorithm := range []string{"latest", "following"} {
		count := func(size int) int64 {
			before := counter.n.Load()
			res := e.do(req{method: "GET", path: fmt.Sprintf("/v1/videos/feed?algorithm=%s&page_size=%d", algorithm, size), token: token})
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
			require.Len(t, videoIDs(res), size)
			return counter.n.Load() - before
		}
		small, large := count(2), count(20)
		require.Equal(t, small, large, "%s: statements for a page of 2 and of 20", algorithm)
		require.LessOrEqual(t, large, int64(4), "%s: the caller, the page, its hashtags and the caller's flags", algorithm)
	}
}
