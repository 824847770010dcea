package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"github.com/lokiz/lokiz/tasks"
)

// noHeartbeat keeps asynq's Scheduler heartbeat from ever running: the
// Scheduler writes the same records itself (heartbeat.go).
const noHeartbeat = 100 * 365 * 24 * time.Hour

// minRetention is the floor of the time a run's TaskID stays reserved; it
// covers clock skew and slow replicas for entries with short periods.
const minRetention = time.Minute

// Scheduler enqueues the entries of a cron table on their schedule. Any
// number of Schedulers may run on one Redis: each tick is enqueued once.
type Scheduler struct {
	sched  *asynq.Scheduler
	rdb    redis.UniversalClient
	logger *slog.Logger
	// entries is keyed by the task registered for each entry, the pointer
	// asynq hands back to PreEnqueueFunc. Written only by New.
	entries map[*asynq.Task]*entry
	// ordered are the entries in the table's order, for the heartbeat.
	ordered []*entry
	hb      *heartbeat
	started time.Time // set by Run before the first tick
	// beatEvery is how often the entries are published for asynqmon
	// (heartbeatInterval; tests shorten it).
	beatEvery time.Duration

	// mu is locked in preEnqueue and unlocked in postEnqueue, which asynq
	// calls in that order around each enqueue. asynq keeps one opts slice per
	// entry and runs each tick in its own goroutine, so without the lock the
	// TaskID written for one tick races with the enqueue of the previous one
	// (go test -race reports it).
	mu      sync.Mutex
	pending pendingRun // the run between preEnqueue and postEnqueue
}

type entry struct {
	name      string
	spec      string
	sched     cron.Schedule
	every     time.Duration // > 0 for "@every" specs
	retention time.Duration

	// What the heartbeat shows: asynq's id for the entry, the task, and
	// the registered options besides the TaskID.
	asynqID  string
	taskType string
	payload  []byte
	taskOpts []string
}

type pendingRun struct {
	entry  string
	taskID string
}

// New builds a Scheduler for entries over rdb, which it shares and never
// closes. It returns an error when an entry is invalid: an empty or
// duplicate name, a spec that does not parse, a nil Task.
//
// asynq's own heartbeat, which publishes the entries to asynqmon, stays off:
// it reads the options that each tick rewrites. The Scheduler writes the
// same records itself while it runs (heartbeat.go), so asynqmon's
// Schedulers page and asynq.Inspector.SchedulerEntries list the table with
// each entry's next run, once per replica.
func New(rdb redis.UniversalClient, logger *slog.Logger, entries []Entry) (*Scheduler, error) {
	s := &Scheduler{rdb: rdb, logger: logger, entries: make(map[*asynq.Task]*entry, len(entries)),
		hb: newHeartbeat(), beatEvery: heartbeatInterval}
	s.sched = asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{
		Logger:          sharedClientLogger{tasks.NewAsynqLogger(logger)},
		LogLevel:        asynq.DebugLevel, // the slog handler's level is the one filter
		Location:        time.UTC,
		PreEnqueueFunc:  s.preEnqueue,
		PostEnqueueFunc: s.postEnqueue,
		// The heartbeat only publishes the entries to asynqmon, and it does so
		// by reading each entry's opts slice, which preEnqueue rewrites on
		// every tick from another goroutine: a data race (go test -race shows
		// it with a short interval). Correct ticks matter more than that page.
		HeartbeatInterval: noHeartbeat,
	})

	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.Name == "" {
			return nil, fmt.Errorf("scheduler: entry %q: empty name", e.Spec)
		}
		if names[e.Name] {
			return nil, fmt.Errorf("scheduler: entry %q: duplicate name", e.Name)
		}
		names[e.Name] = true
		ent, err := parseEntry(e, time.Now())
		if err != nil {
			return nil, err
		}
		if e.Task == nil {
			return nil, fmt.Errorf("scheduler: entry %q: nil Task", e.Name)
		}
		task := e.Task()
		if task == nil {
			return nil, fmt.Errorf("scheduler: entry %q: Task returned nil", e.Name)
		}
		if _, dup := s.entries[task]; dup {
			return nil, fmt.Errorf("scheduler: entry %q: Task returns a task another entry uses", e.Name)
		}
		s.entries[task] = ent
		s.ordered = append(s.ordered, ent)
		ent.taskType, ent.payload = task.Type(), task.Payload()
		ent.taskOpts = []string{asynq.Retention(ent.retention).String()}
		// Index 0 is the TaskID that preEnqueue replaces on every tick; the
		// placeholder would only ever be enqueued once, never duplicated.
		ent.asynqID, err = s.sched.Register(e.Spec, task,
			asynq.TaskID(e.Name+":unscheduled"),
			asynq.Retention(ent.retention),
		)
		if err != nil {
			return nil, fmt.Errorf("scheduler: entry %q: register: %w", e.Name, err)
		}
	}
	return s, nil
}

// Run enqueues entries on schedule until ctx is done, then stops. It returns
// nil after a clean stop and an error when it cannot start. A Scheduler runs
// once.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.sched.Ping(); err != nil {
		return fmt.Errorf("scheduler: reach redis: %w", err)
	}
	s.started = time.Now()
	// Start, not asynq's Run, which traps signals; signals belong to cmd.
	if err := s.sched.Start(); err != nil {
		return fmt.Errorf("scheduler: start: %w", err)
	}
	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go s.runHeartbeat(hbCtx, hbDone)
	<-ctx.Done()
	s.sched.Shutdown()
	stopHB()
	<-hbDone
	return nil
}

// preEnqueue gives the run that asynq is about to enqueue its tick's TaskID.
// opts is the slice asynq passes on to Enqueue.
func (s *Scheduler) preEnqueue(task *asynq.Task, opts []asynq.Option) {
	s.mu.Lock()
	e := s.entries[task]
	if e == nil { // cannot happen: New registered every task it knows
		s.pending = pendingRun{entry: task.Type()}
		return
	}
	now := time.Now()
	s.hb.ran(e, now)
	s.pending = pendingRun{entry: e.name, taskID: tickTaskID(e.name, tickOf(e.every, now))}
	opts[0] = asynq.TaskID(s.pending.taskID)
}

func (s *Scheduler) postEnqueue(info *asynq.TaskInfo, err error) {
	run := s.pending
	s.mu.Unlock()

	// asynq's callbacks carry no context.
	switch {
	case err == nil:
		s.logger.Info("periodic task enqueued", "entry", run.entry, "task_id", info.ID, "queue", info.Queue)
	case errors.Is(err, asynq.ErrTaskIDConflict):
		s.logger.Debug("periodic task already enqueued by another scheduler", "entry", run.entry, "task_id", run.taskID)
	default:
		s.logger.Error("periodic task not enqueued", "entry", run.entry, "task_id", run.taskID, slog.Any("error", err))
	}
}

// parseEntry checks e's spec with the parser asynq's Scheduler uses and
// derives its tick rule and retention.
func parseEntry(e Entry, now time.Time) (*entry, error) {
	sched, err := cron.ParseStandard(e.Spec)
	if err != nil {
		return nil, fmt.Errorf("scheduler: entry %q: spec %q: %w", e.Name, e.Spec, err)
	}
	ent := &entry{name: e.Name, spec: e.Spec, sched: sched}
	var period time.Duration
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		ent.every = every.Delay // already rounded to whole seconds, as it fires
		period = every.Delay
	} else {
		// The longest gap over the next few runs, so irregular specs
		// ("0 9 * * 1-5") get the retention of their longest period.
		t := sched.Next(now)
		for range 8 {
			next := sched.Next(t)
			period = max(period, next.Sub(t))
			t = next
		}
	}
	ent.retention = max(2*period, minRetention)
	return ent, nil
}

// tickOf returns the tick that a run firing at now belongs to; every replica
// must compute the same one. A cron spec fires on a whole minute, so the
// minute is its tick. An "@every" schedule fires at offsets from each
// process's own start, so only truncating to the period aligns replicas.
func tickOf(every time.Duration, now time.Time) time.Time {
	now = now.UTC()
	if every > 0 {
		return now.Truncate(every)
	}
	return now.Truncate(time.Minute)
}

// tickTaskID is the TaskID of entry name's run at tick.
func tickTaskID(name string, tick time.Time) string {
	return name + ":" + tick.UTC().Format(time.RFC3339)
}

// sharedClientLogger demotes one known false alarm: asynq v0.26's Scheduler,
// built from a shared Redis client, tries to close that client on Shutdown
// and logs the refusal at ERROR on every clean stop.
type sharedClientLogger struct {
	asynq.Logger
}

func (l sharedClientLogger) Error(args ...any) {
	if strings.Contains(fmt.Sprint(args...), "redis connection is shared") {
		l.Debug(args...)
		return
	}
	l.Logger.Error(args...)
}
