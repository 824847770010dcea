package db_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	neturl "net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// TestIsWrite: the words that send a statement to the primary, and the
// look-alikes that do not.
func TestIsWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sql  string
		want bool
	}{
		{"Select", "SELECT id, updated_at, deleted_at FROM videos WHERE is_public", false},
		{"NameInComment", "-- name: VideoUpdate :one\nSELECT 1", false},
		{"Insert", "INSERT INTO likes (user_id) VALUES ($1) RETURNING id", true},
		{"LowerCaseUpdate", "update users set bio = $2 where id = $1 returning *", true},
		{"DeleteInCTE", "WITH gone AS (DELETE FROM follows WHERE id = $1 RETURNING id) SELECT count(*) FROM gone", true},
		{"ForUpdate", "SELECT credits FROM users WHERE id = $1 FOR UPDATE", true},
		{"ForShare", "SELECT 1 FROM users WHERE id = $1 FOR SHARE", true},
		{"ForNoKeyUpdate", "SELECT 1 FROM users FOR NO KEY UPDATE", true},
		{"Nextval", "SELECT nextval('s')", true},
		{"AdvisoryLock", "SELECT pg_advisory_xact_lock(42)", true},
		{"ShareCountColumn", "SELECT share_count, shares.id FROM shares", false},
		{"ForInsideAWord", "SELECT platform FROM x WHERE format = 'share'", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, db.IsWrite(tt.sql))
		})
	}
}

// TestIsWriteAgreesWithThePlanner is the audit of every generated query:
// PostgreSQL plans each one (PREPARE, then EXPLAIN EXECUTE with NULL
// arguments), and a plan that modifies a table or locks rows must be what
// IsWrite calls a write, and the other way round. A query IsWrite called a
// read but that writes would be refused by the replica (25006) and retried
// on the primary with a warning; this test finds it first.
func TestIsWriteAgreesWithThePlanner(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.NewDB(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	// A generic plan keeps the parameters: planning with NULL values would
	// fold some branches (and their writes or locks) away.
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	queries := generatedQueries(t)
	require.Greater(t, len(queries), 200)
	var writes []string
	for name, sql := range queries {
		_, err := conn.Exec(ctx, "PREPARE q AS "+sql)
		require.NoError(t, err, name)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'q'").Scan(&n))
		args := strings.TrimSuffix(strings.Repeat("NULL,", n), ",")
		explain := "EXPLAIN EXECUTE q"
		if n > 0 {
			explain += "(" + args + ")"
		}
		rows, err := conn.Query(ctx, explain)
		require.NoError(t, err, name)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, name)
		_, err = conn.Exec(ctx, "DEALLOCATE q")
		require.NoError(t, err)
		text := strings.Join(plan, "\n")
		planned := false
		for _, node := range []string{"Insert on ", "Update on ", "Delete on ", "Merge on ", "LockRows"} {
			planned = planned || strings.Contains(text, node)
		}
		// What no plan shows but IsWrite keeps on the primary on purpose:
		// advisory locks, sequences, notifications.
		lower := strings.ToLower(sql)
		for _, fn := range []string{"pg_advisory", "nextval(", "setval(", "pg_notify("} {
			planned = planned || strings.Contains(lower, fn)
		}
		require.Equal(t, planned, db.IsWrite(sql), "%s: the planner says write=%v:\n%s", name, planned, text)
		if planned && (strings.Contains(sql, ":one") || strings.Contains(sql, ":many")) {
			writes = append(writes, name)
		}
	}
	t.Logf("%d queries; %d writes through Query/QueryRow (RETURNING or locking), all routed to the primary", len(queries), len(writes))
}

// generatedQueries are sqlc's statements in db/*.gen.go by constant name.
func generatedQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.gen.go")
	require.NoError(t, err)
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					if strings.HasPrefix(s, "-- name: ") {
						out[vs.Names[i].Name] = s
					}
				}
			}
		}
	}
	return out
}

// replicaOver builds a Replica between the test database's pool and a
// second pool on replicaURL (the same database: a replica as up to date as
// can be, or an address nothing answers on).
func replicaOver(t *testing.T, replicaURL string, maxLag time.Duration) (*db.Replica, *db.Store) {
	t.Helper()
	pool, _ := dbtest.NewDB(t)
	rp, err := db.OpenReplicaPool(replicaURL, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(rp.Close)
	r := db.NewReplica(context.Background(), pool, rp, db.ReplicaOptions{CheckInterval: 100 * time.Millisecond, MaxLag: maxLag})
	return r, db.NewStoreWithReplica(r)
}

// TestReplicaRoute: the routing decision for each kind of request.
func TestReplicaRoute(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	read, write := "-- name: X :many\nSELECT 1", "-- name: Y :one\nINSERT INTO t VALUES (1) RETURNING 1"

	t.Run("Up", func(t *testing.T) {
		t.Parallel()
		r, _ := replicaOver(t, url, 0)
		require.Equal(t, db.ReplicaUp, r.State())
		bg := context.Background()
		_, ok := r.Route(bg, read)
		require.False(t, ok, "a context that does not allow the replica is not routed")
		reason, ok := r.Route(db.AllowReplica(bg, false), read)
		require.True(t, ok)
		require.Equal(t, db.ReadReplica, reason)
		reason, _ = r.Route(db.AllowReplica(bg, true), read)
		require.Equal(t, db.ReadPinned, reason, "read-your-writes")
		reason, _ = r.Route(db.AllowReplica(bg, false), write)
		require.Equal(t, db.ReadWrite, reason)
		_, ok = r.Route(db.OnPrimary(db.AllowReplica(bg, false)), read)
		require.False(t, ok, "OnPrimary takes the permission back")

		ctx := db.AllowReplica(bg, false)
		require.False(t, db.Wrote(ctx))
		reason, _ = r.Route(ctx, write)
		require.Equal(t, db.ReadWrite, reason)
		require.True(t, db.Wrote(ctx), "a write marks the request")
		reason, _ = r.Route(ctx, read)
		require.Equal(t, db.ReadWrite, reason, "and its later reads stay on the primary")
	})

	t.Run("TransactionMarksTheRequest", func(t *testing.T) {
		t.Parallel()
		_, store := replicaOver(t, url, 0)
		ctx := db.AllowReplica(context.Background(), false)
		require.NoError(t, store.InTx(ctx, func(*db.Queries) error { return nil }))
		require.True(t, db.Wrote(ctx))
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		r, store := replicaOver(t, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", 0)
		require.Equal(t, db.ReplicaDown, r.State())
		reason, _ := r.Route(db.AllowReplica(context.Background(), false), read)
		require.Equal(t, db.ReadReplicaDown, reason)
		// The store answers from the primary all the same.
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		got, err := store.UserByID(db.AllowReplica(context.Background(), false), u.ID)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, int64(1), r.Reads(db.ReadReplicaDown))
	})

	t.Run("Lagging", func(t *testing.T) {
		t.Parallel()
		// The test database is not in recovery: its lag is 0, which a
		// bound of 1ns still allows; a negative check of the bound is
		// TestReadReplicaLagBound's, on a real standby.
		r, _ := replicaOver(t, url, time.Nanosecond)
		require.Equal(t, db.ReplicaUp, r.State())
		require.Zero(t, r.Lag())
	})
}

// TestReplicaFallsBackAtOnce: a replica that cannot serve a statement
// costs no request an error: the statement runs again on the primary.
func TestReplicaFallsBackAtOnce(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)

	// A replica that stopped answering between two checks (its pool is
	// closed): the failure also marks it down before the next check.
	for _, kind := range []string{"QueryRow", "Query"} {
		t.Run("Gone"+kind, func(t *testing.T) {
			t.Parallel()
			r, store := replicaOver(t, url, 0)
			require.Equal(t, db.ReplicaUp, r.State())
			u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
			ctx := db.AllowReplica(context.Background(), false)
			r.Pool().Close()
			if kind == "QueryRow" {
				got, err := store.UserByID(ctx, u.ID)
				require.NoError(t, err)
				require.Equal(t, u.ID, got.ID)
			} else {
				_, err := store.FollowersOf(ctx, db.FollowersOfParams{UserID: u.ID, Lim: 10})
				require.NoError(t, err)
			}
			require.Equal(t, int64(1), r.Reads(db.ReadFallback))
			require.Equal(t, db.ReplicaDown, r.State())
		})
	}

	// A write that IsWrite cannot see (a function that inserts) reaches a
	// read-only server, which refuses it with 25006 when it runs (on the
	// first row for Query): it runs on the primary, with a warning, and
	// the replica stays up.
	for _, kind := range []string{"QueryRow", "Query"} {
		t.Run("RefusedWrite"+kind, func(t *testing.T) {
			t.Parallel()
			pool, dbURL := dbtest.NewDB(t)
			ctx := context.Background()
			_, err := pool.Exec(ctx, `CREATE TABLE sneaky (n int);
				CREATE FUNCTION sneaky_write() RETURNS SETOF int LANGUAGE sql AS 'INSERT INTO sneaky VALUES (1) RETURNING n'`)
			require.NoError(t, err)
			u, err := neturl.Parse(dbURL)
			require.NoError(t, err)
			q := u.Query()
			q.Set("options", "-c default_transaction_read_only=on") // refuses writes as a standby does
			u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
			rp, err := db.OpenReplicaPool(u.String(), db.PoolOptions{MaxConns: 2})
			require.NoError(t, err)
			t.Cleanup(rp.Close)
			logger, logs := testkit.NewLogger()
			r := db.NewReplica(ctx, pool, rp, db.ReplicaOptions{Logger: logger})
			require.Equal(t, db.ReplicaUp, r.State(), "logs: %s", logs)
			const sql = "-- name: Sneaky :many\nSELECT sneaky_write()"
			require.False(t, db.IsWrite(sql))
			rctx := db.AllowReplica(ctx, false)
			var got []int
			if kind == "QueryRow" {
				var n int
				require.NoError(t, r.QueryRow(rctx, sql).Scan(&n))
				got = append(got, n)
			} else {
				rows, err := r.Query(rctx, sql)
				require.NoError(t, err)
				got, err = pgx.CollectRows(rows, pgx.RowTo[int])
				require.NoError(t, err)
			}
			require.Equal(t, []int{1}, got)
			var n int
			require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM sneaky").Scan(&n))
			require.Equal(t, 1, n, "written once, on the primary")
			require.Equal(t, int64(1), r.Reads(db.ReadFallback))
			require.Equal(t, db.ReplicaUp, r.State(), "a refused write says nothing about the replica's health")
			lines := logs.Lines(t, "a write statement was sent to the read replica; retried on the primary")
			require.Len(t, lines, 1)
			require.Equal(t, "WARN", lines[0]["level"])
			require.Equal(t, "Sneaky", lines[0]["query"])
		})
	}
}

// TestReplicaCannotServe: which replica errors run again on the primary.
func TestReplicaCannotServe(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"ReadOnlyTransaction", bg, &pgconn.PgError{Code: "25006"}, true},
		{"RecoveryConflict", bg, &pgconn.PgError{Code: "40001"}, true},
		{"AdminShutdown", bg, &pgconn.PgError{Code: "57P01"}, true},
		{"StartingUp", bg, &pgconn.PgError{Code: "57P03"}, true},
		{"TooManyConnections", bg, &pgconn.PgError{Code: "53300"}, true},
		{"ConnectionLost", bg, fmt.Errorf("read: %w", errors.New("connection reset by peer")), true},
		{"NoRows", bg, pgx.ErrNoRows, false},
		{"UniqueViolation", bg, &pgconn.PgError{Code: "23505"}, false},
		{"StatementTimeout", bg, &pgconn.PgError{Code: "57014"}, false},
		{"PoolBusy", bg, db.ErrPoolBusy, false},
		{"CallerGone", cancelled, errors.New("conn closed"), false},
		{"Deadline", bg, context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, db.ReplicaCannotServe(tt.ctx, tt.err))
		})
	}
}
