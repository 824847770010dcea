package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// TestIsUnavailableKinds lists what counts as "PostgreSQL is not there right
// now" (a 503 for the api) and what does not (a fault of the request or of
// our code: 4xx or 500).
func TestIsUnavailableKinds(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("like video: %w", err) }
	for _, err := range []error{
		&pgconn.PgError{Code: "57P01"}, &pgconn.PgError{Code: "57P03"}, &pgconn.PgError{Code: "08006"},
		pgconn.ErrConnClosed, io.ErrUnexpectedEOF, syscall.EPIPE, syscall.ECONNRESET, syscall.ECONNREFUSED,
	} {
		require.True(t, db.IsUnavailable(wrap(err)), "%v", err)
	}
	for _, err := range []error{
		nil, pgx.ErrNoRows, &pgconn.PgError{Code: "23505"}, &pgconn.PgError{Code: "40001"},
		context.Canceled, context.DeadlineExceeded, errors.New("boom"),
	} {
		require.False(t, db.IsUnavailable(wrap(err)), "%v", err)
	}
}

// TestIsUnavailableWhenTheBackendDies kills the server process behind a
// pooled connection, as a PostgreSQL restart does to every connection, and
// checks that whatever the next statement on it fails with is classed as
// unavailable, not as an internal error.
func TestIsUnavailableWhenTheBackendDies(t *testing.T) {
	pool, _ := dbtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, killer := range []string{"terminate when idle", "terminate in a transaction"} {
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		// Released however the check ends: a connection held at a failure
		// would keep the test database from being dropped.
		t.Cleanup(conn.Release)
		var pid int32
		require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		if killer == "terminate in a transaction" {
			// Inside a transaction, as InTx runs most writes.
			_, err = conn.Exec(ctx, "BEGIN")
			require.NoError(t, err)
		}
		var ok bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
		require.True(t, ok)
		require.Eventually(t, func() bool {
			var n int
			return pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n) == nil && n == 0
		}, 10*time.Second, 20*time.Millisecond)
		// Two statements: the first may read the server's goodbye (57P01),
		// the second finds the connection closed.
		for i := range 2 {
			_, err = conn.Exec(ctx, "SELECT 1")
			require.Error(t, err)
			require.True(t, db.IsUnavailable(err), "%s, statement %d: %T %v", killer, i+1, err, err)
		}
	}
}
