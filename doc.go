// Package lokiz holds the domain vocabulary of the LOKIZ backend: the error
// type every layer speaks, the enumerations and state machines of users,
// videos, AI jobs and credits, and the pure rules (validation, pricing) that
// more than one process needs. It imports the standard library only (plus
// golang.org/x/text/unicode/norm, a pure library without I/O, for the NFC
// step of CleanText), so that api, worker, scheduler and db can all depend on
// it without depending on each other.
//
// Glossary:
//   - video: a short clip uploaded by a user or produced by an AI job.
//   - glitch: a video made by an AI model from someone's video plus the
//     caller's own image; the edge from source to result is recorded.
//   - AI job: one paid request to a model (template, glitch, sticker, music).
//   - credit: the currency AI jobs are paid with; every change is a row in the
//     credit ledger, and a user's balance always equals the sum of that ledger.
package lokiz
