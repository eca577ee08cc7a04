package web

import (
	"context"
	"net/http"
	"strings"

	"kilt"
)

// SSO is the OpenID provider's hand-off to the pages (nil: no single sign-on). While an
// application's authorization is pending, the sign-in page names the application, prefills
// the identifier the application hinted, and after signing in sends the citizen to
// ResumePath, which answers the application; a third-party application first gets the
// consent page.
type SSO interface {
	// Pending reports the browser's pending authorization: the application's name, the
	// login hint, and whether the form must be shown although someone is signed in
	// (prompt=login, max_age).
	Pending(r *http.Request) (clientName, loginHint string, forceLogin, ok bool)
	// ResumePath is where to go after signing in.
	ResumePath() string
	// Forget drops the browser's pending authorization: at sign-out, so that the next person
	// to sign in on a shared computer is not taken on into the application the last one
	// left half done.
	Forget(w http.ResponseWriter)
	// FormTarget is the origin of the pending authorization's redirect URI ("" for none):
	// a form posted on the sign-in or consent page ends, through redirects, there, and the
	// Content-Security-Policy's form-action must allow it.
	FormTarget(r *http.Request) string
	// Consent reports what the pending authorization asks the signed-in citizen to grant.
	Consent(r *http.Request) (clientName string, scopes []string, ok bool)
	// Decide answers the pending authorization with the citizen's decision (it writes the
	// redirect to the application).
	Decide(w http.ResponseWriter, r *http.Request, allow bool)
	// Connected lists the applications the account has granted; Disconnect revokes one.
	Connected(ctx context.Context, accountID int64) ([]ConnectedApp, error)
	Disconnect(ctx context.Context, accountID int64, clientID string) error
}

// ConnectedApp is an application the account has granted.
type ConnectedApp struct {
	ClientID string
	Name     string
}

// ConsentPage is /oauth/consent: an application asks for the citizen's data.
type ConsentPage struct {
	Base
	ClientName string
	Scopes     []string // the scopes' descriptions
}

// SetSSO installs the provider's hand-off and mounts its pages on mux.
func (s *Site) SetSSO(sso SSO, mux *http.ServeMux) {
	s.sso = sso
	mux.Handle("GET /oauth/consent", s.handle(s.consentForm))
	mux.Handle("POST /oauth/consent", s.handle(s.consent))
	mux.Handle("POST /account/apps/revoke", s.handle(s.revokeApp))
}

// pendingSSO is the pending authorization, if any; its page may post to the application.
func (s *Site) pendingSSO(w http.ResponseWriter, r *http.Request) (name, hint string, force, ok bool) {
	if s.sso == nil {
		return "", "", false, false
	}
	name, hint, force, ok = s.sso.Pending(r)
	if ok {
		s.allowFormTarget(w, r)
	}
	return name, hint, force, ok
}

// forgetSSO drops the browser's pending authorization, if any (at sign-out).
func (s *Site) forgetSSO(w http.ResponseWriter) {
	if s.sso != nil {
		s.sso.Forget(w)
	}
}

// allowFormTarget adds the application's origin to the page's form-action: browsers check
// form-action on every redirect a form submission follows, and the sign-in form's ends at
// the application.
func (s *Site) allowFormTarget(w http.ResponseWriter, r *http.Request) {
	origin := s.sso.FormTarget(r)
	csp := w.Header().Get("Content-Security-Policy")
	if origin == "" || csp == "" || strings.ContainsAny(origin, " ;,'") {
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+origin, 1))
}

// consentForm serves GET /oauth/consent: what the application asks for, allow or deny.
func (s *Site) consentForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := signedIn(r); err != nil {
		return err
	}
	name, scopes, ok := s.sso.Consent(r)
	if !ok {
		return kilt.E(kilt.KindGone, "oidc_authorization_gone")
	}
	s.allowFormTarget(w, r)
	p := &ConsentPage{Base: s.base(w, r, "title_consent"), ClientName: name}
	for _, sc := range scopes {
		p.Scopes = append(p.Scopes, p.T("scope_"+sc))
	}
	return s.render(w, http.StatusOK, "consent", p)
}

// consent serves POST /oauth/consent: the decision goes to the application.
func (s *Site) consent(w http.ResponseWriter, r *http.Request) error {
	if _, err := signedIn(r); err != nil {
		return err
	}
	s.sso.Decide(w, r, r.PostForm.Get("decision") == "allow")
	return nil
}

// revokeApp serves POST /account/apps/revoke: the application's tokens and consent end.
func (s *Site) revokeApp(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	if err := s.sso.Disconnect(r.Context(), v.account.ID, r.PostForm.Get("client_id")); err != nil {
		return err
	}
	return redirect(w, r, "/account")
}

// connectedApps lists the viewer's applications for the account page (none without SSO).
func (s *Site) connectedApps(ctx context.Context, accountID int64) ([]ConnectedApp, error) {
	if s.sso == nil {
		return nil, nil
	}
	return s.sso.Connected(ctx, accountID)
}
