package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"kilt"
	"kilt/internal/admin"
	"kilt/internal/config"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/sqlstore"
	"kilt/internal/web"
)

// newDesk builds the service-centre desk on the app's database and accounts.
func newDesk(a *App, cfg *config.Config, secret []byte) *desk.Service {
	// The authenticator app lists the code under the portal's name.
	name := cfg.Brand.Name("en")
	a.Metrics.Limits("operator_lookup")
	return desk.NewService(sqlstore.NewDesk(a.DB), a.Accounts, a.Sessions, a.Clock, desk.Config{
		Secret: secret, Issuer: name + " console",
		Lookup:      limit("operator_lookup", cfg.LimitOperatorLookup),
		RecoveryURL: recoveryURL(cfg), FreezeURL: baseURL(cfg) + "/freeze", Wake: a.Dispatcher,
		OnLookup:       a.Metrics.OperatorLookup,
		OnAction:       a.Metrics.OperatorAction,
		OnSignInFailed: a.Metrics.ConsoleSignInFailed,
	})
}

// AdminHandler returns the service-centre console (/admin, /admin/api/v1) behind the same
// middleware chain as the citizens' surface: request ids and access log (paths only),
// security headers, cross-origin protection, panics as 500. It is served only on
// KILT_ADMIN_LISTEN; the citizens' listener has no /admin route.
func (a *App) AdminHandler() http.Handler {
	secure := a.Config.Secure()
	cookie := "kilt-console"
	if secure {
		cookie = "__Host-kilt-console"
	}
	// The console's pages wear the citizen pages' style sheet, served here too.
	site := web.New(a.Accounts, a.Sessions, a.Recovery, a.Registrations, web.Config{DefaultLang: a.Config.DefaultLang, Brand: a.Config.Brand})
	console := admin.New(a.Desk, admin.Config{CookieName: cookie, SecureCookie: secure, DefaultLang: a.Config.DefaultLang,
		StaticPath: site.StaticPath, RecoveryDeskURL: baseURL(a.Config) + "/recovery/desk", Location: a.Config.Timezone,
		Clock: a.Clock})
	mux := http.NewServeMux()
	console.Routes(mux)
	mux.HandleFunc("GET /static/{file}", site.ServeStatic)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/admin", http.StatusSeeOther) })
	render := console.RenderErrorStatus
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusForbidden, kilt.E(kilt.KindForbidden, httpx.CodeCrossOrigin))
	}))
	var h http.Handler = mux
	h = muxErrors(h, render)
	h = cop.Handler(h)
	h = securityHeaders(h, secure)
	h = recoverPanics(h, render)
	h = a.requestInfo(h)
	return h
}

// serveAdmin serves the console on KILT_ADMIN_LISTEN until ctx ends, then stops it
// gracefully; it returns at once when the console is off.
func (a *App) serveAdmin(ctx context.Context) (stop func(), err error) {
	if a.Config.AdminListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.Config.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("console listener: %w", err)
	}
	srv := &http.Server{Handler: a.AdminHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	a.Log.Info("service-centre console ready", "listen", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
