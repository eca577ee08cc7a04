package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"kilt"
)

// Classifying the drivers' errors into the storage errors the domain understands.

// unavailable turns a database that cannot answer (down, restarting, disk full, busy) into
// a *kilt.Error of kind unavailable — a 503 with Retry-After that tells a client to come
// back, instead of a 500 — keeping the cause for the log. Other errors pass unchanged.
func unavailable(err error) error {
	if err == nil || !IsUnavailable(err) {
		return err
	}
	if _, ok := kilt.AsError(err); ok {
		return err
	}
	return &kilt.Error{Kind: kilt.KindUnavailable, Code: kilt.CodeUnavailable, Message: "database unavailable",
		Err: err, RetryAfter: 5 * time.Second}
}

// isSQLiteBusy reports whether err, or an error it wraps, is SQLite's SQLITE_BUSY: the
// write lock stayed taken by another connection for the whole busy timeout.
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// IsUniqueViolation reports whether err, or an error it wraps, is a violation of a unique or
// primary key constraint.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	return false
}

// IsUnavailable reports whether err, or an error it wraps, says the database cannot serve
// the request now but may later: it cannot be reached, the connection broke, the server is
// shutting down or out of connections, or (SQLite) the write lock stayed taken for the whole
// busy timeout. Such errors deserve a 503 with Retry-After rather than a 500. A context's
// cancellation or deadline is the caller's own doing and is not reported.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"), // insufficient resources: too many connections, disk full, out of memory
			pe.Code == "57P01",               // admin_shutdown
			pe.Code == "57P02",               // crash_shutdown
			pe.Code == "57P03":               // cannot_connect_now: starting up or in recovery
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
