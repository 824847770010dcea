package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestAdminCommand: create (generated and given password), grant, revoke,
// each with its audit row whose actor is none; bad usage exits 2.
func TestAdminCommand(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewEmptyDB(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL(), "SECRET_KEY": strings.Repeat("s", 40),
		"STORAGE_DIR": t.TempDir(), "BCRYPT_COST": "4", "LOKIZ_ENV": "development"}
	code, out := runBinary(t, env, "migrate", "up")
	require.Equal(t, 0, code, out)

	code, out = runBinary(t, env, "admin", "create", "root_one", "-email", "root@example.com")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "created admin root_one <root@example.com>")
	require.Contains(t, out, "password (shown once): ")

	withPassword := map[string]string{"LOKIZ_ADMIN_PASSWORD": "a-long-admin-password"}
	for k, v := range env {
		withPassword[k] = v
	}
	code, out = runBinary(t, withPassword, "admin", "create", "root_two")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "shown once", "a given password is not printed")
	require.NotContains(t, out, "a-long-admin-password")
	code, out = runBinary(t, env, "admin", "create", "root_two")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "lokiz admin grant root_two")

	code, out = runBinary(t, env, "admin", "revoke", "root_two")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "root_two is now user")
	code, out = runBinary(t, env, "admin", "grant", "root_two")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "root_two is now admin")
	code, out = runBinary(t, env, "admin", "grant", "root_two")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "already admin")
	code, out = runBinary(t, env, "admin", "grant", "nobody_at_all")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "not found")

	for _, args := range [][]string{{"admin"}, {"admin", "promote", "x"}, {"admin", "grant"}, {"admin", "grant", "a", "b"}} {
		code, _ = runBinary(t, env, args...)
		require.Equal(t, 2, code, args)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var role string
	require.NoError(t, conn.QueryRow(ctx, "SELECT role FROM users WHERE username = 'root_two'").Scan(&role))
	require.Equal(t, "admin", role)
	rows, err := conn.Query(ctx, `SELECT a.action FROM admin_audit_log a JOIN users u ON u.id = a.target_id
		WHERE a.admin_id IS NULL ORDER BY a.created_at, a.id`)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"admin.create", "admin.create", "role.revoke", "role.grant"}, actions)
}
