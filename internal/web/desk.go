package web

import (
	"net/http"

	"kilt"
	"kilt/internal/desk"
)

// SetDesk enables /recovery/desk: a citizen enters the slip code a service-centre operator
// printed and continues on the reset screen.
func (s *Site) SetDesk(d *desk.Service) { s.desk = d }

// StaticPath is the content-hashed path of an embedded static file (app.css), for the
// console's pages, which share the citizen pages' style.
func (s *Site) StaticPath(name string) (string, error) { return s.assets.path(name) }

// ServeStatic serves the embedded static files (GET /static/{file}) on another mux (the
// console's listener).
func (s *Site) ServeStatic(w http.ResponseWriter, r *http.Request) { s.serveStatic(w, r) }

// DeskPage is /recovery/desk: the code of the slip.
type DeskPage struct {
	Base
}

// CodeField is the slip code's field: never holding what was typed.
func (p *DeskPage) CodeField() Field {
	f := p.Input("desk_code", "label_desk_code", "text", "one-time-code", "")
	f.Hint = p.T("hint_desk_code")
	return f
}

// deskFields puts the slip code's errors next to its field.
var deskFields = map[string]string{desk.CodeSlipInvalid: "desk_code"}

// recoveryDeskForm serves GET /recovery/desk.
func (s *Site) recoveryDeskForm(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	return s.render(w, http.StatusOK, "recovery_desk", &DeskPage{Base: s.base(w, r, "title_recovery_desk")})
}

// recoveryDesk serves POST /recovery/desk: a right code gives a reset token, carried to
// the reset screen («Құпия сөз», «Құпия сөзді қайталау», «Сақтау») the way a verified SMS
// code's is; a wrong, used or expired one the same message; five wrong ones from an IP in
// an hour, 429. The code is never written back into the form.
func (s *Site) recoveryDesk(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	p := &DeskPage{Base: s.base(w, r, "title_recovery_desk")}
	if !r.PostForm.Has("desk_code") && explicitLang(r) != "" {
		return s.render(w, http.StatusOK, "recovery_desk", p)
	}
	c := s.recoveryClient(r)
	token, err := s.desk.RedeemSlip(r.Context(), desk.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}, r.PostForm.Get("desk_code"))
	if err != nil {
		return s.fail(w, "recovery_desk", p, err, deskFields)
	}
	secretPage(w)
	s.setToken(w, s.resetCookie(), "/recovery/reset", token, s.desk.Config().ResetLifetime)
	return redirect(w, r, "/recovery/reset")
}
