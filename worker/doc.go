// Package worker is the asynq server of LOKIZ: the Worker that pulls tasks off
// the weighted queues, the ServeMux that routes each task type to its
// handler, the middleware that logs one line per task, and one handler file
// per task type.
//
// Delivery is at least once (a crash, an expired lease or a shutdown puts a
// running task back on its queue), so every handler is idempotent: it re-reads
// the rows its payload names and acts on their current state. A handler
// returns an error wrapping asynq.SkipRetry when retrying cannot help (a bad
// payload, a row that does not exist) and any other error to be retried.
package worker
