package web

import "net/http"

// Routes registers every page on mux. Every state change is a POST; every successful POST
// answers 303 to a page to GET.
func (s *Site) Routes(mux *http.ServeMux) {
	h := s.handle

	mux.Handle("GET /{$}", h(s.home))

	mux.Handle("GET /login", h(s.loginForm))
	mux.Handle("POST /login", h(s.login))
	mux.Handle("GET /logout", h(s.logoutForm))
	mux.Handle("POST /logout", h(s.logout))
	mux.Handle("POST /logout/everywhere", h(s.logoutEverywhere))

	mux.Handle("GET /register", h(s.registerForm))
	mux.Handle("POST /register", h(s.register))
	mux.Handle("GET /register/sent", h(s.registerSent))
	mux.Handle("GET /register/confirm", h(s.registerConfirmForm)) // ?token= (e-mail link) or ?id= (phone)
	mux.Handle("POST /register/confirm", h(s.registerConfirm))    // the e-mail link's token
	mux.Handle("POST /register/verify", h(s.registerVerify))      // the SMS code
	mux.Handle("POST /register/resend", h(s.registerResend))      // a new SMS code

	mux.Handle("GET /recovery", h(s.recoveryForm)) // ?by=phone: the phone tab
	mux.Handle("GET /recovery/email", h(s.recoveryEmailForm))
	mux.Handle("POST /recovery/email", h(s.recoveryEmail))
	mux.Handle("GET /recovery/email/sent", h(s.recoveryEmailSent))
	mux.Handle("GET /recovery/phone", h(s.recoveryPhoneForm))
	mux.Handle("POST /recovery/phone", h(s.recoveryPhone))
	mux.Handle("POST /recovery/phone/resend", h(s.recoveryResend))
	mux.Handle("POST /recovery/phone/verify", h(s.recoveryVerify))
	mux.Handle("GET /recovery/reset", h(s.resetForm)) // ?token= (e-mail link) → 303 to the clean URL
	mux.Handle("POST /recovery/reset", h(s.reset))
	mux.Handle("GET /recovery/desk", h(s.recoveryDeskForm)) // a slip code from a service centre (desk.go)
	mux.Handle("POST /recovery/desk", h(s.recoveryDesk))

	mux.Handle("GET /account", h(s.accountPage))
	mux.Handle("POST /account/password", h(s.changePassword))
	mux.Handle("POST /account/channels", h(s.startChannel))              // add or replace (channels.go)
	mux.Handle("GET /account/channels/confirm", h(s.channelConfirmForm)) // ?token= (new address's link) → 303
	mux.Handle("POST /account/channels/confirm", h(s.channelConfirm))
	mux.Handle("POST /account/channels/remove", h(s.removeChannel))
	mux.Handle("GET /account/channels/{id}", h(s.channelPage)) // the code, or the link sent
	mux.Handle("POST /account/channels/{id}/verify", h(s.verifyChannel))
	mux.Handle("POST /account/channels/{id}/resend", h(s.resendChannel))

	mux.Handle("GET /freeze", h(s.freezeForm)) // ?token= ("this wasn't me") → 303 to the clean URL (freeze.go)
	mux.Handle("POST /freeze", h(s.freeze))
	mux.Handle("POST /account/sessions/end", h(s.endSession)) // sessions.go
	mux.Handle("POST /account/sessions/end-others", h(s.endOtherSessions))
	mux.Handle("GET /account/export", h(s.exportAccount)) // deletion.go
	mux.Handle("POST /account/delete", h(s.deleteAccount))
	mux.Handle("POST /account/deletion/cancel", h(s.cancelDeletion))
	mux.Handle("GET /deletion/cancel", h(s.deletionCancelForm)) // ?token= (the notice's link) → 303 to the clean URL
	mux.Handle("POST /deletion/cancel", h(s.deletionCancel))

	mux.HandleFunc("GET /static/{file}", s.serveStatic)
}

// home serves /: the account page for someone signed in, else the sign-in page.
func (s *Site) home(w http.ResponseWriter, r *http.Request) error {
	if viewerFrom(r) != nil {
		return redirect(w, r, "/account")
	}
	return redirect(w, r, "/login")
}
