package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"kilt"
	"kilt/internal/api"
	"kilt/internal/httpx"
	"kilt/internal/oidc"
	"kilt/internal/oidcop"
	"kilt/internal/session"
	"kilt/internal/web"
)

// contentSecurityPolicy allows nothing from another origin, no inline script and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler returns the whole HTTP surface behind the middleware chain. ready reports whether
// /readyz should answer ready (it turns false first during a graceful stop).
func (a *App) Handler(ready *atomic.Bool) http.Handler {
	secure := a.Config.Secure()
	cookie := "kilt"
	if secure {
		cookie = "__Host-kilt"
	}
	apiSrv := api.New(a.Accounts, a.Sessions, a.Recovery, a.Registrations, api.Config{CookieName: cookie, SecureCookie: secure, DefaultLang: a.Config.DefaultLang})
	apiSrv.SetDesk(a.Desk)
	apiSrv.SetChannels(a.Channels)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { a.readyz(w, r, ready) })
	apiSrv.Routes(mux)
	site := web.New(a.Accounts, a.Sessions, a.Recovery, a.Registrations, web.Config{CookieName: cookie, SecureCookie: secure,
		DefaultLang: a.Config.DefaultLang, Clock: a.Clock, Location: a.Config.Timezone, Brand: a.Config.Brand})
	site.SetDesk(a.Desk)
	site.SetChannels(a.Channels)
	site.Routes(mux)
	var bypass []string
	if a.Config.BaseURL != nil {
		prov, err := oidcop.New(a.OIDC, oidcop.Config{Issuer: a.Config.BaseURL.String(), Secret: a.secret, SecureCookie: secure,
			Session: func(r *http.Request) (*oidc.Session, error) { return a.browserSession(r, cookie) },
			EndSession: func(ctx context.Context, sess *oidc.Session) error {
				return a.Sessions.End(ctx, sess.ID, sess.AccountID,
					session.Client{Lang: a.Config.DefaultLang, UserAgent: "end_session"})
			},
			RenderError: func(w http.ResponseWriter, r *http.Request, status int, err error) {
				w.Header().Set("Cache-Control", "no-store")
				site.RenderErrorStatus(w, r, status, err)
			}})
		if err != nil {
			panic(err) // a static configuration error
		}
		bypass = prov.Routes(mux)
		site.SetSSO(prov, mux)
	}
	// One error renderer per surface: JSON under /api, pages elsewhere.
	renderError := func(w http.ResponseWriter, r *http.Request, status int, err error) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			apiSrv.RenderErrorStatus(w, r, status, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		site.RenderErrorStatus(w, r, status, err)
	}
	if a.Config.Dev && a.DevLog != nil {
		mux.HandleFunc("GET /dev/outbox", a.devOutbox)
		mux.HandleFunc("GET /dev/outbox.json", a.devOutboxJSON)
	}

	cop := http.NewCrossOriginProtection()
	if a.Config.BaseURL != nil {
		// Behind a proxy the Host header may not be the public one; the base URL's origin is
		// ours whatever the Host says.
		_ = cop.AddTrustedOrigin(a.Config.BaseURL.Scheme + "://" + a.Config.BaseURL.Host)
	}
	for _, p := range bypass {
		cop.AddInsecureBypassPattern(p)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renderError(w, r, http.StatusForbidden, kilt.E(kilt.KindForbidden, httpx.CodeCrossOrigin))
	}))

	var h http.Handler = mux
	h = muxErrors(h, renderError)
	h = cop.Handler(h)
	h = securityHeaders(h, secure)
	h = recoverPanics(h, renderError)
	h = a.requestInfo(h)
	return h
}

// ensureSigningKey makes the first signing key if there is none yet (the instances of one
// database share it), beside the listener, so that startup does not wait for an RSA key; the
// first token would make it too. Expired provider rows are pruned by the retention job.
func (a *App) ensureSigningKey(ctx context.Context) {
	if err := a.OIDC.EnsureKey(ctx); err != nil && ctx.Err() == nil {
		a.Log.Warn("making the signing key failed", "err", err)
	}
}

// browserSession is the request's live Kilt session for the OpenID provider: nil when none,
// or when its account is gone or locked (as for the pages).
func (a *App) browserSession(r *http.Request, cookie string) (*oidc.Session, error) {
	c, err := r.Cookie(cookie)
	if err != nil {
		return nil, nil
	}
	sess, _, err := a.Sessions.Current(r.Context(), c.Value)
	if k := kilt.ErrorKind(err); k == kilt.KindUnauthorized || k == kilt.KindForbidden {
		return nil, nil // none, or its account is locked
	}
	if err != nil {
		return nil, err
	}
	return &oidc.Session{ID: sess.ID, AccountID: sess.AccountID, CreatedAt: sess.CreatedAt, LastSeenAt: sess.LastSeenAt,
		ExpiresAt: sess.ExpiresAt}, nil
}

// readyz answers 200 when the database answers and every migration is applied, 503 when not
// or while the process is stopping.
func (a *App) readyz(w http.ResponseWriter, r *http.Request, ready *atomic.Bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if ready != nil && !ready.Load() {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	if ok, err := a.DB.MigrationsCurrent(ctx); err != nil || !ok {
		http.Error(w, "migrations pending", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// statusWriter records the status and size of a response for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requestLogger is base with the request's id, which it formats only for a record that is
// logged: base.With formats it at once, 7 allocations a request also when nothing of the
// request is logged (the access line at a level above info).
func requestLogger(base *slog.Logger, id string) *slog.Logger {
	return slog.New(requestHandler{Handler: base.Handler(), id: id})
}

// requestHandler adds request_id before a record's own attributes, as With would have.
type requestHandler struct {
	slog.Handler
	id string
}

func (h requestHandler) with() slog.Handler {
	return h.Handler.WithAttrs([]slog.Attr{slog.String("request_id", h.id)})
}

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.with().Handle(ctx, r)
}

func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.with().WithAttrs(as) }

func (h requestHandler) WithGroup(name string) slog.Handler { return h.with().WithGroup(name) }

// requestInfo gives every request an id, its client IP and a logger carrying both, and
// writes one access-log line per request. It logs the matched route pattern only, never the
// path (ids), the query (a recovery link carries its token there) nor any header that could
// hold a secret.
func (a *App) requestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		ip := httpx.ClientIP(r, a.Config.TrustedProxies)
		log := requestLogger(a.Log, id)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		r2 := r.WithContext(httpx.WithInfo(r.Context(), &httpx.Info{RequestID: id, ClientIP: ip, Logger: log}))
		next.ServeHTTP(sw, r2)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		// The mux sets the matched pattern on the request it was given: a bounded label,
		// never the raw path (which may hold ids).
		a.Metrics.Request(r2.Pattern, r.Method, sw.status, time.Since(start))
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		// The route pattern, not the path: a path can carry an id that is a bearer secret
		// of its own (a phone registration's); a request no route matched logs none.
		route := r2.Pattern
		if route == "" {
			route = "unmatched"
		}
		if log.Enabled(r.Context(), level) { // the arguments cost allocations even unlogged
			log.Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", sw.status,
				"bytes", sw.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000, "ip", ip)
		}
	})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorRenderer writes an error answer with the given status for the request's surface.
type errorRenderer func(w http.ResponseWriter, r *http.Request, status int, err error)

// recoverPanics turns a panic into a 500 with the request id, logged once with its stack,
// so no panic reaches a user as a dropped connection.
func recoverPanics(next http.Handler, render errorRenderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			httpx.InfoFrom(r.Context()).Logger.Error("panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			render(w, r, http.StatusInternalServerError, errors.New("panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the security headers on every response (docs/security.md, "CSRF and
// headers").
func securityHeaders(next http.Handler, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// muxErrors renders the mux's own 404 and 405 answers (plain text) as the surface's errors:
// JSON under /api, a page elsewhere.
func muxErrors(next http.Handler, render errorRenderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&muxErrorWriter{ResponseWriter: w, r: r, render: render}, r)
	})
}

// muxErrorWriter replaces a plain-text 404 or 405 (what http.ServeMux writes; Kilt's own
// handlers write JSON or HTML) with the surface's error.
type muxErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	render   errorRenderer
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	plain := strings.HasPrefix(m.Header().Get("Content-Type"), "text/plain")
	if !m.replaced && plain && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		m.replaced = true
		err := kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
		if code == http.StatusMethodNotAllowed {
			err = kilt.E(kilt.KindInvalid, httpx.CodeMethod)
		}
		m.render(m.ResponseWriter, m.r, code, err)
		return
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

func (m *muxErrorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// Serve serves on ln and runs the outbox dispatcher (and the metrics listener, when
// configured) until ctx ends, then stops gracefully: /readyz turns unready, the listener
// closes, requests in flight get up to the shutdown timeout to finish, and the dispatcher
// finishes the batch in hand; what is unsent stays in the outbox for the next start.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	var ready atomic.Bool
	ready.Store(true)
	srv := &http.Server{
		Handler:           a.Handler(&ready),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	dctx, stopDispatch := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		a.Dispatcher.Run(dctx)
	}()
	resolved := make(chan struct{})
	go func() {
		defer close(resolved)
		a.Processor.Run(dctx)
	}()
	defer func() { <-resolved }()
	// The retention job stops with the dispatcher: its batch in hand is one short
	// transaction, rolled back if cancelled, and the next start picks up where it stopped.
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		a.Retention.Run(dctx)
	}()
	defer func() { <-pruned }()
	ssoPruned := make(chan struct{})
	go func() {
		defer close(ssoPruned)
		a.ensureSigningKey(dctx)
	}()
	defer func() { <-ssoPruned }()
	hashIdle := make(chan struct{})
	go func() {
		defer close(hashIdle)
		a.releaseIdleHashMemory(dctx)
	}()
	defer func() { <-hashIdle }()
	defer func() {
		stopDispatch()
		<-dispatched
	}()
	if a.Config.MetricsListen != "" {
		msrv := &http.Server{Addr: a.Config.MetricsListen, Handler: a.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", a.Config.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
	}
	stopAdmin, err := a.serveAdmin(ctx)
	if err != nil {
		return err
	}
	defer stopAdmin()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first, still serving: a load balancer polling /readyz stops sending new
	// requests before the listener closes.
	ready.Store(false)
	a.Log.Info("stopping", "drain", a.Config.DrainDelay.String(), "timeout", a.Config.ShutdownTimeout.String())
	select {
	case <-time.After(a.Config.DrainDelay):
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful stop: %w", err)
	}
	return nil
}

// metricsHandler serves the metrics listener: Prometheus metrics, and Go's profiler under
// /debug/pprof/ when KILT_METRICS_PPROF is on.
func (a *App) metricsHandler() http.Handler {
	if !a.Config.Pprof {
		return a.Metrics.Handler()
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.Metrics.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
