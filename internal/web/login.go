package web

import (
	"net/http"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/httpx"
	"kilt/internal/i18n"
	"kilt/internal/session"
)

// loginForm serves GET /login; someone already signed in goes to the account page.
func (s *Site) loginForm(w http.ResponseWriter, r *http.Request) error {
	name, hint, force, sso := s.pendingSSO(w, r)
	if viewerFrom(r) != nil && !force {
		if sso {
			return redirect(w, r, s.sso.ResumePath())
		}
		return redirect(w, r, "/account")
	}
	return s.render(w, http.StatusOK, "login", &LoginPage{Base: s.base(w, r, "title_login"), ContinueTo: name, Identifier: hint})
}

// login serves POST /login. An unknown identifier and a wrong password get the same page
// (the service answers both alike, after the same work). The session the browser already
// had ends and a new one starts (session.Service.SignIn).
func (s *Site) login(w http.ResponseWriter, r *http.Request) error {
	name, _, _, sso := s.pendingSSO(w, r)
	p := &LoginPage{Base: s.base(w, r, "title_login"), Identifier: r.PostForm.Get("identifier"), ContinueTo: name}
	var old string
	if c, err := r.Cookie(s.cfg.CookieName); err == nil {
		old = c.Value
	}
	pw := r.PostForm.Get("password")
	in, err := s.sessions.SignIn(r.Context(), p.Identifier, pw, old, s.sessionClient(r))
	if err != nil {
		return s.failLogin(w, p, pw == "", err)
	}
	s.setSession(w, in.Token)
	if sso {
		return redirect(w, r, s.sso.ResumePath())
	}
	return redirect(w, r, "/account")
}

// loginFields put a malformed identifier's message next to the one field /login has for it.
var loginFields = map[string]string{
	account.CodeInvalidEmail: "identifier", account.CodeInvalidPhone: "identifier", account.CodeInvalidIdentifier: "identifier",
}

// failLogin shows err on the sign-in form. The service stops at the first thing wrong; the
// form also flags an empty password beside a malformed identifier, so both are fixed at
// once. A slowed-down sign-in says how many seconds to wait and points to
// «Құпия сөзді ұмыттыңыз ба?».
func (s *Site) failLogin(w http.ResponseWriter, p *LoginPage, noPassword bool, err error) error {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal || e.Kind == kilt.KindUnauthorized && e.Code == session.CodeUnauthorized {
		return err
	}
	if e.Code == session.CodeLoginThrottled && e.RetryAfter > 0 {
		p.Error = i18n.N(p.Lang, "login_throttled_wait", httpx.Seconds(e.RetryAfter))
		p.ErrorLink = &Link{URL: "/recovery", Text: p.T("link_forgot")}
		httpx.SetRetryAfter(w, e)
		return s.render(w, httpx.Status(e), "login", p)
	}
	s.explain(&p.Base, e, loginFields)
	if noPassword && e.Code != session.CodePasswordRequired && e.Kind == kilt.KindInvalid {
		p.addFieldError("password", s.message(p.Lang, session.CodePasswordRequired))
		p.Error = p.T("form_errors")
	}
	httpx.SetRetryAfter(w, e)
	return s.render(w, httpx.Status(e), "login", p)
}

// logoutForm serves GET /logout: a button, since a GET must not sign anyone out (a link
// prefetched or planted on another site would).
func (s *Site) logoutForm(w http.ResponseWriter, r *http.Request) error {
	if viewerFrom(r) == nil {
		return redirect(w, r, "/login")
	}
	return s.render(w, http.StatusOK, "logout", &LogoutPage{Base: s.base(w, r, "title_logout")})
}

// logout serves POST /logout: this session ends, and an application's authorization left
// pending is forgotten. Signing out when not signed in just goes to the sign-in page.
func (s *Site) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(s.cfg.CookieName); err == nil {
		// A locked account's session may sign out too; no live session is nothing to end.
		err := s.sessions.SignOut(r.Context(), c.Value, s.sessionClient(r))
		switch {
		case err == nil:
			s.setFlash(w, flashSignedOut)
		case kilt.ErrorKind(err) != kilt.KindUnauthorized:
			return err
		}
	}
	s.clearCookie(w, s.cfg.CookieName, "/")
	s.forgetSSO(w)
	return redirect(w, r, "/login")
}

// logoutEverywhere serves POST /logout/everywhere: every session of the account ends.
func (s *Site) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil {
		return kilt.E(kilt.KindUnauthorized, session.CodeUnauthorized)
	}
	if _, err := s.sessions.SignOutAll(r.Context(), c.Value, s.sessionClient(r)); err != nil {
		return err
	}
	s.clearCookie(w, s.cfg.CookieName, "/")
	s.forgetSSO(w)
	s.setFlash(w, flashSignedOutEverywhere)
	return redirect(w, r, "/login")
}
