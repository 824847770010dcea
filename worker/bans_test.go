package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
)

// TestBansExpireLiftsEndedBans: through the worker's mux, an ended timed
// ban is lifted with its audit row; a running one and one without end stay.
func TestBansExpireLiftsEndedBans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	logger, logs := newLogger()
	rec := &taskLog{}
	mux := NewMux(Deps{Store: store, Logger: logger, Tasks: tasks.NewClient(rec)})
	admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	actor := db.Actor{AdminID: &admin.ID}
	ban := func(until *time.Time) db.User {
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		_, _, err := store.AdminBanUser(ctx, actor, db.BanParams{UserID: u.ID, Reason: "r", Until: until})
		require.NoError(t, err)
		return u
	}
	soon, later := time.Now().Add(time.Second), time.Now().Add(time.Hour)
	ended, running, forever := ban(&soon), ban(&later), ban(nil)
	time.Sleep(time.Until(soon) + 20*time.Millisecond)

	require.NoError(t, mux.ProcessTask(ctx, tasks.NewBansExpireTask()))

	for _, c := range []struct {
		u      db.User
		active bool
	}{{ended, true}, {running, false}, {forever, false}} {
		u, err := store.UserByID(ctx, c.u.ID)
		require.NoError(t, err)
		require.Equal(t, c.active, u.IsActive, u.Username)
	}
	rows, err := store.AuditList(ctx, db.AuditListParams{TargetID: &ended.ID, Lim: 10})
	require.NoError(t, err)
	require.Equal(t, db.AuditUserUnban, rows[0].Action)
	require.Nil(t, rows[0].AdminID)
	require.Len(t, logs.Lines(t, "expired bans lifted"), 1)
	// The lifted user's media comes back (worker/video_media.go).
	synced := rec.take(tasks.TypeUserMediaSync)
	require.Len(t, synced, 1)
	p, err := tasks.ParseMediaSyncPayload(synced[0])
	require.NoError(t, err)
	require.Equal(t, ended.ID, p.UserID)

	require.NoError(t, mux.ProcessTask(ctx, tasks.NewBansExpireTask()), "a second run finds nothing")
	require.Len(t, logs.Lines(t, "expired bans lifted"), 1)
	require.Empty(t, rec.take(tasks.TypeUserMediaSync))
}
