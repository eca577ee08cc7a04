package api

import "net/http"

// Routes registers every route of the API on mux, under /api/v1.
func (a *API) Routes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/sessions", a.handle(a.createSession))
	mux.Handle("GET /api/v1/sessions/current", a.handle(a.currentSession))
	mux.Handle("DELETE /api/v1/sessions/current", a.handle(a.deleteCurrentSession))
	mux.Handle("DELETE /api/v1/sessions", a.handle(a.deleteAllSessions))
	mux.Handle("POST /api/v1/password", a.handle(a.changePassword))
	mux.Handle("GET /api/v1/password-policy", a.handle(a.passwordPolicy))
	mux.Handle("POST /api/v1/recovery/email", a.handle(a.recoveryEmail))
	mux.Handle("POST /api/v1/recovery/phone", a.handle(a.recoveryPhone))
	mux.Handle("POST /api/v1/recovery/phone/resend", a.handle(a.recoveryResend))
	mux.Handle("POST /api/v1/recovery/phone/verify", a.handle(a.recoveryVerify))
	mux.Handle("POST /api/v1/recovery/reset", a.handle(a.recoveryReset))
}
