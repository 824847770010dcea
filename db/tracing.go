package db

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/tracing"
)

// spanTracer makes a client span for each statement, batch and COPY run
// under a recording span (package tracing), named for the sqlc query
// ("VideoGet") or else the statement's first word, with the statement's
// text: placeholders only, never the arguments. pgx has one tracer slot,
// on which pgxpool also looks for its AcquireTracer, so spanTracer passes
// the acquire hooks on to the pool's acquireLimiter when there is one.
type spanTracer struct {
	limiter *acquireLimiter // nil: no acquire timeout
}

var (
	_ pgx.QueryTracer       = (*spanTracer)(nil)
	_ pgx.BatchTracer       = (*spanTracer)(nil)
	_ pgx.CopyFromTracer    = (*spanTracer)(nil)
	_ pgxpool.AcquireTracer = (*spanTracer)(nil)
)

// maxQueryText bounds db.query.text: a long statement keeps its start.
const maxQueryText = 4096

func (t *spanTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !tracing.Active(ctx) {
		return ctx
	}
	name := queryName(data.SQL)
	ctx, _ = tracing.Child(ctx, name, trace.SpanKindClient,
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.query.summary", name),
		attribute.String("db.query.text", truncate(data.SQL, maxQueryText)),
	)
	return ctx
}

func (t *spanTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	endSpan(ctx, data.CommandTag.RowsAffected(), data.Err)
}

func (t *spanTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !tracing.Active(ctx) {
		return ctx
	}
	ctx, _ = tracing.Child(ctx, "batch", trace.SpanKindClient,
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.query.summary", "batch"),
		attribute.Int("db.operation.batch.size", data.Batch.Len()),
	)
	return ctx
}

// TraceBatchQuery notes each statement of the batch as an event of its span.
func (t *spanTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent("query", trace.WithAttributes(attribute.String("db.query.summary", queryName(data.SQL))))
}

func (t *spanTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	endSpan(ctx, -1, data.Err)
}

func (t *spanTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	if !tracing.Active(ctx) {
		return ctx
	}
	ctx, _ = tracing.Child(ctx, "COPY "+data.TableName.Sanitize(), trace.SpanKindClient,
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.query.summary", "COPY "+data.TableName.Sanitize()),
		attribute.String("db.collection.name", data.TableName.Sanitize()),
	)
	return ctx
}

func (t *spanTracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	endSpan(ctx, data.CommandTag.RowsAffected(), data.Err)
}

func (t *spanTracer) TraceAcquireStart(ctx context.Context, pool *pgxpool.Pool, data pgxpool.TraceAcquireStartData) context.Context {
	if t.limiter == nil {
		return ctx
	}
	return t.limiter.TraceAcquireStart(ctx, pool, data)
}

func (t *spanTracer) TraceAcquireEnd(ctx context.Context, pool *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	if t.limiter != nil {
		t.limiter.TraceAcquireEnd(ctx, pool, data)
	}
}

// endSpan ends the statement span of ctx (started by spanTracer), if it is
// recording; pgx.ErrNoRows is an answer, not a failure.
func endSpan(ctx context.Context, rows int64, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if rows >= 0 && err == nil {
		span.SetAttributes(attribute.Int64("db.response.returned_rows", rows))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	tracing.End(span, err)
}

// queryName is the sqlc name of sql ("-- name: VideoGet :one" starts every
// generated statement), or else its first word in capitals.
func queryName(sql string) string {
	s := strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0]
		}
	}
	for strings.HasPrefix(s, "--") { // skip other leading comment lines
		_, s, _ = strings.Cut(s, "\n")
		s = strings.TrimSpace(s)
	}
	if f := strings.Fields(s); len(f) > 0 {
		return strings.ToUpper(strings.Trim(f[0], "(;"))
	}
	return "query"
}
