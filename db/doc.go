// Package db owns everything Postgres: the embedded goose migrations, the
// sqlc-generated queries (files ending in .gen.go, never edited by hand), the
// Store with its InTx helper, and the business transactions named for their
// verb (RegisterUser, CreditsApply). It translates driver errors into
// lokiz.Error codes at its boundary, so callers never see pgx types.
package db
