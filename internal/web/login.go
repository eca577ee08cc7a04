package web

import (
	"net/http"
	"strconv"

	"kilt/internal/audit"
	"kilt/internal/httpx"
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
// (the service answers both alike, after the same work). A session the browser already had
// is ended and a new one started: a token planted before sign-in is worth nothing after it.
func (s *Site) login(w http.ResponseWriter, r *http.Request) error {
	name, _, _, sso := s.pendingSSO(w, r)
	p := &LoginPage{Base: s.base(w, r, "title_login"), Identifier: r.PostForm.Get("identifier"), ContinueTo: name}
	acct, err := s.accounts.Login(r.Context(), p.Identifier, r.PostForm.Get("password"), s.accountClient(r))
	if err != nil {
		return s.fail(w, "login", p, err, nil)
	}
	if v := viewerFrom(r); v != nil {
		if err := s.sessions.Revoke(r.Context(), v.session.ID); err != nil {
			return err
		}
	}
	_, token, err := s.sessions.Create(r.Context(), acct.ID, httpx.InfoFrom(r.Context()).ClientIP, r.UserAgent())
	if err != nil {
		return err
	}
	s.setSession(w, token)
	if sso {
		return redirect(w, r, s.sso.ResumePath())
	}
	return redirect(w, r, "/account")
}

// logoutForm serves GET /logout: a button, since a GET must not sign anyone out (a link
// prefetched or planted on another site would).
func (s *Site) logoutForm(w http.ResponseWriter, r *http.Request) error {
	if viewerFrom(r) == nil {
		return redirect(w, r, "/login")
	}
	return s.render(w, http.StatusOK, "logout", &LogoutPage{Base: s.base(w, r, "title_logout")})
}

// logout serves POST /logout: this session ends. Signing out when not signed in just goes to
// the sign-in page.
func (s *Site) logout(w http.ResponseWriter, r *http.Request) error {
	if v := viewerFrom(r); v != nil {
		if err := s.ssoSessionEnding(r.Context(), v.session.ID); err != nil {
			return err
		}
		if err := s.sessions.Revoke(r.Context(), v.session.ID); err != nil {
			return err
		}
		if err := s.record(r, audit.SessionRevoked, v.account.ID, ""); err != nil {
			return err
		}
		s.setFlash(w, flashSignedOut)
	}
	s.clearCookie(w, s.cfg.CookieName, "/")
	return redirect(w, r, "/login")
}

// logoutEverywhere serves POST /logout/everywhere: every session of the account ends.
func (s *Site) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	n, err := s.sessions.RevokeAll(r.Context(), v.account.ID)
	if err != nil {
		return err
	}
	if err := s.record(r, audit.SessionsRevokedAll, v.account.ID, strconv.FormatInt(n, 10)+" sessions"); err != nil {
		return err
	}
	s.clearCookie(w, s.cfg.CookieName, "/")
	s.setFlash(w, flashSignedOutEverywhere)
	return redirect(w, r, "/login")
}
