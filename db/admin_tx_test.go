package db_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func auditRows(t *testing.T, store *db.Store, target uuid.UUID) []db.AdminAuditLog {
	t.Helper()
	rows, err := store.AuditList(context.Background(), db.AuditListParams{TargetID: &target, Lim: 100})
	require.NoError(t, err)
	return rows
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u, err := store.CreateAdmin(ctx, db.RegisterUserParams{Username: "boss", Email: "boss@example.com", HashedPassword: "x"})
	require.NoError(t, err)
	require.Equal(t, lokiz.RoleAdmin, u.Role)
	rows := auditRows(t, store, u.ID)
	require.Len(t, rows, 1)
	require.Equal(t, db.AuditAdminCreate, rows[0].Action)
	require.Nil(t, rows[0].AdminID, "the command line has no admin")

	for _, stmt := range []string{
		"UPDATE admin_audit_log SET reason = 'rewritten'",
		"DELETE FROM admin_audit_log",
		"TRUNCATE admin_audit_log",
	} {
		_, err := store.Pool().Exec(ctx, stmt)
		require.ErrorContains(t, err, "append-only", stmt)
	}
	require.Len(t, auditRows(t, store, u.ID), 1)
}

func TestSetRoleByUsernameAudits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	got, changed, err := store.SetRoleByUsername(ctx, u.Username, lokiz.RoleAdmin)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, lokiz.RoleAdmin, got.Role)
	_, changed, err = store.SetRoleByUsername(ctx, u.Username, lokiz.RoleAdmin)
	require.NoError(t, err)
	require.False(t, changed, "granting twice changes nothing")
	_, changed, err = store.SetRoleByUsername(ctx, u.Username, lokiz.RoleUser)
	require.NoError(t, err)
	require.True(t, changed)

	rows := auditRows(t, store, u.ID)
	require.Len(t, rows, 2)
	require.Equal(t, db.AuditRoleRevoke, rows[0].Action)
	require.Equal(t, db.AuditRoleGrant, rows[1].Action)
	require.JSONEq(t, `{"role":"user"}`, string(rows[1].Before))

	_, _, err = store.SetRoleByUsername(ctx, "nobody_here", lokiz.RoleAdmin)
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}

func TestAdminBanAndUnban(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v := dbtest.Video(t, store, dbtest.VideoOpts{Owner: user.ID})
	sess, err := store.CreateSession(ctx, db.NewSessionParams{UserID: user.ID, RefreshHash: make([]byte, 32), ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	actor := db.Actor{AdminID: &admin.ID, RequestID: "req-1"}

	_, _, err = store.AdminBanUser(ctx, actor, db.BanParams{UserID: admin.ID, Reason: "x"})
	require.ErrorIs(t, err, db.ErrBanSelf)
	_, _, err = store.AdminBanUser(ctx, actor, db.BanParams{UserID: other.ID, Reason: "x"})
	require.ErrorIs(t, err, db.ErrBanAdmin)
	o, err := store.UserByID(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, o.IsActive, "a refused ban changes nothing")
	_, _, err = store.AdminBanUser(ctx, actor, db.BanParams{UserID: uuid.New(), Reason: "x"})
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))

	until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	banned, revoked, err := store.AdminBanUser(ctx, actor, db.BanParams{UserID: user.ID, Reason: "spam", Until: &until})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{sess.ID}, revoked)
	require.False(t, banned.IsActive)
	require.Equal(t, "spam", *banned.BanReason)
	require.True(t, banned.BannedUntil.Equal(until))
	vv, err := store.VideoGetByID(ctx, v.ID)
	require.NoError(t, err)
	require.False(t, vv.AuthorActive, "the one rule hides the banned author's videos")
	_, _, err = store.AdminBanUser(ctx, actor, db.BanParams{UserID: user.ID, Reason: "again"})
	require.ErrorIs(t, err, db.ErrAlreadyBanned)

	// Not over yet: the lift leaves it.
	lifted, err := store.LiftExpiredBan(ctx, user.ID, time.Now())
	require.NoError(t, err)
	require.False(t, lifted)

	rows := auditRows(t, store, user.ID)
	require.Len(t, rows, 1)
	require.Equal(t, db.AuditUserBan, rows[0].Action)
	require.Equal(t, admin.ID, *rows[0].AdminID)
	require.Equal(t, "req-1", *rows[0].RequestID)
	require.Equal(t, "spam", *rows[0].Reason)
	var before, after map[string]any
	require.NoError(t, json.Unmarshal(rows[0].Before, &before))
	require.NoError(t, json.Unmarshal(rows[0].After, &after))
	require.Equal(t, true, before["is_active"])
	require.Equal(t, false, after["is_active"])

	unbanned, err := store.AdminUnbanUser(ctx, actor, user.ID, "appeal")
	require.NoError(t, err)
	require.True(t, unbanned.IsActive)
	require.Nil(t, unbanned.BannedAt)
	vv, err = store.VideoGetByID(ctx, v.ID)
	require.NoError(t, err)
	require.True(t, vv.AuthorActive)
	_, err = store.AdminUnbanUser(ctx, actor, user.ID, "twice")
	require.ErrorIs(t, err, db.ErrNotBanned)
	require.Len(t, auditRows(t, store, user.ID), 2)
}

func TestExpiredBansLiftThemselves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	timed := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	forever := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	actor := db.Actor{AdminID: &admin.ID}
	until := time.Now().Add(time.Minute)
	_, _, err := store.AdminBanUser(ctx, actor, db.BanParams{UserID: timed.ID, Reason: "cool off", Until: &until})
	require.NoError(t, err)
	_, _, err = store.AdminBanUser(ctx, actor, db.BanParams{UserID: forever.ID, Reason: "gone"})
	require.NoError(t, err)

	n, err := store.LiftExpiredBans(ctx, time.Now(), 100)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = store.LiftExpiredBans(ctx, until.Add(time.Second), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	u, err := store.UserByID(ctx, timed.ID)
	require.NoError(t, err)
	require.True(t, u.IsActive)
	f, err := store.UserByID(ctx, forever.ID)
	require.NoError(t, err)
	require.False(t, f.IsActive, "a ban without end stays")
	rows := auditRows(t, store, timed.ID)
	require.Len(t, rows, 2)
	require.Equal(t, db.AuditUserUnban, rows[0].Action)
	require.Nil(t, rows[0].AdminID)
	require.Equal(t, "ban expired", *rows[0].Reason)
}

func TestAdminRemoveAndRestoreVideo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID})
	processing := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID, Status: lokiz.VideoProcessing})
	actor := db.Actor{AdminID: &admin.ID}

	_, _, err := store.AdminRemoveVideo(ctx, actor, processing.ID, "x")
	require.ErrorIs(t, err, db.ErrNotRemovable)
	_, _, err = store.AdminRemoveVideo(ctx, actor, uuid.New(), "x")
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	_, err = store.AdminRestoreVideo(ctx, actor, v.ID, "x")
	require.ErrorIs(t, err, db.ErrNotRemoved)

	removed, note, err := store.AdminRemoveVideo(ctx, actor, v.ID, "copyright")
	require.NoError(t, err)
	require.Equal(t, lokiz.VideoRemoved, removed.Status)
	require.NotNil(t, note, "the owner's notification")
	require.NotNil(t, removed.RemovedAt)
	_, _, err = store.AdminRemoveVideo(ctx, actor, v.ID, "x")
	require.ErrorIs(t, err, db.ErrAlreadyRemoved)

	var msg string
	require.NoError(t, store.Pool().QueryRow(ctx,
		"SELECT message FROM notifications WHERE user_id = $1 AND type = 'system' AND video_id = $2", owner.ID, v.ID).Scan(&msg))
	require.Contains(t, msg, "copyright")

	restored, err := store.AdminRestoreVideo(ctx, actor, v.ID, "counter-notice")
	require.NoError(t, err)
	require.Equal(t, lokiz.VideoCompleted, restored.Status)
	require.Nil(t, restored.RemovedAt)
	rows := auditRows(t, store, v.ID)
	require.Len(t, rows, 2)
	require.Equal(t, db.AuditVideoRestore, rows[0].Action)
	require.Equal(t, db.AuditVideoRemove, rows[1].Action)
	require.Equal(t, db.AuditTargetVideo, rows[1].TargetType)

	// Removed again after the restore: a new removal, a new notification.
	_, again, err := store.AdminRemoveVideo(ctx, actor, v.ID, "again")
	require.NoError(t, err)
	require.NotNil(t, again)
	require.NotEqual(t, *note, *again)
}
