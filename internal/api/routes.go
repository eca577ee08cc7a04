package api

import "net/http"

// Route is one call of the API.
type Route struct {
	Method  string
	Pattern string // as http.ServeMux reads it, e.g. /api/v1/registrations/{id}/verify
	handler func(a *API) handlerFunc
}

// routes is every call of the API, in one table: Routes mounts it and the OpenAPI test
// compares it with the document.
var routes = []Route{
	{"POST", "/api/v1/sessions", func(a *API) handlerFunc { return a.createSession }},
	{"GET", "/api/v1/sessions/current", func(a *API) handlerFunc { return a.currentSession }},
	{"DELETE", "/api/v1/sessions/current", func(a *API) handlerFunc { return a.deleteCurrentSession }},
	{"DELETE", "/api/v1/sessions", func(a *API) handlerFunc { return a.deleteAllSessions }},
	{"GET", "/api/v1/sessions", func(a *API) handlerFunc { return a.jsonOnly(a.listSessions) }},
	{"DELETE", "/api/v1/sessions/others", func(a *API) handlerFunc { return a.deleteOtherSessions }},
	{"DELETE", "/api/v1/sessions/{id}", func(a *API) handlerFunc { return a.deleteSession }},
	{"GET", "/api/v1/account/export", func(a *API) handlerFunc { return a.jsonOnly(a.exportAccount) }},
	{"DELETE", "/api/v1/account", func(a *API) handlerFunc { return a.deleteAccount }},
	{"DELETE", "/api/v1/account/deletion", func(a *API) handlerFunc { return a.cancelDeletion }},
	{"POST", "/api/v1/account/deletion/cancel", func(a *API) handlerFunc { return a.cancelDeletionByLink }},
	{"POST", "/api/v1/password", func(a *API) handlerFunc { return a.changePassword }},
	{"GET", "/api/v1/password-policy", func(a *API) handlerFunc { return a.jsonOnly(a.passwordPolicy) }},
	{"POST", "/api/v1/recovery/email", func(a *API) handlerFunc { return a.recoveryEmail }},
	{"POST", "/api/v1/recovery/phone", func(a *API) handlerFunc { return a.recoveryPhone }},
	{"POST", "/api/v1/recovery/phone/resend", func(a *API) handlerFunc { return a.recoveryResend }},
	{"POST", "/api/v1/recovery/phone/verify", func(a *API) handlerFunc { return a.recoveryVerify }},
	{"POST", "/api/v1/recovery/reset", func(a *API) handlerFunc { return a.recoveryReset }},
	{"POST", "/api/v1/recovery/desk", func(a *API) handlerFunc { return a.recoveryDesk }},
	{"GET", "/api/v1/consent", func(a *API) handlerFunc { return a.jsonOnly(a.consent) }},
	{"POST", "/api/v1/registrations", func(a *API) handlerFunc { return a.register }},
	{"POST", "/api/v1/registrations/confirm", func(a *API) handlerFunc { return a.confirmRegistration }},
	{"POST", "/api/v1/registrations/{id}/verify", func(a *API) handlerFunc { return a.verifyRegistration }},
	{"POST", "/api/v1/registrations/{id}/resend", func(a *API) handlerFunc { return a.resendRegistration }},
	{"POST", "/api/v1/account/channels", func(a *API) handlerFunc { return a.startChannelChange }},
	{"POST", "/api/v1/account/channels/confirm", func(a *API) handlerFunc { return a.confirmChannelChange }},
	{"POST", "/api/v1/account/channels/{id}/verify", func(a *API) handlerFunc { return a.verifyChannelChange }},
	{"POST", "/api/v1/account/channels/{id}/resend", func(a *API) handlerFunc { return a.resendChannelChange }},
	{"DELETE", "/api/v1/account/channels/{kind}", func(a *API) handlerFunc { return a.removeChannel }},
	{"POST", "/api/v1/freeze", func(a *API) handlerFunc { return a.freeze }},
	{"GET", "/api/openapi.json", func(a *API) handlerFunc { return a.jsonOnly(a.openAPI, "application/vnd.oai.openapi+json") }},
}

// Routes registers every route of the API on mux.
func (a *API) Routes(mux *http.ServeMux) {
	for _, r := range routes {
		mux.Handle(r.Method+" "+r.Pattern, a.handle(r.handler(a)))
	}
}

// RouteList returns the method and pattern of every route.
func RouteList() []Route {
	out := make([]Route, len(routes))
	copy(out, routes)
	return out
}
