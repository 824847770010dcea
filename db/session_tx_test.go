package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestBanUserRevokesSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	banned := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	open := func(u db.User, b byte) db.Session {
		hash := make([]byte, 32)
		hash[0], hash[1] = b, byte(u.ID[15])
		s, err := store.CreateSession(ctx, db.NewSessionParams{UserID: u.ID, RefreshHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		return s
	}
	s1, s2, kept := open(banned, 1), open(banned, 2), open(other, 3)

	_, revoked, err := store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: banned.ID, Reason: "test"})
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{s1.ID, s2.ID}, revoked)
	for _, s := range []db.Session{s1, s2} {
		row, err := store.SessionAuth(ctx, db.SessionAuthParams{SessionID: s.ID, UserID: banned.ID})
		require.NoError(t, err)
		require.True(t, row.Revoked)
		require.False(t, row.IsActive)
	}
	row, err := store.SessionAuth(ctx, db.SessionAuthParams{SessionID: kept.ID, UserID: other.ID})
	require.NoError(t, err)
	require.False(t, row.Revoked, "other users' sessions go on")

	_, _, err = store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: uuid.New(), Reason: "test"})
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}
