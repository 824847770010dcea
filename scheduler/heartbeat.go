package scheduler

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// The Redis keys asynq's Scheduler heartbeat writes and asynq's Inspector
// (asynqmon's Schedulers page) reads: a sorted set of every scheduler's
// entries key, scored by the Unix time it expires, and per scheduler a list
// of encoded entries.
const (
	allSchedulersKey = "asynq:schedulers"
	// heartbeatInterval is asynq's default: the page is at most this stale
	// and a stopped replica's entries vanish within twice it.
	heartbeatInterval = 5 * time.Second
)

func schedulerEntriesKey(id string) string { return "asynq:schedulers:{" + id + "}" }

// heartbeat publishes the cron table the way asynq's own heartbeat does,
// from this package's state instead of the options asynq hands each tick
// (which preEnqueue rewrites; see New). Each entry shows its spec, task
// type, payload, retention, the next enqueue time
// and this replica's previous one. The entry ids are the ones asynq
// registered, under which it records each enqueue (the entry's history in
// asynqmon).
type heartbeat struct {
	id string // this replica, as asynq names schedulers: host:pid:uuid

	mu   sync.Mutex
	prev map[*entry]time.Time // this replica's last run of each entry
}

func newHeartbeat() *heartbeat {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return &heartbeat{id: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), uuid.NewString()), prev: map[*entry]time.Time{}}
}

// ran records that e fired at t.
func (h *heartbeat) ran(e *entry, t time.Time) {
	h.mu.Lock()
	h.prev[e] = t
	h.mu.Unlock()
}

// beat writes the entries with an expiry of two intervals.
func (s *Scheduler) beat(ctx context.Context, now time.Time) error {
	// asynq scores the set in whole seconds: never less than two of them.
	ttl := max(2*s.beatEvery, 2*time.Second)
	var args []any
	s.hb.mu.Lock()
	for _, e := range s.ordered {
		prev := s.hb.prev[e]
		args = append(args, encodeEntry(e, e.next(now, prev, s.started), prev))
	}
	s.hb.mu.Unlock()
	key := schedulerEntriesKey(s.hb.id)
	// The list is replaced in one MULTI, and the index that names it is
	// written after: asynq's fixed key names put the two in different Redis
	// Cluster slots, which one MULTI cannot span.
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, key)
	pipe.LPush(ctx, key, args...)
	pipe.Expire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	return s.rdb.ZAdd(ctx, allSchedulersKey, redis.Z{Score: float64(now.Add(ttl).Unix()), Member: key}).Err()
}

// clearBeat removes this replica's entries at a clean stop.
func (s *Scheduler) clearBeat(ctx context.Context) {
	key := schedulerEntriesKey(s.hb.id)
	pipe := s.rdb.Pipeline() // two slots in a Cluster, as in beat
	pipe.ZRem(ctx, allSchedulersKey, key)
	pipe.Del(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		s.logger.Warn("scheduler: could not clear its asynqmon entries", "error", err)
	}
}

// runHeartbeat beats until ctx ends, then clears.
func (s *Scheduler) runHeartbeat(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.beatEvery)
	defer t.Stop()
	for {
		if err := s.beat(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.logger.Warn("scheduler: could not write its entries for asynqmon", "error", err)
		}
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			s.clearBeat(cctx)
			cancel()
			return
		case <-t.C:
		}
	}
}

// next is when e fires after now. A cron spec fires on its schedule; an
// "@every" spec fires a period after its previous run on this replica, or
// after the replica started.
func (e *entry) next(now, prev, started time.Time) time.Time {
	if e.every > 0 {
		from := started
		if prev.After(from) {
			from = prev
		}
		n := from.Add(e.every)
		for !n.After(now) {
			n = n.Add(e.every)
		}
		return n.UTC()
	}
	return e.sched.Next(now).UTC()
}

// encodeEntry is asynq's SchedulerEntry protocol buffer (asynq's
// internal/proto/asynq.proto; asynq decodes it in Inspector.SchedulerEntries),
// written field by field: asynq keeps its generated type internal.
func encodeEntry(e *entry, next, prev time.Time) []byte {
	var b []byte
	b = appendString(b, 1, e.asynqID)
	b = appendString(b, 2, e.spec)
	b = appendString(b, 3, e.taskType)
	if len(e.payload) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, e.payload)
	}
	// Only what asynq's Inspector parses back: the per-tick TaskID is not
	// among them (asynq's own heartbeat loses it the same way).
	for _, o := range e.taskOpts {
		b = appendString(b, 5, o)
	}
	b = appendTimestamp(b, 6, next)
	b = appendTimestamp(b, 7, prev)
	return b
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendTimestamp writes a google.protobuf.Timestamp: seconds (1) and nanos
// (2). The zero time is written as asynq writes it (year 1), which decodes
// back to the zero time: "never".
func appendTimestamp(b []byte, field protowire.Number, t time.Time) []byte {
	var m []byte
	if s := t.Unix(); s != 0 {
		m = protowire.AppendTag(m, 1, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(s))
	}
	if n := t.Nanosecond(); n != 0 {
		m = protowire.AppendTag(m, 2, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(n))
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}
