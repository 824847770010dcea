package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tracing"
)

// TestPoolTracing: with PoolOptions.Tracing, a statement run under a
// recording span gets a client span named for its sqlc query, with the
// statement's text and none of its arguments; a statement outside a span
// gets none; and the acquire limit still applies through the same tracer
// slot.
func TestPoolTracing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := dbtest.NewDB(t)
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 1, AcquireTimeout: 100 * time.Millisecond, Tracing: true})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := db.NewStore(pool)

	exp := tracetest.NewInMemoryExporter()
	p := tracing.NewSyncProvider(tracing.Config{ServiceName: "db-test", SampleRatio: 1}, exp)
	t.Cleanup(func() { _ = p.Shutdown(ctx) })

	// Outside a span: nothing.
	id := db.NewID()
	_, err = store.UserByID(ctx, id)
	require.Error(t, err)
	require.Empty(t, exp.GetSpans())

	// Under a span: one span per statement; no rows is no failure.
	sctx, parent := p.Tracer().Start(ctx, "request")
	_, err = store.UserByID(sctx, id)
	require.Error(t, err)
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT 2")
	require.NoError(t, pool.SendBatch(sctx, b).Close())
	_, err = pool.Exec(sctx, "SELECT no_such_column")
	require.Error(t, err)
	parent.End()

	spans := exp.GetSpans()
	require.Len(t, spans, 4, "three statements and the parent")
	get, batch, bad := spans[0], spans[1], spans[2]
	require.Equal(t, "UserGetByID", get.Name) // store.UserByID runs the sqlc query UserGetByID
	require.Equal(t, trace.SpanKindClient, get.SpanKind)
	require.Equal(t, parent.SpanContext().SpanID(), get.Parent.SpanID())
	require.Equal(t, codes.Unset, get.Status.Code, "no rows is an answer")
	attrs := map[string]string{}
	for _, kv := range get.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	require.Equal(t, "postgresql", attrs["db.system.name"])
	require.Contains(t, attrs["db.query.text"], "$1")
	for _, v := range attrs {
		require.NotContains(t, v, id.String(), "no argument in the span")
	}
	require.Equal(t, "batch", batch.Name)
	require.Len(t, batch.Events, 2)
	require.Equal(t, "SELECT", bad.Name)
	require.Equal(t, codes.Error, bad.Status.Code)

	// The acquire limit: with the one connection held, a statement gives up
	// with ErrPoolBusy, counted as before.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = pool.Exec(sctx, "SELECT 1")
	conn.Release()
	require.ErrorIs(t, err, db.ErrPoolBusy)
	require.EqualValues(t, 1, db.PoolWaitTimeouts(pool))
}
