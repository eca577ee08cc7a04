package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kilt/internal/config"
	"kilt/internal/outbox"
)

// devApp opens a Kilt as `kilt serve --dev` would, in a temporary directory.
func devApp(t *testing.T, console io.Writer) *App {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	env := map[string]string{"KILT_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "kilt.db"),
		"KILT_ARGON2_MEMORY": "8192", "KILT_ARGON2_TIME": "1"}
	cfg, err := config.Load(fs, []string{"--dev"}, func(k string) string { return env[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, console)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func TestDevOutboxShowsMessagesNewestFirst(t *testing.T) {
	var console bytes.Buffer
	app := devApp(t, &console)
	ctx := context.Background()
	for i, to := range []string{"first@mail.kz", "second@mail.kz"} {
		m := &outbox.Message{Channel: outbox.Email, Kind: outbox.RecoveryLink, Lang: "kk", To: to,
			Params: map[string]string{"minutes": "30"},
			Secret: map[string]string{"link": "http://localhost:8080/recovery/reset?token=tok" + string(rune('A'+i))}, CreatedAt: app.Clock()}
		if err := app.Outbox.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Dispatcher.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sms := &outbox.Message{Channel: outbox.SMS, Kind: outbox.RecoveryCode, Lang: "ru", To: "+77011234567",
		Params: map[string]string{"minutes": "5"}, Secret: map[string]string{"code": "654321"}, CreatedAt: app.Clock()}
	if err := app.Outbox.Enqueue(ctx, sms); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Dispatcher.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(console.String(), "654321") || !strings.Contains(console.String(), "tokB") {
		t.Errorf("the console does not show the dev messages:\n%s", console.String())
	}
	h := app.Handler(nil)
	page := get(t, h, "/dev/outbox")
	body := page.Body.String()
	if page.Code != 200 || !strings.Contains(body, `<a href="http://localhost:8080/recovery/reset?token=tokA">`) {
		t.Fatalf("dev outbox: %d, links not clickable:\n%s", page.Code, body)
	}
	if i, j, k := strings.Index(body, "+77011234567"), strings.Index(body, "second@mail.kz"), strings.Index(body, "first@mail.kz"); !(i < j && j < k) {
		t.Errorf("not newest first: positions %d %d %d", i, j, k)
	}
	var list []struct {
		Channel, To, Text string
	}
	rec := get(t, h, "/dev/outbox.json")
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 3 || list[0].Channel != "sms" || !strings.Contains(list[0].Text, "654321") {
		t.Errorf("dev outbox JSON: %v %s", err, rec.Body.String())
	}
}

func TestDevOutboxOnlyInDev(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	env := map[string]string{"KILT_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "kilt.db"),
		"KILT_BASE_URL": "https://id.example.kz", "KILT_SMTP_URL": "smtp://127.0.0.1:1?starttls=false",
		"KILT_SMS_PROVIDER": "webhook", "KILT_SMS_WEBHOOK_URL": "http://127.0.0.1:1/sms"}
	cfg, err := config.Load(fs, nil, func(k string) string { return env[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	h := app.Handler(nil)
	for _, p := range []string{"/dev/outbox", "/dev/outbox.json"} {
		if rec := get(t, h, p); rec.Code != 404 {
			t.Errorf("%s outside --dev: %d, want 404", p, rec.Code)
		}
	}
	rec := get(t, h, "/healthz")
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Errorf("https base URL: no HSTS")
	}
}

func TestMetricsExposed(t *testing.T) {
	app := devApp(t, io.Discard)
	rec := httptest.NewRecorder()
	app.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"kilt_outbox_depth 0", "kilt_hash_pool_size", "kilt_outbox_oldest_age_seconds 0",
		"go_goroutines", "kilt_sms_budget_left 10000", "kilt_db_statements_total", "kilt_db_transactions_total",
		"kilt_db_write_lock_seconds_total"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestPprofOnlyWhenAsked: the metrics listener serves the profiler only with
// KILT_METRICS_PPROF=true, and metrics either way.
func TestPprofOnlyWhenAsked(t *testing.T) {
	app := devApp(t, io.Discard)
	for _, on := range []bool{false, true} {
		app.Config.Pprof = on
		h := app.metricsHandler()
		if rec := get(t, h, "/metrics"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "go_goroutines") {
			t.Errorf("pprof %v: /metrics %d", on, rec.Code)
		}
		rec := get(t, h, "/debug/pprof/goroutine?debug=1")
		if got := rec.Code == 200 && strings.Contains(rec.Body.String(), "goroutine profile:"); got != on {
			t.Errorf("pprof %v: /debug/pprof/goroutine answered %d, profile served %v", on, rec.Code, got)
		}
	}
}

// TestErrorsSpeakTheSurfacesLanguage: unknown paths, wrong methods and cross-origin
// refusals answer JSON under /api and a page elsewhere.
func TestErrorsSpeakTheSurfacesLanguage(t *testing.T) {
	app := devApp(t, io.Discard)
	h := app.Handler(nil)
	tests := []struct {
		method, path string
		headers      map[string]string
		status       int
		contentType  string
	}{
		{"GET", "/no-such-page", nil, 404, "text/html"},
		{"GET", "/api/v1/no-such-call", nil, 404, "application/json"},
		{"PUT", "/login", nil, 405, "text/html"},
		{"PUT", "/api/v1/sessions", nil, 405, "application/json"},
		{"POST", "/login", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "text/html"},
		{"POST", "/api/v1/sessions", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "application/json"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) {
			t.Errorf("%s %s: %d %q, want %d %s", tt.method, tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.status, tt.contentType)
		}
	}
}

// TestAccessLogShowsRouteNotPath: a phone registration's id is a bearer secret of its own,
// and it is in the path; the access log names the route pattern, never the path or query.
func TestAccessLogShowsRouteNotPath(t *testing.T) {
	app := devApp(t, io.Discard)
	var logBuf bytes.Buffer
	app.Log = slog.New(slog.NewJSONHandler(&logBuf, nil))
	h := app.Handler(nil)
	const id = "Zr9SecretRegistrationId0000000000000000000"
	for _, tt := range []struct{ method, path, route string }{
		{"POST", "/api/v1/registrations/" + id + "/verify", `"route":"POST /api/v1/registrations/{id}/verify"`},
		{"GET", "/api/v1/registrations/" + id + "/verify", `"route":"unmatched"`},
		{"GET", "/register/confirm?id=" + id, `"route":"GET /register/confirm"`},
	} {
		logBuf.Reset()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"code":"123456"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		line := logBuf.String()
		if !strings.Contains(line, tt.route) {
			t.Errorf("%s %s: the access log lacks %s:\n%s", tt.method, tt.path, tt.route, line)
		}
		if strings.Contains(line, id) {
			t.Errorf("%s %s: the access log shows the registration id:\n%s", tt.method, tt.path, line)
		}
	}
}

// TestRetentionWiredWithItsMetric: kilt serve's retention job prunes the app's database
// with the configured ages and counts what it deleted per table.
func TestRetentionWiredWithItsMetric(t *testing.T) {
	app := devApp(t, io.Discard)
	ctx := context.Background()
	now := app.Clock()
	for i, tat := range []time.Time{now.Add(-time.Minute), now.Add(-time.Hour), now.Add(time.Hour)} {
		if _, err := app.DB.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ('recovery_ip', $1, $2)`,
			fmt.Sprint("k", i), tat); err != nil {
			t.Fatal(err)
		}
	}
	if app.Config.RetentionInterval != time.Hour {
		t.Errorf("retention interval: got %v, want the default 1h", app.Config.RetentionInterval)
	}
	got, err := app.Retention.RunOnce(ctx)
	if err != nil || got["rate_limits"] != 2 {
		t.Fatalf("RunOnce: %v, %v; want 2 rate-limit rows deleted", got, err)
	}
	if _, ok := got["oidc"]; !ok {
		t.Errorf("RunOnce: %v; want the single sign-on provider's rows pruned by the same job", got)
	}
	rec := httptest.NewRecorder()
	app.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`kilt_retention_deleted_rows_total{table="rate_limits"} 2`,
		`kilt_retention_deleted_rows_total{table="sessions"} 0`, `kilt_retention_deleted_rows_total{table="oidc"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
