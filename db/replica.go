package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Read routing to a streaming replica (DATABASE_READ_URL).
//
// A Store built by NewStoreWithReplica runs its generated queries over a
// Replica, a DBTX that sends a statement to the replica only when all of
// these hold, and to the primary otherwise:
//
//   - the statement's context allows it (AllowReplica: the api marks its
//     feed, search, profile and list routes, nothing else);
//   - the request has not been pinned to the primary (read-your-writes) and
//     has written nothing itself in this request;
//   - the statement reads only (IsWrite: no INSERT, UPDATE, DELETE, locking
//     clause or sequence call), and it is a Query or QueryRow (Exec always
//     goes to the primary, as do InTx's transactions and everything else
//     that uses the pool directly);
//   - the replica is up and its replay lag is within the bound (the health
//     check, Run).
//
// A replica statement that fails because the replica cannot serve it (the
// connection is refused or lost, the server is shutting down or starting,
// a recovery conflict cancelled it, or it turned out to write: SQLSTATE
// 25006) runs again on the primary at once, so clients see no error;
// connection failures also mark the replica down until the next check
// answers. The retry is possible only before the first row reached the
// caller; a replica lost in the middle of streaming a result fails that one
// statement (see docs/operations.md).

// ReplicaOptions tune read routing.
type ReplicaOptions struct {
	// CheckInterval is how often the health check asks the replica for its
	// lag (default 1s); each check waits at most CheckInterval, and at
	// least one second.
	CheckInterval time.Duration
	// MaxLag is the replay lag past which reads go to the primary; 0 means
	// no bound.
	MaxLag time.Duration
	// Logger receives the replica's state changes and the statements that
	// had to be retried on the primary; nil discards them.
	Logger *slog.Logger
}

// ReplicaState is what the health check last found.
type ReplicaState int32

// The replica's states; only ReplicaUp serves reads.
const (
	ReplicaDown ReplicaState = iota
	ReplicaUp
	ReplicaLagging
)

func (s ReplicaState) String() string {
	switch s {
	case ReplicaUp:
		return "up"
	case ReplicaLagging:
		return "lagging"
	default:
		return "down"
	}
}

// ReadReason says why a replica-allowed read went where it went: the label
// of lokiz_db_routed_reads_total.
type ReadReason int

// The reasons, in metric label order (ReadReasons).
const (
	ReadReplica        ReadReason = iota // served by the replica
	ReadPinned                           // read-your-writes: the caller wrote recently
	ReadWrite                            // the statement writes, or the request already wrote
	ReadReplicaDown                      // the health check found the replica down
	ReadReplicaLagging                   // the replica's lag was past MaxLag
	ReadFallback                         // the replica failed the statement; the primary answered
	readReasons
)

// ReadReasons are the reasons' names, indexed by ReadReason.
var ReadReasons = [readReasons]string{"replica", "read_your_writes", "write", "replica_down", "replica_lagging", "fallback"}

// Target is the pool that serves a read with reason r: "replica" or "primary".
func (r ReadReason) Target() string {
	if r == ReadReplica {
		return "replica"
	}
	return "primary"
}

// Replica routes reads between a primary pool and a replica pool. Its
// zero value is not usable; build one with NewReplica.
type Replica struct {
	primary, replica *pgxpool.Pool
	opts             ReplicaOptions
	log              *slog.Logger
	state            atomic.Int32
	lag              atomic.Int64 // nanoseconds, last measured
	reads            [readReasons]atomic.Int64
	checkMu          sync.Mutex
}

var _ DBTX = (*Replica)(nil)

// NewReplica routes between primary and replica. It checks the replica
// once before it returns (a replica that does not answer starts down: the
// api starts without it) and Run keeps checking.
func NewReplica(ctx context.Context, primary, replica *pgxpool.Pool, opts ReplicaOptions) *Replica {
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Replica{primary: primary, replica: replica, opts: opts, log: log.With("component", "db", "pool", "replica")}
	r.Check(ctx)
	return r
}

// OpenReplicaPool builds the replica's pool with the primary's options. It
// does not connect (a replica that is down must not stop a start); a URL
// without connect_timeout gets 2s, so a replica that does not answer costs
// a statement at most that before it runs on the primary.
func OpenReplicaPool(url string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	}
	// pgxpool.NewWithConfig does not dial (MinConns is 0): the context only
	// bounds that nothing.
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("open read replica pool: %w", err)
	}
	return pool, nil
}

// State is the replica's state as last checked.
func (r *Replica) State() ReplicaState { return ReplicaState(r.state.Load()) }

// Lag is the replay lag the last successful check measured.
func (r *Replica) Lag() time.Duration { return time.Duration(r.lag.Load()) }

// Reads is how many replica-allowed reads went where for reason since the
// Replica was built (lokiz_db_routed_reads_total).
func (r *Replica) Reads(reason ReadReason) int64 { return r.reads[reason].Load() }

// Pool is the replica's pool (its connection metrics).
func (r *Replica) Pool() *pgxpool.Pool { return r.replica }

// Run checks the replica every CheckInterval until ctx ends.
func (r *Replica) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Check(ctx)
		}
	}
}

// Check asks the replica for its lag once and sets the state: down when
// it does not answer within the check interval (at least 1s), lagging when
// its lag is past MaxLag, up otherwise. Changes are logged.
func (r *Replica) Check(ctx context.Context) {
	r.checkMu.Lock()
	defer r.checkMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, max(r.opts.CheckInterval, time.Second))
	defer cancel()
	secs, err := New(r.replica).ReplicaLag(cctx)
	if err != nil {
		if ctx.Err() == nil {
			r.setState(ReplicaDown, err)
		}
		return
	}
	lag := time.Duration(secs * float64(time.Second))
	r.lag.Store(int64(lag))
	if r.opts.MaxLag > 0 && lag > r.opts.MaxLag {
		r.setState(ReplicaLagging, nil)
		return
	}
	r.setState(ReplicaUp, nil)
}

func (r *Replica) setState(s ReplicaState, err error) {
	old := ReplicaState(r.state.Swap(int32(s)))
	if old == s {
		return
	}
	switch s {
	case ReplicaUp:
		r.log.Info("read replica serves reads", "was", old.String(), "lag_ms", r.Lag().Milliseconds())
	case ReplicaLagging:
		r.log.Warn("read replica lags: reads go to the primary", "lag_ms", r.Lag().Milliseconds(), "max_lag_ms", r.opts.MaxLag.Milliseconds())
	default:
		r.log.Warn("read replica down: reads go to the primary", "error", err)
	}
}

// readPolicy is what a request allows its statements: set by AllowReplica,
// updated as the request writes.
type readPolicy struct {
	pinned bool        // read-your-writes: the caller wrote recently
	wrote  atomic.Bool // a statement of this request wrote
}

type readPolicyKey struct{}

// AllowReplica returns ctx whose read statements may go to a read replica.
// pinned (the caller wrote within the read-your-writes window) keeps them
// on the primary, counted as such. Without a replica it changes nothing
// that matters.
func AllowReplica(ctx context.Context, pinned bool) context.Context {
	return context.WithValue(ctx, readPolicyKey{}, &readPolicy{pinned: pinned})
}

// OnPrimary returns ctx whose statements all go to the primary: for a
// statement in a replica-allowed request that must see the latest data.
func OnPrimary(ctx context.Context) context.Context {
	if ctx.Value(readPolicyKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, readPolicyKey{}, nil)
}

// Wrote reports whether a statement run under ctx (made by AllowReplica)
// wrote: a write statement through the router, or a transaction (InTx).
func Wrote(ctx context.Context) bool {
	p, _ := ctx.Value(readPolicyKey{}).(*readPolicy)
	return p != nil && p.wrote.Load()
}

// noteWrite records that ctx's request wrote, so its later reads stay on
// the primary.
func noteWrite(ctx context.Context) {
	if p, _ := ctx.Value(readPolicyKey{}).(*readPolicy); p != nil {
		p.wrote.Store(true)
	}
}

// Route decides where a read statement under ctx goes: ok is false when
// ctx does not allow a replica at all (not counted); otherwise reason says
// which pool and why. It does not count.
func (r *Replica) Route(ctx context.Context, sql string) (reason ReadReason, ok bool) {
	p, _ := ctx.Value(readPolicyKey{}).(*readPolicy)
	if p == nil {
		return 0, false
	}
	switch {
	case isWriteStatement(sql):
		p.wrote.Store(true)
		return ReadWrite, true
	case p.pinned:
		return ReadPinned, true
	case p.wrote.Load():
		return ReadWrite, true
	}
	switch r.State() {
	case ReplicaUp:
		return ReadReplica, true
	case ReplicaLagging:
		return ReadReplicaLagging, true
	default:
		return ReadReplicaDown, true
	}
}

// pick routes and counts one statement: true for the replica.
func (r *Replica) pick(ctx context.Context, sql string) bool {
	reason, ok := r.Route(ctx, sql)
	if !ok {
		return false
	}
	if reason != ReadReplica {
		r.reads[reason].Add(1)
		return false
	}
	return true
}

// Exec always runs on the primary.
func (r *Replica) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	noteWrite(ctx)
	return r.primary.Exec(ctx, sql, args...)
}

// Query runs on the replica when Route says so, else on the primary.
func (r *Replica) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !r.pick(ctx, sql) {
		return r.primary.Query(ctx, sql, args...)
	}
	rows, err := r.replica.Query(ctx, sql, args...)
	if err != nil {
		if r.fallBack(ctx, sql, err) {
			return r.primary.Query(ctx, sql, args...)
		}
		return nil, err
	}
	return &replicaRows{Rows: rows, r: r, ctx: ctx, sql: sql, args: args}, nil
}

// QueryRow runs on the replica when Route says so, else on the primary.
func (r *Replica) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !r.pick(ctx, sql) {
		return r.primary.QueryRow(ctx, sql, args...)
	}
	return &replicaRow{r: r, ctx: ctx, sql: sql, args: args}
}

// fallBack decides whether a replica failure of sql runs again on the
// primary, and counts and logs it. A successful replica read is counted
// here too (err nil).
func (r *Replica) fallBack(ctx context.Context, sql string, err error) bool {
	if err == nil {
		r.reads[ReadReplica].Add(1)
		return false
	}
	if !ReplicaCannotServe(ctx, err) {
		// The statement's own failure (no rows, a bad argument, the
		// caller gone): the primary would answer the same.
		r.reads[ReadReplica].Add(1)
		return false
	}
	r.reads[ReadFallback].Add(1)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgReadOnlyTransaction {
		// A statement IsWrite missed: a bug to fix in the query or in
		// IsWrite, served by the primary meanwhile.
		r.log.WarnContext(ctx, "a write statement was sent to the read replica; retried on the primary",
			"query", queryName(sql), "error", err)
		return true
	}
	if IsUnavailable(err) || !isPgError(err) {
		r.setState(ReplicaDown, err)
	}
	r.log.DebugContext(ctx, "read replica failed a statement; retried on the primary", "query", queryName(sql), "error", err)
	return true
}

const (
	pgReadOnlyTransaction = "25006"
	pgSerializationFail   = "40001" // on a standby: cancelled by a recovery conflict
	pgTooManyConnections  = "53300"
)

// ReplicaCannotServe reports whether err, from a statement on the
// replica, is the replica's failure rather than the statement's: the
// primary may well answer. The caller's own end (its context cancelled or
// past its deadline) and the pool's back-pressure (ErrPoolBusy) are not.
func ReplicaCannotServe(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, pgx.ErrNoRows) || IsPoolBusy(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgReadOnlyTransaction, pgSerializationFail, pgTooManyConnections:
			return true
		}
		return IsUnavailable(err)
	}
	// Not a server's answer: a dial that failed, a connection lost, a
	// pool closed. Scan errors (a type mismatch) would be the primary's
	// too, but they cannot happen with the same schema; retrying one costs
	// one statement.
	return true
}

func isPgError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// replicaRow is QueryRow on the replica, run at Scan, where its error
// shows.
type replicaRow struct {
	r    *Replica
	ctx  context.Context
	sql  string
	args []any
}

func (row *replicaRow) Scan(dest ...any) error {
	err := row.r.replica.QueryRow(row.ctx, row.sql, row.args...).Scan(dest...)
	if row.r.fallBack(row.ctx, row.sql, err) {
		return row.r.primary.QueryRow(row.ctx, row.sql, row.args...).Scan(dest...)
	}
	return err
}

// replicaRows are Query's rows from the replica. pgx reports a statement's
// failure on the first Next; until a row has been read, such a failure
// runs the statement again on the primary and the rows continue from
// there.
type replicaRows struct {
	pgx.Rows
	r       *Replica
	ctx     context.Context
	sql     string
	args    []any
	started bool
	err     error // the primary's error when the retry itself failed
}

func (rs *replicaRows) Next() bool {
	if rs.started {
		return rs.err == nil && rs.Rows.Next()
	}
	rs.started = true
	if rs.Rows.Next() {
		rs.r.fallBack(rs.ctx, rs.sql, nil)
		return true
	}
	err := rs.Rows.Err()
	if !rs.r.fallBack(rs.ctx, rs.sql, err) {
		return false
	}
	rs.Close() // the replica's rows, replaced below
	rows, err := rs.r.primary.Query(rs.ctx, rs.sql, rs.args...)
	if err != nil {
		rs.err = err
		return false
	}
	rs.Rows = rows
	return rows.Next()
}

func (rs *replicaRows) Err() error {
	if rs.err != nil {
		return rs.err
	}
	return rs.Rows.Err()
}

// IsWrite reports whether a statement may write or lock, so it must run
// on the primary: it names INSERT, UPDATE, DELETE, MERGE or TRUNCATE
// (also inside a CTE), a locking clause (FOR UPDATE/SHARE, which names
// UPDATE or SHARE after FOR), a sequence call (nextval, setval), an
// advisory lock or a notification. It reads words outside -- comments,
// case-insensitively; a word inside a string literal counts too, which
// errs towards the primary. The functions the migrations define for
// queries (video_visible, user_counts and the rest) only read.
func IsWrite(sql string) bool {
	prev := ""
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			w := strings.ToLower(sql[i:j])
			switch {
			case w == "insert" || w == "update" || w == "delete" || w == "merge" || w == "truncate" ||
				w == "nextval" || w == "setval" || w == "pg_notify" || strings.HasPrefix(w, "pg_advisory"):
				return true
			case w == "share" && prev == "for", w == "key" && prev == "for", w == "no" && prev == "for":
				return true
			}
			prev = w
			i = j
		default:
			i++
		}
	}
	return false
}

// writeStatements remembers IsWrite of the generated statements (a fixed
// set: their text starts with sqlc's "-- name: "), so a routed read scans
// its SQL once per process instead of once per call (5-10 µs and 25
// allocations for a feed query).
var writeStatements sync.Map

func isWriteStatement(sql string) bool {
	if !strings.HasPrefix(sql, "-- name: ") {
		return IsWrite(sql)
	}
	if w, ok := writeStatements.Load(sql); ok {
		return w.(bool)
	}
	w := IsWrite(sql)
	writeStatements.Store(sql, w)
	return w
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
