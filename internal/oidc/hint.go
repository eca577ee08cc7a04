package oidc

import "slices"

// hintAllows reports whether sess may answer a, as far as a's id_token_hint goes: the hint
// names the account the application expects (OpenID Connect Core 3.1.2.1: if that End-User
// is not logged in, or logged in by the request, the OP SHOULD answer login_required). A
// session of another account answers only when it signed in after the request — the
// citizen, shown the form, chose that account — and never under prompt=none, which shows no
// form. Without a hint any session may answer.
func (s *Service) hintAllows(a *AuthRequest, sess *Session) bool {
	if a.HintSubject == "" || s.Subject(sess.AccountID) == a.HintSubject {
		return true
	}
	return !slices.Contains(a.Prompt, "none") && !sess.CreatedAt.Before(a.CreatedAt)
}
