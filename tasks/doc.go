// Package tasks is the contract between the processes that enqueue work (api,
// scheduler) and the worker that runs it: task type names, payloads, the
// constructors that fix each type's queue, retries and timeout, the parsers
// the worker uses, and the queue names with their weights.
//
// Each task type lives in its own file. A type string is a wire format: once
// deployed it is never renamed in place, and payload changes are additive,
// because tasks enqueued by the previous release are still in Redis when the
// next one starts. Payloads carry ids, never row data: the worker re-reads
// Postgres and acts on the current state (DESIGN.md §3.1).
//
// Handlers live in package worker, so that api compiles none of the worker's
// dependencies.
package tasks
