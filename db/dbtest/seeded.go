package dbtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lokiz/lokiz/db"
)

// Seeded returns a pool on a database cloned from the migrated template and
// filled once by seed, for benchmarks that need volume. The database is
// named after the template and name and kept between runs (like the
// template), so only the first run pays for seeding; a half-seeded one
// (seed failed) is rebuilt. A new migration gives a new template and so a
// new database, but a changed seed function does not: give the changed
// seed a new name.
func Seeded(tb testing.TB, name string, seed func(ctx context.Context, pool *pgxpool.Pool) error) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	tmpl := ensureTemplate(tb)
	dbName := fmt.Sprintf("lokiz_seed_%s_%s", name, tmpl[len("lokiz_tmpl_"):])
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		tb.Fatalf("dbtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockID+1); err != nil {
		tb.Fatalf("dbtest: lock: %v", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockID+1) //nolint:errcheck

	url := withDatabase(tb, AdminURL(), dbName)
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbName).Scan(&exists); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if exists {
		pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 16})
		if err == nil {
			var done bool
			if pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'dbtest_seeded')").Scan(&done) == nil && done {
				return poolWithCleanup(tb, pool)
			}
			pool.Close()
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", dbName)); err != nil {
			tb.Fatalf("dbtest: drop half-seeded %s: %v", dbName, err)
		}
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", dbName, tmpl)); err != nil {
		tb.Fatalf("dbtest: create %s: %v", dbName, err)
	}
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 16})
	if err != nil {
		tb.Fatalf("dbtest: open %s: %v", dbName, err)
	}
	if err := seed(ctx, pool); err != nil {
		pool.Close()
		tb.Fatalf("dbtest: seed %s: %v", dbName, err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE; CREATE TABLE dbtest_seeded (at timestamptz DEFAULT now())"); err != nil {
		pool.Close()
		tb.Fatalf("dbtest: mark %s seeded: %v", dbName, err)
	}
	return poolWithCleanup(tb, pool)
}

func poolWithCleanup(tb testing.TB, pool *pgxpool.Pool) *pgxpool.Pool {
	tb.Cleanup(pool.Close)
	return pool
}
