package web

import (
	"net/http"
	"time"

	"kilt"
)

// "This wasn't me" (SPEC §9): the one link of every security notice.
//
// GET /freeze?token=… changes nothing: mail scanners and link previews open links. It moves
// the token into a cookie scoped to /freeze (HttpOnly, 15 minutes) and answers 303 to the
// clean /freeze, with Referrer-Policy no-referrer and Cache-Control no-store; the page there
// takes the token out of the cookie into its form's hidden field. So the token leaves the
// address bar, the history and any Referer at once, as the recovery link's does — a token
// that stayed in the URL could be replayed from a shared computer's history to freeze the
// account again after its owner lifted the freeze. POST /freeze acts.

// FreezePage is /freeze: the confirmation (Token), the result (Done), or the message that
// the link is no longer valid (Gone).
type FreezePage struct {
	Base
	Token string
	Done  bool
	Gone  bool
}

// freezeCookieLifetime bounds how long a freeze token waits in its cookie.
const freezeCookieLifetime = 15 * time.Minute

func (s *Site) freezeCookie() string { return s.prefixed("__Secure-", "kilt_freeze") }

// freezeForm serves GET /freeze.
func (s *Site) freezeForm(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	if q := r.URL.Query(); q.Has("token") {
		s.setToken(w, s.freezeCookie(), "/freeze", q.Get("token"), freezeCookieLifetime)
		return redirect(w, r, "/freeze")
	}
	p := &FreezePage{Base: s.base(w, r, "title_freeze")}
	p.Token = s.takeToken(w, r, s.freezeCookie(), "/freeze")
	if !kilt.WellFormedToken(p.Token) {
		p.Gone = true
		return s.render(w, http.StatusGone, "freeze", p)
	}
	return s.render(w, http.StatusOK, "freeze", p)
}

// freeze serves POST /freeze: the token of the form freezes the account.
func (s *Site) freeze(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	p := &FreezePage{Base: s.base(w, r, "title_freeze")}
	err := s.sessions.Freeze(r.Context(), r.PostForm.Get("token"), s.sessionClient(r))
	switch {
	case kilt.ErrorKind(err) == kilt.KindGone:
		p.Gone = true
		return s.render(w, http.StatusGone, "freeze", p)
	case err != nil:
		return err
	}
	// The browser that froze the account may have been signed in to it: its session ended
	// with the others.
	p.Viewer = nil
	p.Done = true
	return s.render(w, http.StatusOK, "freeze", p)
}
