package tracing

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// RedisHook makes a client span for each Redis command and pipeline run
// under a recording span. Add it with AddHook on any go-redis client (a
// single node, failover or cluster client). Spans name the command only:
// keys and arguments carry user data and stay out.
type RedisHook struct{}

var _ redis.Hook = RedisHook{}

// DialHook leaves dialing alone.
func (RedisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook spans one command.
func (RedisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !Active(ctx) {
			return next(ctx, cmd)
		}
		op := strings.ToUpper(cmd.Name())
		ctx, span := Child(ctx, op, trace.SpanKindClient,
			attribute.String("db.system.name", "redis"),
			attribute.String("db.operation.name", op),
		)
		err := next(ctx, cmd)
		End(span, redisErr(err))
		return err
	}
}

// ProcessPipelineHook spans one pipeline (or MULTI/EXEC transaction) as a
// whole, with its size and command names.
func (RedisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !Active(ctx) {
			return next(ctx, cmds)
		}
		names := make([]string, 0, len(cmds))
		for _, c := range cmds {
			names = append(names, strings.ToUpper(c.Name()))
		}
		ctx, span := Child(ctx, "PIPELINE", trace.SpanKindClient,
			attribute.String("db.system.name", "redis"),
			attribute.String("db.operation.name", "PIPELINE"),
			attribute.Int("db.operation.batch.size", len(cmds)),
			attribute.StringSlice("lokiz.redis.commands", names),
		)
		err := next(ctx, cmds)
		End(span, redisErr(err))
		return err
	}
}

// redisErr is err unless it is redis.Nil, which is an answer (no such key),
// not a failure.
func redisErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
