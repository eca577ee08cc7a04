// Package kilttest starts a whole Kilt for tests: a real database (SQLite in a temporary
// directory, or a fresh database on the real PostgreSQL of pgtest), the full HTTP handler
// behind a real loopback HTTP server, a clock the test moves by hand, and the log captured so
// a test can prove no secret reaches it.
package kilttest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/config"
	"kilt/internal/mail/smtptest"
	"kilt/internal/server"
	"kilt/internal/sqlstore/pgtest"
)

// ConsentVersion is the version of the built-in personal-data consent text
// (brand.Default().ConsentVersion(); brand's tests keep the two equal): every registration
// gives it as consent_version, and a test that registers sends it itself (Env.Do adds
// nothing), so a test that forgets it is answered 422 personal_data_consent_required.
const ConsentVersion = "b05fc13a0e6f"

// Dialects names the databases every contract test runs on.
var Dialects = []string{"sqlite", "postgres"}

// Clock is a clock a test moves by hand. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed, microsecond-precise instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Log is a concurrency-safe buffer that captures the service's log.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Env is a running Kilt with its real SMTP server and SMS gateway.
type Env struct {
	App   *server.App
	URL   string
	Clock *Clock
	Log   *Log
	// Mail is the SMTP server Kilt sends e-mail to; SMS the webhook gateway it sends SMS to.
	Mail *smtptest.Server
	SMS  *SMSGateway
	// DatabaseURL is the database the App uses, for a second process on the same data.
	DatabaseURL string
}

// DatabaseURL returns a fresh database of the dialect ("sqlite" or "postgres").
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "kilt.db")
	case "postgres":
		return pgtest.URL(t)
	}
	t.Fatalf("kilttest: unknown dialect %q", dialect)
	return ""
}

// Start runs a Kilt on a fresh database of the dialect with env as its environment (on top
// of test defaults: cheap Argon2id so suites stay fast, the configured base URL). It is
// stopped when the test ends.
func Start(t testing.TB, dialect string, env map[string]string) *Env {
	t.Helper()
	e := &Env{Clock: NewClock(), Log: &Log{}, DatabaseURL: DatabaseURL(t, dialect)}
	e.Mail = smtptest.Start(t, smtptest.Options{Security: smtptest.Plain})
	e.SMS = StartSMSGateway(t)
	vars := map[string]string{
		"KILT_BASE_URL":        "http://kilt.test",
		"KILT_DATABASE_URL":    e.DatabaseURL,
		"KILT_ARGON2_MEMORY":   "8192",
		"KILT_ARGON2_TIME":     "1",
		"KILT_LOG_FORMAT":      "json",
		"KILT_LOG_LEVEL":       "debug",
		"KILT_SMTP_URL":        "smtp://" + e.Mail.Addr() + "?starttls=false",
		"KILT_SMS_PROVIDER":    "webhook",
		"KILT_SMS_WEBHOOK_URL": e.SMS.URL,
	}
	for k, v := range env {
		vars[k] = v
	}
	fs := flag.NewFlagSet("kilttest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, nil, func(k string) string { return vars[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatalf("kilttest: config: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := server.Open(context.Background(), cfg, log, e.Clock.Now, io.Discard)
	if err != nil {
		t.Fatalf("kilttest: open: %v", err)
	}
	e.App = app
	srv := httptest.NewServer(app.Handler(nil))
	e.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	return e
}

// Response is a decoded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
}

// ErrorCode returns error.code of a JSON error body, or "".
func (r *Response) ErrorCode() string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// Do sends a request with a JSON body (nil: none; a string or []byte: sent as is) and the
// given headers (name, value pairs) to the running Kilt. It sends exactly what it is
// given: a registration carries its consent_version only if the test put it there.
func (e *Env) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// WithConsent returns a copy of a registration's fields with consent_version set to
// ConsentVersion unless they have one: the fields of a client that showed the consent.
func WithConsent(fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	if _, ok := out["consent_version"]; !ok {
		out["consent_version"] = ConsentVersion
	}
	return out
}

// Deliver does now what the background loops do: it resolves the recorded recovery
// requests and sends what the outbox holds, until nothing is left that is due. (The tests
// drive these steps themselves, so what they see does not depend on timing.)
func (e *Env) Deliver(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for range 100 {
		r, err := e.App.Processor.Step(ctx)
		if err != nil {
			t.Fatalf("kilttest: resolving requests: %v", err)
		}
		d, err := e.App.Dispatcher.Step(ctx)
		if err != nil {
			t.Fatalf("kilttest: dispatching: %v", err)
		}
		if r == 0 && d == 0 {
			return
		}
	}
	t.Fatalf("kilttest: delivery did not settle")
}

// MailTo returns the plain-text bodies of the mails the SMTP server received for to,
// oldest first.
func (e *Env) MailTo(t testing.TB, to string) []Mail {
	t.Helper()
	var out []Mail
	for _, m := range e.Mail.Messages() {
		for _, rcpt := range m.To {
			if rcpt == to {
				out = append(out, ParseMail(t, m.Data))
			}
		}
	}
	return out
}

// SMSTo returns the texts of the SMS the gateway accepted for the number, oldest first.
func (e *Env) SMSTo(to string) []string {
	var out []string
	for _, m := range e.SMS.Messages() {
		if m.To == to {
			out = append(out, m.Text)
		}
	}
	return out
}

// LatestLink delivers what is due and returns the link containing substr of the newest
// mail the SMTP server received for to, failing the test when there is none.
func (e *Env) LatestLink(t testing.TB, to, substr string) string {
	t.Helper()
	e.Deliver(t)
	mails := e.MailTo(t, to)
	if len(mails) == 0 {
		t.Fatalf("kilttest: the SMTP server received no mail to %s", to)
	}
	link := mails[len(mails)-1].Link(substr)
	if link == "" {
		t.Fatalf("kilttest: the mail to %s has no link with %q:\n%s", to, substr, mails[len(mails)-1].Text)
	}
	return link
}

// LatestCode delivers what is due and returns the code of the newest SMS the gateway
// received for the number, failing the test when there is none.
func (e *Env) LatestCode(t testing.TB, to string) string {
	t.Helper()
	e.Deliver(t)
	sms := e.SMSTo(to)
	if len(sms) == 0 || Code(sms[len(sms)-1]) == "" {
		t.Fatalf("kilttest: the gateway received no SMS with a code for %s: %q", to, sms)
	}
	return Code(sms[len(sms)-1])
}
