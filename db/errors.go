package db

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lokiz/lokiz"
)

// Postgres error codes we translate.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
)

// IsUniqueViolation reports whether err is a unique-key violation, and on
// which constraint (index) name.
func IsUniqueViolation(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// IsCheckViolation reports whether err is a CHECK violation, and which one.
func IsCheckViolation(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgCheckViolation {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// IsUnavailable reports whether err says PostgreSQL cannot be reached or
// does not take work right now: a refused or failed connection, a
// connection lost mid-statement, a server starting up, shutting down or
// recovering from a crash. That is a moment's outage of a dependency, not a
// fault of the request or of our code.
func IsUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now (starting up, recovering).
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	// A pooled connection whose server went away (a restart, a killed
	// backend) fails its next statement with the socket's end rather than
	// a server message: pgx closes it and says so, or the read ends early,
	// or the write finds the peer gone.
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// IsNotFound reports whether err means "no such row".
func IsNotFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// translate maps driver errors to lokiz codes with a user-safe message; what
// it does not recognise stays internal. what names the thing, e.g. "user".
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	var le *lokiz.Error
	if errors.As(err, &le) {
		return err
	}
	if IsNotFound(err) {
		return fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.ENOTFOUND, "%s not found", what), err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.ECONFLICT, "%s already exists", what), err)
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.ENOTFOUND, "a referenced record does not exist"), err)
		case pgCheckViolation:
			return fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.EINVALID, "%s violates a rule", what), err)
		}
	}
	return err
}
