// Package kilt holds what every part of Kilt shares: the one error type, whose kind decides
// the HTTP status and whose code is both the JSON error.code and the i18n message key.
//
// The services live under internal/; this package has no dependencies of its own.
package kilt

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Kind classifies an error for the transports. One table in the server maps kinds to HTTP
// statuses; domain code never names a status.
type Kind int

// The kinds of error. The zero value is KindInternal so that an unclassified error is never
// shown to a user as anything but a generic failure.
const (
	KindInternal     Kind = iota // unexpected: 500, logged once, shown generically
	KindInvalid                  // malformed input: 400
	KindUnauthorized             // not signed in, or bad credentials: 401
	KindForbidden                // signed in but not allowed: 403
	KindNotFound                 // no such thing: 404
	KindConflict                 // state does not allow it: 409
	KindGone                     // link, code or flow no longer usable: 410
	KindRule                     // well-formed but breaks a rule (password policy): 422
	KindRateLimited              // too many requests: 429 with Retry-After
	KindUnavailable              // busy or a dependency is down: 503 with Retry-After
)

var kindNames = [...]string{"internal", "invalid", "unauthorized", "forbidden", "not_found",
	"conflict", "gone", "rule", "rate_limited", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is Kilt's one error type. Code is a stable snake_case identifier, the JSON
// error.code and the i18n key of the message shown to users. Message is for logs and
// developers (English, never containing a secret); users see the catalog text for Code.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Details is rendered as error.details in JSON (violations, attempts_left, ...).
	Details map[string]any
	// RetryAfter, when positive, becomes the Retry-After header (429 and 503).
	RetryAfter time.Duration
	// Err is the wrapped cause, if any; never shown to users.
	Err error
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Message != "" {
		msg += ": " + e.Message
	}
	// Errorf's %w already put the cause in Message; say it once.
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match by kind and code rather than by pointer. A target *Error matches e
// when both have the same Kind and the target's Code is either empty, the kind's own name
// (Kind.String(), as in ErrNotFound's "not_found") or equal to e's Code. So a kind sentinel
// such as ErrNotFound matches every error of its kind, whatever its code, while a sentinel with
// a specific code matches only errors of that kind and code. Message, Details, RetryAfter and
// the cause never take part.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil || e == nil || t.Kind != e.Kind {
		return false
	}
	return t.Code == "" || t.Code == t.Kind.String() || t.Code == e.Code
}

// Errorf returns an *Error of the given kind and code with a formatted developer message.
// A %w verb in format wraps the cause.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Kind: kind, Code: code, Message: err.Error()}
	if u := errors.Unwrap(err); u != nil {
		e.Err = u
	}
	return e
}

// E returns an *Error of the given kind and code with no further message.
func E(kind Kind, code string) *Error { return &Error{Kind: kind, Code: code} }

// WithDetails returns a copy of e with the detail key set. e itself, its Details map
// included, is left as it was, so calling it on a shared sentinel is safe.
func (e *Error) WithDetails(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	maps.Copy(c.Details, e.Details)
	c.Details[key] = value
	return &c
}

// WithRetryAfter returns a copy of e with RetryAfter set; e is left as it was.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// AsError reports the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ErrorKind returns the kind of the first *Error in err's chain, or KindInternal.
func ErrorKind(err error) Kind {
	if e, ok := AsError(err); ok {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of the first *Error in err's chain, or "internal".
func ErrorCode(err error) string {
	if e, ok := AsError(err); ok && e.Code != "" {
		return e.Code
	}
	return "internal"
}

// Common error codes shared across packages. Packages define their own more specific codes.
const (
	CodeInternal     = "internal"
	CodeNotFound     = "not_found"
	CodeUnavailable  = "unavailable"
	CodeBusy         = "busy"
	CodeUnauthorized = "unauthorized"
)

// ErrNotFound is the sentinel the store returns when a row does not exist. Its code is its
// kind's name, so errors.Is(err, ErrNotFound) holds for every KindNotFound error (see Is).
var ErrNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "not found"}

// Clock returns the current time. Services take one so tests can move time by hand.
type Clock func() time.Time
