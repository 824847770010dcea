package scheduler

import (
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/tasks"
)

// Entry is one row of the cron table.
type Entry struct {
	// Name identifies the entry and prefixes the TaskID of each of its runs.
	// It is unique within a table; by convention it is the task type.
	Name string
	// Spec is when the entry runs, in UTC: a five-field cron spec
	// ("0 * * * *"), a descriptor ("@hourly"), or "@every <duration>" in whole
	// seconds. Prefer cron specs: "@every" counts from each process's start,
	// so a replica restarted more often than the period never fires it.
	Spec string
	// Task builds the task to enqueue, with its queue, retries and timeout;
	// the Scheduler sets the TaskID. It is called once, by New.
	Task func() *asynq.Task
}

// Intervals are the configurable periods of the table.
type Intervals struct {
	// ViewFlush is how often counted views move to Postgres
	// (VIEW_FLUSH_INTERVAL); a whole number of seconds.
	ViewFlush time.Duration
	// Trending is how often the trending ranking is recomputed
	// (TRENDING_INTERVAL); a whole number of seconds.
	Trending time.Duration
	// Reconcile, when not zero, runs the reconcilers (videos, ai, frames,
	// payments, the notification outbox drain) "@every" this period
	// instead of their cron minutes
	// (RECONCILE_INTERVAL); a whole number of seconds.
	Reconcile time.Duration
}

// DefaultEntries returns the cron table that the scheduler process runs.
// Adding a periodic task or a reconciler is adding one line here.
func DefaultEntries(iv Intervals) []Entry {
	reconcile := func(cron string) string {
		if iv.Reconcile > 0 {
			return "@every " + iv.Reconcile.String()
		}
		return cron
	}
	return []Entry{
		{Name: tasks.TypeCreditsAudit, Spec: "0 * * * *", Task: tasks.NewCreditsAuditTask},
		{Name: tasks.TypeVideosReconcile, Spec: reconcile("*/5 * * * *"), Task: tasks.NewVideosReconcileTask},
		{Name: tasks.TypeVideosPurge, Spec: "* * * * *", Task: tasks.NewVideosPurgeTask},
		{Name: tasks.TypeAIReconcile, Spec: reconcile("* * * * *"), Task: tasks.NewAIReconcileTask},
		{Name: tasks.TypeFramesReconcile, Spec: reconcile("*/5 * * * *"), Task: tasks.NewFramesReconcileTask},
		{Name: tasks.TypeAccountsReconcile, Spec: "*/10 * * * *", Task: tasks.NewAccountsReconcileTask},
		{Name: tasks.TypePaymentsReconcile, Spec: reconcile("*/5 * * * *"), Task: tasks.NewPaymentsReconcileTask},
		{Name: tasks.TypeStatsFlush, Spec: "7 * * * *", Task: tasks.NewStatsFlushTask},
		{Name: tasks.TypeViewsFlush, Spec: "@every " + iv.ViewFlush.String(), Task: tasks.NewViewsFlushTask},
		{Name: tasks.TypeTrendingRecompute, Spec: "@every " + iv.Trending.String(), Task: tasks.NewTrendingRecomputeTask},
		{Name: tasks.TypeSubscriptionsRenew, Spec: "*/15 * * * *", Task: tasks.NewSubscriptionsRenewTask},
		{Name: tasks.TypeSubscriptionsExpire, Spec: "*/10 * * * *", Task: tasks.NewSubscriptionsExpireTask},
		{Name: tasks.TypeBansExpire, Spec: "* * * * *", Task: tasks.NewBansExpireTask},
		{Name: tasks.TypeNotifyOutbox, Spec: reconcile("* * * * *"), Task: tasks.NewNotifyOutboxTask},
	}
}
