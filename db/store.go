package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions tune the connection pool.
type PoolOptions struct {
	// MaxConns caps open connections; 0 keeps pgxpool's default (max(4, NumCPU)).
	MaxConns int32
	// StatementTimeout is the server-side backstop for any one statement; 0 disables it.
	StatementTimeout time.Duration
	// AcquireTimeout bounds how long a statement waits for a free
	// connection when all MaxConns are busy; past it the statement fails
	// with ErrPoolBusy. 0 waits as long as the caller's context.
	AcquireTimeout time.Duration
	// Tracing makes a span of each statement run under a recording span
	// (package tracing). Off, no tracer is installed for it.
	Tracing bool
}

// Open connects a pool to url and pings it.
func Open(ctx context.Context, url string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// poolConfig is the pool configuration of url with opts applied.
func poolConfig(url string, opts PoolOptions) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.AfterConnect = registerTypes
	var limiter *acquireLimiter
	if opts.AcquireTimeout > 0 {
		limiter = &acquireLimiter{wait: opts.AcquireTimeout}
		cfg.ConnConfig.Tracer = limiter
	}
	if opts.Tracing {
		cfg.ConnConfig.Tracer = &spanTracer{limiter: limiter}
	}
	return cfg, nil
}

// Store is the single entry point to Postgres: the generated queries plus the
// hand-written business transactions.
type Store struct {
	*Queries
	pool    *pgxpool.Pool
	replica *Replica
}

// NewStore returns a Store over pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{Queries: New(pool), pool: pool}
}

// NewStoreWithReplica returns a Store whose generated queries go through r
// (db/replica.go): reads that their context allows (AllowReplica) go to the
// replica, everything else to r's primary, which InTx and Pool use.
func NewStoreWithReplica(r *Replica) *Store {
	return &Store{Queries: New(r), pool: r.primary, replica: r}
}

// Replica is the store's read router; nil when every statement goes to
// the one pool.
func (s *Store) Replica() *Replica { return s.replica }

// Pool returns the underlying pool (for health checks and migrations).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx runs fn in one transaction: committed when fn returns nil, rolled back
// otherwise. Only SQL belongs in fn: no Redis, no HTTP, no sleeping.
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) error {
	if s.replica != nil {
		noteWrite(ctx) // its request's later reads stay on the primary
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(s.WithTx(tx))
	})
}

// Ping reports whether Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// NewID returns a new time-ordered UUIDv7, the id of every new row.
func NewID() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}

// FeedPageMaxRows is the constant bound inside VideoListVisible and
// FeedFollowing (db/queries/video.sql): the most rows one call returns,
// whatever its lim. Callers ask for at most a page plus one.
const FeedPageMaxRows = 51
