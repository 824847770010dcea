package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

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
	dbtest.Follow(t, store, dbtest.FollowOpts{Follower: viewer.ID, Following: author.ID})
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: author.ID, DurationSeconds: 2}).ID

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
