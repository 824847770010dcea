// Package dbtest gives each test its own Postgres database, cloned from a
// template that is migrated once per set of migration files, plus fixture
// helpers that fail the test themselves.
package dbtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lokiz/lokiz/db"
)

// AdminURL is the server-level connection the helpers use to create
// databases: TEST_DATABASE_URL, or the local server as the postgres user.
func AdminURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// templateLockID serialises template creation across test processes.
const templateLockID = 0x10c12_7e57

// NewDB creates a fresh, fully migrated database for t and returns a pool
// connected to it and its URL. The database is dropped when t passes and
// kept (its URL logged) when t fails, so the state can be inspected.
func NewDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	tmpl := ensureTemplate(t)

	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: connect to Postgres at %s (is it running?): %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	name := "lokiz_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("dbtest: clone template: %v", err)
	}
	dbURL := withDatabase(t, AdminURL(), name)
	pool, err := db.Open(ctx, dbURL, db.PoolOptions{MaxConns: 8})
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		if t.Failed() {
			t.Logf("dbtest: kept database for inspection: %s", dbURL)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return pool, dbURL
}

// NewStore is NewDB wrapped in a db.Store.
func NewStore(t testing.TB) *db.Store {
	t.Helper()
	pool, _ := NewDB(t)
	return db.NewStore(pool)
}

// NewEmptyDB creates a database with no migrations applied, for tests of the
// migration commands themselves.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: connect to Postgres at %s (is it running?): %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	name := "lokiz_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabase(t, AdminURL(), name)
}

// ensureTemplate builds lokiz_tmpl_<hash of the migrations> once. The build
// runs under an advisory lock, and datistemplate marks a finished build, so a
// process that died half-way leaves nothing another process would trust.
func ensureTemplate(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := "lokiz_tmpl_" + migrationsHash(t)
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: connect to Postgres at %s (is it running?): %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockID); err != nil {
		t.Fatalf("dbtest: lock: %v", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockID) //nolint:errcheck

	var done bool
	err = admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&done)
	if err == nil && done {
		return name
	}
	if err == nil { // a half-built leftover
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", name)); err != nil {
			t.Fatalf("dbtest: drop half-built template: %v", err)
		}
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create template: %v", err)
	}
	pool, err := db.Open(ctx, withDatabase(t, AdminURL(), name), db.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatalf("dbtest: open template: %v", err)
	}
	_, err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		t.Fatalf("dbtest: migrate template: %v", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s IS_TEMPLATE true", name)); err != nil {
		t.Fatalf("dbtest: mark template: %v", err)
	}
	return name
}

func migrationsHash(t testing.TB) string {
	h := sha256.New()
	fsys := db.Migrations()
	var names []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("dbtest: read migrations: %v", err)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatalf("dbtest: read %s: %v", n, err)
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func withDatabase(t testing.TB, raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("dbtest: parse %q: %v", raw, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
