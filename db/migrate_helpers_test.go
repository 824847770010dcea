package db_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// migratedTo is where a migration test starts: an empty database migrated
// up to version. It returns the connection, the goose provider that moves
// the database further (UpTo, DownTo) and an exec that fails t on an error.
func migratedTo(t *testing.T, version int64) (*sql.DB, *goose.Provider, func(q string, args ...any)) {
	t.Helper()
	ctx := context.Background()
	conn, err := sql.Open("pgx", dbtest.NewEmptyDB(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, conn, db.Migrations(), goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.UpTo(ctx, version)
	require.NoError(t, err)
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := conn.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	return conn, p, exec
}
