// Package httpx holds what the HTTP surfaces (the JSON API and the pages) share: the one
// table from error kinds to HTTP statuses, request-scoped values (request id, client IP,
// logger) and strict JSON request decoding.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

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

// Unmarshal is DecodeJSON's check and decode of a body already read.
func Unmarshal(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "body is not valid UTF-8")
	}
	if err := checkObject(body, fieldNames(dst)); err != nil {
		return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "%s", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "field %q must be a %s", te.Field, te.Type.Kind())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return kilt.Errorf(kilt.KindInvalid, CodeMalformed, "body is not a valid JSON object")
	}
	return nil
}

// fieldNames returns the JSON names of the fields of the struct dst points to, or nil when
// dst is not a pointer to a struct.
func fieldNames(dst any) map[string]bool {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// checkObject makes sure body is exactly one JSON object whose top-level keys are unique
// and, when fields is given, each exactly one of its names. (encoding/json would silently
// keep the last of duplicated keys, and matches names ignoring case — "PASSWORD" and
// "paſſword" fill "password" — which lets one request mean two things to two readers.)
func checkObject(body []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return errors.New("body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("body is not valid JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("field %q appears more than once", key)
		}
		if fields != nil && !fields[key] {
			return fmt.Errorf("unknown field %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errors.New("body is not valid JSON")
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}
