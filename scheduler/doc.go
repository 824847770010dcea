// Package scheduler is the cron table of LOKIZ: which periodic task runs how
// often (DefaultEntries), and the Scheduler process that enqueues them.
//
// Schedulers run as several replicas and asynq's Scheduler has no leader
// election, so every run of an entry is enqueued with a TaskID made of the
// entry's name and its tick time ("credits:audit:2026-05-01T10:00:00Z",
// DESIGN.md §3.3). Every replica computes the same id for the same tick, the
// first enqueue wins, and the others get asynq.ErrTaskIDConflict, which is
// the normal case and not an error. Retention keeps a completed run's id
// reserved long after the slowest replica could still try it.
//
// asynq's own scheduler heartbeat is off, because it reads the options that
// each tick rewrites; the Scheduler writes the same Redis records itself
// every few seconds from its own state, so asynqmon's Schedulers page (and
// asynq.Inspector.SchedulerEntries) lists each replica's cron table with
// the next and previous enqueue times (see heartbeat.go).
package scheduler
