package db

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrPoolBusy is the error of a statement that could not get a connection
// from the pool within PoolOptions.AcquireTimeout: every connection was busy
// for the whole wait. It is back-pressure, not an outage: the caller should
// shed the request (the api answers 503 overloaded with Retry-After) rather
// than queue without limit. errors.Is(ErrPoolBusy, context.DeadlineExceeded)
// holds, so code that treats any deadline alike keeps working.
var ErrPoolBusy error = poolBusyError{}

type poolBusyError struct{}

func (poolBusyError) Error() string {
	return "database pool: no connection free within the wait limit"
}

func (poolBusyError) Is(target error) bool { return target == context.DeadlineExceeded }

// IsPoolBusy reports whether err is ErrPoolBusy: the pool was exhausted.
func IsPoolBusy(err error) bool {
	var pb poolBusyError
	return errors.As(err, &pb)
}

// acquireLimiter bounds how long pgxpool.Pool.Acquire waits. pgxpool has no
// acquire timeout of its own; it waits as long as the caller's context. Its
// AcquireTracer hook hands Acquire the context it returns from
// TraceAcquireStart, so the limiter returns one with the wait's deadline,
// whose Err is ErrPoolBusy when that deadline (not the caller's) expired,
// and cancels it in TraceAcquireEnd. Only the wait for a connection of a
// full pool (MaxConns open) is bounded: with room for another connection
// the acquire dials under the caller's context alone, and the statement
// itself always runs under the caller's context.
type acquireLimiter struct {
	wait     time.Duration
	timeouts atomic.Int64
}

var (
	_ pgxpool.AcquireTracer = (*acquireLimiter)(nil)
	_ pgx.QueryTracer       = (*acquireLimiter)(nil)
)

// TraceQueryStart is a no-op: pgx installs a pool tracer as the connections'
// query tracer, which must exist for the acquire hooks to be found.
func (*acquireLimiter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd is a no-op (see TraceQueryStart).
func (*acquireLimiter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// waitCtx is the acquire context: parent's values and cancellation plus the
// wait's deadline, reported as ErrPoolBusy.
type waitCtx struct {
	context.Context // context.WithTimeoutCause(parent, wait, ErrPoolBusy)
	cancel          context.CancelFunc
}

func (c *waitCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == ErrPoolBusy {
		return ErrPoolBusy
	}
	return err
}

func (l *acquireLimiter) TraceAcquireStart(ctx context.Context, pool *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	if st := pool.Stat(); st.TotalConns() < st.MaxConns() {
		// Room for another connection: this acquire takes an idle one or
		// dials a new one, and a slow dial (a database starting, a busy
		// machine) is not overload; a dial that fails is an outage
		// (IsUnavailable). Only a full pool bounds the wait. Another
		// acquire may take the room first; this one then waits for a
		// release as it would have without the limiter.
		return ctx
	}
	tctx, cancel := context.WithTimeoutCause(ctx, l.wait, ErrPoolBusy)
	return &waitCtx{Context: tctx, cancel: cancel}
}

func (l *acquireLimiter) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	if wc, ok := ctx.(*waitCtx); ok {
		wc.cancel()
	}
	if IsPoolBusy(data.Err) {
		l.timeouts.Add(1)
	}
}

// PoolWaitTimeouts is how many acquires of pool gave up with ErrPoolBusy
// since it opened (0 for a pool without an acquire timeout): the
// lokiz_db_pool_wait_timeouts_total metric.
func PoolWaitTimeouts(pool *pgxpool.Pool) int64 {
	switch t := pool.Config().ConnConfig.Tracer.(type) {
	case *acquireLimiter:
		return t.timeouts.Load()
	case *spanTracer:
		if t.limiter != nil {
			return t.limiter.timeouts.Load()
		}
	}
	return 0
}
