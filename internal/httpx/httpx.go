// Package httpx holds what the HTTP surfaces (the JSON API and the pages) share: the one
// table from error kinds to HTTP statuses, request-scoped values (request id, client IP,
// logger) and strict JSON request decoding.
package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"kilt"
)

// Error codes of request decoding.
const (
	CodeMalformed   = "malformed_request"
	CodeTooLarge    = "request_too_large"
	CodeCrossOrigin = "cross_origin"
	CodeMethod      = "method_not_allowed"
)

// MaxBody is the largest request body read. The largest legitimate body (a change of
// password: three passwords of at most 128 code points, 4 bytes each, JSON-escaped) is far
// smaller; a body up to this size is read and then refused by the rule it breaks.
const MaxBody = 64 << 10

// statuses is the one table from error kinds to HTTP statuses.
var statuses = map[kilt.Kind]int{
	kilt.KindInternal:     http.StatusInternalServerError,
	kilt.KindInvalid:      http.StatusBadRequest,
	kilt.KindUnauthorized: http.StatusUnauthorized,
	kilt.KindForbidden:    http.StatusForbidden,
	kilt.KindNotFound:     http.StatusNotFound,
	kilt.KindConflict:     http.StatusConflict,
	kilt.KindGone:         http.StatusGone,
	kilt.KindRule:         http.StatusUnprocessableEntity,
	kilt.KindRateLimited:  http.StatusTooManyRequests,
	kilt.KindUnavailable:  http.StatusServiceUnavailable,
}

// Status returns the HTTP status of an error's kind.
func Status(err error) int {
	if s, ok := statuses[kilt.ErrorKind(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// SetRetryAfter sets Retry-After in whole seconds, rounded up, when err asks for it.
func SetRetryAfter(w http.ResponseWriter, err error) {
	if e, ok := kilt.AsError(err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(Seconds(e.RetryAfter)))
	}
}

type ctxKey int

const infoKey ctxKey = iota

// Info is what the middleware learns about a request before the handler runs.
type Info struct {
	RequestID string
	ClientIP  string
	Logger    *slog.Logger
}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey, info)
}

// InfoFrom returns the request's Info; a zero Info with the default logger outside the
// middleware (in tests of single handlers).
func InfoFrom(ctx context.Context) *Info {
	if i, ok := ctx.Value(infoKey).(*Info); ok {
		return i
	}
	return &Info{Logger: slog.Default()}
}

// ClientIP returns the address of the client: the peer, or — only when the peer is a
// trusted proxy — the right-most address of X-Forwarded-For that is not itself a trusted
// proxy. Anything a client could forge is believed only through a proxy we trust.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	ip := peer.Addr().Unmap()
	if !inAny(ip, trusted) {
		return ip.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !inAny(a, trusted) {
			return a.String()
		}
		ip = a
	}
	return ip.String()
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// DecodeJSON reads a JSON object from the request body into dst strictly: the body must be
// application/json, at most MaxBody bytes, valid UTF-8, one object with no duplicated and
// no unknown fields and nothing after it. Anything else is a *kilt.Error of kind invalid
// whose message names the problem (never echoing a value).
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "content type must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return kilt.Errorf(kilt.KindInvalid, CodeTooLarge, "body larger than %d bytes", MaxBody)
		}
		return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "reading the body failed")
	}
	return Unmarshal(body, dst)
}

// Unmarshal is DecodeJSON's check and decode of a body already read. The decoder
// (github.com/go-json-experiment/json, the future encoding/json/v2) itself refuses a
// duplicated key, an unknown one, and a key matching a field only when case is ignored
// (encoding/json keeps the last of duplicated keys and folds case, so "PASSWORD" and
// "paſſword" fill "password": one request would mean two things to two readers).
func Unmarshal(body []byte, dst any) error {
	malformed := func(msg string, args ...any) error {
		return kilt.Errorf(kilt.KindInvalid, CodeMalformed, msg, args...)
	}
	if !utf8.Valid(body) {
		return malformed("body is not valid UTF-8")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	switch dec.PeekKind() {
	case '{':
	case 0:
		return malformed("body is not valid JSON")
	default:
		return malformed("body must be a JSON object")
	}
	if err := json.UnmarshalDecode(dec, dst, json.RejectUnknownMembers(true)); err != nil {
		return malformed("%s", decodeProblem(err))
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return malformed("unexpected data after the JSON object")
	}
	return nil
}

// decodeProblem says what is wrong with a body the decoder refused, naming at most a
// top-level key, never a value (which may be a password).
func decodeProblem(err error) string {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		if key, ok := topLevel(syn.JSONPointer); ok {
			return fmt.Sprintf("field %q appears more than once", key)
		}
	case syn != nil:
		return "body is not valid JSON"
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		if key, ok := topLevel(sem.JSONPointer); ok {
			return fmt.Sprintf("unknown field %q", key)
		}
	case sem != nil && sem.GoType != nil:
		if key, ok := topLevel(sem.JSONPointer); ok {
			return fmt.Sprintf("field %q must be a %s", key, sem.GoType.Kind())
		}
	}
	return "body is not a valid JSON object"
}

// topLevel returns the key p points to when p points to a member of the top-level object.
func topLevel(p jsontext.Pointer) (string, bool) {
	if p.Parent() != "" || p == "" {
		return "", false
	}
	return p.LastToken(), true
}
