package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
)

func TestForYouRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	viewer := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	_, err := store.Pool().Exec(ctx, "INSERT INTO follows (id, follower_id, following_id) VALUES (gen_random_uuid(), $1, $2)", viewer.ID, author.ID)
	require.NoError(t, err)
	video := db.NewID()
	_, err = store.Pool().Exec(ctx, `INSERT INTO videos (id, user_id, status, object_key, duration_seconds, created_at)
		VALUES ($1, $2, 'completed', 'videos/x.mp4', 2, $3)`, video, author.ID, time.Now())
	require.NoError(t, err)

	logger, _ := newLogger()
	ranking := trending.New(rdb)
	ranker := foryou.New(store, rdb, ranking)
	h := NewForYouHandler(ranker, logger)
	require.NoError(t, h.ProcessTask(ctx, tasks.NewForYouRefreshTask(viewer.ID)))
	snap, err := ranker.Latest(ctx, viewer.ID)
	require.NoError(t, err)
	require.Contains(t, snap, foryou.UserPrefix(viewer.ID))
	ids, _, err := ranking.Page(ctx, snap, 0, 10)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Equal(t, video, ids[0])

	// Someone with nothing to rank gets no ranking (the api then serves
	// trending), and no error.
	loner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	require.NoError(t, h.ProcessTask(ctx, tasks.NewForYouRefreshTask(loner.ID)))
	snap, err = ranker.Latest(ctx, loner.ID)
	require.NoError(t, err)
	require.Empty(t, snap)
}
