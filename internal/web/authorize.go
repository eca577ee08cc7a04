package web

import "net/http"

// SSO is the OpenID provider's hand-off to the sign-in page (nil: no single sign-on). While
// an application's authorization is pending, the page names the application, prefills the
// identifier the application hinted, and after signing in sends the citizen to ResumePath,
// which answers the application.
type SSO interface {
	// Pending reports the browser's pending authorization: the application's name, the
	// login hint, and whether the form must be shown although someone is signed in
	// (prompt=login, max_age).
	Pending(r *http.Request) (clientName, loginHint string, forceLogin, ok bool)
	// ResumePath is where to go after signing in.
	ResumePath() string
}

// SetSSO installs the provider's hand-off.
func (s *Site) SetSSO(sso SSO) { s.sso = sso }

// pendingSSO is the pending authorization, if any.
func (s *Site) pendingSSO(r *http.Request) (name, hint string, force, ok bool) {
	if s.sso == nil {
		return "", "", false, false
	}
	return s.sso.Pending(r)
}
