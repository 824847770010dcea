// Package worker is the asynq server of LOKIZ: the Worker that pulls tasks off
// the weighted queues, the ServeMux that routes each task type to its
// handler, the middleware that logs one line per task, and one handler file
// per task type.
//
// Delivery is at least once (a crash, an expired lease or a shutdown puts a
// running task back on its queue), so every handler is idempotent: it re-reads
// the rows its payload names and acts on their current state. What a
// handler returns:
//   - nil when the work is done, and also when there is nothing to do (the
//     row its payload names no longer exists, or is already past the step);
//   - nil after recording a failure retrying cannot fix on the row itself
//     (a rejected upload fails its video, a permanent AI error fails its job
//     with the refund), so the user sees why;
//   - an error wrapping asynq.SkipRetry only for a payload that cannot be
//     parsed: the task is archived at once;
//   - any other error to be retried; on an AI job's last attempt the job is
//     failed and refunded first, so no job stays open.
package worker
